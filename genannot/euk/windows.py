"""Whole-sequence inference for the segmentation model: overlapping windows, stitched by centres.

    fn = model_fn(model)                                      # list[str] -> list[(len, n_outputs)]
    probs = predict_record(fn, seq, window=16384, overlap=4096, batch="auto", rc=True)
    probs.shape == (len(seq), 2, 5)                           # [:, 0] + strand, [:, 1] - strand

- `plan_windows` tiles every stretch between long N runs with windows of exactly `window` bases
  (shorter only where the stretch is), consecutive windows overlapping by at least `overlap`.
- Stitching keeps each window's centre: two overlapping windows hand over at the middle of their
  overlap, so every base comes from the window where it lies farthest from an edge (Helixer's
  rule); the seam is exact (no base twice, none missing).
- Both-strand (10-output) models: the forward pass gives the (+, -) tracks, the reverse-complement
  pass the same tracks with strands swapped and positions reversed (genannot.euk.model.rc_to_forward),
  and `rc=True` averages the two exactly. 5-output models predict the reading strand only: the
  forward pass gives +, the reverse-complement pass - (both passes always run).
- N: runs of at least `min_n_run` Ns are not predicted, and every N base gets probability 0.
- Windows go through genannot.runtime.device.iter_predict (batching, CUDA OOM back-off) and are
  folded into the output as batches finish: memory is the (L, 2, 5) output plus one batch.
- Tracks are in forward coordinates, each strand's columns in its own transcription direction
  (five_prime_UTR, exon, intron, three_prime_UTR, CDS).
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Sequence

import numpy as np

from genannot.io.fasta import SpooledSequence
from genannot.io.seqout import reverse_complement  # case kept: soft-masking survives

ModelFn = Callable[[list[str]], Sequence[np.ndarray]]

_N_RUN = re.compile(r"[Nn]+")


def n_runs(seq: str | SpooledSequence, min_length: int = 1000, block: int = 1 << 22) -> list[tuple[int, int]]:
    """Runs of N (either case) of at least `min_length` bases, and those at either end of the sequence
    whatever their length, 0-based half-open, of a str or a spooled chromosome read `block` bases at a
    time (runs cut by a block edge are joined again).

    Why the ends: a record's leading or trailing Ns hold nothing to decode, and where records are
    decoded side by side (genannot.euk.decode.decode_records) they join the N spacer between them;
    skipped alone too, a record gives the same genes either way."""
    n = len(seq)
    runs: list[tuple[int, int]] = []
    last: tuple[int, int] | None = None  # the latest run: it may go on in the next block

    def kept(run: tuple[int, int]) -> bool:
        return run[1] - run[0] >= min_length or run[0] == 0 or run[1] == n

    for a in range(0, n, block):
        for m in _N_RUN.finditer(seq[a : a + block]):
            s, e = m.start() + a, m.end() + a
            if last and last[1] == s:
                s = last[0]
            elif last and kept(last):
                runs.append(last)
            last = (s, e)
    if last and kept(last):
        runs.append(last)
    return runs


def plan_windows(length: int, window: int, overlap: int, skip: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Windows (start, end) covering [0, length) minus the `skip` runs.

    Each stretch between skipped runs is tiled with windows of exactly `window` bases spread evenly
    from its start to its end (consecutive ones overlap by >= `overlap`); a stretch no longer than
    `window` is one window.
    """
    if window < 1 or overlap < 0 or overlap >= window:
        raise ValueError(f"need window >= 1 and 0 <= overlap < window (window {window}, overlap {overlap})")
    out: list[tuple[int, int]] = []
    pos = 0
    for a, b in sorted(skip) + [(length, length)]:
        a, b = max(a, pos), max(b, pos)
        if a > pos:
            out.extend(_tile(pos, min(a, length), window, overlap))
        pos = max(pos, b)
        if pos >= length:
            break
    return out


def _tile(a: int, b: int, window: int, overlap: int) -> list[tuple[int, int]]:
    n = b - a
    if n <= window:
        return [(a, b)]
    k = math.ceil((n - overlap) / (window - overlap))
    starts = [a + round(i * (n - window) / (k - 1)) for i in range(k)]
    return [(s, s + window) for s in starts]


