"""Gene-set dynamic programme: overlap rules, one gene per stop group, partial flags; statistics helpers."""

from __future__ import annotations

import numpy as np
import pytest

from genannot.prok.genes import Candidates, Params, choose_genes, group_argmax, group_cummax
from genannot.prok.signals import (
    FrameCumsum,
    HexamerModel,
    StrandSeq,
    encode,
    gc_frame_classes,
    inframe_hexamer_counts,
    kmer_index,
    length_factor,
    sd_bin_matrix,
)


def make(rows):
    """rows: (left, right, strand, group) with 0-based inclusive coordinates; groups numbered in order."""
    rows = sorted(rows, key=lambda r: r[3])
    left = np.array([r[0] for r in rows], dtype=np.int64)
    right = np.array([r[1] for r in rows], dtype=np.int64)
    strand = np.array([r[2] for r in rows], dtype=np.int8)
    group = np.array([r[3] for r in rows], dtype=np.int32)
    ng = int(group.max()) + 1 if len(group) else 0
    first = np.searchsorted(group, np.arange(ng + 1)).astype(np.int64)
    start = np.where(strand == 1, left, right)
    z = np.zeros(len(rows), dtype=bool)
    return Candidates(
        group=group, strand=strand, start=start, sp=start, se=start, left=left, right=right,
        length=right - left + 1, ctype=np.zeros(len(rows), np.int8), p3=z, edge5=z.copy(),
        rank=(np.arange(len(rows)) - first[group]).astype(np.int32), group_first=first,
    )


def chosen(rows, scores, **kw):
    c = make(rows)
    res = choose_genes(c, np.array(scores, dtype=float), Params(), **kw)
    return sorted((int(c.left[i]), int(c.right[i]), int(c.strand[i])) for i in res.chosen)


def test_disjoint_genes_are_all_kept():
    rows = [(0, 299, 1, 0), (400, 899, -1, 1), (1000, 1299, 1, 2)]
    assert chosen(rows, [10, 10, 10]) == [(0, 299, 1), (400, 899, -1), (1000, 1299, 1)]


def test_negative_genes_never_chosen():
    rows = [(0, 299, 1, 0), (400, 899, -1, 1)]
    assert chosen(rows, [10, -1]) == [(0, 299, 1)]
    assert chosen(rows, [-5, -1]) == []


@pytest.mark.parametrize("strand", [1, -1])
def test_same_strand_overlap_limit(strand):
    # second gene starts 60 nt before the first ends: allowed; 61: not allowed
    ok = [(0, 599, strand, 0), (540, 1199, strand, 1)]
    assert len(chosen(ok, [50, 40])) == 2
    bad = [(0, 599, strand, 0), (539, 1199, strand, 1)]
    assert chosen(bad, [50, 40]) == [(0, 599, strand)]


def test_tail_to_tail_overlap():
    # + gene then - gene: 3' ends may overlap by less than 200 nt
    ok = [(0, 999, 1, 0), (850, 1999, -1, 1)]
    assert len(chosen(ok, [50, 50])) == 2
    bad = [(0, 999, 1, 0), (800, 1999, -1, 1)]
    assert len(chosen(bad, [50, 40])) == 1


def test_overlap_cost_keeps_out_a_weak_gene_across_another_genes_end():
    # 150 nt tail to tail: allowed, but at 0.1 per base the short gene must earn more than 15 to come in
    rows = [(0, 999, 1, 0), (850, 1099, -1, 1)]
    cost = Params().overlap_cost
    assert len(chosen(rows, [50, 12])) == 2
    assert chosen(rows, [50, 12], overlap_cost=cost) == [(0, 999, 1)]
    assert len(chosen(rows, [50, 20], overlap_cost=cost)) == 2


def test_head_to_head_no_overlap():
    # - gene then + gene: 5' ends may not overlap at all
    bad = [(0, 999, -1, 0), (999, 1999, 1, 1)]
    assert len(chosen(bad, [50, 40])) == 1
    ok = [(0, 999, -1, 0), (1000, 1999, 1, 1)]
    assert len(chosen(ok, [50, 40])) == 2


def test_no_containment():
    rows = [(0, 2999, 1, 0), (1000, 1299, -1, 1), (1500, 1700, 1, 2)]
    assert chosen(rows, [100, 20, 20]) == [(0, 2999, 1)]
    # a nested gene may win when it scores more than the long one
    assert chosen(rows, [30, 20, 20]) == [(1000, 1299, -1), (1500, 1700, 1)]


def test_one_gene_per_stop_group():
    # three starts of one '+' group (same right end) and of one '-' group (same left end)
    rows = [(0, 899, 1, 0), (300, 899, 1, 0), (600, 899, 1, 0), (1000, 1899, -1, 1), (1000, 1599, -1, 1)]
    got = chosen(rows, [10, 30, 20, 5, 8])
    assert got == [(300, 899, 1), (1000, 1599, -1)]


