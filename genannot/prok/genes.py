"""Gene set: candidate genes (stop group x start), their scores, and the dynamic programme that picks one
consistent set of genes, start sites and overlaps together (Prodigal's method, with learned priors).

Coordinates: `Candidates` hold both forward coordinates (0-based inclusive `left`/`right`, `start` as in
`StopGroup.starts`) and strand coordinates (`sp`: first base of the start codon, `se`: first base of the stop
codon, or the end of the last complete codon for a 3'-partial ORF, in the strand string).

Score of a candidate = coding score (hexamer log-odds from start to stop, ORF-length prior, penalties for
starts that leave strong coding upstream, the CDS classifier's log-odds when given) + start score (start
codon, Shine-Dalgarno class, upstream composition, the TIS classifier's log-odds when given).

The dynamic programme (`choose_genes`) runs over candidates sorted by right end: a chain of genes where each
next gene ends to the right of the previous one; connections follow Prodigal's rules:
  same strand: the next gene may begin up to `max_same_overlap` (60) nt before the previous one ends;
  tail-to-tail (+ then -): 3' ends may overlap by less than `max_opp_overlap` (200) nt and less than
  either gene; head-to-head (- then +): no overlap; at most one gene per stop group;
  small bonuses for close same-strand genes (operons), small penalties for strand switches and long gaps;
  every overlapping base costs `overlap_cost` (0.1, Prodigal has no such cost). The genes it keeps out are short ones
  lying across the 3' end of a better gene on the other strand, mostly not in the reference: on six genomes the
  classifiers trained on (B. subtilis, C. crescentus, P. fluorescens, S. aureus, Synechocystis, P. furiosus) 3'
  specificity rose 0.08-0.64 points (Synechocystis 0.9440 -> 0.9504) and sensitivity fell at most 0.08 (costs of
  0.05 / 0.2 / 0.5: summed sensitivity + specificity +0.011 / +0.018 / +0.019 over the six against +0.016 at 0.1,
  with E. coli's sensitivity under Prodigal's at 0.5).

Inputs too short to self-train on (anonymous mode) are scored with the statistics of preset genomes
near their GC (presets.py), keeping the preset whose gene set scores highest (Prodigal's metagenomic mode).
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field, replace

import numpy as np

from genannot.prok.orfs import EDGE, StopGroup
from genannot.prok.presets import GenomeStats, select_presets
from genannot.prok.signals import (
    TYPE_INDEX,
    FrameCumsum,
    HexamerModel,
    StartFeatures,
    StartModel,
    StrandSeq,
    length_factor,
    sd_bin_matrix,
    upstream_codes,
)

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- parameters


@dataclass
class Params:
    """Weights of the gene finder (Prodigal's defaults where it has one)."""

    start_weight: float = 4.35  # scale of start-site log-odds against coding log-odds
    ups_weight: float = 0.4  # upstream composition share of the start score
    edge_bonus: float = 0.74  # score of a start at the contig edge (x start_weight)
    edge_ups: float = -1.0  # a real start that stops a gene from running off the edge (x start_weight)
    max_same_overlap: int = 60
    max_opp_overlap: int = 200
    operon_dist: int = 60
    short_gene: int = 250  # start evidence of genes shorter than this is damped
    coding_penalty_edge: float = 1.0  # x start_weight: negative coding with a partial end
    coding_penalty: float = 0.5
    sd_thresh: float = 35.0  # coding score of ORFs used to train the start model
    start_iterations: int = 10
    ups_vs_genome: bool = True  # upstream composition log-odds against the genome's base composition
    # learned priors (classifiers)
    cds_weight: float = 1.0  # x logit(P(coding)) added to the coding score
    cds_offset: float = 0.0  # logit subtracted before weighting
    cds_ramp: tuple = (90.0, 400.0)  # ORF lengths (nt) over which the CDS prior's weight rises from 0 to 1
    tis_weight: float = 1.0  # x logit(P(start)) added to the start score
    tis_offset: float = 0.0
    atypical_fraction: float = 0.2  # share of called genes that trains a second (atypical) coding model
    atypical_penalty: float = 15.0  # handicap of the atypical model against the main one
    gene_bonus: float = 0.0  # added to every candidate's score (calling threshold)
    overlap_cost: float = 0.1  # per base shared by two chosen genes (module doc)
    plausible_min: float = -4.0  # groups whose best statistics score is above this go to the classifiers (-10 until
    # 2026-11-23: the same genes on the six benchmark genomes at -4, with 13-25% fewer CDS windows; -2 moves them)
    cds_missing: float = -6.0  # log-odds assumed for groups the CDS classifier did not score
    # anonymous mode (too little sequence to self-train)
    preset_plausible_min: float = -10.0  # plausible_min with a preset's statistics: the CDS prior at its weight
    # lifts groups from further down (B. subtilis 15 kb slices, sens 0.977 at -10, 0.971 at -4)
    preset_cds_weight: float = 6.0  # cds_weight with a preset's statistics, which are another genome's: the classifier,
    # trained across genomes, counts for more (B. subtilis and C. crescentus slices with the fold-B classifiers,
    # summed 3' sens + spec at 15 / 50 kb: 1.890 / 1.911 at 1, 1.897 / 1.912 at 2, 1.899 / 1.914 at 4, 1.904 / 1.914
    # at 6, 1.904 / 1.915 at 9, 1.901 / 1.909 at 14)
    anon_cds_weight: float = 3.0
    anon_length_cap: float = 10.0
    anon_cds_offset: float = 4.0  # log-odds a short sequence's ORF needs before it counts as coding (tuned on fold-B genomes)
    anon_type_wt: tuple = (0.9, -0.4, -2.0, -3.0, 0.0)


# ---------------------------------------------------------------- candidates


@dataclass
class RecordSeq:
    """One input record prepared for gene finding."""

    seqid: str
    seq: str  # uppercase
    fwd: StrandSeq
    rev: StrandSeq
    groups: list[StopGroup]

    packed: list[tuple[str, int, int]] | None = None  # records packed into one (pack_records): id, [begin, end)

    @property
    def n(self) -> int:
        return len(self.seq)


@dataclass
class Candidates:
    """One row per (stop group, start) pair of one record, ordered by group then longest ORF first."""

    group: np.ndarray  # int32 index into RecordSeq.groups
    strand: np.ndarray  # int8 +1 / -1
    start: np.ndarray  # int64 forward coordinate of the start codon's first base (transcription direction)
    sp: np.ndarray  # int64 strand coordinate of the start
    se: np.ndarray  # int64 strand coordinate of the stop codon's first base (or coding end when p3)
    left: np.ndarray  # int64 forward 0-based inclusive
    right: np.ndarray
    length: np.ndarray  # nt including the stop codon
    ctype: np.ndarray  # int8 index into signals.START_TYPES
    p3: np.ndarray  # bool: no stop codon (runs off the contig)
    edge5: np.ndarray  # bool: start is the contig edge
    rank: np.ndarray  # int32 0 = longest ORF of its group
    group_first: np.ndarray  # int64 per group: index of its first candidate (+ sentinel at the end)
    segments: np.ndarray | None = None  # records packed into one (pack_records): index of each one's first candidate
    # (+ sentinel); the DP chooses each one's genes on its own. None: one record

    def __len__(self) -> int:
        return len(self.group)

    @property
    def n_groups(self) -> int:
        return len(self.group_first) - 1

    def strand_mask(self, s: int) -> np.ndarray:
        return self.strand == s


def build_candidates(rec: RecordSeq) -> Candidates:
    n = rec.n
    gi, st, start, ct, p3 = [], [], [], [], []
    stops = []
    first = [0]
    for k, g in enumerate(rec.groups):
        m = len(g.starts)
        gi.extend([k] * m)
        st.extend([1 if g.strand == "+" else -1] * m)
        start.extend(g.starts)
        ct.extend(TYPE_INDEX[c] for c in g.start_codons)
        p3.extend([g.partial3] * m)
        stops.extend([g.stop] * m)
        first.append(first[-1] + m)
    group = np.array(gi, dtype=np.int32)
    strand = np.array(st, dtype=np.int8)
    start_a = np.array(start, dtype=np.int64)
    stop_a = np.array(stops, dtype=np.int64)
    p3_a = np.array(p3, dtype=bool)
    plus = strand == 1
    sp = np.where(plus, start_a, n - 1 - start_a)
    last = np.where(plus, stop_a, n - 1 - stop_a)  # strand coordinate of the outermost base
    se = np.where(p3_a, last + 1, last - 2)
    left = np.where(plus, start_a, stop_a)
    right = np.where(plus, stop_a, start_a)
    ctype = np.array(ct, dtype=np.int8)
    first_a = np.array(first, dtype=np.int64)
    rank = np.arange(len(group), dtype=np.int32) - first_a[group].astype(np.int32) if len(group) else np.zeros(0, np.int32)
    return Candidates(
        group=group, strand=strand, start=start_a, sp=sp, se=se, left=left, right=right,
        length=right - left + 1, ctype=ctype, p3=p3_a, edge5=ctype == TYPE_INDEX[EDGE], rank=rank,
        group_first=first_a, segments=None if rec.packed is None else _segments(rec, left, first_a),
    )


def _segments(rec: RecordSeq, left: np.ndarray, group_first: np.ndarray) -> np.ndarray:
    """Index of the first candidate of each packed record (+ sentinel): groups are sorted by the left end of their
    longest ORF, their first candidate."""
    begins = np.array([a for _, a, _ in rec.packed] + [rec.n], dtype=np.int64)
    return group_first[np.searchsorted(left[group_first[:-1]], begins)]


def strand_of(rec: RecordSeq, s: int) -> StrandSeq:
    return rec.fwd if s == 1 else rec.rev


def start_features(rec: RecordSeq, c: Candidates) -> StartFeatures:
    from genannot.prok.signals import N_SD_BINS, UPS_OFFSETS

    sd = np.zeros((len(c), N_SD_BINS), dtype=bool)
    ups = np.zeros((len(c), len(UPS_OFFSETS)), dtype=np.uint8)
    for s in (1, -1):
        m = c.strand == s
        if m.any():
            sd[m] = sd_bin_matrix(strand_of(rec, s), c.sp[m])
            ups[m] = upstream_codes(strand_of(rec, s), c.sp[m])
    return StartFeatures(ctype=c.ctype.copy(), sd=sd, ups=ups)


# ---------------------------------------------------------------- segmented helpers


def group_cummax(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Running maximum within each group (rows ordered by group)."""
    if len(values) == 0:
        return values.copy()
    v = np.asarray(values, dtype=np.float64)
    span = float(np.abs(v).max()) * 2 + 1.0
    off = group.astype(np.float64) * span
    return np.maximum.accumulate(v + off) - off


def group_max(values: np.ndarray, c: Candidates) -> np.ndarray:
    """Per-group maximum (length n_groups); -inf for empty groups."""
    out = np.full(c.n_groups, -np.inf)
    if len(values):
        np.maximum.at(out, c.group, values)
    return out


# ---------------------------------------------------------------- coding score


def hexamer_sums(rec: RecordSeq, c: Candidates, model: HexamerModel) -> np.ndarray:
    """Sum of a coding model's per-position log-odds over the in-frame hexamers from each start to its stop codon
    (one strand's values at a time)."""
    out = np.zeros(len(c))
    for s in (1, -1):
        m = c.strand == s
        if not m.any():
            continue
        cs = FrameCumsum(model.position_values(strand_of(rec, s)))
        last = np.where(c.p3[m], c.se[m] - 6, c.se[m] - 3)
        out[m] = cs.range_sum(c.sp[m], last)
    return out


def coding_scores(raw: np.ndarray, c: Candidates, p_stop: float) -> np.ndarray:
    """Prodigal-style coding score: raw hexamer sum, doubled penalty for starts with stronger coding
    upstream, plus an ORF-length prior that also favours the longer of equally good starts."""
    cm = group_cummax(raw, c.group)
    cscore = raw - (cm - raw)
    lf = length_factor(c.length, p_stop)
    lm = group_cummax(lf, c.group)
    lf = lf - np.maximum(np.minimum(lm - lf, lf), 0.0)
    cscore = np.where((lf > 3.0) & (cscore < 0.5 * lf), 0.5 * lf, cscore)
    return cscore + lf


# ---------------------------------------------------------------- start score


@dataclass
class StartScore:
    total: np.ndarray
    rscore: np.ndarray  # RBS part (for the operon rule)
    uscore: np.ndarray  # upstream part


def start_scores(c: Candidates, f: StartFeatures, model: StartModel, cscore: np.ndarray, p: Params,
                 closed: bool, tis_logit: np.ndarray | None = None) -> StartScore:
    w = p.start_weight
    t, r, u = model.components(f)
    t = t * w
    r = r * w
    u = u * (p.ups_weight * w)
    if tis_logit is not None:
        t = t + p.tis_weight * (tis_logit - p.tis_offset)
    edge_gene = c.edge5.astype(np.float64) + c.p3.astype(np.float64)
    # edge starts: a small bonus, nothing else
    t = np.where(c.edge5, p.edge_bonus * w / np.maximum(edge_gene, 1.0), t)
    r = np.where(c.edge5, 0.0, r)
    u = np.where(c.edge5, 0.0, u)
    # a real start in a group that could run off the edge
    if not closed:
        has_edge = np.zeros(c.n_groups, dtype=bool)
        has_edge[c.group[c.edge5]] = True
        u = u + np.where(has_edge[c.group] & ~c.edge5, p.edge_ups * w, 0.0)
    # a start whose ORF has no stop codon
    u = u - np.where(~c.edge5 & c.p3, 0.5 * p.edge_bonus * w, 0.0)
    # damp start evidence of short complete genes
    short = (edge_gene == 0) & (c.length - 3 < p.short_gene)
    d = np.maximum(c.length - 3, 1).astype(np.float64)
    negf = np.where(short, p.short_gene / d, 1.0)
    posf = np.where(short, d / p.short_gene, 1.0)
    r = np.where(r < 0, r * negf, r * posf)
    u = np.where(u < 0, u * negf, u * posf)
    t = np.where(t < 0, t * negf, t * posf)
    total = t + r + u
    neg = cscore < 0
    total = total - np.where(neg & (edge_gene > 0) & ~c.edge5, p.coding_penalty_edge * w, 0.0)
    total = total - np.where(neg & ~((edge_gene > 0) & ~c.edge5), p.coding_penalty, 0.0)
    return StartScore(total=total, rscore=r, uscore=u)


# ---------------------------------------------------------------- start-model training


def train_start_model(c_list: list[Candidates], f_list: list[StartFeatures], cscore_list: list[np.ndarray],
                      p: Params, prior: np.ndarray | None = None, gc: float = 0.5) -> StartModel:
    """Iteratively learn start weights from strongly coding ORFs (Prodigal's scheme): in each ORF whose best
    start scores at least `sd_thresh`, take the start that maximises coding + current start score as true;
    the background is every candidate start of the genome."""
    model = StartModel()
    C = _concat_cands(c_list)
    F = StartFeatures(
        ctype=np.concatenate([f.ctype for f in f_list]),
        sd=np.concatenate([f.sd for f in f_list]),
        ups=np.concatenate([f.ups for f in f_list]),
    )
    cs = np.concatenate(cscore_list)
    pr = np.zeros(len(cs)) if prior is None else prior
    real_start = ~C.edge5
    background = real_start
    for _ in range(p.start_iterations):
        t = model.type_wt[F.ctype]
        r = model.sd_wt[model.sd_choice(F.sd)]
        s = cs + p.start_weight * (t + r) + pr
        s = np.where(real_start, s, -np.inf)
        best = group_argmax(s, C)
        ok = best >= 0
        best = best[ok]
        best = best[s[best] >= p.sd_thresh]
        chosen = np.zeros(len(cs), dtype=bool)
        chosen[best] = True
        ups_model = StartModel.fit(F, chosen, background, prev=model, gc=gc if p.ups_vs_genome else None)
        model = ups_model
    return model


def _concat_cands(cl: list[Candidates]) -> Candidates:
    if len(cl) == 1:
        return cl[0]
    offs = np.cumsum([0] + [c.n_groups for c in cl])
    firsts = [cl[0].group_first[:1]]
    for k, c in enumerate(cl):
        firsts.append(c.group_first[1:] + (firsts[-1][-1] if k else 0))
    return Candidates(
        group=np.concatenate([c.group + o for c, o in zip(cl, offs)]).astype(np.int32),
        strand=np.concatenate([c.strand for c in cl]),
        start=np.concatenate([c.start for c in cl]),
        sp=np.concatenate([c.sp for c in cl]),
        se=np.concatenate([c.se for c in cl]),
        left=np.concatenate([c.left for c in cl]),
        right=np.concatenate([c.right for c in cl]),
        length=np.concatenate([c.length for c in cl]),
        ctype=np.concatenate([c.ctype for c in cl]),
        p3=np.concatenate([c.p3 for c in cl]),
        edge5=np.concatenate([c.edge5 for c in cl]),
        rank=np.concatenate([c.rank for c in cl]),
        group_first=np.concatenate(firsts),
    )


def group_argmax(values: np.ndarray, c: Candidates) -> np.ndarray:
    """Per group, the index of the row with the largest value (-1 when all are -inf or the group is empty)."""
    out = np.full(c.n_groups, -1, dtype=np.int64)
    if len(values) == 0:
        return out
    gm = group_max(values, c)
    hit = np.isfinite(values) & (values == gm[c.group])
    idx = np.flatnonzero(hit)
    # first hit per group (the longest ORF among ties)
    g = c.group[idx]
    keep = np.ones(len(idx), dtype=bool)
    keep[1:] = g[1:] != g[:-1]
    out[g[keep]] = idx[keep]
    return out


# ---------------------------------------------------------------- dynamic programme


@dataclass
class DPResult:
    chosen: np.ndarray  # indices of chosen candidates, left to right
    total: float


def choose_genes(c: Candidates, score: np.ndarray, p: Params, rscore: np.ndarray | None = None,
                 uscore: np.ndarray | None = None, overlap_cost: float = 0.0, min_score: float = 0.0) -> DPResult:
    """Maximum-score consistent gene set among candidates; of each record on its own where records are packed
    (`Candidates.segments`), so that a record's genes are the same as when it is found alone."""
    keep = np.flatnonzero(score > min_score)
    if c.segments is None:
        return _choose_in(c, score, keep, p, rscore, uscore, overlap_cost)
    cut = np.searchsorted(keep, c.segments)
    parts = [_choose_in(c, score, keep[a:b], p, rscore, uscore, overlap_cost) for a, b in zip(cut[:-1], cut[1:])]
    return DPResult(np.concatenate([r.chosen for r in parts]), float(sum(r.total for r in parts)))


def _choose_in(c: Candidates, score: np.ndarray, keep: np.ndarray, p: Params, rscore: np.ndarray | None,
               uscore: np.ndarray | None, overlap_cost: float) -> DPResult:
    """`choose_genes` among the candidates `keep` of one record."""
    w = p.start_weight
    if len(keep) == 0:
        return DPResult(np.zeros(0, dtype=np.int64), 0.0)
    order = keep[np.lexsort((c.left[keep], c.right[keep]))]
    L = c.left[order].tolist()
    R = c.right[order].tolist()
    S = c.strand[order].tolist()
    G = c.group[order].tolist()
    SC = score[order].tolist()
    RS = (rscore[order] if rscore is not None else np.zeros(len(order))).tolist()
    US = (uscore[order] if uscore is not None else np.zeros(len(order))).tolist()
    m = len(order)
    F = [0.0] * m
    back = [-1] * m
    prefix_best = []  # running max of F over rows in R order: (value, row)
    far = 3 * p.operon_dist + 3
    gap_pen = -0.15 * w
    oper = 0.15 * w
    max_same = p.max_same_overlap
    max_opp = p.max_opp_overlap
    R_sorted = R  # already sorted by right end
    reach = max(max_same, max_opp)
    for j in range(m):
        Lj, Rj, sj, gj = L[j], R[j], S[j], G[j]
        best = 0.0
        arg = -1
        # far predecessors: no interaction but the gap / strand-switch penalty
        k = bisect.bisect_left(R_sorted, Lj - far, 0, j)
        if k > 0:
            v, row = prefix_best[k - 1]
            v += gap_pen
            if v > best:
                best, arg = v, row
        # near predecessors: overlap rules and operon modifiers
        hi = bisect.bisect_right(R_sorted, min(Lj + reach, Rj - 1), k, j)
        i = k
        while i < hi:
            Ri = R[i]
            Fi = F[i]
            if Fi <= 0 or G[i] == gj:
                i += 1
                continue
            Li, si = L[i], S[i]
            ov = Ri - Lj + 1
            ok = True
            mod = 0.0
            if ov > 0:
                if si == sj:
                    ok = ov <= max_same and Li < Lj
                elif si == 1:  # tail to tail
                    ok = ov < max_opp and ov < Rj - Lj + 1 and ov < Ri - Li + 1
                else:  # head to head
                    ok = False
            if ok:
                if si != sj:
                    mod = gap_pen
                else:
                    if si == 1:
                        dist = abs(Lj - (Ri - 2))
                        down = j
                    else:
                        dist = abs(Ri - (Lj + 2))
                        down = i
                    if Lj == Ri or Lj == Ri - 3:  # ATGA / TGATG style overlaps: operon, no RBS needed
                        if RS[down] < 0:
                            mod -= RS[down]
                        if US[down] < 0:
                            mod -= US[down]
                    overl = Ri >= Lj
                    if dist > 3 * p.operon_dist:
                        mod += gap_pen
                    elif (dist <= p.operon_dist and not overl) or dist < 0.25 * p.operon_dist:
                        mod += (2.0 - dist / p.operon_dist) * oper
                if ov > 0 and overlap_cost:
                    mod -= overlap_cost * ov
                v = Fi + mod
                if v > best:
                    best, arg = v, i
            i += 1
        F[j] = SC[j] + best
        back[j] = arg
        if j == 0 or F[j] > prefix_best[-1][0]:
            prefix_best.append((F[j], j))
        else:
            prefix_best.append(prefix_best[-1])
    j = int(np.argmax(F))
    total = F[j]
    if total <= 0:
        return DPResult(np.zeros(0, dtype=np.int64), 0.0)
    path = []
    while j >= 0:
        path.append(j)
        j = back[j]
    path.reverse()
    chosen = order[np.array(path, dtype=np.int64)]
    return DPResult(chosen[np.argsort(c.left[chosen], kind="stable")], float(total))


# ---------------------------------------------------------------- the whole finder


@dataclass
class FinderOptions:
    table: int = 11
    closed: bool = False
    min_length: int = 90
    min_edge_length: int = 60
    allow_ctg: bool = False
    coding_rounds: int = 2  # hexamer self-training rounds after the GC-frame bootstrap
    anonymous: bool = False  # too little sequence to learn from: presets or the learned priors are the models
    presets: list | None = None  # presets.GenomeStats tried in anonymous mode (none: classifiers only; the
    # pipeline fills in the packaged presets when this is None)
    params: Params = field(default_factory=Params)


@dataclass
class RecordCalls:
    """Everything the writers need about one record's genes (none of its sequence arrays, so that calls held until
    their turn to be written cost a few bytes per base)."""

    cands: Candidates
    chosen: np.ndarray  # candidate indices, left to right
    score: np.ndarray  # total score per candidate
    cscore: np.ndarray
    sscore: np.ndarray
    prob_cds: np.ndarray | None = None  # per candidate (group's), NaN where not scored
    prob_tis: np.ndarray | None = None
    rbs_bin: np.ndarray | None = None


def prepare_record(seqid: str, seq: str, opts: FinderOptions) -> RecordSeq:
    return _record_seq(seqid, seq.upper(), record_groups(seq, opts))


def record_groups(seq: str, opts: FinderOptions) -> list[StopGroup]:
    """The stop groups of one record under the finder's options."""
    from genannot.prok.orfs import find_stop_groups

    return find_stop_groups(seq, table=opts.table, min_length=opts.min_length,
                            min_edge_length=opts.min_edge_length, allow_ctg=opts.allow_ctg, closed=opts.closed)


def _record_seq(seqid: str, seq: str, groups: list[StopGroup]) -> RecordSeq:
    from genannot.prok.signals import encode, revcomp_codes

    codes = encode(seq)
    return RecordSeq(seqid, seq, StrandSeq.from_codes(codes), StrandSeq.from_codes(revcomp_codes(codes)), groups)


PACK_SPACER = 300  # N between records packed into one (pack_records): wider than any feature that reads past a
# record's end (the GC-frame window's half, 60 nt; upstream features, 45 nt; the TIS window's 30 nt, N-padded at a
# record's end anyway). Stop groups are found per record and the DP runs per record, so neither reaches across it.


def pack_records(pieces: list[tuple[str, str, list[StopGroup]]]) -> RecordSeq:
    """Records (id, uppercase sequence, stop groups) joined into one with PACK_SPACER N between them (`packed` says
    where each lies; the pack bears the first one's id). Every array the finder builds per record is built once per
    pack: an assembly of many short contigs costs about 2 ms less per contig, and the genes are the same as record
    by record (the DP chooses each record's genes on its own, `Candidates.segments`; `split_calls` gives each its
    calls back)."""
    packed, parts, groups, at = [], [], [], 0
    for seqid, seq, gs in pieces:
        packed.append((seqid, at, at + len(seq)))
        parts.append(seq)
        groups.extend(gs if at == 0 else [replace(g, stop=g.stop + at, starts=tuple(q + at for q in g.starts))
                                          for g in gs])
        at += len(seq) + PACK_SPACER
    rec = _record_seq(pieces[0][0], ("N" * PACK_SPACER).join(parts), groups)
    rec.packed = packed
    return rec


def split_calls(k: RecordCalls, rec: RecordSeq) -> list[RecordCalls | None]:
    """The calls of a pack (`pack_records`) cut back into each record's, in the record's coordinates; None for a
    record without candidates."""
    c = k.cands
    out: list[RecordCalls | None] = []
    for (_id, a, b), i0, i1 in zip(rec.packed, c.segments[:-1].tolist(), c.segments[1:].tolist()):
        if i1 == i0:
            out.append(None)
            continue
        g0, g1 = int(c.group[i0]), int(c.group[i1 - 1]) + 1
        part = slice(i0, i1)
        plus = c.strand[part] == 1
        shift = np.where(plus, a, rec.n - b)  # strand coordinates: from the pack's start or its end
        sub = Candidates(
            group=c.group[part] - g0, strand=c.strand[part], start=c.start[part] - a, sp=c.sp[part] - shift,
            se=c.se[part] - shift, left=c.left[part] - a, right=c.right[part] - a, length=c.length[part],
            ctype=c.ctype[part], p3=c.p3[part], edge5=c.edge5[part], rank=c.rank[part],
            group_first=c.group_first[g0 : g1 + 1] - i0,
        )
        chosen = k.chosen[(k.chosen >= i0) & (k.chosen < i1)] - i0
        out.append(RecordCalls(sub, chosen, k.score[part], k.cscore[part], k.sscore[part],
                               prob_cds=None if k.prob_cds is None else k.prob_cds[part],
                               prob_tis=None if k.prob_tis is None else k.prob_tis[part],
                               rbs_bin=None if k.rbs_bin is None else k.rbs_bin[part]))
    return out


def gc_frame_scores(rec: RecordSeq, c: Candidates) -> np.ndarray:
    """(n, 3) fraction of codons of each candidate ORF whose locally most GC-rich codon position is k."""
    from genannot.prok.signals import gc_frame_classes

    out = np.zeros((len(c), 3))
    for s in (1, -1):
        m = c.strand == s
        if not m.any():
            continue
        win = gc_frame_classes(strand_of(rec, s).codes)
        last = np.where(c.p3[m], c.se[m] - 3, c.se[m])
        ncod = np.maximum((last - c.sp[m]) // 3 + 1, 1)
        for k in range(3):
            cs = FrameCumsum(win == k)
            out[m, k] = cs.range_sum(c.sp[m], last) / ncod
    return out


MIN_SELF_TRAIN = 20000  # nt: without a preset for the input's genetic code, self-training still beats the
# classifiers alone from here (the anonymous-mode threshold before presets existed)


def find_genes(recs: list[RecordSeq], opts: FinderOptions, priors=None) -> list[RecordCalls]:
    """Gene finding over all records of one genome: self-trained (`self_train`), or with `opts.anonymous`
    (too little sequence to learn from) and the classifiers, from the presets near the input's GC
    (`opts.presets`) or, where none fits, self-trained from MIN_SELF_TRAIN nt, else from the classifiers
    alone. Without classifiers (development) the
    statistics are self-trained whatever the length.

    `priors` is a callable (recs, cands, scores, plausible) -> (P(coding) per candidate, P(start) per
    candidate) lists, NaN where not scored; `scores` are the statistics' candidate scores and `plausible` the
    per-group masks of groups worth scoring (see pipeline.ModelPriors). None = statistics only (development)."""
    if opts.anonymous and priors is not None:
        gc = _input_gc(recs)
        chosen = select_presets(opts.presets or [], gc, opts.table)
        log.info("%d nt: too short to learn this genome's statistics (anonymous mode, GC %.1f%%)",
                 sum(r.n for r in recs), 100 * gc)
        if chosen:
            return _from_presets(recs, opts, priors, chosen)
        if sum(r.n for r in recs) >= MIN_SELF_TRAIN:
            log.info("no presets for translation table %d: self-training on this input", opts.table)
            return self_train(recs, opts, priors)[0]
        log.info("no presets for translation table %d: classifiers only", opts.table)
        return _anonymous(recs, opts, priors)
    return self_train(recs, opts, priors)[0]


def _input_gc(recs: list[RecordSeq]) -> float:
    from genannot.prok.signals import gc_content

    return gc_content([r.fwd.codes for r in recs])


def _p_stop(opts: FinderOptions, gc: float) -> float:
    from genannot.prok.orfs import codon_sets
    from genannot.prok.signals import prob_stop

    _starts, stops = codon_sets(opts.table, opts.allow_ctg)
    return prob_stop(stops, gc)


def _coding_raw(recs, cands, lo: np.ndarray) -> list[np.ndarray]:
    """Hexamer log-odds sums of every candidate under one coding model."""
    model = HexamerModel(lo)
    return [hexamer_sums(r, c, model) for r, c in zip(recs, cands)]


def _with_atypical(raws, raws_a, p: Params) -> list[np.ndarray]:
    """A candidate takes the better of the main and the (handicapped) atypical coding model."""
    return [np.maximum(ra, rb - p.atypical_penalty) for ra, rb in zip(raws, raws_a)]


def _with_cds_prior(cscores, cds_l, cands, p: Params, weight: float) -> list[np.ndarray]:
    return [cs + weight * _length_ramp(c.length, p.cds_ramp) * (cl - p.cds_offset)
            for cs, cl, c in zip(cscores, cds_l, cands)]


def _decode(recs, cands, feats, cscores, smodel: StartModel, opts: FinderOptions, tis=None, cds_p=None,
            tis_p=None) -> tuple[list[RecordCalls], float]:
    """Start scores, DP per record -> calls and the summed DP score of the gene sets."""
    p = opts.params
    out = []
    dp_total = 0.0
    for k, (r, c, f, cs) in enumerate(zip(recs, cands, feats, cscores)):
        ss = start_scores(c, f, smodel, cs, p, opts.closed, tis_logit=None if tis is None else tis[k])
        total = cs + ss.total + p.gene_bonus
        res = choose_genes(c, total, p, ss.rscore, ss.uscore, overlap_cost=p.overlap_cost)
        dp_total += res.total
        ch = res.chosen[total[res.chosen] > 0]
        out.append(RecordCalls(c, ch, total, cs, ss.total, rbs_bin=smodel.sd_choice(f.sd),
                               prob_cds=None if cds_p is None else cds_p[k],
                               prob_tis=None if tis_p is None else tis_p[k]))
    return out, dp_total


def self_train(recs: list[RecordSeq], opts: FinderOptions, priors=None) -> tuple[list[RecordCalls], GenomeStats]:
    """Self-trained gene finding over all records of one genome (statistics learned from all records together);
    returns the calls and the statistics learned (what a preset stores).

    1. bootstrap: a DP over the longest ORFs scored by GC-frame bias gives a first gene set;
    2. `coding_rounds` times: in-frame hexamer log-odds (plus an atypical-gene model from the second round on)
       learned from the current genes, start model learned from strongly coding ORFs, DP -> new gene set;
    3. with `priors`: the classifiers' log-odds are added (CDS to the coding score, TIS to the start score),
       the start model is re-learned with them and the final DP is run."""
    import time

    from genannot.prok.signals import background_hexamers, inframe_hexamer_counts

    t0 = time.perf_counter()
    p = opts.params
    cands = [build_candidates(r) for r in recs]
    gc = _input_gc(recs)
    pst = _p_stop(opts, gc)
    feats = [start_features(r, c) for r, c in zip(recs, cands)]
    log.info("%d candidate genes in %d stop groups (GC %.1f%%)", sum(len(c) for c in cands),
             sum(c.n_groups for c in cands), 100 * gc)
    bg = background_hexamers([s for r in recs for s in (r.fwd, r.rev)])

    # ---- stage 0: GC-frame bootstrap on the longest ORF of every group
    gcs = [gc_frame_scores(r, c) for r, c in zip(recs, cands)]
    bias = np.zeros(3)
    for c, g in zip(cands, gcs):
        if len(c):
            k = np.argmax(g, axis=1)
            np.add.at(bias, k, g[np.arange(len(c)), k] * c.length / 1000.0)
    bias = bias * 3.0 / bias.sum() if bias.sum() > 0 else np.ones(3)
    chosen = []
    for c, g in zip(cands, gcs):
        sc = (g @ bias) * c.length
        sc = np.where((c.rank == 0) & (c.length >= 300), sc, -1.0)
        chosen.append(choose_genes(c, sc, p, overlap_cost=2.0).chosen)
    log.info("bootstrap: %d genes from GC-frame bias (%.1f s)", sum(len(x) for x in chosen), time.perf_counter() - t0)

    def learn_hexamers(chosen_list) -> HexamerModel:
        counts = np.zeros(4096)
        for r, c, ch in zip(recs, cands, chosen_list):
            for s in (1, -1):
                m = ch[c.strand[ch] == s]
                if len(m):
                    last = np.where(c.p3[m], c.se[m] - 6, c.se[m] - 3)
                    counts += inframe_hexamer_counts(strand_of(r, s), c.sp[m], last)
        return HexamerModel.fit(counts, bg)

    calls: list[RecordCalls] = []
    for rnd in range(max(1, opts.coding_rounds)):
        main = learn_hexamers(chosen)
        atypical = None
        raws = _coding_raw(recs, cands, main.lo)
        if p.atypical_fraction > 0 and rnd > 0:
            # a second coding model from the called genes the main model fits least (horizontally transferred,
            # highly expressed or otherwise atypical genes); a candidate takes the better of the two
            per = [raw[ch] / np.maximum(c.length[ch] / 3.0, 1.0) for raw, c, ch in zip(raws, cands, chosen)]
            allp = np.concatenate(per) if per else np.zeros(0)
            if len(allp) >= 200:
                cut = np.quantile(allp, p.atypical_fraction)
                atypical = learn_hexamers([ch[x <= cut] for ch, x in zip(chosen, per)])
                raws = _with_atypical(raws, _coding_raw(recs, cands, atypical.lo), p)
        cscores = [coding_scores(raw, c, pst) for raw, c in zip(raws, cands)]
        smodel = train_start_model(cands, feats, cscores, p, gc=gc)
        calls, _ = _decode(recs, cands, feats, cscores, smodel, opts)
        chosen = [k.chosen for k in calls]
        log.info("self-training round %d: %d genes (%.1f s)", rnd + 1, sum(len(x) for x in chosen),
                 time.perf_counter() - t0)

    def stats(start: StartModel) -> GenomeStats:
        return GenomeStats(name="", gc=gc, table=opts.table, coding=main.lo,
                           atypical=None if atypical is None else atypical.lo, start=start)

    if priors is None:
        return calls, stats(smodel)

    # ---- learned priors: classifier log-odds on plausible groups / their best starts
    plausible = [group_max(k.score, k.cands) > p.plausible_min for k in calls]
    cds_p, tis_p = priors(recs, cands, [k.score for k in calls], plausible)
    cds_l = [_prior_logit(x, c, p.cds_missing) for x, c in zip(cds_p, cands)]
    tis_l = [_prior_logit(x, c, None) for x, c in zip(tis_p, cands)]
    cscores = _with_cds_prior(cscores, cds_l, cands, p, p.cds_weight)
    smodel = train_start_model(cands, feats, cscores, p, gc=gc,
                               prior=np.concatenate([p.tis_weight * (tl - p.tis_offset) for tl in tis_l]))
    calls, _ = _decode(recs, cands, feats, cscores, smodel, opts, tis_l, cds_p, tis_p)
    log.info("with classifier priors: %d genes (%.1f s)", sum(len(k.chosen) for k in calls), time.perf_counter() - t0)
    return calls, stats(smodel)


def _from_presets(recs: list[RecordSeq], opts: FinderOptions, priors, presets: list) -> list[RecordCalls]:
    """Prodigal's metagenomic mode with genannot's presets: the preset whose gene set has the highest total DP score
    over all records is kept (`with_stats`, the CDS prior at `preset_cds_weight`)."""
    name, calls, total = with_stats(recs, opts, priors, presets, opts.params.preset_cds_weight,
                                    opts.params.preset_plausible_min)
    log.info("presets tried: %s; kept %s: %d genes", ", ".join(f"{n} {t:.1f}" for n, t in total.items()), name,
             sum(len(k.chosen) for k in calls))
    return calls


def with_stats(recs: list[RecordSeq], opts: FinderOptions, priors, stats: list[GenomeStats],
               cds_weight: float, plausible_min: float) -> tuple[str, list[RecordCalls], dict[str, float]]:
    """Gene finding with statistics learned elsewhere (presets, or a sample of the same input): each one's coding
    models, start model and GC (for the length prior) score the candidates, the classifier priors are added as
    `self_train` adds them (the CDS prior at `cds_weight`, on groups scoring above `plausible_min`), and the
    statistics whose gene set has the highest total DP score over all records are kept. The classifiers see the
    union of what the statistics find plausible, once. Returns the name of the statistics kept, the calls, and the
    total DP score under each."""
    p = opts.params
    cands = [build_candidates(r) for r in recs]
    feats = [start_features(r, c) for r, c in zip(recs, cands)]
    base = []  # per statistics: coding scores and statistics-only calls (what the classifiers are asked about)
    for st in stats:
        raws = _coding_raw(recs, cands, st.coding)
        if st.atypical is not None:
            raws = _with_atypical(raws, _coding_raw(recs, cands, st.atypical), p)
        pst = _p_stop(opts, st.gc)
        cscores = [coding_scores(raw, c, pst) for raw, c in zip(raws, cands)]
        base.append((st, cscores, *_decode(recs, cands, feats, cscores, st.start, opts)))
    if priors is None:
        runs = [(st, calls, total) for st, _cs, calls, total in base]
    else:
        plausible = [np.logical_or.reduce([group_max(b[2][k].score, c) > plausible_min for b in base])
                     for k, c in enumerate(cands)]
        best_score = [np.maximum.reduce([b[2][k].score for b in base]) for k in range(len(cands))]
        cds_p, tis_p = priors(recs, cands, best_score, plausible)
        cds_l = [_prior_logit(x, c, p.cds_missing) for x, c in zip(cds_p, cands)]
        tis_l = [_prior_logit(x, c, None) for x, c in zip(tis_p, cands)]
        runs = [(st, *_decode(recs, cands, feats, _with_cds_prior(cs, cds_l, cands, p, cds_weight), st.start, opts,
                              tis_l, cds_p, tis_p)) for st, cs, _calls, _total in base]
    st, calls, _total = max(runs, key=lambda b: b[2])
    return st.name, calls, {b[0].name: b[2] for b in runs}


def _length_ramp(length: np.ndarray, ramp: tuple[float, float]) -> np.ndarray:
    """0 below ramp[0] nt, 1 above ramp[1] nt, linear between (how far a classifier score is trusted)."""
    lo, hi = ramp
    if hi <= lo:
        return np.ones(len(length))
    return np.clip((np.asarray(length, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _prior_logit(prob: np.ndarray, c: Candidates, missing: float | None) -> np.ndarray:
    """Classifier log-odds per candidate; where a candidate was not scored: `missing` if given, else the lowest
    log-odds scored in its group minus 1 (a start ranked below the top few), else 0."""
    lg = _logit(np.nan_to_num(prob, nan=0.5))
    nan = np.isnan(prob)
    if not nan.any():
        return lg
    if missing is not None:
        return np.where(nan, missing, lg)
    gmin = np.full(c.n_groups, np.inf)
    if (~nan).any():
        np.minimum.at(gmin, c.group[~nan], lg[~nan])
    fill = np.where(np.isfinite(gmin), gmin - 1.0, 0.0)[c.group]
    return np.where(nan, fill, lg)


def _anonymous(recs, opts: FinderOptions, priors) -> list[RecordCalls]:
    """Too little sequence to self-train and no presets: the classifiers are the coding and start models."""
    p = opts.params
    cands = [build_candidates(r) for r in recs]
    feats = [start_features(r, c) for r, c in zip(recs, cands)]
    pst = _p_stop(opts, _input_gc(recs))
    totals = [np.zeros(len(c)) for c in cands]
    plausible = [np.ones(c.n_groups, dtype=bool) for c in cands]
    cds_p, tis_p = priors(recs, cands, totals, plausible)
    out = []
    prior_model = StartModel(type_wt=np.array(p.anon_type_wt, dtype=np.float64))
    for r, c, f, cp, tp in zip(recs, cands, feats, cds_p, tis_p):
        cl = _prior_logit(cp, c, p.cds_missing)
        tl = _prior_logit(tp, c, None)
        lf = length_factor(c.length, pst)
        cs = p.anon_cds_weight * (cl - p.anon_cds_offset) + np.minimum(lf, p.anon_length_cap)
        ss = start_scores(c, f, prior_model, cs, p, opts.closed, tis_logit=tl)
        total = cs + ss.total
        res = choose_genes(c, total, p, ss.rscore, ss.uscore, overlap_cost=p.overlap_cost)
        ch = res.chosen[total[res.chosen] > 0]
        out.append(RecordCalls(c, ch, total, cs, ss.total, prob_cds=cp, prob_tis=tp))
    return out