def window_centres(windows: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The part of each window kept when stitching: overlapping neighbours hand over at the middle
    of their overlap; edges without an overlapping neighbour are kept to the window's end."""
    keep = []
    for i, (s, e) in enumerate(windows):
        lo, hi = s, e
        if i and windows[i - 1][1] > s:
            lo = (s + windows[i - 1][1]) // 2
        if i + 1 < len(windows) and windows[i + 1][0] < e:
            hi = (windows[i + 1][0] + e) // 2
        keep.append((lo, hi))
    return keep


def model_fn(model: Any, **kw: Any) -> ModelFn:
    """A `predict_record` callable from an EukSegModel (kw go to its predict_batch)."""

    def fn(seqs: list[str]) -> list[np.ndarray]:
        return model.predict_batch(seqs, batch_size=max(1, len(seqs)), **kw)

    return fn


def predict_record(
    model_fn: ModelFn,
    seq: str,
    window: int,
    overlap: int,
    batch: int | str = "auto",
    rc: bool = True,
    *,
    outputs: int = 10,
    device: Any = "cpu",
    min_n_run: int = 1000,
    dtype: Any = np.float16,
    desc: str | None = None,
    progress: bool | None = None,
) -> np.ndarray:
    """Per-base probabilities (len(seq), 2, 5) for both strands of `seq` (see the module doc).

    `seq` may carry soft-masking as lowercase letters (passed to `model_fn` as is, reverse
    complemented with case kept). `outputs` is the model's output count (10: both strands, 5: the
    reading strand; `rc=False` then still runs the reverse-complement pass, for the minus strand).
    `batch` is the number of windows per model call ('auto' as in genannot.runtime.device);
    `device` is the model's, for out-of-memory handling.
    """
    from genannot.runtime.device import iter_predict

    length = len(seq)
    out = np.zeros((length, 2, 5), dtype=dtype)
    wins = plan_windows(length, window, overlap, n_runs(seq, min_n_run))
    if not wins:
        return out
    if outputs not in (5, 10):
        raise ValueError(f"outputs must be 5 or 10, not {outputs}")
    keep = window_centres(wins)
    strands = ("+", "-") if rc or outputs == 5 else ("+",)
    items = [(i, strand) for i in range(len(wins)) for strand in strands]

    def fn(batch_items: Sequence[tuple[int, str]]) -> list[np.ndarray]:
        seqs = []
        for i, strand in batch_items:
            s, e = wins[i]
            seqs.append(seq[s:e] if strand == "+" else reverse_complement(seq[s:e]))
        return [np.asarray(p, dtype=np.float32) for p in model_fn(seqs)]

    pending: np.ndarray | None = None
    for (i, strand), p in zip(items, iter_predict(fn, items, device=device, batch_size=batch, desc=desc, progress=progress)):
        s, e = wins[i]
        if p.shape != (e - s, outputs):
            raise ValueError(f"model returned shape {p.shape} for a window of {e - s} bases (expected ({e - s}, {outputs}))")
        if strand == "+" and len(strands) == 2:
            pending = p
            continue
        if outputs == 5:
            tracks = np.stack([pending, p[::-1]], axis=1)
        elif rc:
            tracks = fold_rc(pending, p)
        else:
            tracks = np.stack([p[:, :5], p[:, 5:]], axis=1)
        lo, hi = keep[i]
        piece = tracks[lo - s : hi - s]
        is_n = np.frombuffer(seq[lo:hi].upper().encode("ascii", "replace"), dtype=np.uint8) == ord("N")
        piece[is_n] = 0.0
        out[lo:hi] = piece
        pending = None
    return out


def fold_rc(fwd: np.ndarray, rc_pass: np.ndarray) -> np.ndarray:
    """Mean of a 10-output forward pass and the reverse-complement pass, as (L, 2, 5) forward tracks."""
    back = rc_pass[::-1]
    return (np.stack([fwd[:, :5], fwd[:, 5:]], axis=1) + np.stack([back[:, 5:], back[:, :5]], axis=1)) / 2
