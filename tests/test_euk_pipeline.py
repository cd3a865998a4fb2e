"""`genannot euk` end to end with a model made by `genannot train euk`."""

from __future__ import annotations

from genannot.cli import main
from test_euk_decode import planted, write_pair


def test_train_writes_the_decoders_signal_models(tiny_euk_model):
    assert (tiny_euk_model / "genemodel.npz").is_file()
    assert (tiny_euk_model / "model.safetensors").is_file()


def test_euk_annotates_with_a_trained_model(tmp_path, tiny_euk_model, gff3_validate, capsys):
    fa, _ = write_pair(tmp_path, planted(), name="genome")
    out, prot = tmp_path / "out.gff3", tmp_path / "prot.faa"
    code = main(["euk", str(fa), "--model", str(tiny_euk_model), "-o", str(out), "--proteins", str(prot)])
    assert code == 0, capsys.readouterr().err
    gff3_validate(out)
    text = out.read_text()
    assert text.startswith("##gff-version 3") and "##sequence-region chr 1" in text
    assert "#model " in text and "sha256=" in text
    cds_ids = {line.split("ID=")[1].split(";")[0].rsplit(".", 1)[0] for line in text.splitlines() if "\tCDS\t" in line}
    headers = {line[1:].split()[0] for line in prot.read_text().splitlines() if line.startswith(">")}
    assert headers == cds_ids, "one protein per coding transcript"


def test_euk_without_rc_and_splice_filter_still_valid(tmp_path, tiny_euk_model, gff3_validate):
    fa, _ = write_pair(tmp_path, planted(), name="genome")
    out = tmp_path / "out.gff3"
    assert main(["euk", str(fa), "--model", str(tiny_euk_model), "--no-rc", "--no-splice-filter", "-o", str(out)]) == 0
    gff3_validate(out)


def test_bedgraph_tracks_cover_the_record_once(tmp_path, tiny_euk_model):
    import gzip

    import pysam

    from genannot.io.bedgraph import TRACKS

    fa, _ = write_pair(tmp_path, planted(), name="genome")
    prefix = tmp_path / "probs"
    assert main(["euk", str(fa), "--model", str(tiny_euk_model), "-o", str(tmp_path / "o.gff3"), "--bedgraph", str(prefix)]) == 0
    length = sum(len(line.strip()) for line in fa.read_text().splitlines() if not line.startswith(">"))
    for name, _, _ in TRACKS:
        path = tmp_path / f"probs.{name}.bedgraph.gz"
        lines = gzip.open(path, "rt").read().splitlines()
        rows = [line.split("\t") for line in lines]
        ends = [(int(a), int(b)) for _, a, b, _ in rows]
        assert all(a < b for a, b in ends) and all(b0 <= a1 for (_, b0), (a1, _) in zip(ends, ends[1:])), "sorted, no overlap"
        assert not ends or ends[-1][1] <= length
        assert all(0 < float(v) <= 1 for *_, v in rows)
        pysam.tabix_index(str(path), preset="bed", force=True, keep_original=True)  # bgzip, sortable: indexable


def test_bedgraph_writer_skips_bases_already_written(tmp_path):
    import gzip

    import numpy as np

    from genannot.io.atomic import atomic_outputs
    from genannot.io.bedgraph import BedGraphTracks, track_paths

    probs = np.zeros((30, 2, 5), dtype=np.float32)
    probs[5:15, 0, 1] = 0.92  # exon, plus strand
    probs[15:20, 0, 1] = 0.46
    paths = track_paths(str(tmp_path / "t"))
    with atomic_outputs(paths, "wb") as handles:
        tracks = BedGraphTracks(handles)
        tracks.write("s", 0, probs[:20])
        tracks.write("s", 10, probs[10:])  # overlapping slice: bases 10-19 already written
        tracks.write("s2", 0, probs[:6])
        tracks.close()
    rows = gzip.open(paths["exon_plus"], "rt").read().splitlines()
    assert rows == ["s\t5\t15\t0.9", "s\t15\t20\t0.5", "s2\t5\t6\t0.9"]
    assert gzip.open(paths["CDS_minus"], "rt").read() == ""


def test_net_weight_zero_is_the_signal_models_alone_without_running_the_network(tmp_path, tiny_euk_model, monkeypatch):
    from genannot.euk import windows
    from genannot.euk.decode import decode_record
    from genannot.euk.genemodel import GeneModelParams

    def no_network(*a, **k):
        raise AssertionError("the network ran although its weight is 0")

    monkeypatch.setattr(windows, "predict_record", no_network)
    b = planted()
    fa, _ = write_pair(tmp_path, b, name="genome")
    out = tmp_path / "o.gff3"
    assert main(["euk", str(fa), "--model", str(tiny_euk_model), "--net-weight", "0", "-o", str(out)]) == 0
    rows = {tuple(f[i] for i in (2, 3, 4, 6)) for f in (line.split("\t") for line in out.read_text().splitlines() if "\t" in line)}
    alone = decode_record("chr", b.seq, GeneModelParams.load(tiny_euk_model))
    assert alone, "the planted genes are found by the signal models"
    expect = {("CDS", str(a), str(e), g.strand) for g in alone for t in g.transcripts for a, e in t.cds}
    assert {r for r in rows if r[0] == "CDS"} == expect


