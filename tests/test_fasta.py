"""FASTA reader: formats, stdin, normalisation, soft-mask and every malformed-input case."""

from __future__ import annotations

import gzip
import io
import sys

import pytest

from genannot.errors import InputError
from genannot.io.fasta import FastaRecord, read_fasta, stream_fasta

SMALL = b">seq1 first record\nACGTacgtNN\nRYKMacgt\n>seq2\nGGGG\nCCCC\n\n>seq3  spaced   header\nuuAA\n"


def records(path) -> list[FastaRecord]:
    return list(read_fasta(path))


def expect_error(path, *fragments: str) -> str:
    with pytest.raises(InputError) as info:
        records(path)
    msg = str(info.value)
    assert "\n" not in msg and msg
    for f in fragments:
        assert f in msg, msg
    assert info.value.exit_code == 2
    return msg


def check_small(recs: list[FastaRecord]) -> None:
    assert [r.id for r in recs] == ["seq1", "seq2", "seq3"]
    assert [r.description for r in recs] == ["first record", "", "spaced   header"]
    assert recs[0].seq == "ACGTACGTNNNNNNACGT"
    assert recs[0].soft_mask == [(4, 8), (14, 18)]
    assert recs[1].seq == "GGGGCCCC" and recs[1].soft_mask == []
    assert recs[2].seq == "TTAA" and recs[2].soft_mask == [(0, 2)]
    assert len(recs[0]) == 18


@pytest.fixture
def write(tmp_path):
    def _write(data: bytes, name: str = "in.fa"):
        p = tmp_path / name
        p.write_bytes(data)
        return p

    return _write


def test_plain(write):
    check_small(records(write(SMALL)))


def test_str_path_and_pathlike(write):
    p = write(SMALL)
    check_small(records(str(p)))


def test_gzip(write):
    check_small(records(write(gzip.compress(SMALL), "in.fa.gz")))


def test_gzip_magic_not_extension(write):
    check_small(records(write(gzip.compress(SMALL), "no_extension")))
    check_small(records(write(SMALL, "plain.gz")))


def test_multimember_gzip(write):
    data = b"".join(gzip.compress(SMALL[i : i + 7]) for i in range(0, len(SMALL), 7))
    check_small(records(write(data)))


def test_bgzip(write, tmp_path):
    from Bio import bgzf

    p = tmp_path / "in.fa.bgz"
    with bgzf.BgzfWriter(str(p), "wb") as fh:
        fh.write(SMALL)
    assert p.read_bytes()[:2] == b"\x1f\x8b"
    check_small(records(p))


def test_bgzip_large_multiblock(tmp_path):
    from Bio import bgzf

    seq = ("ACGT" * 40000 + "\n").encode()
    p = tmp_path / "big.fa.bgz"
    with bgzf.BgzfWriter(str(p), "wb") as fh:
        for i in range(5):
            fh.write(b">r%d\n" % i + seq)
    recs = records(p)
    assert [len(r) for r in recs] == [160000] * 5


def test_pysam_tabix_compress(write, tmp_path):
    pysam = pytest.importorskip("pysam")
    src = write(SMALL)
    dst = tmp_path / "in.fa.bgz"
    pysam.tabix_compress(str(src), str(dst), force=True)
    check_small(records(dst))


@pytest.mark.parametrize("compress", [False, True])
def test_stdin(monkeypatch, compress):
    data = gzip.compress(SMALL) if compress else SMALL
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    check_small(records("-"))


@pytest.mark.parametrize("compress", [False, True])
def test_binary_stream(compress):
    data = gzip.compress(SMALL) if compress else SMALL
    check_small(records(io.BytesIO(data)))
    with pytest.raises(InputError) as info:
        records(io.BytesIO(b"MKV\n"))
    assert "the input stream" in str(info.value)


def test_crlf_and_blank_lines(write):
    data = b"\r\n\r\n" + SMALL.replace(b"\n", b"\r\n").replace(b"GGGG\r\n", b"GGGG\r\n\r\n  \r\n")
    check_small(records(write(data)))


