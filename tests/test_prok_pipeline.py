"""`genannot prok` end to end: synthetic genomes with planted genes, CLI outputs, edge cases, real data."""

from __future__ import annotations

import csv
import random
import time
from pathlib import Path

import pytest

from genannot.cli import main
from genannot.io.annotation import read_annotation
from genannot.io.fasta import FastaRecord
from genannot.prok.pipeline import CSV_COLUMNS, ProkOptions, annotate

COMP = str.maketrans("ACGT", "TGCA")
STOPS = ("TAA", "TAG", "TGA")
SENSE = [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT" if a + b + c not in STOPS]


def rc(s: str) -> str:
    return s.translate(COMP)[::-1]


def synthetic_genome(seed: int = 1, n_genes: int = 120, sd_fraction: float = 0.9, uga_sense: bool = False):
    """A genome of planted genes with a biased codon usage and a Shine-Dalgarno motif 5-10 nt upstream of the
    start, separated by AT-rich intergenic sequence, on both strands; with `uga_sense`, the genes read TGA as a
    sense codon at an average codon's frequency (genetic code 4). Returns (sequence, genes) with genes as
    (strand, left, right) 1-based inclusive."""
    rng = random.Random(seed)
    weights = [rng.gammavariate(0.4, 1.0) for _ in SENSE]
    sense = SENSE + ["TGA"] * uga_sense
    weights += [sum(weights) / len(weights)] * uga_sense
    at_rich = lambda k: "".join(rng.choices("ACGT", weights=(0.33, 0.17, 0.17, 0.33), k=k))  # noqa: E731
    parts = [at_rich(200)]
    pos = 200
    genes = []
    for _ in range(n_genes):
        body = "".join(rng.choices(sense, weights=weights, k=rng.randint(100, 450)))
        start = rng.choices(["ATG", "GTG", "TTG"], weights=(0.85, 0.1, 0.05))[0]
        gene = start + body + rng.choice(STOPS)
        spacer = at_rich(rng.randint(5, 9))
        sd = "AGGAGG" if rng.random() < sd_fraction else at_rich(6)
        unit = at_rich(rng.randint(30, 150)) + sd + spacer + gene
        strand = rng.choice("+-")
        if strand == "+":
            left = pos + len(unit) - len(gene) + 1
            right = pos + len(unit)
        else:
            unit = rc(unit)
            left, right = pos + 1, pos + len(gene)
        genes.append((strand, left, right))
        parts.append(unit)
        pos += len(unit)
        tail = at_rich(rng.randint(10, 60))
        parts.append(tail)
        pos += len(tail)
    return "".join(parts), genes


def calls(genes):
    return {(g.strand, g.start, g.end) for g in genes}


def three(x):
    strand, left, right = x
    return (strand, right if strand == "+" else left)


def test_synthetic_genome_statistics_only():
    seq, planted = synthetic_genome()
    ((rec, genes),) = annotate([FastaRecord("synth", "", seq)], ProkOptions())
    got = calls(genes)
    got3 = {three(x) for x in got}
    found3 = sum(three(x) in got3 for x in planted)
    exact = sum(x in got for x in planted)
    assert found3 >= 0.97 * len(planted), (found3, len(planted))
    assert exact >= 0.9 * len(planted), (exact, len(planted))
    false = sum(three(x) not in {three(p) for p in planted} for x in got)
    assert false <= 0.1 * len(planted)
    ids = [g.id for g in genes]
    assert len(set(ids)) == len(ids) and all(i.startswith("synth_") for i in ids)
    assert all(g.partial == "00" for g in genes if 1 < g.start and g.end < len(seq))


def test_partial_genes_at_both_edges():
    seq, planted = synthetic_genome(seed=2, n_genes=60)
    # cut the first and the last planted gene in their middle
    first, last = planted[0], planted[-1]
    a = (first[1] + first[2]) // 2
    b = (last[1] + last[2]) // 2
    cut = seq[a - 1 : b]
    ((rec, genes),) = annotate([FastaRecord("cut", "", cut)], ProkOptions())
    flags = {g.partial for g in genes}
    assert genes[0].start <= 3 and genes[0].partial[0] == "1"
    assert genes[-1].end >= len(cut) - 2 and genes[-1].partial[1] == "1"
    assert flags <= {"00", "10", "01", "11"}
    # --closed: no partial genes at all
    ((rec, genes),) = annotate([FastaRecord("cut", "", cut)], ProkOptions(closed=True))
    assert {g.partial for g in genes} == {"00"}


def test_multi_record_genome_learns_from_all_records():
    seq, planted = synthetic_genome(seed=3, n_genes=120)
    pieces = [seq[i : i + 12000] for i in range(0, len(seq), 12000)]
    recs = [FastaRecord(f"ctg{i}", "", p) for i, p in enumerate(pieces)]
    out = annotate(recs, ProkOptions())
    n = sum(len(g) for _, g in out)
    assert n >= 0.9 * len(planted)
    ids = [g.id for _, gs in out for g in gs]
    assert len(ids) == len(set(ids))


def test_assembly_gaps_are_contig_edges():
    """Runs of N are gaps in a scaffold: the gene cut by one comes out as two partial genes, no gene crosses a gap,
    and every other gene is called as without the gaps; a record of N alone has no genes."""
    seq, planted = synthetic_genome(seed=5, n_genes=120)
    cut = planted[60]
    a = (cut[1] + cut[2]) // 2  # 100 N after this base, inside the gene
    b = (planted[90][2] + planted[91][1]) // 2  # 3000 N after this one, between two genes
    gapped = seq[:a] + "N" * 100 + seq[a:b] + "N" * 3000 + seq[b:]
    recs = [FastaRecord("scaf", "", gapped), FastaRecord("allN", "", "N" * 20000), FastaRecord("n500", "", "n" * 500)]
    (_, got), (_, all_n), (_, n500) = annotate(recs, ProkOptions())
    ((_, ref),) = annotate([FastaRecord("scaf", "", seq)], ProkOptions())
    assert all_n == [] and n500 == []
    gaps = [(a + 1, a + 100), (b + 101, b + 3100)]
    assert not [g for g in got for lo, hi in gaps if g.start <= hi and g.end >= lo]
    left = [g for g in got if a - 2 <= g.end <= a]
    right = [g for g in got if a + 101 <= g.start <= a + 103]
    assert [(g.strand, g.start, g.partial) for g in left] == [(cut[0], cut[1], "01")]
    assert [(g.strand, g.end, g.partial) for g in right] == [(cut[0], cut[2] + 100, "10")]
    back = lambda x: x - 100 * (x > a) - 3000 * (x > b + 100)  # noqa: E731
    assert {(g.strand, back(g.start), back(g.end)) for g in got if g not in left + right} == \
        {(g.strand, g.start, g.end) for g in ref if g.end < a or g.start > a}


def test_short_records_are_packed_and_give_what_each_alone_gives(tiny_models, monkeypatch):
    """Short records are found genes in packs (genes.pack_records): every record's genes, candidates and scores,
    classifier probabilities included, are those it gets as a pack of its own; records without ORFs stay out."""
    import numpy as np

    from genannot.prok import pipeline
    from genannot.prok.classifiers import load_prok_models

    seq, _ = synthetic_genome(seed=7, n_genes=150)
    rng = random.Random(7)
    recs, at = [], 0
    while at < len(seq):
        n = rng.randint(500, 3000)
        recs.append(FastaRecord(f"c{len(recs)}", "", seq[at : at + n]))
        at += n
    recs[3:3] = [FastaRecord("allN", "", "N" * 700), FastaRecord("tiny", "", "ACGTAC")]
    recs[10] = FastaRecord(recs[10].id, "", recs[10].seq[:400] + "N" * 80 + recs[10].seq[400:])  # a gap inside
    opts = ProkOptions(models=load_prok_models(str(tiny_models), device="cpu"))
    packed = []
    real_pack = pipeline.pack_records
    monkeypatch.setattr(pipeline, "pack_records", lambda pieces: packed.append(len(pieces)) or real_pack(pieces))
    together = pipeline.annotate_full(recs, opts)
    assert max(packed) > 20
    monkeypatch.setattr(pipeline, "PACK_BP", 0)
    alone = pipeline.annotate_full(recs, opts)
    assert sum(map(len, together.genes)) > 100
    for gt, ga, kt, ka in zip(together.genes, alone.genes, together.calls, alone.calls):
        assert [(g.id, g.start, g.end, g.strand, g.partial, g.attributes) for g in gt] == \
            [(g.id, g.start, g.end, g.strand, g.partial, g.attributes) for g in ga]
        assert (kt is None) == (ka is None)
        if kt is None:
            continue
        for name in ("group", "strand", "start", "sp", "se", "left", "right", "length", "ctype", "p3", "edge5", "rank",
                     "group_first"):
            assert np.array_equal(getattr(kt.cands, name), getattr(ka.cands, name)), name
        for name in ("chosen", "prob_cds", "prob_tis", "rbs_bin"):
            assert np.array_equal(getattr(kt, name), getattr(ka, name), equal_nan=name != "chosen"), name
        for name in ("score", "cscore", "sscore"):  # running sums over a pack rather than a record: last digits
            assert np.allclose(getattr(kt, name), getattr(ka, name), rtol=0, atol=1e-8), name
    assert together.calls[3] is None and together.calls[4] is None


# ---------------------------------------------------------------- CLI


def write_fasta(path: Path, records) -> Path:
    with open(path, "w") as fh:
        for name, seq in records:
            fh.write(f">{name}\n")
            for i in range(0, len(seq), 70):
                fh.write(seq[i : i + 70] + "\n")
    return path


def test_cli_gff3_csv_and_fasta_outputs(tmp_path, tiny_models, gff3_validate):
    seq, planted = synthetic_genome(seed=4, n_genes=40)
    fa = write_fasta(tmp_path / "g.fa", [("chr1", seq), ("short", "ACGTACGTAC"), ("allN", "N" * 500), ("chr2", seq[:5000])])
    gff = tmp_path / "out.gff3"
    rc_ = main(["prok", str(fa), "-o", str(gff), "--model", str(tiny_models), "--proteins", str(tmp_path / "p.faa"),
                "--genes", str(tmp_path / "g.fna"), "--candidates", str(tmp_path / "cand.csv"), "--device", "cpu"])
    assert rc_ == 0
    gff3_validate(gff)
    text = gff.read_text()
    assert text.startswith("##gff-version 3")
    assert "##sequence-region short 1 10" in text and "##sequence-region allN 1 500" in text
    assert not [ln for ln in text.splitlines() if ln.startswith("allN\t")]
    assert "#model" in text and "#command genannot prok" in text
    cds = [ln.split("\t") for ln in text.splitlines() if not ln.startswith("#") and "\tCDS\t" in ln]
    assert cds and all(f[7] == "0" for f in cds)
    assert all("prob_cds=" in f[8] and "prob_tis=" in f[8] and "start_type=" in f[8] for f in cds if "start_type=EDGE" not in f[8])
    prots = (tmp_path / "p.faa").read_text().split(">")[1:]
    assert len(prots) == len(cds)
    nts = (tmp_path / "g.fna").read_text().split(">")[1:]
    assert all(len("".join(x.splitlines()[1:])) % 3 == 0 for x in nts)
    with open(tmp_path / "cand.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {"prediction_max_likelihood", "prob_tis", "orf_group"} <= set(rows[0])

    gtf = tmp_path / "out.gtf"
    assert main(["prok", str(fa), "--format", "gtf", "-o", str(gtf), "--model", str(tiny_models), "--device", "cpu"]) == 0
    genes = lambda path: sorted((g.seqid, g.strand, tuple(t.cds)) for gs in read_annotation(str(path)).values()  # noqa: E731
                                for g in gs for t in g.transcripts)
    assert genes(gtf) == genes(gff)  # the stop codon outside the CDS in GTF, rejoined by the reader
    gtf_lines = [ln.split("\t") for ln in gtf.read_text().splitlines() if not ln.startswith("#")]
    assert sum(f[2] == "stop_codon" for f in gtf_lines) == sum(f[6] == "+" and "partial=01" not in f[8] or
                                                              f[6] == "-" and "partial=10" not in f[8] for f in cds
                                                              if "partial=11" not in f[8])

    out = tmp_path / "out.csv"
    assert main(["prok", str(fa), "--format", "csv", "-o", str(out), "--model", str(tiny_models), "--device", "cpu"]) == 0
    with open(out) as fh:
        reader = csv.reader(fh)
        header = next(reader)
        body = list(reader)
    assert header == CSV_COLUMNS
    assert len(body) == len(cds)
    assert all(r[3] in "+-" and r[8] in ("00", "10", "01", "11") for r in body)


def test_cli_iupac_stop_ends_orfs_and_genes_keep_the_letters(tmp_path, tiny_models):
    """TAR (TAA or TAG) in a reading frame is a stop whichever base R is: no candidate ORF runs through it.
    The letters reach --genes as written; their codons translate where all readings agree (YTR: L)."""
    rng = random.Random(8)
    sense = [c for c in ("".join(rng.choice("ACGT") for _ in range(3)) for _ in range(900)) if c not in ("TAA", "TAG", "TGA")]
    gene = "ATG" + "".join(sense[:150]) + "YTR" + "".join(sense[150:240]) + "TAR" + "".join(sense[240:300]) + "TAA"
    tar = 500 + len(gene) - 3 - 60 * 3 - 3  # 0-based position of the T of TAR
    seq = "".join(rng.choice("ACGT") for _ in range(500)) + gene + "".join(rng.choice("ACGT") for _ in range(500))
    fa = write_fasta(tmp_path / "iu.fa", [("c1", seq)])
    assert main(["prok", str(fa), "-o", str(tmp_path / "o.gff3"), "--candidates", str(tmp_path / "cand.csv"),
                 "--genes", str(tmp_path / "g.fna"), "--proteins", str(tmp_path / "p.faa"), "--closed",
                 "--model", str(tiny_models), "--device", "cpu"]) == 0
    with open(tmp_path / "cand.csv") as fh:
        plus = [(int(r["start"]), int(r["end"])) for r in csv.DictReader(fh) if r["strand"] == "+"]
    assert (501, tar + 3) in plus
    assert not [(a, b) for a, b in plus if a - 1 < tar and b > tar + 3 and (tar - (a - 1)) % 3 == 0]
    genes, prots = (tmp_path / "g.fna").read_text(), (tmp_path / "p.faa").read_text()
    nt = {r.split("\n", 1)[0].split()[1]: "".join(r.split("\n")[1:]) for r in genes.split(">")[1:]}
    aa = {r.split("\n", 1)[0].split()[1]: "".join(r.split("\n")[1:]) for r in prots.split(">")[1:]}
    where = f"c1:501-{tar + 3}(+)"
    assert nt[where] == gene[: len(gene) - 60 * 3 - 3]
    assert aa[where][151] == "L" and "X" not in aa[where]


def test_cli_empty_results_are_valid(tmp_path, tiny_models, gff3_validate):
    fa = write_fasta(tmp_path / "e.fa", [("tiny", "ACGT"), ("nnn", "N" * 100), ("stops", "CTAG" * 75)])
    gff = tmp_path / "e.gff3"
    assert main(["prok", str(fa), "-o", str(gff), "--model", str(tiny_models), "--device", "cpu"]) == 0
    gff3_validate(gff)
    assert not [ln for ln in gff.read_text().splitlines() if ln and not ln.startswith("#")]


def test_cli_errors_leave_nothing(tmp_path, tiny_models):
    fa = write_fasta(tmp_path / "x.fa", [("a", "ACGT" * 100)])
    out = tmp_path / "x.gff3"
    assert main(["prok", str(fa), "-o", str(out), "-g", "99", "--model", str(tiny_models)]) == 2
    assert not out.exists()
    assert main(["prok", str(fa), "-o", str(tmp_path / "nodir" / "x.gff3"), "--model", str(tiny_models)]) != 0
    assert main(["prok", str(fa), "-o", str(out), "--model", str(tmp_path / "missing")]) == 3
    assert not out.exists()


@pytest.mark.parametrize("uga_sense", [False, True])
def test_auto_genetic_code_on_planted_genes(uga_sense):
    """`-g auto`: genes that read UGA as Trp come out as code 4 (code 11 cuts them at every TGA), the same kind of
    genome without that as code 11; the densities are the share of the genome in called genes under each code."""
    from genannot.prok.pipeline import MIN_TRAIN, TABLE_MARGIN, infer_table

    seq, _ = synthetic_genome(seed=3, uga_sense=uga_sense)
    assert len(seq) >= MIN_TRAIN
    table, density = infer_table([FastaRecord("synth", "", seq)])
    assert table == (4 if uga_sense else 11), density
    assert (density[4] - density[11] > TABLE_MARGIN) == uga_sense, density
    # too short to tell: code 11, whatever the genes read
    assert infer_table([FastaRecord("synth", "", seq[: MIN_TRAIN - 1])])[0] == 11


def test_cli_genetic_code_auto_is_recorded_and_a_bad_code_is_one_line(tmp_path, tiny_models, capsys):
    seq, _ = synthetic_genome(seed=3, uga_sense=True)
    fa = write_fasta(tmp_path / "m.fa", [("m", seq)])
    out = tmp_path / "m.gff3"
    assert main(["prok", str(fa), "-o", str(out), "--model", str(tiny_models), "--threads", "1"]) == 0
    assert "#translation_table 4 (auto: coding density" in out.read_text()
    assert main(["prok", str(fa), "-o", str(out), "-g", "four", "--model", str(tiny_models)]) == 2
    err = capsys.readouterr().err
    assert "neither an NCBI genetic code number nor 'auto'" in err and "Traceback" not in err


# ---------------------------------------------------------------- real data


@pytest.mark.parametrize("tag, table", [("mgenitalium_g37", 4), ("ecoli_k12_mg1655", 11)])
def test_auto_genetic_code_on_real_genomes(shared_data, tag, table):
    """M. genitalium reads UGA as Trp (code 4); measured coding density 0.953 under code 4 against 0.773 under 11
    (E. coli: 0.878 / 0.879)."""
    from genannot.io.fasta import read_fasta
    from genannot.prok.pipeline import infer_table

    got, density = infer_table(read_fasta(shared_data / "prok" / "genomes" / tag / f"{tag}.fna.gz"))
    assert got == table, density


def _slice(shared_data: Path, tag: str, lo: int, hi: int):
    from genannot.io.fasta import read_fasta

    rec = next(iter(read_fasta(shared_data / "prok" / "genomes" / tag / f"{tag}.fna.gz")))
    ref = read_annotation(shared_data / "prok" / "genomes" / tag / f"{tag}.startlink_ncbi_cds.gff.gz")
    genes = [g for g in ref.get(rec.id, []) if lo < g.start and g.end <= hi]
    return FastaRecord(rec.id, "", rec.seq[lo:hi]), genes


def _score(pred, ref, lo, n=500_000):
    key = lambda g, off: (g.strand, (g.end if g.strand == "+" else g.start) - off)  # noqa: E731
    p = {key(g, 0) for g in pred if 1 < g.start and g.end < n}  # ignore genes cut by the slice ends
    r = {key(g, lo) for g in ref}
    full_p = {(g.strand, g.start, g.end) for g in pred}
    starts = sum((g.strand, g.start - lo, g.end - lo) in full_p for g in ref)
    return len(p & r) / len(r), len(p & r) / len(p), starts / len(r)


@pytest.mark.parametrize("tag", ["ecoli_k12_mg1655", "mtuberculosis_h37rv"])
def test_accuracy_on_held_out_genome_slice_statistics_only(shared_data, tag):
    """500 kb of a genome no model trained on, statistics only (the self-trained core): 3' sensitivity /
    specificity and exact starts against the StartLink/NCBI CDS reference."""
    lo, hi = 1_000_000, 1_500_000
    rec, ref = _slice(shared_data, tag, lo, hi)
    t = time.time()
    ((_, genes),) = annotate([rec], ProkOptions())
    assert time.time() - t < 60
    sens, spec, starts = _score(genes, ref, lo)
    # measured: E. coli 0.964/0.926/0.868, M. tb 0.981/0.917/0.741 (this slice; whole genomes in bench/PROK.md)
    floor = {"ecoli_k12_mg1655": (0.95, 0.91, 0.84), "mtuberculosis_h37rv": (0.96, 0.89, 0.72)}[tag]
    assert sens >= floor[0] and spec >= floor[1] and starts >= floor[2], (sens, spec, starts)


@pytest.mark.parametrize("tag", ["ecoli_k12_mg1655", "mtuberculosis_h37rv"])
def test_accuracy_shipped_path_on_held_out_genome_slice(shared_data, tag, tmp_path, gff3_validate):
    """The command as shipped (default embedded models, which never saw these genomes) on 500 kb:
    measured sens/spec/starts E. coli 0.966/0.927/0.872, M. tb 0.981/0.921/0.744 (this slice; whole genomes in
    bench/PROK.md)."""
    from genannot.io.annotation import read_annotation

    lo, hi = 1_000_000, 1_500_000
    rec, ref = _slice(shared_data, tag, lo, hi)
    fa = write_fasta(tmp_path / "slice.fa", [(rec.id, rec.seq)])
    out = tmp_path / "slice.gff3"
    t = time.time()
    assert main(["prok", str(fa), "-o", str(out), "--threads", "2", "--device", "cpu"]) == 0
    assert time.time() - t < 60
    gff3_validate(out)
    genes = read_annotation(out)[rec.id]
    assert "prob_cds=" in out.read_text() and "#model " in out.read_text()
    sens, spec, starts = _score(genes, ref, lo)
    floor = {"ecoli_k12_mg1655": (0.95, 0.91, 0.85), "mtuberculosis_h37rv": (0.96, 0.90, 0.72)}[tag]
    assert sens >= floor[0] and spec >= floor[1] and starts >= floor[2], (sens, spec, starts)
