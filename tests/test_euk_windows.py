"""Whole-sequence windowing: plans, seamless centre stitching, exact reverse-complement averaging."""

from __future__ import annotations

import random

import numpy as np
import pytest

from genannot.euk.windows import n_runs, plan_windows, predict_record, reverse_complement, window_centres

HALF = 3  # the fake model's context: 3 bases either side
CODE = {c: i for i, c in enumerate("NACGT")}
WEIGHTS = np.array([0.7, -0.2, 0.5, 1.0, -0.4, 0.3, 0.9])  # asymmetric: strands differ


def local_score(seq: str) -> np.ndarray:
    """(len, 5) in [0, 1]: a weighted sum of base codes over a 7-base context (outside `seq`: N)."""
    codes = np.array([CODE[c.upper()] for c in seq], dtype=float)
    padded = np.concatenate([np.zeros(HALF), codes, np.zeros(HALF)])
    v = sum(w * padded[j : j + len(seq)] for j, w in enumerate(WEIGHTS))
    base = (v + 2.4) / 40.0 + 0.05
    return np.stack([base + 0.02 * c for c in range(5)], axis=1).clip(0, 1)


DELTA = 0.01


class FakeModel:
    """10 outputs: the reading strand's score + DELTA, the opposite strand's (the score of the reverse
    complement, read backwards) - DELTA. Only the mean of the two passes cancels DELTA."""

    def __init__(self, outputs: int = 10, max_len: int | None = None) -> None:
        self.outputs, self.max_len, self.calls = outputs, max_len, []

    def __call__(self, seqs: list[str]) -> list[np.ndarray]:
        self.calls.append([len(s) for s in seqs])
        out = []
        for s in seqs:
            assert self.max_len is None or len(s) <= self.max_len
            read = local_score(s) + DELTA
            if self.outputs == 5:
                out.append(read)
                continue
            opp = local_score(reverse_complement(s))[::-1] - DELTA
            out.append(np.concatenate([read, opp], axis=1))
        return out


def expected(seq: str) -> np.ndarray:
    plus = local_score(seq)
    minus = local_score(reverse_complement(seq))[::-1]
    exp = np.stack([plus, minus], axis=1).astype(np.float32)
    exp[np.array([c in "Nn" for c in seq])] = 0
    return exp


def random_seq(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(n))


@pytest.mark.parametrize("length,window,overlap", [(1, 64, 16), (63, 64, 16), (1000, 64, 16), (1237, 100, 20), (5003, 512, 100), (777, 50, 0)])
def test_plan_windows_cover_exactly(length, window, overlap):
    wins = plan_windows(length, window, overlap)
    assert wins[0][0] == 0 and wins[-1][1] == length
    for (s, e), (s2, e2) in zip(wins, wins[1:]):
        assert e - s == window and e2 - s2 == window
        assert e - s2 >= overlap and s2 > s
    keep = window_centres(wins)
    assert keep[0][0] == 0 and keep[-1][1] == length
    assert all(k[1] == k2[0] for k, k2 in zip(keep, keep[1:])), "centres must tile without gaps or overlaps"
    for (lo, hi), (s, e) in zip(keep, wins):
        assert s <= lo <= hi <= e


def test_n_runs_at_the_ends_are_skipped_whatever_their_length():
    """A record's leading and trailing Ns join the N spacer when records are decoded side by side, so
    they are skipped alone too; inside the record only long runs are."""
    seq = "N" * 5 + "ACGT" * 50 + "N" * 5 + "ACGT" * 50 + "nn"
    assert n_runs(seq, 100) == [(0, 5), (410, 412)]
    assert n_runs(seq, 100, block=7) == [(0, 5), (410, 412)]
    assert n_runs("N" * 30, 100) == [(0, 30)]
    assert n_runs("ACGT", 100) == []