@pytest.mark.parametrize("compress", [False, True])
def test_utf8_bom_is_skipped(write, compress):
    data = b"\xef\xbb\xbf" + SMALL
    check_small(records(write(gzip.compress(data) if compress else data)))


def test_cr_only_line_breaks(write):
    check_small(records(write(SMALL.replace(b"\n", b"\r"))))


def test_line_breaks_across_read_pieces(write):
    """A CR ending one read piece and the LF starting the next are one line break, whatever the
    piece size: line numbers in messages stay right."""
    for ending in (b"\n", b"\r\n", b"\r"):
        good = write(SMALL.replace(b"\n", ending), "good.fa")
        bad = write(b">a\nACGT\n\n>\nAC\n".replace(b"\n", ending), "bad.fa")
        for size in range(1, 12):
            recs = [(r.id, r.description, "".join(c.text for c in r.chunks())) for r in stream_fasta(good, size)]
            assert recs == [("seq1", "first record", "ACGTacgtNNNNNNacgt"), ("seq2", "", "GGGGCCCC"), ("seq3", "spaced   header", "ttAA")]
            with pytest.raises(InputError, match="line 4: a '>' header without a sequence name"):
                list(stream_fasta(bad, size))


def test_no_final_newline_and_spaces_in_sequence(write):
    recs = records(write(b">a\nAC GT\tAC\n>b\nTT"))
    assert [(r.id, r.seq) for r in recs] == [("a", "ACGTAC"), ("b", "TT")]


def test_iupac_and_rna(write):
    (r,) = records(write(b">x\nACGURYSWKMBDHVNacguryswkmbdhvn\n"))
    assert r.seq == "ACGT" + "N" * 11 + "ACGT" + "N" * 11
    assert r.soft_mask == [(15, 30)]
    (r,) = read_fasta(write(b">x\nACGURYSWKMBDHVNacguryswkmbdhvn\n"), iupac=True)  # prok: TAR is a stop
    assert r.seq == "ACGTRYSWKMBDHVN" * 2
    assert r.soft_mask == [(15, 30)]


def test_mask_array(write):
    (r,) = records(write(b">x\nAAaaAAa\n"))
    assert r.mask_array().tolist() == [False, False, True, True, False, False, True]


def test_long_record_and_chunk_boundaries(write):
    # lines longer than and straddling the 1 MiB read chunk
    seq = b"ACGTacgtNN" * 250_000  # 2.5 Mb on one line
    recs = records(write(b">long\n" + seq + b"\n>short\nA\n"))
    assert len(recs[0]) == len(seq) and recs[1].seq == "A"
    assert len(recs[0].soft_mask) == 250_000 and recs[0].soft_mask[0] == (4, 8)