def test_soft_masked_input_reaches_the_decoder(tmp_path, tiny_euk_model):
    """Lowercase bases read from the FASTA file (streamed, spooled) cost --softmask-penalty in exons."""
    from genannot.cli import cli
    from genannot.euk.decode import DecodeOptions

    euk_cmd = cli.commands["euk"]
    assert next(p.default for p in euk_cmd.params if p.name == "softmask_penalty") == DecodeOptions().softmask_penalty
    b = planted()
    g = b.genes[0]
    fa = tmp_path / "masked.fa"
    fa.write_text(">chr\n" + b.seq[: g.start - 1] + b.seq[g.start - 1 : g.end].lower() + b.seq[g.end :] + "\n")

    def mrna_strands(*opts: str) -> list[str]:
        out = tmp_path / "o.gff3"
        assert main(["euk", str(fa), "--model", str(tiny_euk_model), "--net-weight", "0", "--no-self-train", *opts, "-o", str(out)]) == 0
        return sorted(line.split("\t")[6] for line in out.read_text().splitlines() if "\tmRNA\t" in line)

    assert mrna_strands("--softmask-penalty", "0") == ["+", "-"]
    assert mrna_strands("--softmask-penalty", "3") == ["-"]


def test_repeats_are_masked_where_the_input_has_no_soft_mask(tmp_path, tiny_euk_model):
    """--mask-repeats auto (the default) soft-masks what recurs in an unmasked input (genannot.euk.repeats), so a
    gene whose sequence is copied in four other records pays the soft-mask penalty; an input with a soft-mask of
    its own keeps it unless --mask-repeats always; the GFF3 header says which."""
    import random

    b = planted()
    g = b.genes[0]
    rng = random.Random(3)
    copies = "".join(f">copy{i}\n" + "".join(rng.choice("ACGT") for _ in range(1000)) + b.seq[g.start - 1 : g.end] + "\n"
                     for i in range(4))
    intergenic = b.seq[:500].lower() + b.seq[500:]  # a soft-mask of the input's own, away from the genes

    def chr_strands(seq: str, *opts: str) -> tuple[list[str], str]:
        fa, out = tmp_path / "in.fa", tmp_path / "o.gff3"
        fa.write_text(f">chr\n{seq}\n" + copies)
        assert main(["euk", str(fa), "--model", str(tiny_euk_model), "--net-weight", "0", "--no-self-train",
                     "--softmask-penalty", "3", *opts, "-o", str(out)]) == 0
        text = out.read_text()
        note = next(line for line in text.splitlines() if line.startswith("#repeat-mask "))
        return sorted(f[6] for f in (line.split("\t") for line in text.splitlines()) if f[0] == "chr" and f[2:3] == ["mRNA"]), note

    strands, note = chr_strands(b.seq)
    assert strands == ["-"] and note.startswith("#repeat-mask used (")
    strands, note = chr_strands(b.seq, "--mask-repeats", "never")
    assert strands == ["+", "-"] and note == "#repeat-mask not used (--mask-repeats never)"
    strands, note = chr_strands(intergenic)
    assert strands == ["+", "-"] and note.startswith("#repeat-mask not used (the input's own soft-mask")
    strands, _ = chr_strands(intergenic, "--mask-repeats", "always")
    assert strands == ["-"]


def test_a_record_that_is_all_repeat_stays_masked(tmp_path, tiny_euk_model, caplog):
    """A record made of nothing but copies of a gene (a tandem array) is lowercase throughout once genannot masks
    it: that is its own repeat mask, not a lowercase file, so its exons still pay the penalty (before: soft-masking
    ignored, with a warning that called the upper-case input lowercase, and the copies annotated as genes)."""
    import logging

    b = planted()
    g = b.genes[0]
    array = b.seq[g.start - 1 : g.end] * 5
    fa, out = tmp_path / "in.fa", tmp_path / "o.gff3"
    fa.write_text(f">chr\n{b.seq}\n>array\n{array}\n")

    def array_genes(*opts: str) -> int:
        assert main(["euk", str(fa), "--model", str(tiny_euk_model), "--net-weight", "0", "--no-self-train",
                     "--softmask-penalty", "3", *opts, "-o", str(out)]) == 0
        return sum(1 for line in out.read_text().splitlines() if line.startswith("array\t") and "\tmRNA\t" in line)

    assert array_genes("--mask-repeats", "never") > 0
    with caplog.at_level(logging.WARNING):
        assert array_genes() == 0
    assert "lowercase" not in caplog.text


