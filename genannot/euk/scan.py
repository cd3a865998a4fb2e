"""Compiled scans of the gene model's signal models along a sequence (genannot.euk.genemodel).

Why compiled: each model was scored as one numpy pass over the whole sequence per window position (and,
for the pairwise splice model, per pair of positions), again at every self-training round: about a
quarter of a draft assembly's decoding. Here one loop visits each position once, with the same float64
operations in the same order, so the scores are bit for bit the numpy ones.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def kmer_index(codes, k):
    """(index, valid): index[t] of the k-mer ending at t (bases t-k+1..t, first base most significant,
    N and bases off the start counted as A); valid is False where the k-mer runs off the start or holds
    an N."""
    n = codes.shape[0]
    idx = np.zeros(n, dtype=np.int64)
    valid = np.ones(n, dtype=np.bool_)
    for t in range(n):
        v = 0
        for p in range(t - k + 1, t + 1):
            b = codes[p] if p >= 0 else 4
            if b < 4:
                v = v * 4 + b
            else:
                v = v * 4
                valid[t] = False
        idx[t] = v
    return idx, valid


@njit(cache=True)
def chain_scores(idx, valid, tables, offset):
    """Sum over window positions j of tables[j, k-mer index at t + j - offset], for every t; -inf where the
    window runs off the sequence or a k-mer in it is not valid."""
    n = idx.shape[0]
    out = np.empty(n)
    for t in range(n):
        acc = 0.0
        for j in range(tables.shape[0]):
            p = t + j - offset
            if p < 0 or p >= n or not valid[p]:
                acc = -np.inf
                break
            acc += tables[j, idx[p]]
        out[t] = acc
    return out


@njit(cache=True)
def pairwise_scores(codes, before, single, pairs, pair, bias, word_table, at):
    """bias + single[j, base j] over the window + pair[p, 4 * base i + base j] over its pairs + the
    dinucleotide's word_table entry (at window positions at, at + 1), for the window whose position
    `before` sits at t; NaN where that entry is NaN, -inf where the window runs off the sequence or
    holds an N."""
    n = codes.shape[0]
    L = single.shape[0]
    out = np.empty(n)
    for t in range(n):
        lo = t - before
        ok = lo >= 0 and lo + L <= n
        if ok:
            for j in range(L):
                if codes[lo + j] >= 4:
                    ok = False
                    break
        if not ok:
            out[t] = -np.inf
            continue
        word = word_table[4 * codes[lo + at] + codes[lo + at + 1]]
        if np.isnan(word):
            out[t] = np.nan
            continue
        acc = bias
        for j in range(L):
            acc += np.float64(single[j, codes[lo + j]])
        for p in range(pairs.shape[0]):
            acc += np.float64(pair[p, 4 * codes[lo + pairs[p, 0]] + codes[lo + pairs[p, 1]]])
        out[t] = acc + word
    return out
