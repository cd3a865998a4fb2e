"""On a CUDA GPU, genannot gives what it gives on the CPU (skipped without one; run where a GPU is lent).

The GPU runs the networks in bf16, so probabilities differ in their last digits: the checks are on what is
placed (genes, exons), and on the network's tracks within a bf16 tolerance.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from test_prok_pipeline import synthetic_genome, write_fasta

from genannot.cli import main

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

SHIPPED_EUK = Path(__file__).resolve().parents[1] / "genannot" / "models" / "weights" / "euk-seg-small"


def placed(gff: Path) -> list[tuple[str, ...]]:
    """(seqid, type, start, end, strand) of every feature, scores and attributes aside."""
    rows = [ln.split("\t") for ln in gff.read_text().splitlines() if ln and not ln.startswith("#")]
    return sorted(tuple(r[i] for i in (0, 2, 3, 4, 6)) for r in rows)


def test_prok_embedded_models_place_the_same_genes_on_gpu_and_cpu(tmp_path):
    seq, planted = synthetic_genome(seed=4, n_genes=60)
    fa = write_fasta(tmp_path / "g.fa", [("chr1", seq)])
    out = {}
    for dev in ("cpu", "cuda"):
        out[dev] = tmp_path / f"{dev}.gff3"
        assert main(["prok", str(fa), "-o", str(out[dev]), "--device", dev, "-q"]) == 0
    assert placed(out["cuda"]) == placed(out["cpu"])
    genes = {(r[4], int(r[2]), int(r[3])) for r in placed(out["cuda"]) if r[1] == "CDS"}
    assert len(genes & set(planted)) >= 0.7 * len(planted)


def test_euk_network_tracks_on_gpu_match_the_cpu():
    from genannot.euk.model import EukSegModel
    from genannot.euk.windows import model_fn, predict_record

    rng = random.Random(3)
    seq = "".join(rng.choice("ACGT") for _ in range(20_000))
    tracks = {}
    for dev in ("cpu", "cuda"):
        net = EukSegModel.from_pretrained(SHIPPED_EUK, device=dev).eval()
        tracks[dev] = predict_record(model_fn(net), seq, 8192, 2048, "auto" if dev == "cuda" else 4, device=dev)
    a, b = (tracks[d].astype(np.float32) for d in ("cpu", "cuda"))
    assert a.shape == b.shape == (len(seq), 2, 5)
    assert float(np.abs(a - b).max()) < 0.05
    assert float(np.abs(a - b).mean()) < 0.005


def test_euk_cli_on_gpu_writes_gene_models(tmp_path):
    seq, _ = synthetic_genome(seed=5, n_genes=30)  # any sequence: the run must finish and write valid records
    fa = write_fasta(tmp_path / "g.fa", [("chr1", seq)])
    gff = tmp_path / "out.gff3"
    assert main(["euk", str(fa), "-o", str(gff), "--device", "cuda", "--net-weight", "1", "-q"]) == 0
    text = gff.read_text()
    assert text.startswith("##gff-version 3") and "##sequence-region chr1 1 " in text