def test_plan_windows_skip_runs():
    seq = "A" * 500 + "N" * 300 + "C" * 900 + "n" * 50 + "G" * 10 + "N" * 1200
    runs = n_runs(seq, 100)
    assert runs == [(500, 800), (1760, 2960)]
    wins = plan_windows(len(seq), 256, 64, runs)
    covered = set()
    for s, e in wins:
        covered |= set(range(s, e))
    assert covered == set(range(0, 500)) | set(range(800, 1760))
    assert wins[0] == (0, 256) and wins[-1][1] == 1760
    keep = window_centres(wins)
    kept = sorted(i for lo, hi in keep for i in range(lo, hi))
    assert kept == sorted(covered), "each covered base is kept exactly once"
    with pytest.raises(ValueError):
        plan_windows(100, 10, 10)


@pytest.mark.parametrize("length,window,overlap", [(999, 128, 32), (1237, 100, 20), (90, 128, 32)])
def test_stitching_is_seamless_and_rc_average_exact(length, window, overlap):
    seq = random_seq(length, length)
    fake = FakeModel(max_len=window)
    got = predict_record(fake, seq, window, overlap, batch=3, rc=True, dtype=np.float32)
    assert got.shape == (length, 2, 5) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected(seq), atol=1e-6)
    assert all(len(c) <= 3 for c in fake.calls)
    # forward pass only: the reading strand carries +DELTA, the opposite -DELTA
    fwd = predict_record(FakeModel(), seq, window, overlap, batch=4, rc=False, dtype=np.float32)
    np.testing.assert_allclose(fwd[:, 0], expected(seq)[:, 0] + DELTA, atol=1e-6)
    np.testing.assert_allclose(fwd[:, 1], expected(seq)[:, 1] - DELTA, atol=1e-6)


def test_edges_would_show_without_centre_keeping():
    """The fake model is wrong within HALF bases of a window edge: a plan whose overlap is too small to
    hide them must fail the comparison (so the seamless test above does test something)."""
    seq = random_seq(1000, 7)
    got = predict_record(FakeModel(), seq, 100, 0, dtype=np.float32)
    assert not np.allclose(got, expected(seq), atol=1e-6)


def test_n_runs_zero_softmask_kept_and_five_output_models():
    seq = random_seq(700, 1) + "N" * 1500 + random_seq(300, 2).lower() + "NN" + random_seq(333, 3)
    seen = []

    def fn(seqs):
        seen.extend(seqs)
        return FakeModel()(seqs)

    got = predict_record(fn, seq, 256, 64, dtype=np.float32, min_n_run=1000)
    np.testing.assert_allclose(got, expected(seq), atol=1e-6)
    assert not got[700:2200].any() and not got[2500:2502].any()
    assert all(set(s) != {"N"} for s in seen), "long N runs must not be sent to the model"
    assert any(any(c.islower() for c in s) for s in seen[1::2]), "soft-masking is kept on the reverse complement"
    # a 5-output model: + from the forward pass, - from the reverse-complement pass (each +DELTA)
    five = predict_record(FakeModel(outputs=5), seq, 256, 64, dtype=np.float32, outputs=5, rc=False)
    exp = expected(seq)
    n = np.array([c in "Nn" for c in seq])
    np.testing.assert_allclose(five[~n], exp[~n] + DELTA, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        predict_record(FakeModel(outputs=5), seq, 256, 64)  # told 10 outputs, got 5


def test_default_dtype_and_empty():
    assert predict_record(FakeModel(), "", 64, 16).shape == (0, 2, 5)
    assert predict_record(FakeModel(), "N" * 5000, 64, 16).sum() == 0
    p = predict_record(FakeModel(), random_seq(300, 4), 64, 16)
    assert p.dtype == np.float16


def test_with_a_real_segmentation_model():
    """model_fn wires an EukSegModel in; one window each way gives exactly fold_rc of the two passes."""
    import torch

    from genannot.euk.windows import fold_rc, model_fn
    from test_euk_model import small_seg_model

    torch.set_num_threads(1)
    model = small_seg_model()
    seq = random_seq(300, 5)
    got = predict_record(model_fn(model), seq, window=512, overlap=64, dtype=np.float32)
    fwd = model.predict(seq)
    back = model.predict(reverse_complement(seq))
    np.testing.assert_allclose(got, fold_rc(fwd, back), atol=1e-5)
    long = predict_record(model_fn(model), random_seq(1500, 6), window=400, overlap=100, batch=2)
    assert long.shape == (1500, 2, 5) and np.isfinite(long.astype(np.float32)).all()
