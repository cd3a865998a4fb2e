"""A model directory's config.json kind must match the kind asked for; directories without one still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genannot.errors import ModelError
from genannot.models.registry import declared_kind, resolve_model

WEIGHTS = Path(__file__).resolve().parents[1] / "genannot" / "models" / "weights"


@pytest.mark.parametrize(
    "folder,kind", [("prok-cds-small", "prok-cds"), ("prok-tis-small", "prok-tis"), ("euk-seg-small", "euk-seg")]
)
def test_packaged_directories_declare_their_kind(folder, kind):
    assert declared_kind(WEIGHTS / folder) == kind
    assert resolve_model(str(WEIGHTS / folder), kind).kind == kind


@pytest.mark.parametrize(
    "folder,wanted",
    [("prok-tis-small", "prok-cds"), ("prok-cds-small", "prok-tis"), ("euk-seg-small", "prok-cds"), ("prok-cds-small", "euk-seg")],
)
def test_directory_of_another_kind_is_refused(folder, wanted):
    with pytest.raises(ModelError, match=f"is a {declared_kind(WEIGHTS / folder)} model, but a {wanted} model is needed"):
        resolve_model(str(WEIGHTS / folder), wanted)


@pytest.mark.parametrize(
    "config", ['{"model_type": "bert", "architectures": ["BertForSequenceClassification"]}', '{"kind": "other"}', "not json", None]
)
def test_directory_without_a_kind_marker_still_resolves(tmp_path, config):
    """A published checkpoint (GeneLM's) has no genannot marker; a broken config.json is the loader's to report."""
    d = tmp_path / "genelm-cds"
    d.mkdir()
    (d / "model.safetensors").write_bytes(b"x")
    if config is not None:
        (d / "config.json").write_text(config)
    assert declared_kind(d) is None
    assert resolve_model(str(d), "prok-cds").path == d.resolve()


def test_task_marker_of_a_trained_prok_model(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "genannot": {"task": "tis", "kmer": 6}}))
    assert declared_kind(tmp_path) == "prok-tis"
