"""Preset statistics for short inputs (anonymous mode): the packaged file, GC selection, the highest-scoring
preset kept, and valid output for a short synthetic genome."""

from __future__ import annotations

import logging
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from test_prok_pipeline import synthetic_genome, three, write_fasta

from genannot.cli import main
from genannot.io.fasta import FastaRecord
from genannot.models.registry import get_spec
from genannot.prok.genes import FinderOptions, find_genes, prepare_record, self_train
from genannot.prok.pipeline import MIN_TRAIN, ProkOptions, annotate
from genannot.prok.presets import PRESETS_FILE, GenomeStats, load_presets, read_presets, save_presets, select_presets
from genannot.prok.signals import StartModel

HELD_OUT = {"ecoli_k12_mg1655", "mtuberculosis_h37rv", "hsalinarum_r1", "npharaonis_dsm2160"}


def neutral_priors(recs, cands, scores, plausible):
    """Classifier priors that add nothing (P = 0.5 everywhere)."""
    return [np.full(len(c), 0.5) for c in cands], [np.full(len(c), 0.5) for c in cands]


NEUTRAL_MODELS = SimpleNamespace(cds=SimpleNamespace(predict=lambda w: np.full(len(w), 0.5)),
                                 tis=SimpleNamespace(predict=lambda w: np.full(len(w), 0.5)))


def _stats(name: str, gc: float, table: int = 11) -> GenomeStats:
    rng = np.random.default_rng(len(name))
    return GenomeStats(name=name, gc=gc, table=table, coding=rng.normal(size=4096), atypical=None, start=StartModel())


def test_packaged_presets_load_and_cover_training_and_held_out_genomes():
    """Presets come from the classifiers' training genomes and the held-out scoring genomes (bench/prok_short.py
    leaves a genome's own preset out when it scores that genome)."""
    presets = load_presets()
    assert PRESETS_FILE.stat().st_size < 600_000
    names = {p.name for p in presets}
    assert HELD_OUT < names and names - HELD_OUT <= set(get_spec("genannot-prok-cds-small").training)
    for p in presets:
        assert p.coding.shape == (4096,) and np.isfinite(p.coding).all() and np.abs(p.coding).max() <= 5.0
        assert p.start.trained and p.start.ups_wt.shape == (32, 5) and 0.2 < p.gc < 0.8
    assert {p.table for p in presets} >= {11}


def test_save_read_roundtrip(tmp_path):
    a, b = _stats("a", 0.4), _stats("b", 0.6, table=4)
    b.atypical = np.full(4096, -1.0)
    save_presets(tmp_path / "p.npz", [a, b], "test")
    x, y = read_presets(tmp_path / "p.npz")
    assert (x.name, x.table, x.atypical, y.name, y.table) == ("a", 11, None, "b", 4)
    assert np.allclose(x.coding, a.coding, atol=1e-6) and np.allclose(y.atypical, -1.0)


def test_select_presets_by_gc_window_and_table():
    ps = [_stats(n, g) for n, g in [("p30", 0.30), ("p40", 0.40), ("p45", 0.45), ("p50", 0.50), ("p52", 0.52),
                                   ("p65", 0.65), ("p70", 0.70)]] + [_stats("m4", 0.50, table=4)]
    assert [p.name for p in select_presets(ps, 0.50, 11)] == ["p50", "p52", "p45"]  # in Prodigal's window
    assert {p.name for p in select_presets(ps, 0.68, 11)} == {"p70", "p65", "p52"}  # topped up to the nearest 3
    assert [p.name for p in select_presets(ps, 0.50, 4)] == ["m4"]
    assert select_presets(ps, 0.50, 25) == [] and select_presets([], 0.5, 11) == []


@pytest.fixture(scope="module")
def learned():
    """Statistics self-trained on synthetic genomes of two codon usages (seeds 3 and 9: the generator draws
    codon weights from the seed first), and 12 kb of another genome of the first codon usage."""
    opts = FinderOptions()
    stats = []
    for seed, name in ((3, "good"), (9, "other")):
        seq, _ = synthetic_genome(seed=seed, n_genes=150)
        _calls, st = self_train([prepare_record(name, seq, opts)], opts)
        st.name = name
        stats.append(st)
    short, planted = synthetic_genome(seed=3, n_genes=40)
    short = short[:12000]
    planted = [g for g in planted if g[2] <= len(short)]
    return stats[0], stats[1], short, planted


