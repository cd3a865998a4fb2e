"""GTF writer: gene models in Ensembl / GENCODE's GTF (GTF 2.2 with gene and transcript lines).

Why GTF beside GFF3: the read counters, aligners and assemblers most users feed an annotation to
(featureCounts, STAR, StringTie, RSEM, ...) read GTF first. What it follows:

- `##format: gtf` first (GENCODE's header line: a file with no gene still reads as GTF), then provenance as `#`
  comment lines; 9 tab-separated columns, 1-based closed coordinates, source `genannot`;
- per gene: `gene`, then per transcript `transcript`, its `exon`s (a prokaryotic gene's one exon is its CDS span),
  `CDS`, `start_codon`, `stop_codon`, `five_prime_utr` and `three_prime_utr` (the exon parts outside the CDS span,
  stop codon included), sorted by start;
- every line carries `gene_id` (and, below the gene, `transcript_id`); genes and transcripts carry
  `gene_biotype` / `transcript_biotype` (`protein_coding`, `lncRNA`); exons `exon_number` in transcription order;
- as GTF 2.2 defines it, `CDS` leaves the stop codon out; `start_codon` / `stop_codon` are written only where the
  gene is complete at that end (`Gene.partial`), one line per piece where an intron splits the codon;
- column 8 is the frame (GFF3's phase: bases to skip to the next codon start) on CDS and codon lines;
- a numeric `score` attribute goes into column 6 of gene and transcript lines; other attributes are kept on the gene
  or transcript line they belong to, lowercase keys, values in double quotes with `"`, `;`, `%`, tab and newlines
  percent-encoded.

`gt gtf_to_gff3` reads the output back into the same CDS (stop codon rejoined), and genannot.io.annotation reads it as
any Ensembl GTF.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, TextIO

from genannot.features import Gene, Interval, Transcript
from genannot.io.gff3 import SOURCE, cds_phases, checked_record, comment_lines, escape_seqid, score_column, utr_parts

__all__ = ["GtfWriter"]

NOT_WRITTEN = frozenset(["ID", "Parent", "codon_start"])  # GFF3's own keys (an annotation read back); a writer's hint
BIOTYPES = {"mRNA": "protein_coding", "lnc_RNA": "lncRNA"}
_VALUE_ESCAPE = re.compile(r'["%;\t\n\r\x00-\x1f\x7f]')


def _quoted(value: Any) -> str:
    text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return '"' + _VALUE_ESCAPE.sub(lambda m: f"%{ord(m.group(0)):02X}", text) + '"'


def _codon_pieces(cds: list[Interval], strand: str, at_start: bool) -> list[Interval]:
    """The genomic pieces of the first (`at_start`) or last codon of a spliced CDS, in forward order."""
    order = sorted(cds, reverse=strand == "-")  # transcription order
    if not at_start:
        order = order[::-1]  # from the 3' end
    pieces, need = [], 3
    for s, e in order:
        take = min(need, e - s + 1)
        from_left = (strand == "+") == at_start  # the codon's bases sit at this segment's left end
        pieces.append((s, s + take - 1) if from_left else (e - take + 1, e))
        need -= take
        if not need:
            break
    return sorted(pieces)


def _without_stop(cds: list[Interval], stop: list[Interval]) -> list[Interval]:
    """`cds` segments with the stop codon's bases removed (segments left empty dropped)."""
    out = []
    for s, e in sorted(cds):
        for a, b in stop:
            if a <= s <= b:
                s = b + 1
            if a <= e <= b:
                e = a - 1
        if s <= e:
            out.append((s, e))
    return out


