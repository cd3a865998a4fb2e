"""GFF3 writer (the reader lives in genannot.io.annotation).

Output follows the GFF3 specification and passes GenomeTools `gt gff3validator`:

- `##gff-version 3` first, then provenance as `#` comment lines (see `provenance_lines`);
- per record: `##sequence-region SEQID 1 LENGTH`, its features sorted by start, then `###`
  (all references resolved: readers may stream);
- 1-based closed coordinates, source column `genannot`;
- hierarchy: gene -> mRNA -> exon / CDS / five_prime_UTR / three_prime_UTR, ncRNA_gene ->
  lnc_RNA -> exon (feature types are `Gene.kind` and `Transcript.biotype` as given), and for a
  transcript with CDS but no exons (prokaryotic gene) gene -> CDS with Parent=gene;
- UTRs are the exon parts outside the CDS span: 5' before the CDS in transcription order;
- CDS phase from the cumulative coding length in transcription order (minus strand: from the
  rightmost segment); `Transcript.attributes['codon_start']` (1, 2 or 3, GenBank convention)
  sets the first segment's phase of a 5'-partial CDS and is not written;
- IDs: Gene.id and Transcript.id as given, children derived from the transcript ID
  (`T.exon1`.. in transcription order, `T.cds` shared by all CDS segments as GFF3 intends,
  `T.5utr1`, `T.3utr1`..); a prokaryotic CDS takes the transcript ID (or `G.cds` when the
  transcript ID equals the gene ID). Every ID is unique across the file: a duplicate raises
  ValueError, as it is a pipeline bug (pipelines prefix their IDs with the seqid);
- column 9: ID, Parent, then attributes as given; custom keys are lowercase (an uppercase key
  that GFF3 does not reserve is lowercased: gt rejects it), keys starting with '_' are private
  and not written; values percent-encoded (; = & , tab, newlines, % and control characters);
  a list or tuple value is written as a comma-separated multi-value;
- `Gene.partial` other than '00' adds `partial=XY` plus `start_range=.,START` (left end open)
  / `end_range=END,.` (right end open) on the gene and its CDS; `Gene.pseudo` adds
  `pseudo=true`;
- a numeric `score` attribute is also placed in column 6 of that feature.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, TextIO

from genannot.features import Gene, Interval, Transcript

__all__ = ["Gff3Writer", "write_gff3", "provenance_lines", "escape_seqid", "escape_value", "cds_phases",
           "checked_record", "comment_lines", "score_column", "utr_parts"]

SOURCE = "genannot"

RESERVED = frozenset(
    ["ID", "Name", "Alias", "Parent", "Target", "Gap", "Derives_from", "Note", "Dbxref", "Ontology_term", "Is_circular"]
)
OWNED = frozenset(["ID", "Parent"])  # set by the writer only
NOT_WRITTEN = frozenset(["codon_start"])

_VALUE_ESCAPE = re.compile(r"[;=&,%\t\n\r\x00-\x1f\x7f]")
_COLUMN_ESCAPE = re.compile(r"[%\t\n\r\x00-\x1f\x7f]")
_SEQID_ESCAPE = re.compile(r"[^a-zA-Z0-9.:^*$@!+_?\-|]")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def score_column(value: Any) -> str:
    """Column 6 for a `score` attribute: the number as written, '.' when it is not one (a bool, a list, text)."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool) and _NUMBER.match(str(value).strip()):
        return str(value).strip()
    return "."


def _pct(m: re.Match) -> str:
    return "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8"))


def escape_value(text: str) -> str:
    """Percent-encode a column-9 key or value (; = & , tab, newline, %, control characters)."""
    return _VALUE_ESCAPE.sub(_pct, text)


def escape_seqid(seqid: str) -> str:
    """Percent-encode every character GFF3 does not allow unescaped in column 1."""
    return _SEQID_ESCAPE.sub(_pct, seqid)


def _escape_column(text: str) -> str:
    return _COLUMN_ESCAPE.sub(_pct, text)


