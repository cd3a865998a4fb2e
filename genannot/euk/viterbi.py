"""The compiled loops of the eukaryotic decoder's Viterbi engine (genannot.euk.decode._Engine): the steps,
the jumps' sums and the backtrack.

Why compiled: one Viterbi step is a handful of small numpy calls on (slots x lanes) blocks, so numpy's
per-call overhead, not arithmetic, set the decoder's speed (about 17 us a step with one lane, 124 us
with 64). Here the same steps run as one numba-compiled loop, with the same float64 arithmetic in the
same order, so the paths are bit for bit the ones the numpy steps gave.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_LOW_BITS_OFF = np.int64(~15)


@njit(cache=True)
def viterbi_steps(X, src_t, w, tags, block_start, n_k, land, jsrc, sums, sum_of, jw, emit, back, full, best, t0, t1, c0, low):
    """Steps t0 .. t1 - 1 of the engine's recursion, in place on X (previous column in rows 0 .. S - 1,
    then the ring of jump arrivals) and back (the slot each state came from at each step).

    Each slot's score carries its slot index in the low 4 mantissa bits (tag 15 - k), so the
    maximum over a state's slots gives the best score and which slot it came from in one pass; the
    tagged score is what carries on, as in the numpy steps this replaces. A jump e departing at step j of
    the chunk scores its sum (sums[j, sum_of[e]], from jump_sums) plus its transition weight jw[e], at
    least `low`."""
    D, n_slots = src_t.shape
    S, B = best.shape
    EJ = jsrc.shape[0]
    fv = full.view(np.int64)
    bv = best.view(np.int64)
    for t in range(t0, t1):
        j = t - c0
        slot = t % D
        for k in range(n_slots):
            r = src_t[slot, k]
            wk = w[k]
            tg = tags[k]
            for b in range(B):
                full[k, b] = X[r, b] + wk
                fv[k, b] = (fv[k, b] & _LOW_BITS_OFF) | tg
        for i in range(S):
            for b in range(B):
                best[i, b] = full[i, b]
        for k in range(1, n_k.shape[0]):
            off = block_start[k]
            for i in range(n_k[k]):
                for b in range(B):
                    v = full[off + i, b]
                    if v > best[i, b]:
                        best[i, b] = v
        for i in range(S):
            for b in range(B):
                back[t, i, b] = 15 - (bv[i, b] & 15)
        ring = S + slot * EJ
        for e in range(EJ):
            for b in range(B):
                X[ring + e, b] = low
        for e in range(EJ):
            row = land[slot, e]
            src = jsrc[e]
            v = sums[j, sum_of[e]]
            we = jw[e]
            for b in range(B):
                x = v[b] + we
                X[row, b] = X[src, b] + (x if x > low else low)
        for i in range(S):
            for b in range(B):
                X[i, b] = best[i, b] + emit[j, b, i]


@njit(cache=True)
def jump_sums(emit, states, const_state, length, strand, k0, c_states, term_idx, terms, check_idx, f0, f1, bad, sum_of,
              low, sums, cum, cum_y):
    """sums[j, sum_of[e], b]: the score of jump e departing at step j of a chunk, but its transition weight:
    the emissions of the bases it covers except the last (added on arrival), its signal terms, `low` where
    it would cover an in-frame stop.

    Emission sums are differences of running sums, accumulated in the order numpy's cumsum takes:
    per state (`states`: those jumps go through) for a jump through one state, per codon phase for a jump through a strand's coding
    states (const_state -1). Jumps covering the same bases with the same terms share one sum
    (sum_of[e]: its row in `sums`); viterbi_steps adds each jump's own transition weight. sums, cum and
    cum_y are buffers reused from chunk to chunk (fresh memory for them cost more than the sums)."""
    U, B, _ = emit.shape
    C = sums.shape[0]
    cum[0] = 0.0
    for u in range(U):  # u outer: each emission row is read once
        for k in range(states.shape[0]):
            s = states[k]
            for b in range(B):
                cum[u + 1, k, b] = emit[0, b, s] if u == 0 else cum[u, k, b] + emit[u, b, s]
    for g in range(c_states.shape[0]):
        for ph in range(3):
            cum_y[g, ph, 0] = 0.0
            for u in range(U):
                s = c_states[g, (u + ph) % 3]
                for b in range(B):
                    cum_y[g, ph, u + 1, b] = emit[0, b, s] if u == 0 else cum_y[g, ph, u, b] + emit[u, b, s]
    done = np.zeros(sums.shape[1], dtype=np.bool_)
    for e in range(const_state.shape[0]):
        r = sum_of[e]
        if done[r]:
            continue
        done[r] = True
        d = length[e]
        k = np.searchsorted(states, const_state[e])
        for j in range(C):
            v = sums[j, r]
            if const_state[e] >= 0:
                hi = cum[j + d - 1, k]
                lo = cum[j, k]
            else:
                ph = (k0[e] - j) % 3
                hi = cum_y[strand[e], ph, j + d - 1]
                lo = cum_y[strand[e], ph, j]
            for b in range(B):
                v[b] = hi[b] - lo[b]
            for t in range(term_idx.shape[1]):
                if term_idx[e, t] < 0:
                    break
                row = terms[term_idx[e, t], j]
                for b in range(B):
                    v[b] = v[b] + row[b]
            if check_idx[e] >= 0:
                n_hi = bad[check_idx[e], j + f1[e] + 3]
                n_lo = bad[check_idx[e], j + f0[e]]
                for b in range(B):
                    if n_hi[b] - n_lo[b] > 0:
                        v[b] = low


@njit(cache=True)
def backtrack(back, lane, first, final, order, self_slot, slot_type, slot_ref, jsrc, jd, fill, path):
    """Writes into `path` (HMM states) the best path of the span at steps first .. first + len(path) - 1 of
    lane `lane`, followed back from internal state `final` at its last step through the slot each state
    came from (back[t, state, lane]). A slot is an edge from internal state slot_ref (slot_type 0) or jump
    slot_ref (slot_type 1), which fills jd[jump] bases with fill[jump, :jd[jump]] and departs from jsrc[jump]."""
    t = path.shape[0] - 1
    s = final
    run_end = t + 1  # path[t + 1: run_end] already written
    while t >= 0:
        k = back[first + t, s, lane]
        if k == self_slot[s]:
            t -= 1
            continue
        if slot_type[s, k] == 0:
            path[t:run_end] = order[s]
            run_end = t
            s = slot_ref[s, k]
            t -= 1
        elif slot_type[s, k] == 1:
            e = slot_ref[s, k]
            path[t + 1 : run_end] = order[s]
            lo = t - jd[e] + 1
            for i in range(max(lo, 0), t + 1):
                path[i] = fill[e, i - lo]
            run_end = max(lo, 0)
            s = jsrc[e]
            t = lo - 1
        else:
            raise ValueError("the best path runs through a state with no incoming edge")
    path[:run_end] = order[s]