def test_anonymous_mode_keeps_the_best_scoring_preset(learned, caplog):
    good, other, short, planted = learned
    near = replace(other, name="near", gc=good.gc + 0.01)
    far = replace(good, name="far", gc=good.gc + 0.3)  # outside Prodigal's GC window: never tried
    opts = FinderOptions(anonymous=True, presets=[other, far, good, near])
    rec = prepare_record("short", short, opts)
    with caplog.at_level(logging.INFO, logger="genannot.prok.genes"):
        (calls,) = find_genes([rec], opts, neutral_priors)
    tried = caplog.text.split("presets tried:")[1].split(";")[0]
    assert "kept good" in caplog.text and "far" not in tried and "other" in tried and "near" in tried
    (alone,) = find_genes([rec], replace(opts, presets=[good]), neutral_priors)
    assert np.array_equal(calls.chosen, alone.chosen)
    c = calls.cands
    got = {("+" if c.strand[i] == 1 else "-", int(c.right[i]) + 1 if c.strand[i] == 1 else int(c.left[i]) + 1)
           for i in calls.chosen}
    assert sum(three(g) in got for g in planted) >= 0.9 * len(planted)


def test_a_preset_adds_the_cds_prior_at_its_own_weight(learned):
    """A preset's statistics are another genome's, so the CDS classifier's log-odds enter its coding scores at
    `preset_cds_weight` (6), not the self-trained `cds_weight` (1), still ramped in with ORF length."""
    from genannot.prok.genes import _length_ramp, _logit

    good, _other, short, _planted = learned
    rng = np.random.default_rng(0)

    def priors(recs, cands, scores, plausible):
        return [rng.uniform(0.01, 0.99, len(c)) for c in cands], [np.full(len(c), 0.5) for c in cands]

    def coding(**params) -> tuple[np.ndarray, np.ndarray]:
        nonlocal rng
        rng = np.random.default_rng(0)
        opts = FinderOptions(anonymous=True, presets=[good], params=replace(FinderOptions().params, **params))
        (calls,) = find_genes([prepare_record("short", short, opts)], opts, priors)
        return calls.cscore, calls.prob_cds

    none, p = coding(preset_cds_weight=0.0)
    six, _ = coding()
    one, _ = coding(preset_cds_weight=1.0, cds_weight=6.0)  # the self-trained weight plays no part here
    c = find_genes([prepare_record("short", short, FinderOptions())], FinderOptions())[0].cands
    expect = 6.0 * _length_ramp(c.length, FinderOptions().params.cds_ramp) * _logit(p)
    assert np.allclose(six - none, expect) and np.allclose(one - none, expect / 6.0)


def test_short_input_uses_presets_through_annotate(learned, caplog):
    good, _other, short, _ = learned
    assert len(short) < MIN_TRAIN
    rec = FastaRecord("s", "", short)
    with caplog.at_level(logging.INFO, logger="genannot.prok.genes"):
        ((_rec, genes),) = annotate([rec], ProkOptions(presets=[good], models=NEUTRAL_MODELS))
    assert "kept good" in caplog.text and genes
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="genannot.prok.genes"):
        ((_rec, genes),) = annotate([rec], ProkOptions(presets=[good]))  # no classifiers (development): self-trained
    assert "presets tried" not in caplog.text and "self-training round" in caplog.text


def test_short_synthetic_genome_default_models_valid_gff3(tmp_path, gff3_validate):
    """The shipped path (embedded default classifiers, packaged presets) and the classifier-only fallback."""
    short, _ = synthetic_genome(seed=5, n_genes=25)
    fa = write_fasta(tmp_path / "s.fa", [("s1", short[:9000]), ("s2", short[9000:]), ("n", "N" * 300)])
    out = tmp_path / "s.gff3"
    assert main(["prok", str(fa), "-o", str(out), "--device", "cpu", "--threads", "1"]) == 0
    gff3_validate(out)
    assert "\tCDS\t" in out.read_text()
    from genannot.prok.classifiers import load_prok_models

    models = load_prok_models(None, None, device="cpu")
    res = annotate([FastaRecord("s1", "", short[:9000])], ProkOptions(models=models, presets=[]))
    assert res[0][1]
