"""GC bins: the records of a mixed-species input (a metagenome assembly, a genome with a contaminant) split by GC,
so that each bin learns its own statistics.

Self-training on a mix learns one coding model for all of it, and the minority species get a model that is not
theirs. 642 contigs (5-40 kb) of E. coli, M. tuberculosis, H. salinarum and S. aureus were annotated together:
S. aureus' 3' specificity was 0.870, against 0.970 annotated alone.

How: the GC of 10 kb windows decides whether the input is mixed. It is mixed when the 5-95% spread of window GC is
wider than any one genome's, or when the smoothed density of window GC has a deep valley with MIN_BIN bases on
either side. A mixed input's records are binned by their own GC into BIN_WIDTH bins (the grid shifted to cut
through the least sequence), and bins under MIN_BIN bases are merged into their GC-nearer neighbour. None of the
11 code-11 genomes in the shared data is called mixed, whole or cut into 1 kb pieces. Records under
MIN_WINDOW_BASES take no part in the decision (their GC is too noisy), but are binned like the rest. Figures beside
`prodigal -p meta`: bench/prok_mixed.py, bench/PROK_MIXED.md."""

from __future__ import annotations

from typing import Iterable

import numpy as np

WINDOW = 10_000  # nt per GC sample
MIN_WINDOW_BASES = 1_000  # ... A/C/G/T in it (assembly gaps are not sampled)
BANDWIDTH = 0.012  # GC fraction: the density's smoothing, about a genome's window-to-window spread
VALLEY = 0.25  # a valley this deep (share of the lower of its two peaks) separates genomes
MAX_SPREAD = 0.25  # GC: 5th-95th percentile spread of windows above which the input is mixed (one genome: <= 0.15
# in 10 kb windows, <= 0.20 in 1 kb contigs, H. salinarum with its plasmids both times)
BIN_WIDTH = 0.06  # GC: the bins of a mixed input (merged where too small)
MIN_BIN = 200_000  # bases: twice pipeline.MIN_TRAIN, so that each bin self-trains
_STEP = 0.0025  # GC resolution of the density
_GRID = np.arange(_STEP / 2, 1.0, _STEP)  # centres of its bins


def _counts(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(G+C, A+C+G+T) per WINDOW of one record's base codes (A0 C1 G2 T3, other 4)."""
    if len(codes) == 0:
        return np.zeros(0), np.zeros(0)
    starts = np.arange(0, len(codes), WINDOW)
    gc = np.add.reduceat(((codes == 1) | (codes == 2)).astype(np.int64), starts)
    acgt = np.add.reduceat((codes < 4).astype(np.int64), starts)
    return gc, acgt


def _density(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Smoothed density of window GC `x` weighted by `w` (bases), on _GRID."""
    hist = np.histogram(x, bins=len(_GRID), range=(0.0, 1.0), weights=w)[0]
    k = np.arange(-4 * BANDWIDTH, 4 * BANDWIDTH + _STEP / 2, _STEP)
    return np.convolve(hist, np.exp(-0.5 * (k / BANDWIDTH) ** 2), mode="same")


def is_mixed(x: np.ndarray, w: np.ndarray, dens: np.ndarray) -> bool:
    """Whether windows of GC `x` (weights `w`: bases; smoothed density `dens`) come from more than one genome: a
    spread (5th to 95th percentile) wider than any one genome's, or a deep valley between two peaks of the density
    with MIN_BIN bases on either side."""
    o = np.argsort(x)
    cw = np.cumsum(w[o]) / w.sum()
    lo, hi = x[o][np.searchsorted(cw, 0.05)], x[o][min(np.searchsorted(cw, 0.95), len(x) - 1)]
    if hi - lo > MAX_SPREAD:
        return True
    peaks = np.flatnonzero((dens[1:-1] >= dens[:-2]) & (dens[1:-1] > dens[2:])) + 1
    for p, q in zip(peaks, peaks[1:]):
        v = p + int(np.argmin(dens[p : q + 1]))
        below = w[x < _GRID[v]].sum()
        if dens[v] < VALLEY * min(dens[p], dens[q]) and min(below, w.sum() - below) >= MIN_BIN:
            return True
    return False


def _grid_phase(dens: np.ndarray) -> float:
    """Where the BIN_WIDTH grid of cuts starts: the phase whose cuts pass through the least sequence, so that a
    genome's peak is not cut in two where a valley is near."""
    per = int(round(BIN_WIDTH / _STEP))
    cost = [dens[k::per].sum() for k in range(per)]
    return float(_GRID[int(np.argmin(cost))])


def gc_bins(codes: Iterable[np.ndarray]) -> tuple[list[list[int]], list[float]]:
    """Groups of record indices (by rising GC) and the GC where each group after the first begins; one group
    unless the input is mixed (`is_mixed`). `codes`: each record's base codes, read one at a time."""
    per = [_counts(c) for c in codes]
    everything = [list(range(len(per)))]
    if not per:
        return everything, []
    gc, n = np.concatenate([g for g, _ in per]), np.concatenate([a for _, a in per])
    keep = n >= MIN_WINDOW_BASES
    if keep.sum() < 2:
        return everything, []
    x, w = gc[keep] / n[keep], n[keep].astype(np.float64)
    dens = _density(x, w)
    if not is_mixed(x, w, dens):
        return everything, []
    phase = _grid_phase(dens)
    rec_acgt = np.array([a.sum() for _, a in per], dtype=np.float64)
    rec_gc = np.array([g.sum() for g, _ in per], dtype=np.float64) / np.maximum(rec_acgt, 1)
    label = np.floor((rec_gc - phase) / BIN_WIDTH).astype(np.int64)
    keys = sorted(set(label.tolist()))
    groups = [list(np.flatnonzero(label == k)) for k in keys]
    lows = [max(0.0, phase + k * BIN_WIDTH) for k in keys]
    while len(groups) > 1:
        size = [rec_acgt[g].sum() for g in groups]
        k = int(np.argmin(size))
        if size[k] >= MIN_BIN:
            break
        mean = [np.average(rec_gc[g], weights=np.maximum(rec_acgt[g], 1)) for g in groups]
        j = min((i for i in (k - 1, k + 1) if 0 <= i < len(groups)), key=lambda i: abs(mean[i] - mean[k]))
        groups[j] = sorted(groups[j] + groups[k])
        lows[j] = min(lows[j], lows[k])
        del groups[k], lows[k]
    return [[int(i) for i in g] for g in groups], [float(x) for x in lows[1:]]