def _format_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(escape_value(_scalar(v)) for v in value)
    return escape_value(_scalar(value))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def cds_phases(cds: list[Interval], strand: str, codon_start: int = 1) -> list[int]:
    """Phase of each CDS segment (in the order given: ascending coordinates).

    Phase = bases to skip from the segment's 5' end to the next codon start, from the coding
    length accumulated in transcription order (minus strand: from the rightmost segment).
    """
    if codon_start not in (1, 2, 3):
        raise ValueError(f"codon_start must be 1, 2 or 3, not {codon_start!r}")
    order = sorted(range(len(cds)), key=lambda i: cds[i][0], reverse=strand == "-")
    phases = [0] * len(cds)
    done = 0
    first = codon_start - 1
    for i in order:
        s, e = cds[i]
        phases[i] = (first - done) % 3
        done += e - s + 1
    return phases


def utr_parts(exons: list[Interval], cds_lo: int, cds_hi: int) -> tuple[list[Interval], list[Interval]]:
    """Exon parts left of cds_lo and right of cds_hi."""
    left, right = [], []
    for s, e in exons:
        if s < cds_lo:
            left.append((s, min(e, cds_lo - 1)))
        if e > cds_hi:
            right.append((max(s, cds_hi + 1), e))
    return left, right


def _model_entry(m: Any) -> tuple[str, str]:
    if isinstance(m, (tuple, list)):
        name, sha = m
    else:
        name, sha = getattr(m, "name"), getattr(m, "sha256")
    return str(name), str(sha)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _comment(text: str) -> str:
    """One comment line: backslash, newlines and control characters escaped C-style."""
    text = text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def comment_lines(lines: Iterable[str]) -> list[str]:
    """`lines` as header comments: control characters escaped, '# ' put before a line that lacks a '#', and a '##'
    line (it would read as a directive) demoted to '# '."""
    out = []
    for line in lines:
        line = _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", line)
        if not line.startswith("#"):
            line = "# " + line
        elif line.startswith("##"):
            line = "# " + line.lstrip("#")
        out.append(line)
    return out


def provenance_lines(
    command_line: str | None = None,
    models: Iterable[Any] | Mapping[str, str] = (),
    extra: Mapping[str, Any] | None = None,
) -> list[str]:
    """Comment lines naming the genannot version, each model (name + sha256) and the command.

    `models` holds objects with `.name` and `.sha256` (registry.ResolvedModel), (name, sha256)
    pairs, or a {name: sha256} mapping. `extra` adds `#key value` lines (e.g. translation table).
    """
    from genannot import __version__

    lines = [f"#genannot {__version__}"]
    items = models.items() if isinstance(models, Mapping) else (_model_entry(m) for m in models)
    for name, sha in items:
        lines.append(_comment(f"#model {name} sha256={sha}"))
    for key, value in (extra or {}).items():
        lines.append(_comment(f"#{key} {_scalar(value)}"))
    if command_line:
        lines.append(_comment(f"#command {command_line}"))
    return lines


def _check_gene(gene: Gene, length: int) -> None:
    """Structural checks, all done before any line of the record is produced."""
    if gene.strand not in ("+", "-", "."):
        raise ValueError(f"gene {gene.id!r}: strand {gene.strand!r}")
    if not gene.transcripts:
        raise ValueError(f"gene {gene.id!r} has no transcripts")
    for t in gene.transcripts:
        if not t.exons and not t.cds:
            raise ValueError(f"transcript {t.id!r} has neither exons nor CDS")
        for s, e in [*t.exons, *t.cds]:
            if not 1 <= s <= e <= length:
                raise ValueError(f"gene {gene.id!r}: interval {s}-{e} outside 1-{length} or reversed")
        exons = sorted(t.exons)
        for a, b in zip(exons, exons[1:]):
            if b[0] <= a[1]:
                raise ValueError(f"transcript {t.id!r}: overlapping exons {a} and {b}")
        if exons:
            for s, e in t.cds:
                if not any(xs <= s and e <= xe for xs, xe in exons):
                    raise ValueError(f"transcript {t.id!r}: CDS {s}-{e} is not inside one exon")
        if t.cds and str(t.attributes.get("codon_start", 1)) not in ("1", "2", "3"):
            raise ValueError(f"transcript {t.id!r}: codon_start must be 1, 2 or 3, not {t.attributes['codon_start']!r}")
    partial = gene.partial or "00"
    if len(partial) != 2 or set(partial) - {"0", "1"}:
        raise ValueError(f"gene {gene.id!r}: partial must be two 0/1 digits, not {partial!r}")


