"""Streaming FASTA reader: plain, gzip or bgzip (detected by magic bytes), a path or '-' for stdin.

Records are read one at a time, so a whole genome is never held in memory (one chromosome is).
Each record comes back uppercased with IUPAC ambiguity letters turned into N and U into T; the
lowercase (soft-masked) stretches of the input are kept as 0-based half-open runs.

Every malformed input raises `InputError` (exit code 2) with a one-line message: missing or
unreadable path, a directory, empty input, a first line that is not a '>' header, protein or
other non-nucleotide letters, duplicate record IDs, records without sequence, corrupt gzip.
"""

from __future__ import annotations

import io
import os
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, Iterator, Union

from genannot.errors import InputError

__all__ = ["FastaRecord", "read_fasta", "open_input", "STDIN"]

STDIN = "-"

_CHUNK = 1 << 20

# Accepted letters: A C G T, U (RNA, read as T), the IUPAC ambiguity codes, in either case.
_NUCLEOTIDES = b"ACGTURYSWKMBDHVN"
_VALID = _NUCLEOTIDES + _NUCLEOTIDES.lower()
_WHITESPACE = b" \t\r\n\x0b\x0c"
# bytes -> canonical upper-case A/C/G/T/N (only applied after validation)
_CANON = bytearray(range(256))
for _c in _VALID:
    _CANON[_c] = ord("N")
for _src, _dst in zip(b"ACGTUacgtu", b"ACGTTACGTT"):
    _CANON[_src] = _dst
_CANON_TABLE = bytes(_CANON)
# letters that are not nucleotide codes: their presence suggests a protein sequence
_PROTEIN_ONLY = set(b"EFIJLOPQXZefijlopqxz")

_COMPRESSED_MAGIC = {
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"PK\x03\x04": "zip",
}


@dataclass
class FastaRecord:
    """One sequence: `seq` holds only A, C, G, T and N."""

    id: str  # first word of the header
    description: str  # rest of the header line (may be empty)
    seq: str
    soft_mask: list[tuple[int, int]] = field(default_factory=list)  # lowercase runs, 0-based half-open

    def __len__(self) -> int:
        return len(self.seq)

    def mask_array(self):  # -> numpy.ndarray[bool]
        """Per-base soft-mask as a boolean numpy array (True = lowercase in the input)."""
        import numpy as np

        m = np.zeros(len(self.seq), dtype=bool)
        for s, e in self.soft_mask:
            m[s:e] = True
        return m


Source = Union[str, os.PathLike, BinaryIO]


def _is_stream(source: Source) -> bool:
    return hasattr(source, "read")


def _describe(source: Source) -> str:
    if _is_stream(source):
        name = getattr(source, "name", None)
        return f"'{name}'" if isinstance(name, str) else "the input stream"
    return "standard input" if str(source) == STDIN else f"'{os.fspath(source)}'"


class _Prefixed(io.RawIOBase):
    """A raw stream that first returns `head`, then the rest of `fh` (used to 'un-read' magic bytes)."""

    def __init__(self, head: bytes, fh: IO[bytes]):
        self._head = head
        self._fh = fh

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._fh.read(len(b))
        n = len(data)
        b[:n] = data
        return n


def _gunzip_chunks(fh: IO[bytes], name: str) -> Iterator[bytes]:
    """Decompress (multi-member) gzip / bgzf from `fh`, chunk by chunk."""
    d = zlib.decompressobj(zlib.MAX_WBITS | 16)
    pending = b""
    try:
        while True:
            data = pending or fh.read(_CHUNK)
            pending = b""
            if not data:
                break
            out = d.decompress(data)
            if out:
                yield out
            if d.eof:
                # end of one gzip member: the rest (if any) starts the next member
                rest = d.unused_data
                d = zlib.decompressobj(zlib.MAX_WBITS | 16)
                if rest:
                    pending = rest
                else:
                    nxt = fh.read(_CHUNK)
                    if not nxt:
                        return
                    pending = nxt
                # tolerate zero padding after the last member (as gzip(1) does)
                if pending and not pending.strip(b"\x00"):
                    more = fh.read(_CHUNK)
                    if not more:
                        return
                    pending += more
        # input exhausted before the end of a member
        raise InputError(f"{name} is a corrupt or truncated gzip file (compressed data ended early)")
    except zlib.error as e:
        raise InputError(f"{name} is a corrupt gzip file ({e})") from None