class GtfWriter:
    """Write records of gene models as GTF to an open text handle (the interface of genannot.io.gff3.Gff3Writer).

        w = GtfWriter(fh, provenance_lines(cmd, models))
        w.write_record(record.id, len(record), genes)
    """

    def __init__(self, handle: TextIO, provenance: Iterable[str] = (), source: str = SOURCE):
        self.handle = handle
        self.source = source
        self._seqids: set[str] = set()
        handle.write("\n".join(["##format: gtf", *comment_lines(provenance)]) + "\n")

    def write_record(self, seqid: str, length: int, genes: Iterable[Gene]) -> None:
        """Write the genes of one sequence, sorted by start (checked as the GFF3 writer checks them)."""
        col1 = escape_seqid(seqid)
        lines: list[str] = []
        for gene in checked_record(self._seqids, seqid, length, genes):
            self._gene_lines(col1, gene, lines)
        if lines:
            self.handle.write("\n".join(lines) + "\n")

    def _line(self, col1: str, ftype: str, s: int, e: int, strand: str, frame: str, ids: list[tuple[str, Any]],
              given: Mapping[str, Any] | None = None) -> str:
        score, pairs = ".", list(ids)
        for key, value in (given or {}).items():
            if key.startswith("_") or value is None or key in NOT_WRITTEN:
                continue
            if key == "score":
                score = score_column(value)
            pairs.append((key.lower(), value))
        col9 = " ".join(f"{k} {_quoted(v)};" for k, v in pairs)
        return "\t".join([col1, self.source, ftype, str(s), str(e), score, strand, frame, col9])

    def _gene_lines(self, col1: str, gene: Gene, lines: list[str]) -> None:
        gid = [("gene_id", gene.id)]
        biotypes = {BIOTYPES.get(t.biotype, t.biotype) for t in gene.transcripts}
        gene_biotype = "protein_coding" if "protein_coding" in biotypes else sorted(biotypes)[0]
        extra = {"partial": gene.partial} if gene.partial not in ("", "00") else {}
        lines.append(self._line(col1, "gene", gene.start, gene.end, gene.strand, ".",
                                [*gid, ("gene_biotype", gene_biotype)], {**gene.attributes, **extra}))
        for t in sorted(gene.transcripts, key=lambda t: (t.start, t.end, t.id)):
            self._transcript_lines(col1, gene, t, lines)

    def _transcript_lines(self, col1: str, gene: Gene, t: Transcript, lines: list[str]) -> None:
        ids = [("gene_id", gene.id), ("transcript_id", t.id)]
        strand, minus = gene.strand, gene.strand == "-"
        lines.append(self._line(col1, "transcript", t.start, t.end, strand, ".",
                                [*ids, ("transcript_biotype", BIOTYPES.get(t.biotype, t.biotype))], t.attributes))
        exons = sorted(t.exons or t.cds)
        rows: list[tuple[int, int, str]] = []
        for i, (s, e) in enumerate(exons):
            rows.append((s, 0, self._line(col1, "exon", s, e, strand, ".", [*ids, ("exon_number", len(exons) - i if minus else i + 1)])))
        if t.cds:
            cds = sorted(t.cds)
            partial = gene.partial or "00"
            five_open, three_open = (partial[1], partial[0]) if minus else (partial[0], partial[1])
            stop = [] if three_open == "1" else _codon_pieces(cds, strand, at_start=False)
            coding = _without_stop(cds, stop)
            phases = cds_phases(coding, strand, int(t.attributes.get("codon_start", 1)))
            rows += [(s, 1, self._line(col1, "CDS", s, e, strand, str(ph), ids)) for (s, e), ph in zip(coding, phases)]
            for kind, pieces in (("start_codon", [] if five_open == "1" else _codon_pieces(cds, strand, at_start=True)),
                                 ("stop_codon", stop)):
                for (s, e), ph in zip(pieces, cds_phases(pieces, strand)):
                    rows.append((s, 2, self._line(col1, kind, s, e, strand, str(ph), ids)))
            left, right = utr_parts(exons, cds[0][0], cds[-1][1])
            for kind, parts in (("five_prime_utr", right if minus else left), ("three_prime_utr", left if minus else right)):
                rows += [(s, 3, self._line(col1, kind, s, e, strand, ".", ids)) for s, e in parts]
        rows.sort(key=lambda r: (r[0], r[1]))
        lines.extend(r[2] for r in rows)
