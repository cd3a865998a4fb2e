"""Shared fixtures: where ../shared/data lives, GenomeTools validation of GFF3 output, tiny models."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GENANNOT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public genomes beside the checkout; tests that need them skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def gff3_validate():
    """Return a function that asserts a GFF3 file passes `gt gff3validator`."""
    gt = shutil.which("gt")
    if gt is None:
        pytest.fail("GenomeTools `gt` is not installed (apt-get install genometools): GFF3 output cannot be validated")

    def check(path: str | Path) -> None:
        proc = subprocess.run([gt, "gff3validator", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, f"gt gff3validator rejected {path}:\n{proc.stderr}\n{Path(path).read_text()[:3000]}"

    return check


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """A randomly initialised CDS + TIS checkpoint pair in the exact Hugging Face layout (`train prok -o DIR`)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from genannot.prok.classifiers import CONFIG_KEY, STRIDES, dnabert_vocab

    d = tmp_path_factory.mktemp("prok_models")
    vocab = dnabert_vocab()
    for task in ("cds", "tis"):
        cfg = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=256, num_labels=2)
        setattr(cfg, CONFIG_KEY, {"task": task, "kmer": 6, "stride": STRIDES[task]})
        torch.manual_seed(0)
        BertForSequenceClassification(cfg).save_pretrained(str(d / task))
        (d / task / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return d


@pytest.fixture(scope="session")
def tiny_euk_model(tmp_path_factory) -> Path:
    """A euk-seg model directory made by `genannot train euk` (tiny network, one epoch) on a synthetic genome
    with planted genes, so the decoder's signal models (genemodel.npz) are fitted beside it."""
    import torch

    from genannot.euk.train import run_train_euk
    from test_euk_decode import training_genome, write_pair
    from test_euk_train import TINY

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("euk_model")
    fa, gff = write_pair(d, training_genome(n=12))
    settings = {**TINY, "mlm_steps": 0}
    run_train_euk(genomes=[str(fa)], annotations=[str(gff)], output_dir=str(d / "model"), epochs=1,
                  device="cpu", batch_size=2, seed=1, **settings)
    return d / "model"