def _raw_chunks(fh: IO[bytes]) -> Iterator[bytes]:
    while True:
        data = fh.read(_CHUNK)
        if not data:
            return
        yield data


def open_input(path: Source) -> tuple[IO[bytes], bool]:
    """Open `path` ('-' = stdin; a binary stream is used as is) for reading; return (handle, close_when_done)."""
    if _is_stream(path):
        return path, False  # type: ignore[return-value]
    if str(path) == STDIN:
        stdin = sys.stdin
        if stdin is None:
            raise InputError("standard input is not available")
        return getattr(stdin, "buffer", stdin), False
    p = Path(path)
    if p.is_dir():
        raise InputError(f"input '{p}' is a directory, not a FASTA file")
    if not p.exists():
        raise InputError(f"input file '{p}' does not exist")
    try:
        return open(p, "rb"), True
    except OSError as e:
        raise InputError(f"cannot read input file '{p}': {e.strerror or e}") from None


def _byte_chunks(path: Source) -> Iterator[bytes]:
    """Decompressed content of `path` in chunks."""
    name = _describe(path)
    fh, close = open_input(path)
    try:
        try:
            head = fh.read(6)
        except OSError as e:
            raise InputError(f"cannot read {name}: {e.strerror or e}") from None
        for magic, kind in _COMPRESSED_MAGIC.items():
            if head.startswith(magic):
                raise InputError(f"{name} is {kind}-compressed: only plain, gzip and bgzip FASTA are read; decompress it first")
        stream = io.BufferedReader(_Prefixed(head, fh), buffer_size=_CHUNK)
        try:
            if head[:2] == b"\x1f\x8b":
                yield from _gunzip_chunks(stream, name)
            else:
                yield from _raw_chunks(stream)
        except OSError as e:
            raise InputError(f"cannot read {name}: {e.strerror or e}") from None
    finally:
        if close:
            fh.close()


def _bad_letter_message(rec_id: str, seq: bytes, bad: bytes) -> str:
    ch = bad[0]
    pos = seq.index(bytes([ch])) + 1
    shown = chr(ch) if 33 <= ch < 127 else f"byte 0x{ch:02x}"
    if any(c in _PROTEIN_ONLY for c in bad):
        why = "looks like a protein sequence; genannot needs nucleotide FASTA"
    elif ch in b"-.":
        why = "alignment gaps are not allowed; remove them"
    elif ch == ord("*"):
        why = "'*' is not a nucleotide (protein FASTA?)"
    else:
        why = "not a nucleotide letter (A C G T U or an IUPAC ambiguity code)"
    return f"record '{rec_id}' has '{shown}' at sequence position {pos}: {why}"


def _lower_runs(seq: bytes) -> list[tuple[int, int]]:
    """0-based half-open runs of lowercase letters (seq holds letters only)."""
    import numpy as np

    lower = np.frombuffer(seq, dtype=np.uint8) >= ord("a")
    edges = (np.flatnonzero(lower[1:] != lower[:-1]) + 1).tolist()
    if lower[0]:
        edges.insert(0, 0)
    if lower[-1]:
        edges.append(len(seq))
    return list(zip(edges[::2], edges[1::2]))


