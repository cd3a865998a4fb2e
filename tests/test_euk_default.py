"""The embedded default eukaryotic model on real sequence it never saw (human chr9:1-1,000,000, the
--holdout of bench/euk_train.sh), through `genannot euk` with no --model."""

from __future__ import annotations

from genannot.cli import main
from genannot.eval.metrics import eval_euk
from genannot.io.annotation import read_annotation

CHR9 = "euk/human/GRCh38_chr9_1-1000000"


def test_default_model_on_held_out_human_chr9(shared_data, tmp_path, gff3_validate):
    out = tmp_path / "chr9.gff3"
    assert main(["euk", str(shared_data / f"{CHR9}.dna_sm.fa.gz"), "-o", str(out), "--threads", "1"]) == 0
    gff3_validate(out)
    m = eval_euk(read_annotation(out), read_annotation(shared_data / f"{CHR9}.Ensembl91.gtf.gz"))
    # measured 0.235 / 0.578 (bench/EUK.md); AUGUSTUS 0.748 / 0.893: the floor catches a broken default
    assert m["cds"]["f1"] >= 0.20, m["cds"]
    assert m["base_cds"]["f1"] >= 0.50, m["base_cds"]
