"""GenBank and EMBL flat files read as FASTA: the genome input of every command may be either, as Prodigal's may.

    pieces = as_fasta(pieces, name)     # decompressed bytes in, FASTA bytes out (FASTA passes through)

Why a conversion and not a second parser: the FASTA reader (genannot.io.fasta) already checks every letter,
record ID and empty record, streams chromosomes in chunks and keeps its error messages to one line; a flat
file turned into FASTA gets all of that. The conversion keeps the line count (one output line per input
line: the feature table becomes blank lines, which FASTA ignores), so a message's line number is the flat
file's own. Each record becomes `>ID DESCRIPTION` at its ORIGIN (GenBank) or SQ (EMBL) line, ID the
accession.version as Biopython and NCBI's GFF3 name it, so that the output's sequence IDs match an annotation
of the same record: GenBank's VERSION, else ACCESSION, else the LOCUS name; EMBL's ID line accession and SV,
else the SV line, the AC line, the ID line's entry name. Sequence letters are uppercased: a flat file's
lowercase is its convention, not a repeat mask.
"""

from __future__ import annotations

from typing import Iterator

from genannot.errors import InputError

__all__ = ["as_fasta", "flat_format"]

_SEQ_JUNK = b"0123456789 \t"  # position numbers and block spaces of a sequence line


def flat_format(head: bytes) -> str | None:
    """'genbank' or 'embl' where the first non-blank line of `head` opens such a record, else None."""
    first = head.lstrip()
    if first.startswith(b"LOCUS"):
        return "genbank"
    if first.startswith(b"ID   "):
        return "embl"
    return None


def as_fasta(pieces: Iterator[bytes], name: str) -> Iterator[bytes]:
    """The pieces unchanged (FASTA), or a GenBank / EMBL file's records as FASTA, line for line."""
    head = b""
    for piece in pieces:
        head += piece
        first = head.lstrip()
        if b"\n" in first or len(first) >= 5:  # the first line, or enough of it to tell
            break
    fmt = flat_format(head)
    if fmt is None:
        if head:
            yield head
        yield from pieces
        return
    yield from _converted(_lines(head, pieces), name, fmt)


def _lines(head: bytes, pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Lines (without their '\\n') of `head` followed by the pieces."""
    rest = head
    for piece in pieces:
        rest += piece
        *lines, rest = rest.split(b"\n")
        yield from lines
    lines = rest.split(b"\n")
    yield from lines if rest else lines[:-1]


def _converted(lines: Iterator[bytes], name: str, fmt: str) -> Iterator[bytes]:
    genbank = fmt == "genbank"
    opens, seq_start = (b"LOCUS", b"ORIGIN") if genbank else (b"ID   ", b"SQ   ")
    fields: dict[str, str] = {}
    in_seq = False
    last_key = ""
    out: list[bytes] = []
    for line_no, line in enumerate(lines, 1):
        if in_seq:
            if line.startswith(b"//"):
                in_seq, fields = False, {}
                out.append(b"")
            else:
                out.append(line.translate(None, _SEQ_JUNK).upper())
        elif line.startswith(opens):
            if fields:
                raise InputError(f"{name} line {line_no}: record '{_record_id(fields, genbank)}' has no sequence "
                                 f"({'ORIGIN' if genbank else 'SQ'} line) before the next record")
            fields = {"open": _text(line[len(opens):])}
            last_key = "open"
            out.append(b"")
        elif line.startswith(seq_start) and fields:
            out.append(b">" + _header(fields, genbank).encode("utf-8"))
            in_seq = True
        elif line.startswith(b"//") and fields:
            raise InputError(f"{name} line {line_no}: record '{_record_id(fields, genbank)}' has no sequence "
                             f"(no {'ORIGIN' if genbank else 'SQ'} line: a {fmt.upper()} file without sequence cannot be annotated)")
        elif not fields and line.strip():
            start = line.strip()[:20].decode("utf-8", "replace")
            raise InputError(f"{name} line {line_no}: a {fmt.upper()} record should open with a {opens.decode().strip()} line "
                             f"here, not {start!r}")
        else:
            last_key = _header_field(fields, line, genbank, last_key)
            out.append(b"")
        if len(out) >= 4096:
            yield b"\n".join(out) + b"\n"
            out = []
    if in_seq or fields:
        what = _record_id(fields, genbank) if fields else "the last record"
        raise InputError(f"{name}: the file ends inside record '{what}' (no '//' line): truncated?")
    if out:
        yield b"\n".join(out) + b"\n"


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").strip()


def _header_field(fields: dict[str, str], line: bytes, genbank: bool, last_key: str) -> str:
    """Record the header fields a FASTA header needs; returns the key a continuation line would extend."""
    if genbank:
        key, value = _text(line[:12]), _text(line[12:])
        if not key and last_key == "DEFINITION":  # a continued DEFINITION
            fields["DEFINITION"] += " " + value
            return last_key
        if key in ("DEFINITION", "ACCESSION", "VERSION"):
            fields[key] = value
        return key
    key, value = _text(line[:5]), _text(line[5:])
    if key == "DE":
        fields["DE"] = (fields.get("DE", "") + " " + value).strip()
    elif key in ("AC", "SV") and key not in fields:
        fields[key] = value
    return key


def _record_id(fields: dict[str, str], genbank: bool) -> str:
    opening = fields.get("open", "").split()
    if genbank:
        for key in ("VERSION", "ACCESSION"):
            words = fields.get(key, "").split()
            if words:
                return words[0]
        return opening[0] if opening else "unnamed"
    parts = [p.strip() for p in fields.get("open", "").split(";")]
    version = next((p[3:].strip() for p in parts[1:] if p.startswith("SV ")), "")
    if version:  # the ID line of today: 'ID   X56734; SV 1; linear; ...'
        return f"{parts[0]}.{version}"
    if fields.get("SV"):  # an old-style ID line ('ID   ENTRYNAME  standard; ...') and an SV line
        return fields["SV"].split()[0]
    accession = fields.get("AC", "").split(";")[0].strip()
    return accession or (parts[0].split() or ["unnamed"])[0]


def _header(fields: dict[str, str], genbank: bool) -> str:
    description = fields.get("DEFINITION" if genbank else "DE", "").rstrip(".")
    return f"{_record_id(fields, genbank)} {description}".strip()