def test_start_choice_is_joint_with_overlaps():
    # the best-scoring long start of gene B would overlap gene A by 90 nt: the DP takes B's shorter start
    rows = [(0, 999, 1, 0), (910, 1999, 1, 1), (1000, 1999, 1, 1)]
    got = chosen(rows, [100, 60, 55])
    assert got == [(0, 999, 1), (1000, 1999, 1)]


def test_dp_matches_exhaustive_search_on_small_cases():
    rng = np.random.default_rng(3)
    p = Params()
    for _ in range(40):
        rows = []
        for g in range(6):
            strand = int(rng.choice([1, -1]))
            stop = int(rng.integers(100, 3000))
            for k in range(int(rng.integers(1, 3))):
                ln = int(rng.integers(90, 900))
                rows.append((stop - ln, stop, strand, g) if strand == 1 else (stop, stop + ln, strand, g))
        rows = [r for r in rows if r[0] >= 0]
        c = make(rows)
        sc = rng.normal(10, 15, len(rows))
        res = choose_genes(c, sc, p)
        best = _exhaustive(c, sc, p)
        # the DP maximises score + connection bonuses: it must be at least the best plain-score valid set
        got = float(sc[res.chosen].sum())
        assert _valid(c, list(res.chosen), p)
        assert got >= best - 0.15 * p.start_weight * (len(res.chosen) + 1) - 1e-9


def _compatible(c, i, j, p):
    if c.group[i] == c.group[j]:
        return False
    if c.right[i] > c.right[j] or (c.right[i] == c.right[j]):
        i, j = j, i
    ov = c.right[i] - c.left[j] + 1
    if ov <= 0:
        return True
    si, sj = c.strand[i], c.strand[j]
    if si == sj:
        return ov <= p.max_same_overlap and c.left[i] < c.left[j]
    if si == 1:
        return ov < p.max_opp_overlap and ov < c.length[i] and ov < c.length[j]
    return False


def _valid(c, sel, p):
    sel = sorted(sel, key=lambda i: (c.right[i], c.left[i]))
    return all(_compatible(c, a, b, p) for a, b in zip(sel, sel[1:]))


def _exhaustive(c, sc, p):
    n = len(sc)
    best = 0.0
    for mask in range(1 << n):
        sel = [i for i in range(n) if mask >> i & 1]
        if any(sc[i] <= 0 for i in sel):
            continue
        if _valid(c, sel, p):
            best = max(best, float(sum(sc[i] for i in sel)))
    return best


def test_group_helpers():
    c = make([(0, 99, 1, 0), (10, 99, 1, 0), (20, 99, 1, 0), (200, 299, -1, 1), (200, 280, -1, 1)])
    v = np.array([1.0, 3.0, 2.0, -1.0, -2.0])
    assert group_cummax(v, c.group).tolist() == [1.0, 3.0, 3.0, -1.0, -1.0]
    assert group_argmax(v, c).tolist() == [1, 3]


# ---------------------------------------------------------------- statistics helpers


def test_frame_cumsum():
    v = np.arange(20, dtype=float)
    cs = FrameCumsum(v)
    assert cs.range_sum(np.array([2]), np.array([11]))[0] == 2 + 5 + 8 + 11
    assert cs.range_sum(np.array([5]), np.array([2]))[0] == 0
    assert cs.range_sum(np.array([1]), np.array([22]))[0] == 1 + 4 + 7 + 10 + 13 + 16 + 19


def test_kmer_index_and_n():
    codes = encode("ACGTNACGT")
    k = kmer_index(codes, 3)
    assert k[0] == 0 * 16 + 1 * 4 + 2 and k[2] == -1 and k[5] == k[0]


def test_inframe_hexamers_and_model():
    seq = "ATGAAACCCGGGTTTTAA"
    s = StrandSeq.from_codes(encode(seq))
    counts = inframe_hexamer_counts(s, np.array([0]), np.array([12]))
    assert counts.sum() == 5
    m = HexamerModel.fit(counts, counts * 0 + 1)
    assert m.lo.shape == (4096,) and m.lo.max() > 0


def test_length_factor_monotone():
    lf = length_factor(np.array([90, 240, 600, 3000, 6000]), 0.05)
    assert np.all(np.diff(lf) > 0) and abs(length_factor(np.array([240]), 0.05)[0]) < 1e-9


def test_gc_frame_classes():
    # GC at the third codon position everywhere: class 2 at codon starts
    seq = "AAG" * 200
    w = gc_frame_classes(encode(seq))
    assert w[300] == 2 and w[301] == 1 and w[302] == 0


def test_sd_bins():
    up = "TTTTTAGGAGGTTTTTTTATG"  # AGGAGG ends 7 nt before ATG
    s = StrandSeq.from_codes(encode(up))
    m = sd_bin_matrix(s, np.array([len(up) - 3]))
    assert m[0, 0] and m[0, 1]  # bin 1 = AGGAGG at spacer 5-10
    none = StrandSeq.from_codes(encode("T" * 30 + "ATG"))
    assert sd_bin_matrix(none, np.array([30]))[0].sum() == 1