def test_streaming_is_lazy(monkeypatch):
    """Records come out before the rest of the input is read: an error later does not prevent them."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b">a\nACGT\n>b\nXXXPEPTIDE\n")))
    it = read_fasta("-")
    assert next(it).id == "a"
    with pytest.raises(InputError):
        next(it)


# ---------------------------------------------------------------- malformed input


def test_missing_path(tmp_path):
    with pytest.raises(InputError) as info:
        read_fasta(tmp_path / "nope.fa")  # raised before iterating
    assert "does not exist" in str(info.value)


def test_directory(tmp_path):
    expect_error(tmp_path, "directory")


def test_unreadable(write):
    import os

    p = write(SMALL)
    p.chmod(0)
    if os.access(p, os.R_OK):  # running as root
        pytest.skip("file permissions are not enforced for this user")
    expect_error(p, "cannot read")


@pytest.mark.parametrize("data", [b"", b"\n\n  \r\n", gzip.compress(b"")])
def test_empty(write, data):
    expect_error(write(data), "empty")


def test_empty_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    expect_error("-", "standard input", "empty")


@pytest.mark.parametrize("data", [b"ACGT\n>a\nACGT\n", b"\n#comment\n>a\nAC\n", b"@read1\nACGT\n+\nIIII\n"])
def test_no_header(write, data):
    expect_error(write(data), "'>' header")


def test_binary_not_fasta(write):
    expect_error(write(bytes(range(256)) * 4), "not a FASTA file")


def test_protein(write):
    expect_error(write(b">ok\nACGT\n>prot desc\nMKVLIPEQ\n"), "'prot'", "protein")


@pytest.mark.parametrize("letter", [b"-", b".", b"*", b"1", b"\xc3"])
def test_other_letters(write, letter):
    msg = expect_error(write(b">r\nACGT\nAC" + letter + b"GT\n"), "'r'", "position 7")
    assert "protein" not in msg or letter == b"*"


def test_header_not_utf8(write):
    """A Latin-1 byte would become U+FFFD in the IDs written out, matching no input ID."""
    (r,) = records(write(">chré1 cafés\nACGT\n".encode()))
    assert (r.id, r.description) == ("chré1", "cafés")
    msg = expect_error(write(b">ok\nACGT\n>chr\xe91\nACGT\n"), "line 3", "not valid UTF-8", "0xe9")
    assert "\ufffd" not in msg


def test_duplicate_ids(write):
    expect_error(write(b">a x\nACGT\n>b\nAC\n>a y\nGG\n"), "duplicate", "'a'")


@pytest.mark.parametrize("data", [b">a\n>b\nACGT\n", b">a\nACGT\n>b\n", b">a\nACGT\n>b\n\n\r\n"])
def test_zero_length_record(write, data):
    expect_error(write(data), "no sequence")


def test_header_without_name(write):
    expect_error(write(b">\nACGT\n"), "without a sequence name")
    expect_error(write(b">   \nACGT\n"), "without a sequence name")


def test_truncated_gzip(write):
    data = gzip.compress(SMALL * 50)
    expect_error(write(data[: len(data) // 2]), "gzip")


def test_corrupt_gzip(write):
    data = bytearray(gzip.compress(SMALL * 50))
    data[20:40] = b"\xff" * 20
    expect_error(write(bytes(data)), "gzip")


def test_gzip_trailing_garbage(write):
    expect_error(write(gzip.compress(SMALL) + b"garbage!"), "gzip")


@pytest.mark.parametrize("magic,kind", [(b"BZh91AY&SY", "bzip2"), (b"\xfd7zXZ\x00\x00", "xz"), (b"\x28\xb5\x2f\xfd\x00", "zstd")])
def test_other_compression(write, magic, kind):
    expect_error(write(magic + b"\x00" * 20), kind)


@pytest.mark.parametrize("compress", [False, True])
def test_every_prefix_parses_or_fails_cleanly(write, compress):
    data = gzip.compress(SMALL) if compress else SMALL
    for n in range(len(data) + 1):
        p = write(data[:n], f"prefix{n}")
        try:
            recs = records(p)
        except InputError as e:
            assert "\n" not in str(e)
            continue
        assert recs and all(len(r) > 0 and set(r.seq) <= set("ACGTN") for r in recs)
        if compress or n == len(data):
            assert n == len(data)  # a truncated gzip stream never parses
            check_small(recs)


def test_speed_ecoli_sized(write):
    """4.6 Mb in 80-column lines reads well under a second (gzip included)."""
    import random
    import time

    rnd = random.Random(0)
    block = "".join(rnd.choices("ACGT", k=100_000))
    seq = (block + block[:30_000].lower()) * 35  # 4.55 Mb, 35 soft-masked runs
    lines = "\n".join(seq[i : i + 80] for i in range(0, len(seq), 80))
    p = write(gzip.compress(f">chr\n{lines}\n".encode(), compresslevel=1), "big.fa.gz")
    t = time.perf_counter()
    (r,) = records(p)
    elapsed = time.perf_counter() - t
    assert len(r) == len(seq)
    assert elapsed < 2.0, elapsed  # ~0.15 s here; slack for busy shared CPUs
