"""The embedded default eukaryotic model on real sequence it never saw (human chr9:1-1,000,000, the
--holdout of bench/euk_train.sh), through `genannot euk` with no --model."""

from __future__ import annotations

import pytest

from genannot.cli import main
from genannot.eval.metrics import eval_euk
from genannot.io.annotation import read_annotation

CHR9 = "euk/human/GRCh38_chr9_1-1000000"


def test_default_model_on_held_out_human_chr9(shared_data, tmp_path, gff3_validate):
    out = tmp_path / "chr9.gff3"
    assert main(["euk", str(shared_data / f"{CHR9}.dna_sm.fa.gz"), "-o", str(out), "--threads", "1"]) == 0
    gff3_validate(out)
    m = eval_euk(read_annotation(out), read_annotation(shared_data / f"{CHR9}.Ensembl91.gtf.gz"))
    # too few long ORFs in 1 Mb of human to self-train: the embedded signal models are used as they are
    assert "#self-trained-signal-models not used" in out.read_text()
    # measured 0.253 / 0.620 (bench/EUK.md; soft-masked repeats kept out of exons); AUGUSTUS 0.748 / 0.893:
    # the floor catches a broken default
    assert m["cds"]["f1"] >= 0.22, m["cds"]
    assert m["base_cds"]["f1"] >= 0.57, m["base_cds"]


def test_default_model_self_trains_on_unseen_arabidopsis(shared_data, tmp_path, gff3_validate):
    # a plant: the mammal-fitted signal models alone give CDS-exon F1 0.04; re-fitted on the input, 0.760
    # (base CDS 0.901; AUGUSTUS 0.812 / 0.915)
    out = tmp_path / "ath.gff3"
    fasta = shared_data / "euk/athaliana/Athaliana_TAIR10_1pct.fa.gz"
    assert main(["euk", str(fasta), "-o", str(out), "--threads", "1"]) == 0
    gff3_validate(out)
    assert "#self-trained-signal-models used" in out.read_text()
    m = eval_euk(read_annotation(out), read_annotation(shared_data / "euk/athaliana/Athaliana_TAIR10_1pct.gff3.gz"))
    assert m["cds"]["f1"] >= 0.74, m["cds"]
    assert m["base_cds"]["f1"] >= 0.87, m["base_cds"]


def test_default_model_self_trains_on_unseen_yeast(shared_data, tmp_path, gff3_validate):
    # yeast chrI-III (1.4 Mb, the embedded model never saw yeast): self-trained, CDS-exon F1 0.852, base CDS 0.959
    # (0.834 before intron lengths came from the shorter half of the predicted introns, 0.79 before starts were
    # scored by their upstream in-frame ATG; AUGUSTUS on the whole genome 0.866 / 0.967)
    import itertools

    from genannot.io.fasta import read_fasta

    records = list(itertools.islice(read_fasta(shared_data / "euk/yeast/Scer_S288C_Yue2017.genome.fa.gz"), 3))
    fasta, out = tmp_path / "chrI-III.fa", tmp_path / "yeast.gff3"
    fasta.write_text("".join(f">{r.id}\n{r.seq}\n" for r in records))
    assert main(["euk", str(fasta), "-o", str(out), "--threads", "1"]) == 0
    gff3_validate(out)
    assert "#self-trained-signal-models used" in out.read_text()
    ref = read_annotation(shared_data / "euk/yeast/Scer_S288C_Yue2017.all_feature.gff.gz")
    m = eval_euk(read_annotation(out), {r.id: ref[r.id] for r in records})
    assert m["cds"]["f1"] >= 0.83, m["cds"]
    assert m["base_cds"]["f1"] >= 0.94, m["base_cds"]


def test_default_model_masks_the_transposons_of_an_unmasked_fly(shared_data, tmp_path, gff3_validate):
    # Drosophila 3R's first 1% (321 kb of pericentric heterochromatin, not soft-masked) holds no annotated gene but
    # transposons full of open reading frames: unmasked, 29 genes with 188 kb of CDS; masked by its own repeated
    # 15-mers (the default for an unmasked input), 6 genes with 6 kb. The whole slice: CDS-exon F1 0.301 -> 0.477.
    from genannot.io.fasta import read_fasta

    record = next(r for r in read_fasta(shared_data / "euk/dmelanogaster/Dmel_1pct.fa.gz") if r.id == "3R")
    assert not read_annotation(shared_data / "euk/dmelanogaster/Dmel_1pct.gff3.gz").get("3R")
    fasta = tmp_path / "3R.fa"
    fasta.write_text(f">3R\n{record.seq}\n")

    def cds_bp(*opts: str) -> int:
        out = tmp_path / "fly.gff3"
        assert main(["euk", str(fasta), "-o", str(out), "--threads", "1", *opts]) == 0
        gff3_validate(out)
        assert ("#repeat-mask used" in out.read_text()) == (not opts)
        return sum(e - s + 1 for g in read_annotation(out).get("3R", []) for t in g.transcripts for s, e in t.cds)

    assert cds_bp() < 20_000
    assert cds_bp("--mask-repeats", "never") > 150_000


@pytest.mark.parametrize("chrom, how", [("Chr1", "from them"), ("Chr3", "beats the prior's")])
def test_default_model_self_trains_on_one_small_arabidopsis_chromosome_piece(shared_data, tmp_path, gff3_validate, chrom, how):
    # one chromosome of the slice alone, 0.2-0.3 Mb, kept the prior under the floors before 2026-11-23 (60 long
    # ORFs, 60 genes): CDS-exon F1 0.174 / 0.179. Chr1 (25 long ORFs, 38 genes in the first round) now bootstraps
    # from its long ORFs: 0.801; Chr3 (11 long ORFs: sparse, 30 genes) self-trains because its coding sequence is
    # foreign to the prior (genannot.euk.selftrain.held_out_coding_gain 0.046): 0.794 (bench/euk_pieces.py)
    from genannot.io.fasta import read_fasta

    fasta_in = shared_data / "euk/athaliana/Athaliana_TAIR10_1pct.fa.gz"
    record = next(r for r in read_fasta(fasta_in) if r.id == chrom)
    fasta, out = tmp_path / f"{chrom}.fa", tmp_path / f"{chrom}.gff3"
    fasta.write_text(f">{record.id}\n{record.seq}\n")
    assert main(["euk", str(fasta), "-o", str(out), "--threads", "1"]) == 0
    gff3_validate(out)
    header = out.read_text()
    assert "#self-trained-signal-models used" in header and how in header
    ref = read_annotation(shared_data / "euk/athaliana/Athaliana_TAIR10_1pct.gff3.gz")
    m = eval_euk(read_annotation(out), {chrom: ref[chrom]})
    assert m["cds"]["f1"] >= 0.70, m["cds"]