def checked_record(written: set[str], seqid: str, length: int, genes: Iterable[Gene]) -> list[Gene]:
    """`genes` of one sequence sorted by start, every check done before a writer produces a line of it (a record
    not yet among the `written` seqids, which it joins; each gene on it and well formed: `_check_gene`)."""
    if not seqid:
        raise ValueError("empty seqid")
    if seqid in written:
        raise ValueError(f"sequence {seqid!r} written twice")
    if length < 1:
        raise ValueError(f"sequence {seqid!r} has length {length}")
    written.add(seqid)
    genes = list(genes)
    for gene in genes:
        if gene.seqid != seqid:
            raise ValueError(f"gene {gene.id!r} is on {gene.seqid!r}, written under record {seqid!r}")
        _check_gene(gene, length)
    return sorted(genes, key=lambda g: (g.start, g.end, g.strand, g.id))


class Gff3Writer:
    """Write records of gene models as GFF3 to an open text handle.

        w = Gff3Writer(fh, provenance_lines(cmd, models))
        for record, genes in ...:
            w.write_record(record.id, len(record), genes)
    """

    def __init__(self, handle: TextIO, provenance: Iterable[str] = (), source: str = SOURCE):
        self.handle = handle
        self.source = _escape_column(source)
        self._ids: set[str] = set()
        self._seqids: set[str] = set()
        handle.write("\n".join(["##gff-version 3", *comment_lines(provenance)]) + "\n")

    # ------------------------------------------------------------ public

    def write_record(self, seqid: str, length: int, genes: Iterable[Gene]) -> None:
        """Write `##sequence-region`, the genes of one sequence (sorted by start) and `###`."""
        genes = checked_record(self._seqids, seqid, length, genes)
        col1 = escape_seqid(seqid)
        lines = [f"##sequence-region {col1} 1 {length}"]
        for gene in genes:
            self._gene_lines(col1, gene, lines)
        lines.append("###")
        self.handle.write("\n".join(lines) + "\n")

    # ------------------------------------------------------------ internals

    def _new_id(self, fid: str) -> str:
        if not fid:
            raise ValueError("empty feature ID")
        if fid in self._ids:
            raise ValueError(f"duplicate GFF3 ID {fid!r}")
        self._ids.add(fid)
        return fid

    def _line(
        self, col1: str, ftype: str, start: int, end: int, strand: str, phase: str, attrs: list[tuple[str, str]], score: str = "."
    ) -> str:
        col9 = ";".join(f"{k}={v}" for k, v in attrs)
        return "\t".join([col1, self.source, _escape_column(ftype), str(start), str(end), score, strand, phase, col9])

    @staticmethod
    def _attrs(fid: str, parent: str | None, given: Mapping[str, Any], extra: Iterable[tuple[str, Any]] = ()) -> tuple[list[tuple[str, str]], str]:
        """Column 9 pairs (already escaped) and the score column."""
        pairs = [("ID", escape_value(fid))]
        if parent is not None:
            pairs.append(("Parent", escape_value(parent)))
        score = "."
        seen = {"ID", "Parent"}
        items = list(given.items())
        items.sort(key=lambda kv: kv[0] != "Name")  # Name right after ID/Parent (stable otherwise)
        for key, value in [*items, *extra]:
            if key.startswith("_") or key in NOT_WRITTEN:
                continue
            if key in OWNED:
                raise ValueError(f"attribute {key!r} is set by the GFF3 writer and cannot be given (feature {fid!r})")
            if key not in RESERVED:
                key = key.lower()
            if key in seen or value is None:
                continue
            seen.add(key)
            text = _format_value(value)
            if key == "score":
                score = score_column(value)
            pairs.append((escape_value(key), text))
        return pairs, score

    def _gene_lines(self, col1: str, gene: Gene, lines: list[str]) -> None:
        partial = gene.partial or "00"
        gstart, gend = gene.start, gene.end
        flags: list[tuple[str, Any]] = []
        if partial != "00":
            flags.append(("partial", partial))
            if partial[0] == "1":
                flags.append(("start_range", (".", gstart)))
            if partial[1] == "1":
                flags.append(("end_range", (gend, ".")))
        pseudo = [("pseudo", "true")] if gene.pseudo else []

        gid = self._new_id(gene.id)
        attrs, score = self._attrs(gid, None, gene.attributes, [*flags, *pseudo])
        lines.append(self._line(col1, gene.kind, gstart, gend, gene.strand, ".", attrs, score))
        for t in sorted(gene.transcripts, key=lambda t: (t.start, t.end, t.id)):
            if t.exons:
                self._transcript_lines(col1, gene, t, flags, lines)
            else:
                cid = self._new_id(t.id if t.id != gene.id else f"{gene.id}.cds")
                self._cds_lines(col1, gene, t, cid, gid, t.attributes, [*flags, *pseudo], lines)

    def _cds_lines(
        self, col1: str, gene: Gene, t: Transcript, cid: str, parent: str, given: Mapping[str, Any], extra: list, lines: list[str]
    ) -> None:
        cds = sorted(t.cds)
        codon_start = int(t.attributes.get("codon_start", 1))
        phases = cds_phases(cds, gene.strand, codon_start)
        attrs, score = self._attrs(cid, parent, given, extra)
        for (s, e), ph in zip(cds, phases):
            lines.append(self._line(col1, "CDS", s, e, gene.strand, str(ph), attrs, score))

    def _transcript_lines(self, col1: str, gene: Gene, t: Transcript, flags: list, lines: list[str]) -> None:
        tid = self._new_id(t.id)
        exons = sorted(t.exons)
        attrs, score = self._attrs(tid, gene.id, t.attributes)
        lines.append(self._line(col1, t.biotype, t.start, t.end, gene.strand, ".", attrs, score))
        minus = gene.strand == "-"
        rows: list[tuple[int, int, int, str]] = []  # (start, order, end, line) for sorting
        n = len(exons)
        for i, (s, e) in enumerate(exons):
            num = n - i if minus else i + 1
            eid = self._new_id(f"{tid}.exon{num}")
            a, _ = self._attrs(eid, tid, {})
            rows.append((s, 0, e, self._line(col1, "exon", s, e, gene.strand, ".", a)))
        if t.cds:
            cds = sorted(t.cds)
            left, right = utr_parts(exons, cds[0][0], cds[-1][1])
            five, three = (right, left) if minus else (left, right)
            for kind, tag, parts in (("five_prime_UTR", "5utr", five), ("three_prime_UTR", "3utr", three)):
                k = len(parts)
                for i, (s, e) in enumerate(parts):
                    num = k - i if minus else i + 1
                    uid = self._new_id(f"{tid}.{tag}{num}")
                    a, _ = self._attrs(uid, tid, {})
                    rows.append((s, 1, e, self._line(col1, kind, s, e, gene.strand, ".", a)))
            cid = self._new_id(f"{tid}.cds")
            cds_lines: list[str] = []
            self._cds_lines(col1, gene, t, cid, tid, {}, flags, cds_lines)
            for (s, e), line in zip(cds, cds_lines):
                rows.append((s, 1, e, line))
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        lines.extend(r[3] for r in rows)


def write_gff3(
    handle: TextIO, records: Iterable[tuple[str, int, Iterable[Gene]]], provenance: Iterable[str] = ()
) -> Gff3Writer:
    """Write every (seqid, length, genes) record; return the writer."""
    w = Gff3Writer(handle, provenance)
    for seqid, length, genes in records:
        w.write_record(seqid, length, genes)
    return w
