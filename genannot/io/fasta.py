"""Streaming FASTA reader: plain, gzip or bgzip (detected by magic bytes), a path or '-' for stdin; a GenBank or
EMBL flat file is read as the FASTA of its records' sequences (genannot.io.flatfile).

    for rec in read_fasta(path): rec.id, rec.seq, rec.soft_mask        # one whole record at a time
    for rec in stream_fasta(path):                                     # one chunk at a time
        with SpooledSequence(rec.chunks()) as seq: seq[a:b]            # a chromosome on disk, sliced

`read_fasta` holds one record (a chromosome) in memory; `stream_fasta` only a chunk (1 MiB by
default), for callers that need a chromosome's sequence but not all of it at once. Sequence comes
back uppercased with IUPAC ambiguity letters turned into N and U into T; the lowercase
(soft-masked) stretches of the input are kept as 0-based half-open runs (whole records) or as
lowercase letters (chunks, spooled sequence). Line breaks may be LF, CRLF or CR alone; a UTF-8
byte order mark at the start is skipped.

Every malformed input raises `InputError` (exit code 2) with a one-line message: missing or
unreadable path, a directory, empty input, a first line that is not a '>' header, a header that
is not UTF-8, protein or other non-nucleotide letters, duplicate record IDs, records without
sequence, corrupt gzip.
"""

from __future__ import annotations

import codecs
import io
import os
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, Iterable, Iterator, Union

from genannot.errors import InputError
from genannot.io.flatfile import as_fasta

__all__ = ["FastaRecord", "FastaChunk", "FastaStream", "SpooledSequence", "read_fasta", "stream_fasta", "open_input", "STDIN"]

STDIN = "-"

_CHUNK = 1 << 20

# Accepted letters: A C G T, U (RNA, read as T), the IUPAC ambiguity codes, in either case.
_NUCLEOTIDES = b"ACGTURYSWKMBDHVN"
_VALID = _NUCLEOTIDES + _NUCLEOTIDES.lower()
_WHITESPACE = b" \t\r\n\x0b\x0c"
# bytes -> canonical A/C/G/T/N, case kept (lowercase = soft-masked; only applied after validation)
_CANON = bytearray(range(256))
for _c in _NUCLEOTIDES:
    _CANON[_c], _CANON[_c + 32] = ord("N"), ord("n")
for _src, _dst in zip(b"ACGTUacgtu", b"ACGTTacgtt"):
    _CANON[_src] = _dst
_CANON_TABLE = bytes(_CANON)
# the same keeping the ambiguity letters (iupac=True): only U -> T
_IUPAC_TABLE = bytes.maketrans(b"Uu", b"Tt")
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
    """One sequence: `seq` holds only A, C, G, T and N (and the other IUPAC letters, read with iupac=True)."""

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


@dataclass(frozen=True)
class FastaChunk:
    """A stretch of a record's sequence, starting at 0-based `start`: `text` holds A C G T N (or any
    IUPAC letter, read with iupac=True), lowercase where the input was (soft-masked)."""

    start: int
    text: str

    def __len__(self) -> int:
        return len(self.text)

    @property
    def seq(self) -> str:
        """Upper-case A C G T N."""
        return self.text.upper()

    @property
    def soft_mask(self) -> list[tuple[int, int]]:
        """Lowercase runs, 0-based half-open record coordinates, cut at the chunk's edges."""
        if self.text.isupper():  # letters only: no lowercase at all (no copy made)
            return []
        return [(s + self.start, e + self.start) for s, e in _lower_runs(self.text.encode("ascii"))]


class FastaStream:
    """One record as it is read: `id` and `description` at once, the sequence from `chunks()` (one
    pass, before the next record is taken; chunks left unread are still checked), `length` (bases
    read so far)."""

    def __init__(self, rec_id: str, description: str, tokens: Iterator) -> None:
        self.id, self.description = rec_id, description
        self.length = 0
        self._tokens = tokens  # the reader's, shared with the records after this one
        self._next: tuple[str, str] | None = None  # the next record's header, once reached
        self._done = False

    def chunks(self) -> Iterator[FastaChunk]:
        return iter(self._pull, None)

    def _pull(self) -> FastaChunk | None:
        if self._done:
            return None
        tok = next(self._tokens, None)
        if isinstance(tok, FastaChunk):
            self.length += len(tok)
            return tok
        self._next, self._done = tok, True
        return None


