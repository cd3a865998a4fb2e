"""CSV / TSV tables: one header line, then one row per item (the csv module does the quoting)."""

from __future__ import annotations

import csv
from typing import Any, Iterable, Mapping, Sequence, TextIO

__all__ = ["write_table", "TableWriter", "FORMATS", "TRANSCRIPT_COLUMNS", "TranscriptTable"]

FORMATS = {"csv": ",", "tsv": "\t"}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def write_table(
    handle: TextIO,
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    columns: Sequence[str],
    delimiter: str = ",",
) -> int:
    """Write `columns` as the header, then every row; return the number of rows (TableWriter, all at once)."""
    return TableWriter(handle, columns, delimiter).write_rows(rows)


class TableWriter:
    """A table written as its rows come (a header line first), for outputs written record by record.

    A row is a mapping (missing keys are empty cells, unknown keys raise ValueError) or a
    sequence in column order. None -> empty cell, bools -> true/false, floats to 6 significant
    digits. `delimiter` is ',' or '\\t' (or a format name from FORMATS: 'csv', 'tsv').
    """

    def __init__(self, handle: TextIO, columns: Sequence[str], delimiter: str = ","):
        delimiter = FORMATS.get(delimiter, delimiter)
        if delimiter not in (",", "\t"):
            raise ValueError(f"delimiter must be ',' or a tab, not {delimiter!r}")
        self.writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        self.writer.writerow(columns)
        self.columns = list(columns)
        self.index = {c: i for i, c in enumerate(columns)}

    def write_rows(self, rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> int:
        """Write rows; return how many."""
        n = 0
        for row in rows:
            if isinstance(row, Mapping):
                unknown = set(row) - set(self.index)
                if unknown:
                    raise ValueError(f"row has keys not among the columns: {sorted(unknown)}")
                cells = [_cell(row.get(c)) for c in self.columns]
            else:
                if len(row) != len(self.columns):
                    raise ValueError(f"row has {len(row)} values for {len(self.columns)} columns")
                cells = [_cell(v) for v in row]
            self.writer.writerow(cells)
            n += 1
        return n


TRANSCRIPT_COLUMNS = ("seq_id", "gene_id", "transcript_id", "biotype", "strand", "start", "end", "cds_start", "cds_end",
                      "cds_length", "exons", "exon_starts", "exon_ends", "score", "partial")


class TranscriptTable:
    """Gene models as a table, one row per transcript (the interface of genannot.io.gff3.Gff3Writer): its span, CDS
    span and spliced CDS length (stop codon included; empty for a lncRNA), exon count and exon starts / ends as
    ';'-separated lists in forward order (1-based closed, as in GFF3), score and partial flag (Prodigal's XY)."""

    def __init__(self, handle: TextIO):
        self.writer = csv.writer(handle, lineterminator="\n")
        self.writer.writerow(TRANSCRIPT_COLUMNS)

    def write_record(self, seqid: str, length: int, genes: Iterable[Any]) -> None:
        for g in sorted(genes, key=lambda g: (g.start, g.end, g.strand, g.id)):
            for t in sorted(g.transcripts, key=lambda t: (t.start, t.end, t.id)):
                exons, cds = sorted(t.exons or t.cds), sorted(t.cds)
                row = [seqid, g.id, t.id, t.biotype, g.strand, t.start, t.end,
                       cds[0][0] if cds else None, cds[-1][1] if cds else None,
                       sum(e - s + 1 for s, e in cds) if cds else None, len(exons),
                       ";".join(str(s) for s, _ in exons), ";".join(str(e) for _, e in exons),
                       g.attributes.get("score"), g.partial or "00"]
                self.writer.writerow([_cell(v) for v in row])