def test_short_records_are_grouped_counting_their_spacers():
    """Without the network, consecutive short records are decoded together up to GROUP_BP, each counted with the
    longest N spacer decode_records puts after it (so a group of tiny contigs stays about GROUP_BP long); a record
    longer than that, or any record with the network on, is on its own."""
    from genannot.euk.genemodel import GC_WINDOW
    from genannot.euk.pipeline import GROUP_BP, GROUP_SPACER, _groups

    assert GROUP_SPACER >= GC_WINDOW // 2
    sizes = [100] * 5 + [GROUP_BP + 1, 50, GROUP_BP - GROUP_SPACER, 5]
    records = [(f"r{i}", "A" * n) for i, n in enumerate(sizes)]

    def ids(groups) -> list[list[str]]:
        return [[r for r, _ in g] for g in groups]

    assert ids(_groups(records, GROUP_BP, GROUP_SPACER)) == [["r0", "r1", "r2", "r3", "r4"], ["r5"], ["r6"], ["r7"], ["r8"]]
    assert ids(_groups(records, 0, GROUP_SPACER)) == [[r] for r, _ in records]
    tiny = [(f"c{i}", "A" * 100) for i in range(500)]
    assert max(len(g) for g in _groups(tiny, GROUP_BP, GROUP_SPACER)) == GROUP_BP // (100 + GROUP_SPACER)


def test_threads_write_what_one_thread_writes(tmp_path, tiny_euk_model, monkeypatch):
    """Without the network, record groups are decoded across worker processes (a record longer than a group
    reaches its worker as a file) and written in input order: GFF3 and proteins as with one thread."""
    from genannot.euk import pipeline
    from test_euk_decode import training_genome

    monkeypatch.setattr(pipeline, "GROUP_BP", 24_000)  # two workers: groups of 12 kb, so c goes as a file
    one, two = planted(11), training_genome(5, 6)
    fa = tmp_path / "genome.fa"
    records = [("a", one.seq[:4000]), ("b", "N" * 50 + one.seq + "N" * 20), ("c", two.seq), ("d", one.seq[5000:]), ("e", "ACGT")]
    assert len(two.seq) > 12_000 > len(one.seq)
    fa.write_text("".join(f">{i}\n{s}\n" for i, s in records))
    outputs = []
    for threads in ("1", "2"):
        out, prot = tmp_path / f"o{threads}.gff3", tmp_path / f"p{threads}.faa"
        assert main(["euk", str(fa), "--model", str(tiny_euk_model), "--net-weight", "0", "--no-self-train",
                     "--threads", threads, "-o", str(out), "--proteins", str(prot)]) == 0
        outputs.append(([line for line in out.read_text().splitlines() if not line.startswith("#")], prot.read_text()))
    assert outputs[0] == outputs[1]
    seqids = [line.split("\t")[0] for line in outputs[0][0] if "\tgene\t" in line]
    assert {"b", "c", "d"} <= set(seqids) and seqids == sorted(seqids), "genes of every record, in input order"


def test_self_training_sample_decoded_in_shares_gives_what_it_gives_whole(monkeypatch):
    """Self-training decodes its sample in shares across the workers; each record's genes are what the whole
    sample decoded together gives."""
    from genannot.euk import pipeline, selftrain
    from genannot.euk.decode import decode_records
    from genannot.euk.genemodel import GeneModelParams
    from genannot.io.fasta import FastaChunk, SpooledSequence
    from genannot.runtime.workers import OrderedPool
    from test_euk_decode import training_genome

    b = training_genome(3, 12)
    params = GeneModelParams.from_genes([(b.seq, b.genes)])
    sample = [("x", b.seq[:9000]), ("y", "N" * 30 + b.seq[9000:30000]), ("z", b.seq[30000:])]
    seen = {}

    def one_round(p, sample_, decode):
        seen["shares"] = decode(p, sample_)
        return None, selftrain.SelfTrainReport(0, 0, [], [], False, "test")

    monkeypatch.setattr(selftrain, "self_train", one_round)
    monkeypatch.setattr(selftrain, "MAX_BP", 10**9)
    records = iter([(i, SpooledSequence([FastaChunk(0, s)])) for i, s in sample])
    with OrderedPool(2) as pool:
        pipeline._self_trained(params, records, True, 0.15, pool)
    assert seen["shares"] == decode_records(sample, params, splice_filter=True, softmask_penalty=0.15, **pipeline.SIGNAL_ONLY,
                                              **pipeline.SELF_TRAINING)
    assert sum(map(len, seen["shares"].values())) >= 6


def test_shares_balance_records_by_length():
    from genannot.euk.pipeline import _shares

    recs = [(str(i), "A" * n) for i, n in enumerate([5, 100, 40, 60, 1])]
    shares = _shares(recs, 2)
    assert sorted(r for s in shares for r in s) == sorted(recs)
    assert [[i for i, _ in s] for s in shares] == [["0", "1"], ["2", "3", "4"]]  # 105 / 101 bases, input order kept
    assert sorted(map(len, _shares(recs, 9))) == [1] * 5, "never more shares than records"
    assert _shares(recs[:1], 4) == [recs[:1]]