def _make_record(name: str, header: bytes, lines: list[bytes], line_no: int) -> FastaRecord:
    text = header[1:].decode("utf-8", errors="replace").strip()
    parts = text.split(None, 1)
    if not parts:
        raise InputError(f"{name} line {line_no}: a '>' header without a sequence name")
    rec_id = parts[0]
    description = parts[1] if len(parts) > 1 else ""
    seq = b"".join(lines).translate(None, _WHITESPACE)
    lines.clear()
    if not seq:
        raise InputError(f"{name}: record '{rec_id}' (line {line_no}) has no sequence")
    bad = seq.translate(None, _VALID)
    if bad:
        raise InputError(f"{name}: " + _bad_letter_message(rec_id, seq, bad))
    # only letters remain, so isupper() means "no lowercase at all" (no copy made)
    mask = [] if seq.isupper() else _lower_runs(seq)
    return FastaRecord(rec_id, description, seq.translate(_CANON_TABLE).decode("ascii"), mask)


def read_fasta(path: Source) -> Iterator[FastaRecord]:
    """Return an iterator over the records of a FASTA file (plain/gzip/bgzip), of stdin ('-') or of
    an open binary stream.

    A missing, unreadable or directory path raises InputError at once; problems inside the
    content raise InputError (one line) while iterating, after the records before the problem
    were yielded, so callers should write their output atomically.
    """
    if not _is_stream(path) and str(path) != STDIN:
        fh, _ = open_input(path)  # fail early on a bad path
        fh.close()
    return _records(path)


def _records(path: Source) -> Iterator[FastaRecord]:
    """Scan decompressed chunks for header lines ('>' at a line start); everything between two
    headers is sequence, gathered as whole slices (no per-line Python work)."""
    name = _describe(path)
    seen: set[str] = set()
    header: bytes | None = None  # header of the record being gathered
    header_line = 0
    head_parts: list[bytes] | None = None  # a header line still being read (may span chunks)
    seq_parts: list[bytes] = []
    lines_before = 0  # newlines consumed so far (for line numbers in messages)
    line_start = True

    def finish() -> FastaRecord:
        rec = _make_record(name, header, seq_parts, header_line)  # type: ignore[arg-type]
        if rec.id in seen:
            raise InputError(f"{name}: duplicate record ID '{rec.id}' (line {header_line})")
        seen.add(rec.id)
        return rec

    for chunk in _byte_chunks(path):
        pos, n = 0, len(chunk)
        while pos < n:
            if head_parts is not None:  # inside a header line
                nl = chunk.find(b"\n", pos)
                if nl < 0:
                    head_parts.append(chunk[pos:])
                    break
                head_parts.append(chunk[pos:nl])
                header = b"".join(head_parts).rstrip(b"\r")
                head_parts = None
                lines_before += 1
                pos, line_start = nl + 1, True
                continue
            if line_start and chunk[pos] == 62:  # '>' starts a header
                if header is not None:
                    yield finish()
                    seq_parts = []
                head_parts, header_line = [], lines_before + 1
                continue
            nxt = chunk.find(b"\n>", pos)
            end = n if nxt < 0 else nxt + 1
            piece = chunk[pos:end]
            if header is None:
                _check_preamble(name, piece, lines_before)
            else:
                seq_parts.append(piece)
            lines_before += piece.count(b"\n")
            pos, line_start = end, piece.endswith(b"\n")
    if head_parts is not None:  # input ends inside a header line
        header = b"".join(head_parts).rstrip(b"\r")
    if header is None:
        raise InputError(f"{name} is empty: no FASTA records")
    yield finish()


def _check_preamble(name: str, piece: bytes, lines_before: int) -> None:
    """Text before the first header may only be blank."""
    if not piece.strip():
        return
    for i, line in enumerate(piece.split(b"\n")):
        first = line.strip()
        if first:
            if b"\x00" in first[:64] or not first[:64].isascii():
                raise InputError(f"{name} is not a FASTA file (binary content)")
            start = first[:20].decode("utf-8", "replace")
            raise InputError(f"{name} is not FASTA: line {lines_before + i + 1} should be a '>' header but starts with {start!r}")