class _FileSlices:
    """A sequence held as one byte per base in an open binary file, sliced like a str."""

    _fh: IO[bytes]
    _len: int

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, key: slice) -> str:
        a, b, step = key.indices(self._len)
        if step != 1:
            raise ValueError("only contiguous slices of a sequence on disk can be read")
        if b <= a:
            return ""
        self._fh.seek(a)
        return self._fh.read(b - a).decode("ascii")

    def close(self) -> None:
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SpooledSequence(_FileSlices):
    """A record's sequence in an anonymous temporary file, sliced like a str (soft-masked bases
    lowercase): a whole chromosome is then on disk, in memory only the slices read from it.

    Why not a sliding window over the chunks: whoever reads it may need its length (window plans)
    or long-past stretches (a gene's bases) before or after reading ahead. Records up to
    `IN_MEMORY` bytes stay in memory (no file descriptor), so holding the thousands of contigs of a
    draft assembly at once (genannot euk's self-training sample) cannot exhaust the open-file limit."""

    IN_MEMORY = 1 << 20

    def __init__(self, chunks: Iterable[FastaChunk]) -> None:
        self._fh = tempfile.SpooledTemporaryFile(max_size=self.IN_MEMORY)
        try:
            for c in chunks:
                self._fh.write(c.text.encode("ascii"))
        except BaseException:
            self._fh.close()
            raise
        self._len = self._fh.tell()

    def write_to(self, path: str | os.PathLike) -> None:
        """Copy the sequence to a plain file (a FileSequence reads it back, e.g. in another process)."""
        with open(path, "wb") as out:
            for a in range(0, self._len, 1 << 22):
                out.write(self[a : a + (1 << 22)].encode("ascii"))


class FileSequence(_FileSlices):
    """A sequence written by SpooledSequence.write_to, read back sliced like a str."""

    def __init__(self, path: str | os.PathLike) -> None:
        self._fh = open(path, "rb")
        self._len = os.fstat(self._fh.fileno()).st_size


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


def _gunzip_chunks(fh: IO[bytes], name: str, size: int) -> Iterator[bytes]:
    """Decompress (multi-member) gzip / bgzf from `fh`, at most `size` bytes at a time (a gzipped
    N run inflates a thousandfold: unbounded pieces would hold it whole)."""
    d = zlib.decompressobj(zlib.MAX_WBITS | 16)
    data = b""
    try:
        while True:
            if not data:
                data = fh.read(size)
                if not data:  # input exhausted before the end of a member
                    raise InputError(f"{name} is a corrupt or truncated gzip file (compressed data ended early)")
            out = d.decompress(data, size)
            data = d.unconsumed_tail
            if out:
                yield out
            if d.eof:
                # end of one gzip member: the rest (if any) starts the next member
                data = d.unused_data or fh.read(size)
                if not data:
                    return
                # tolerate zero padding after the last member (as gzip(1) does)
                if not data.strip(b"\x00"):
                    more = fh.read(size)
                    if not more:
                        return
                    data += more
                d = zlib.decompressobj(zlib.MAX_WBITS | 16)
    except zlib.error as e:
        raise InputError(f"{name} is a corrupt gzip file ({e})") from None


def _raw_chunks(fh: IO[bytes], size: int) -> Iterator[bytes]:
    while True:
        data = fh.read(size)
        if not data:
            return
        yield data


