"""Streamed records: the chunked FASTA reader against whole-record reading, the spooled sequence,
and decoding a spooled record against decoding the whole string."""

from __future__ import annotations

import gzip
import os
import random

import numpy as np
import pytest

from genannot.errors import InputError
from genannot.euk.decode import decode_record
from genannot.euk.windows import n_runs
from genannot.io.fasta import SpooledSequence, read_fasta, stream_fasta
from test_euk_decode import Builder, params, tracks_for  # noqa: F401 (params: a fixture)

SIZES = [1, 2, 3, 7, 64, 1 << 20]
INPUTS = [
    b">seq1 first record\nACGTacgtNN\nRYKMacgt\n>seq2\nGGGG\nCCCC\n\n>seq3  spaced   header\nuuAA\n",
    b"\r\n>a\r\nAAaa\r\naaAA\r\n>b desc\r\nacgt\r\n",  # a soft-masked run across lines, CRLF
    b">x\nACGURYSWKMBDHVNacguryswkmbdhvn\n",  # IUPAC and RNA, both cases
    b">a\nAC GT\tAC\n>b\nTT",  # spaces in the sequence, no final newline
]


def write(tmp_path, data: bytes, name: str = "in.fa"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def streamed(path, size: int) -> list[tuple[str, str, str, list[tuple[int, int]]]]:
    """(id, description, seq, soft_mask) per record, from chunks of at most `size` bases."""
    out = []
    for rec in stream_fasta(path, size):
        chunks = list(rec.chunks())
        assert all(0 < len(c) <= size for c in chunks)
        assert [c.start for c in chunks] == list(np.cumsum([0] + [len(c) for c in chunks[:-1]]))
        mask = []
        for c in chunks:
            for s, e in c.soft_mask:
                mask = mask[:-1] + [(mask[-1][0], e)] if mask and mask[-1][1] == s else mask + [(s, e)]
        assert rec.length == sum(len(c) for c in chunks)
        out.append((rec.id, rec.description, "".join(c.seq for c in chunks), mask))
    return out


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("compress", [False, True])
def test_chunks_reassemble_to_the_whole_records(tmp_path, size, compress):
    for i, data in enumerate(INPUTS):
        path = write(tmp_path, gzip.compress(data) if compress else data, f"in{i}.fa")
        whole = [(r.id, r.description, r.seq, r.soft_mask) for r in read_fasta(path)]
        assert streamed(path, size) == whole


def test_gzipped_n_run_comes_in_bounded_chunks(tmp_path):
    path = write(tmp_path, gzip.compress(b">n\nACGT" + b"N" * 3_000_000 + b"acgt\n"), "n.fa.gz")
    ((_, _, seq, mask),) = streamed(path, 4096)
    assert len(seq) == 3_000_008 and mask == [(3_000_004, 3_000_008)]


BAD = [
    b">r\nAC-GT\n" + b"ACGT" * 40 + b"\nACMKVLEPQ\n",  # first a gap, protein letters chunks later
    b">r\nACGT\nAC*GT\n",
    b">r\nACGT\nAC\xc3GT\n",
    b">a\nACGT\n>b\n\n>c\nAC\n",  # a record without sequence
    b">a\nACGT\n>b\n",
    b">a x\nACGT\n>b\nAC\n>a y\nGG\n",  # duplicate ID
    b">a\nACGT\n>   \nACGT\n",  # a header without a name
    b"ACGT\n>a\nACGT\n",
    b"\n \r\n  " + b"#" * 100 + b"\n>a\nAC\n",  # text before the first header
    bytes(range(256)) * 4,
    b"\n \n",
]


@pytest.mark.parametrize("data", BAD)
def test_bad_input_gives_the_same_one_line_error_at_every_chunk_size(tmp_path, data):
    path = write(tmp_path, data)
    with pytest.raises(InputError) as whole:
        list(read_fasta(path))
    for size in SIZES:
        for source in (path, write(tmp_path, gzip.compress(data), "in.fa.gz")):
            with pytest.raises(InputError) as info:
                streamed(source, size)
            assert str(info.value) == str(whole.value).replace("in.fa'", f"{source.name}'")
    assert "\n" not in str(whole.value)
    if data == BAD[0]:
        assert "'-' at sequence position 3: looks like a protein" in str(whole.value)


def test_unread_chunks_are_still_checked(tmp_path):
    path = write(tmp_path, b">a\nACGT\n>b\nAAAA\n>c\nAC1GT\n")
    it = stream_fasta(path, 2)
    assert [next(it).id, next(it).id, next(it).id] == ["a", "b", "c"]
    with pytest.raises(InputError, match="record 'c' has '1' at sequence position 3"):
        next(it)


@pytest.mark.parametrize("in_memory", [SpooledSequence.IN_MEMORY, 100])  # 5000 bases: in memory, then on disk
def test_spooled_sequence_slices_like_the_string(tmp_path, monkeypatch, in_memory):
    monkeypatch.setattr(SpooledSequence, "IN_MEMORY", in_memory)
    rng = random.Random(3)
    text = "".join(rng.choice("ACGTNacgtn") for _ in range(5000))
    path = write(tmp_path, b">s\n" + b"\n".join(text[i : i + 61].encode() for i in range(0, 5000, 61)) + b"\n")
    rec = next(stream_fasta(path, 97))
    with SpooledSequence(rec.chunks()) as seq:
        assert len(seq) == 5000 and seq[:] == text
        for _ in range(200):
            a, b = rng.randint(-6000, 6000), rng.randint(-6000, 6000)
            assert seq[a:b] == text[a:b]
        assert seq[4990:] == text[4990:] and seq[:-4990] == text[:-4990]
        with pytest.raises(ValueError):
            seq[::2]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open file descriptors in /proc/self/fd")
def test_thousands_of_small_spooled_contigs_hold_no_file_descriptors(tmp_path):
    # a draft assembly's contigs are held together in genannot euk's self-training sample
    path = write(tmp_path, b"".join(b">c%d\n%s\n" % (i, b"ACGT" * 250) for i in range(3000)))
    before = len(os.listdir("/proc/self/fd"))
    held = [SpooledSequence(rec.chunks()) for rec in stream_fasta(path)]
    assert len(held) == 3000 and held[-1][:8] == "ACGTACGT"
    assert len(os.listdir("/proc/self/fd")) < before + 10
    for seq in held:
        seq.close()


@pytest.mark.parametrize("block", [1, 2, 3, 7, 100, 1 << 22])
def test_n_runs_across_block_edges(block):
    rng = random.Random(block)
    for _ in range(20):
        seq = "".join(rng.choice(["A", "C", "N", "n", "NNNN", "G" * 5]) for _ in range(rng.randint(0, 200)))
        for min_length in (1, 3, 6):
            assert n_runs(seq, min_length, block) == n_runs(seq, min_length)  # one block: the whole string


def gapped_genome() -> tuple[str, np.ndarray]:
    """Genes (one longer than the test windows), soft-masked stretches, a long and a short N run:
    the sequence with lowercase letters, and network-like tracks of its genes."""
    b = Builder(21)
    b.intergenic(900)
    b.gene("+", [120, 150, 141], introns=[1500, 1200], utr5=50, utr3=80)
    b.intergenic(700)
    b.add("N" * 1500)  # long: splits the sequence
    b.intergenic(400)
    b.gene("-", [210, 150], introns=[300], utr5=40, utr3=90)
    b.add("N" * 300)  # short: decoded through
    b.intergenic(600)
    b.gene("+", [150, 150], introns=[400], coding=False)
    b.intergenic(500)
    seq = b.seq
    for a in (100, 2500, 7000):  # soft-masked stretches
        seq = seq[:a] + seq[a : a + 300].lower() + seq[a + 300 :]
    return seq, tracks_for(b.genes, len(seq))


@pytest.mark.parametrize("chunk", [5, 997])
def test_spooled_decoding_is_identical_to_the_whole_string(tmp_path, params, chunk):  # noqa: F811
    text, probs = gapped_genome()
    path = write(tmp_path, b">chr\n" + b"\n".join(text[i : i + 70].encode() for i in range(0, len(text), 70)) + b"\n")
    rec = next(stream_fasta(path, chunk))
    small = dict(window=2500, overlap=800, batch=3)
    with SpooledSequence(rec.chunks()) as seq:
        assert seq[:] == text
        alone = decode_record("chr", text, params, **small)
        assert alone and decode_record("chr", seq, params, **small) == alone
        calls: dict[str, list] = {"str": [], "spool": []}

        def tracks(name, source):
            def fn(a, b):
                calls[name].append((a, b, source[a:b]))
                return probs[a:b]

            return fn

        sinks: dict[str, list] = {"str": [], "spool": []}
        whole = decode_record("chr", text, params, tracks("str", text), track_sink=lambda a, t: sinks["str"].append((a, t)), **small)
        spooled = decode_record("chr", seq, params, tracks("spool", seq), track_sink=lambda a, t: sinks["spool"].append((a, t)), **small)
    assert whole == spooled and {g.kind for g in whole} == {"gene", "ncRNA_gene"}
    assert calls["str"] == calls["spool"] and len(calls["str"]) > 1
    assert [a for a, _ in sinks["str"]] == [a for a, _ in sinks["spool"]]
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(sinks["str"], sinks["spool"]))