def _without_bom(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """The pieces less a UTF-8 byte order mark at the very start (Windows editors write one)."""
    head = b""
    for piece in pieces:
        head += piece
        if len(head) >= len(codecs.BOM_UTF8):
            break
    head = head.removeprefix(codecs.BOM_UTF8)
    if head:
        yield head
    yield from pieces


def _unix_newlines(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """The pieces with CRLF and lone CR (classic Mac OS) line breaks turned into LF. A CR that ends
    a piece is held back until the next one shows whether an LF follows it (one line break)."""
    held = b""
    for piece in pieces:
        piece = held + piece
        held = b""
        if b"\r" in piece:
            if piece.endswith(b"\r"):
                piece, held = piece[:-1], b"\r"
            piece = piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if piece:
            yield piece
    if held:
        yield b"\n"


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


def _byte_chunks(path: Source, size: int) -> Iterator[bytes]:
    """Decompressed content of `path` in pieces of at most `size` bytes."""
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
            gzipped = head[:2] == b"\x1f\x8b"
            pieces = _gunzip_chunks(stream, name, size) if gzipped else _raw_chunks(stream, size)
            yield from as_fasta(_unix_newlines(_without_bom(pieces)), name)
        except OSError as e:
            raise InputError(f"cannot read {name}: {e.strerror or e}") from None
    finally:
        if close:
            fh.close()


def _bad_letter_message(rec_id: str, ch: int, pos: int, protein: bool) -> str:
    """`ch`: the record's first bad letter, at 1-based sequence position `pos`; `protein`: whether any
    of its bad letters is protein-only."""
    shown = chr(ch) if 33 <= ch < 127 else f"byte 0x{ch:02x}"
    if protein:
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


def _check_path(path: Source) -> None:
    """Fail at once on a missing, unreadable or directory path (before any iteration)."""
    if not _is_stream(path) and str(path) != STDIN:
        fh, _ = open_input(path)
        fh.close()


def stream_fasta(path: Source, chunk_size: int = _CHUNK, *, iupac: bool = False) -> Iterator[FastaStream]:
    """Records of a FASTA file (plain/gzip/bgzip), of stdin ('-') or of an open binary stream, each
    as a FastaStream: its header at once, its sequence as chunks of at most `chunk_size` bases.
    With `iupac` the ambiguity letters (R, Y, ...) are kept instead of turned into N.

    Errors as for `read_fasta`; problems inside a record's sequence (bad letters, no sequence) are
    raised at its end, before the next record starts; a duplicate ID at its header.
    """
    _check_path(path)
    return _streams(_tokens(path, chunk_size, _IUPAC_TABLE if iupac else _CANON_TABLE))


def read_fasta(path: Source, *, iupac: bool = False) -> Iterator[FastaRecord]:
    """Return an iterator over the records of a FASTA file (plain/gzip/bgzip), of stdin ('-') or of
    an open binary stream.

    A missing, unreadable or directory path raises InputError at once; problems inside the
    content raise InputError (one line) while iterating, after the records before the problem
    were yielded, so callers should write their output atomically.
    """
    return (_whole(rec) for rec in stream_fasta(path, iupac=iupac))


def _whole(rec: FastaStream) -> FastaRecord:
    parts: list[str] = []
    mask: list[tuple[int, int]] = []
    for c in rec.chunks():
        parts.append(c.seq)
        for s, e in c.soft_mask:
            if mask and mask[-1][1] == s:  # a run cut by a chunk edge
                s = mask.pop()[0]
            mask.append((s, e))
    return FastaRecord(rec.id, rec.description, "".join(parts), mask)


def _streams(tokens: Iterator[tuple[str, str] | FastaChunk]) -> Iterator[FastaStream]:
    tok = next(tokens)  # the first token is a header: the parser raises on input without one
    while tok is not None:
        rec = FastaStream(*tok, tokens)  # type: ignore[misc]
        yield rec
        while rec._pull() is not None:  # the caller may leave chunks unread: they are still checked
            pass
        tok = rec._next


def _tokens(path: Source, size: int, letters: bytes) -> Iterator[tuple[str, str] | FastaChunk]:
    """Scan decompressed pieces for header lines ('>' at a line start): yield (id, description) for
    each header, then its sequence as FastaChunk (whole slices between headers, no per-line Python
    work, letters mapped through the `letters` table), raising InputError for every malformed case."""
    name = _describe(path)
    seen: set[str] = set()
    rec_id: str | None = None  # the record being read
    header_line = 0
    length = 0  # its bases so far
    bad: list | None = None  # [first bad letter, its position, protein letters seen] once one is found
    head_parts: list[bytes] | None = None  # a header line still being read (may span pieces)
    lines_before = 0  # newlines consumed so far (for line numbers in messages)
    line_start = True
    junk: bytes | None = None  # text before the first header that is not blank: the line, from its first letter
    junk_line = 0

    def header(raw: bytes) -> tuple[str, str]:
        nonlocal rec_id, length, bad
        try:
            text = raw[1:].decode("utf-8")
        except UnicodeDecodeError as e:  # a replacement character would make an ID that matches nothing
            bad_byte = raw[1 + e.start]
            raise InputError(
                f"{name} line {header_line}: the header is not valid UTF-8 (byte 0x{bad_byte:02x} at column {e.start + 2}); "
                "save the file as UTF-8"
            ) from None
        parts = text.strip().split(None, 1)
        if not parts:
            raise InputError(f"{name} line {header_line}: a '>' header without a sequence name")
        if parts[0] in seen:
            raise InputError(f"{name}: duplicate record ID '{parts[0]}' (line {header_line})")
        seen.add(parts[0])
        rec_id, length, bad = parts[0], 0, None
        return parts[0], parts[1] if len(parts) > 1 else ""

    def end_record() -> None:
        if bad:
            raise InputError(f"{name}: " + _bad_letter_message(rec_id, *bad))  # type: ignore[arg-type]
        if not length:
            raise InputError(f"{name}: record '{rec_id}' (line {header_line}) has no sequence")

    for chunk in _byte_chunks(path, size):
        pos, n = 0, len(chunk)
        while pos < n:
            if head_parts is not None:  # inside a header line
                nl = chunk.find(b"\n", pos)
                if nl < 0:
                    head_parts.append(chunk[pos:])
                    break
                head_parts.append(chunk[pos:nl])
                yield header(b"".join(head_parts))
                head_parts = None
                lines_before += 1
                pos, line_start = nl + 1, True
                continue
            if line_start and chunk[pos] == 62:  # '>' starts a header
                if rec_id is not None:
                    end_record()
                head_parts, header_line = [], lines_before + 1
                continue
            nxt = chunk.find(b"\n>", pos)
            end = n if nxt < 0 else nxt + 1
            piece = chunk[pos:end]
            if rec_id is None:  # before the first header only blank lines may come
                if junk is None and piece.strip():
                    i = len(piece) - len(piece.lstrip())
                    junk, junk_line = piece[i:], lines_before + piece.count(b"\n", 0, i) + 1
                elif junk is not None:
                    junk += piece
                if junk is not None and (b"\n" in junk or junk[64:].strip()):  # enough of the line to tell
                    _not_fasta(name, junk, junk_line)
            else:
                seq = piece.translate(None, _WHITESPACE)
                wrong = seq.translate(None, _VALID)
                if wrong and not bad:
                    bad = [wrong[0], length + seq.index(wrong[:1]) + 1, False]
                if bad:  # read on to the record's end: any protein letter in it names the problem
                    bad[2] = bad[2] or any(c in _PROTEIN_ONLY for c in wrong)
                elif seq:
                    yield FastaChunk(length, seq.translate(letters).decode("ascii"))
                length += len(seq)
            lines_before += piece.count(b"\n")
            pos, line_start = end, piece.endswith(b"\n")
    if junk is not None:
        _not_fasta(name, junk, junk_line)
    if head_parts is not None:  # input ends inside a header line
        yield header(b"".join(head_parts))
    if rec_id is None:
        raise InputError(f"{name} is empty: no FASTA records")
    end_record()


def _not_fasta(name: str, line: bytes, line_no: int) -> None:
    """Raise for `line` (from its first letter: at least 64 bytes of it, or all) found before the first header."""
    first = line.split(b"\n", 1)[0].strip()
    if b"\x00" in first[:64] or not first[:64].isascii():
        raise InputError(f"{name} is not a FASTA file (binary content)")
    start = first[:20].decode("utf-8", "replace")
    raise InputError(f"{name} is not FASTA: line {line_no} should be a '>' header but starts with {start!r}")
