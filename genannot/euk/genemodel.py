"""Explicit gene-structure signal models, estimated from a training annotation and its genome.

    params = GeneModelParams.fit([(fasta, annotation), ...])
    params.save(model_dir)                       # model_dir/genemodel.npz
    params = GeneModelParams.load(model_dir)     # a directory or the .npz file itself

What is estimated (all counts with pseudocounts, so any sequence gets a finite score):
- base composition of the genome (background of every signal model);
- splice sites: donor -3..+6 around the intron's first base (3 exon + 6 intron bases), acceptor
  -20..+3 around the exon's first base (20 intron bases ending in the AG + 3 exon bases), each a
  position-specific Markov chain of order `signal_order` conditioned on the preceding bases, and the
  counts of every dinucleotide at real donors (GT, GC, AT, ...) and acceptors (AG, AC, ...); beside
  the chains, a pairwise model of the same windows trained against decoy sites (`PairwiseSiteModel`,
  see its section), whose score a site's is blended with;
- start context (Kozak): -9..+5 around the A of ATG, same form; and how often an in-frame ATG lies
  upstream within `UPSTREAM_CODONS` codons, no stop between (`upstream_atg`), at real starts and at
  ATGs outside genes: ribosomes scan from the cap and start at the first ATG, so a real start rarely
  has one (2% of yeast's, 9% of Arabidopsis's, 8-16% of mammals' against 25-33% of other ATGs), while a
  start called too far downstream always does;
- stop codon usage (TAA, TAG, TGA);
- an in-frame coding Markov chain of order `coding_order` (5: hexamers), one per codon position,
  against a non-coding background chain of the same order (every base outside a CDS: introns,
  intergenic, UTRs and lncRNA exons; both strands); with `gc_edges`, one pair of chains per class of local GC content (GC of the
  `GC_WINDOW` bases around a base; for a gene, around its middle), as GENSCAN and AUGUSTUS do for
  isochore genomes: a mammal's genes in AT-rich regions are AT-richer than those in GC-rich ones,
  and AT-rich non-coding sequence looks less coding. Each class's counts are shrunk towards the
  pooled ones (`GC_SHRINK`). The embedded model's classes: < 44%, 44-51%, >= 51% (leave-one-species-out
  over the mammal regions of ../shared/data, bench/euk_loo.py: CDS-exon F1 0.629 with one class, 0.651);
- lengths (raw, for histograms and quantiles): CDS exons (initial, internal, terminal, single),
  introns (coding genes), intron phases, UTR exons, lncRNA exons and introns, intergenic gaps.

Training units: every unique splice site of coding and lncRNA transcripts; for everything else
one representative transcript per gene (genannot.euk.labels.representative_transcript). Coding
transcripts count for start/stop/coding only when their spliced CDS is a whole ORF (ATG ... stop,
length a multiple of 3, no internal stop; a CDS that stops one codon short of its stop is extended).

Scores are natural-log odds against the background, computed for every position of a sequence at
once (`donor_scores`, `acceptor_scores`, `start_scores`, `stop_scores`, `coding_scores`); base codes
are A C G T N = 0 1 2 3 4 (`encode`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from genannot.errors import InputError, ModelError
from genannot.euk.scan import chain_scores, kmer_index, pairwise_scores
from genannot.features import Gene, Transcript

log = logging.getLogger("genannot.euk.genemodel")

FILE_NAME = "genemodel.npz"
GC_EDGES = (0.44, 0.51)  # `fit`'s default GC classes
GC_WINDOW = 20_000  # bases around a position whose GC content sets its class
GC_SHRINK = 0.25  # a class's counts + this share of the pooled counts
FORMAT_VERSION = 1
STOPS = ("TAA", "TAG", "TGA")
CANONICAL_DONORS = frozenset({"GT", "GC", "AT"})
CANONICAL_ACCEPTORS = frozenset({"AG", "AC"})
DONOR_WINDOW = (3, 9)  # (bases before the reference point, window length): -3..+6
ACCEPTOR_WINDOW = (20, 23)  # -20..+3, MaxEntScan's. -30..+3 (branch point and polypyrimidine tract in; 2026-11-22,
# embedded model retrained with it) helped mammals (leave-one-species-out CDS-exon F1 0.680 -> 0.689, chr9 0.279 ->
# 0.287) but not the invertebrates: C. elegans from a prior fitted without it 0.252 -> 0.236 before self-training,
# which it then failed to start (59 complete genes), 0.636 -> 0.236; with the embedded prior 0.669 -> 0.649;
# Drosophila 0.293 -> 0.314 unseen, 0.531 -> 0.519 embedded; Arabidopsis 0.780 -> 0.782, yeast unchanged. -25..+3:
# mammals 0.687, C. elegans unseen 0.614. The pairwise model alone on -30..+3: mammals 0.685, and C. elegans's
# self-training fails to start as well (its first round had 59 complete genes, against the floor of 60 of the time;
# since 2026-11-23 a sparse input with foreign coding statistics needs only 20, genannot.euk.selftrain).
START_WINDOW = (9, 15)  # -9..+5
UPSTREAM_CODONS = 100  # how far upstream `upstream_atg` looks
LENGTH_KINDS = (
    "cds_initial", "cds_internal", "cds_terminal", "cds_single", "intron", "utr5_exon", "utr3_exon",
    "lnc_exon", "lnc_intron", "intergenic",
)

_LUT = np.full(256, 4, dtype=np.uint8)
for _i, _c in enumerate("ACGT"):
    _LUT[ord(_c)] = _i
    _LUT[ord(_c.lower())] = _i


def encode(seq: str) -> np.ndarray:
    """A C G T (either case) -> 0 1 2 3, anything else -> 4, as uint8."""
    return _LUT[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)]


def revcomp_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of encoded bases (N stays N)."""
    rc = np.where(codes < 4, 3 - codes, 4).astype(np.uint8)
    return rc[::-1].copy()


_STOP_INDEX = np.array([encode(c).astype(np.int64) @ [16, 4, 1] for c in STOPS])  # stop codons as 16 a + 4 b + c


def gc_classes(codes: np.ndarray, edges: np.ndarray, window: int = GC_WINDOW) -> np.ndarray:
    """Class (index into the intervals cut by `edges`) of the GC content of the `window` bases
    around each position (truncated at the sequence ends; N not counted)."""
    n = len(codes)
    if not len(edges):
        return np.zeros(n, dtype=np.int64)
    gc = np.concatenate([[0], np.cumsum((codes == 1) | (codes == 2))])
    acgt = np.concatenate([[0], np.cumsum(codes < 4)])
    t = np.arange(n)
    lo, hi = np.maximum(t - window // 2, 0), np.minimum(t + window // 2, n)
    return np.searchsorted(edges, (gc[hi] - gc[lo]) / np.maximum(1, acgt[hi] - acgt[lo]), side="right")


# ----------------------------------------------------------------------------- signal models


@dataclass
class SignalModel:
    """Position-specific Markov chain over a window of `length` bases, `offset` bases of which lie
    before the reference point; `logp[j, context, base]` with the `order` preceding bases as context."""

    offset: int
    length: int
    order: int
    logp: np.ndarray  # (length, 4**order, 4)

    @classmethod
    def fit(cls, windows: np.ndarray, offset: int, length: int, order: int, pseudo: float = 1.0) -> "SignalModel":
        """`windows` (n, order + length) uint8 codes without N: `order` context bases, then the window."""
        counts = np.full((length, 4**order, 4), pseudo, dtype=np.float64)
        if len(windows):
            for j in range(length):
                ctx = np.zeros(len(windows), dtype=np.int64)
                for m in range(order):
                    ctx = ctx * 4 + windows[:, j + m]
                np.add.at(counts[j], (ctx, windows[:, order + j].astype(np.int64)), 1.0)
        return cls(offset, length, order, np.log(counts / counts.sum(axis=2, keepdims=True)))

    def score(self, codes: np.ndarray, log_bg: np.ndarray) -> np.ndarray:
        """Log-odds (float32) of the window with its reference point at every position t;
        -inf where the window (with its context) runs off the sequence or holds an N."""
        idx, valid = kmer_index(codes, self.order + 1)  # (context, base) ending at each position
        tables = (self.logp - log_bg[None, None, :]).reshape(self.length, -1)  # index: context * 4 + base
        return chain_scores(idx, valid, tables, self.offset).astype(np.float32)


def _shift(a: np.ndarray, shift: int, fill: Any) -> np.ndarray:
    """b[t] = a[t + shift] (fill outside)."""
    n = len(a)
    b = np.full(n, fill, dtype=a.dtype)
    if shift >= 0:
        if shift < n:
            b[: n - shift] = a[shift:]
    elif -shift < n:
        b[-shift:] = a[: n + shift]
    return b


# ----------------------------------------------------------------------------- pairwise splice-site models

# Splice sites scored by a pairwise model trained against decoy sites (maximum-entropy style).
#
# A position-specific Markov chain (genannot.euk.genemodel.SignalModel) sees each base with the one
# before it; the bases of a donor are not independent further apart (a weak +5 G is made up for by a
# strong -1 G, as MaxEntScan and GENSCAN's maximal dependence decomposition exploit). This model scores
# a window by a logistic regression over every base and every pair of bases at most `max_distance`
# apart, trained to tell real sites from decoys: the allowed dinucleotides (GT, GC, AT donors; AG, AC
# acceptors) inside the same genes that are not sites. Class-balanced, its logit is
# log P(window | site) / P(window | decoy); adding the dinucleotide's log share among decoys against the
# background composition gives, as the chain does, log-odds against background sequence.
#
# The decoder takes `weight` x this score + (1 - weight) x the chain's at every site with a dinucleotide
# seen among the decoys. Leave-one-species-out over the mammal regions of ../shared/data (bench/euk_loo.py,
# repeats masked), CDS-exon / intron F1: chains alone 0.663 / 0.671 (held-out human chr9:1-1,000,000 0.254 /
# 0.141); with a ridge of 1e-3, pairwise alone 0.650 / 0.654 (chr9 0.279 / 0.182), half and half 0.670 / 0.679
# (0.256 / 0.183); with `PAIRWISE_L2` = 1e-4, half and half 0.680 / 0.690 (0.291 / 0.211).

PAIRWISE_L2 = 1e-4  # ridge penalty on the weights (the loss is a class-balanced mean)
PAIRWISE_ITERATIONS = 200  # L-BFGS iterations
PAIRWISE_WEIGHT = 0.5  # the pairwise model's share of a site's score
PAIRWISE_MIN_SITES = 100  # real sites needed to fit one (fewer: the chain alone)
DONOR_PAIR_DISTANCE = 8  # every pair of the 9-base donor window
ACCEPTOR_PAIR_DISTANCE = 3  # pairs up to 3 apart in the 23-base acceptor window
DECOY_SHARE = 0.1  # share of the decoy dinucleotides inside genes that is kept ...
MAX_DECOYS = 200_000  # ... up to this many per kind
# per kind of site: (dinucleotides, their first base relative to the reference point, window, pair distance)
SITE_KINDS = {"donor": (CANONICAL_DONORS, 0, DONOR_WINDOW, DONOR_PAIR_DISTANCE),
              "acceptor": (CANONICAL_ACCEPTORS, -2, ACCEPTOR_WINDOW, ACCEPTOR_PAIR_DISTANCE)}


@dataclass
class PairwiseSiteModel:
    """Logistic scores of windows of `length` bases, `before` of them before the reference point."""

    before: int
    length: int
    word_offset: int  # the site dinucleotide's first base, relative to the reference point (donor 0, acceptor -2)
    pairs: np.ndarray  # (P, 2) window positions i < j
    single: np.ndarray  # (length, 4) weight of each base at each position
    pair: np.ndarray  # (P, 16) weight of each base pair (4 * base_i + base_j)
    bias: float
    words: dict[str, float]  # site dinucleotide -> log share among decoys - log background

    def __post_init__(self) -> None:
        self._word_table = np.full(16, np.nan)  # by dinucleotide code (`_pair_code`); NaN: never a decoy
        for w, v in self.words.items():
            self._word_table[_pair_code(w)] = v

    @classmethod
    def fit(cls, sites: np.ndarray, decoys: np.ndarray, before: int, word_offset: int, max_distance: int,
            log_bg: np.ndarray) -> "PairwiseSiteModel":
        """`sites`, `decoys`: (n, length) codes 0-3 (no N), windows around real and decoy sites."""
        import torch

        length = sites.shape[1]
        pairs = np.array([(i, j) for i in range(length) for j in range(i + 1, min(length, i + max_distance + 1))],
                         dtype=np.int64).reshape(-1, 2)
        windows = np.concatenate([sites, decoys]).astype(np.int64)
        y = np.concatenate([np.ones(len(sites)), np.zeros(len(decoys))])
        single_idx = torch.from_numpy(np.arange(length) * 4 + windows)
        pair_idx = torch.from_numpy(np.arange(len(pairs)) * 16 + 4 * windows[:, pairs[:, 0]] + windows[:, pairs[:, 1]])
        target = torch.from_numpy(y)
        weight = torch.from_numpy(np.where(y > 0, 0.5 / len(sites), 0.5 / len(decoys)))
        ws = torch.zeros(length * 4, dtype=torch.float64, requires_grad=True)
        wp = torch.zeros(len(pairs) * 16, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([ws, wp, b], max_iter=PAIRWISE_ITERATIONS, line_search_fn="strong_wolfe")

        def loss_fn():
            opt.zero_grad()
            z = ws[single_idx].sum(1) + wp[pair_idx].sum(1) + b
            bce = torch.nn.functional.binary_cross_entropy_with_logits(z, target, reduction="none")
            loss = (weight * bce).sum() + PAIRWISE_L2 * (ws.pow(2).sum() + wp.pow(2).sum())
            loss.backward()
            return loss

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the same weights whatever the machine's core count
        try:
            opt.step(loss_fn)
        finally:
            torch.set_num_threads(threads)
        return cls(before, length, word_offset, pairs, ws.detach().numpy().reshape(length, 4).astype(np.float32),
                   wp.detach().numpy().reshape(-1, 16).astype(np.float32), float(b.detach()),
                   word_log_odds(decoys, before + word_offset, log_bg))

    def score(self, codes: np.ndarray) -> np.ndarray:
        """(float64) log-odds against background of a site with its reference point at every position t;
        NaN where the site's dinucleotide was never a decoy (the chain alone scores those), -inf where the
        window runs off the sequence or holds an N."""
        return pairwise_scores(codes, self.before, self.single, self.pairs, self.pair, self.bias, self._word_table,
                               self.before + self.word_offset)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The model as named arrays for an .npz file (`from_arrays` reads them back)."""
        head = np.array([self.before, self.length, self.word_offset], dtype=np.int64)
        words = np.array([[_pair_code(w), v] for w, v in sorted(self.words.items())]).reshape(-1, 2)
        return {f"{prefix}_head": head, f"{prefix}_pairs": self.pairs, f"{prefix}_single": self.single,
                f"{prefix}_pair": self.pair, f"{prefix}_bias": np.array([self.bias]), f"{prefix}_words": words}

    @classmethod
    def from_arrays(cls, arr: dict[str, np.ndarray], prefix: str) -> "PairwiseSiteModel | None":
        """The model `arrays` wrote, or None where the file has none (a gene model fitted without)."""
        if f"{prefix}_head" not in arr:
            return None
        before, length, word_offset = (int(x) for x in arr[f"{prefix}_head"])
        words = {_word([int(i) // 4, int(i) % 4]): float(v) for i, v in arr[f"{prefix}_words"]}
        return cls(before, length, word_offset, arr[f"{prefix}_pairs"].astype(np.int64), arr[f"{prefix}_single"].astype(np.float32),
                   arr[f"{prefix}_pair"].astype(np.float32), float(arr[f"{prefix}_bias"][0]), words)


def blend(chain: np.ndarray, pairwise: np.ndarray | None, weight: float) -> np.ndarray:
    """`weight` x the pairwise score + (1 - `weight`) x the chain's where the pairwise model scores the
    site (-inf where either is -inf); the chain's elsewhere."""
    if pairwise is None:
        return chain
    out = chain.astype(np.float64)
    m = ~np.isnan(pairwise)
    both = m & np.isfinite(out) & np.isfinite(pairwise)
    out[both] = (1 - weight) * out[both] + weight * pairwise[both]
    out[m & ~both] = -np.inf
    return out.astype(np.float32)


def word_log_odds(decoys: np.ndarray, at: int, log_bg: np.ndarray) -> dict[str, float]:
    """Log share of each dinucleotide (window positions at, at + 1) among `decoys`, against the background
    composition: what turns the class-balanced logit into log-odds against background sequence."""
    code = 4 * decoys[:, at].astype(np.int64) + decoys[:, at + 1]
    counts = np.bincount(code, minlength=16)
    out = {}
    for i in np.flatnonzero(counts):
        out[_word([i // 4, i % 4])] = float(np.log(counts[i] / counts.sum()) - log_bg[i // 4] - log_bg[i % 4])
    return out


def _pair_code(word: str) -> int:
    """4 x first base + second base (A C G T = 0 1 2 3) of a dinucleotide."""
    a, b = encode(word)
    return int(4 * a + b)


# ----------------------------------------------------------------------------- the parameter set


@dataclass
class GeneModelParams:
    log_bg: np.ndarray  # (4,) base composition
    donor: SignalModel
    acceptor: SignalModel
    start: SignalModel
    stop_logp: np.ndarray  # (3,) log usage of STOPS
    coding: np.ndarray  # ([GC class,] 3, 4**order, 4) log P(base | context, codon position of the base)
    noncoding: np.ndarray  # ([GC class,] 4**order, 4)
    donor_pairs: dict[str, int]  # dinucleotide counts at real donors (intron's first two bases)
    acceptor_pairs: dict[str, int]  # ... at real acceptors (intron's last two bases)
    lengths: dict[str, np.ndarray] = field(default_factory=dict)
    intron_phases: np.ndarray = field(default_factory=lambda: np.ones(3))  # counts of phase 0/1/2 introns
    stats: dict[str, Any] = field(default_factory=dict)
    gc_edges: np.ndarray = field(default_factory=lambda: np.zeros(0))  # GC classes of the coding chains (none: one class)
    # share of real starts / of ATGs outside genes with an in-frame ATG upstream (`upstream_atg`); empty: not scored
    upstream_atg_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    splice_weight: float = 1.0  # factor on the donor / acceptor log-odds (self-trained splice models: see selftrain)
    donor_pairwise: PairwiseSiteModel | None = None  # blended with the chains at `pairwise_weight` (None: chains alone)
    acceptor_pairwise: PairwiseSiteModel | None = None
    pairwise_weight: float = PAIRWISE_WEIGHT
    exon_types: bool = False  # decode CDS exons with a length model per type (genannot.euk.decode; set by self-training)
    # share of coding genes whose start-codon exon begins at a splice acceptor (a trans-spliced leader's, or a 5'UTR
    # intron's), and the mean 5'UTR length from that acceptor to the start codon (genannot.euk.decode; 0: no such
    # path; set by self-training, genannot.euk.selftrain)
    leader_share: float = 0.0
    leader_length: float = 30.0

    @property
    def coding_order(self) -> int:
        return int(round(np.log(self.noncoding.shape[-2]) / np.log(4)))

    def with_splice_sites(self, other: "GeneModelParams") -> "GeneModelParams":
        """These models with `other`'s splice-site models: chains, dinucleotide counts, pairwise models and
        their weight (not `splice_weight`, a property of how the models were fitted)."""
        return replace(self, donor=other.donor, acceptor=other.acceptor, donor_pairs=other.donor_pairs,
                       acceptor_pairs=other.acceptor_pairs, donor_pairwise=other.donor_pairwise,
                       acceptor_pairwise=other.acceptor_pairwise, pairwise_weight=other.pairwise_weight)

    # ------------------------------------------------------------------ scores

    def allowed_pairs(self, kind: str, min_count: int = 1, canonical: bool = True) -> set[str]:
        """Dinucleotides seen at >= `min_count` real donors / acceptors; with `canonical`, only the
        spliceosomal ones (GT, GC, AT donors; AG, AC acceptors): the rest are mostly annotation noise."""
        pairs = self.donor_pairs if kind == "donor" else self.acceptor_pairs
        ok = CANONICAL_DONORS if kind == "donor" else CANONICAL_ACCEPTORS
        return {p for p, n in pairs.items() if n >= min_count and "N" not in p and (p in ok or not canonical)}

    def donor_scores(self, codes: np.ndarray, splice_filter: bool = True, pairwise: bool = True) -> np.ndarray:
        """Log-odds that an intron starts at t (first intron base); -inf at disallowed dinucleotides
        when `splice_filter`; with `pairwise`, blended with the pairwise model where there is one."""
        s = self.donor.score(codes, self.log_bg)
        if pairwise and self.donor_pairwise is not None:
            s = blend(s, self.donor_pairwise.score(codes), self.pairwise_weight)
        s = s * np.float32(self.splice_weight)
        if splice_filter:
            s[~_pair_mask(codes, self.allowed_pairs("donor"), 0)] = -np.inf
        return s

    def acceptor_scores(self, codes: np.ndarray, splice_filter: bool = True, pairwise: bool = True) -> np.ndarray:
        """Log-odds that an exon starts at t after an intron ending at t-1 (the AG at t-2, t-1)."""
        s = self.acceptor.score(codes, self.log_bg)
        if pairwise and self.acceptor_pairwise is not None:
            s = blend(s, self.acceptor_pairwise.score(codes), self.pairwise_weight)
        s = s * np.float32(self.splice_weight)
        if splice_filter:
            s[~_pair_mask(codes, self.allowed_pairs("acceptor"), -2)] = -np.inf
        return s

    def start_scores(self, codes: np.ndarray) -> np.ndarray:
        """Log-odds of a start codon (ATG at t..t+2) with its context and the presence of an in-frame
        ATG upstream; -inf elsewhere."""
        s = self.start.score(codes, self.log_bg)
        if len(self.upstream_atg_share):
            at_start, elsewhere = self.upstream_atg_share
            s += np.where(upstream_atg(codes), np.log(at_start / elsewhere), np.log((1 - at_start) / (1 - elsewhere))).astype(np.float32)
        s[~_pair_mask(codes, {"ATG"}, 0)] = -np.inf
        return s

    def stop_scores(self, codes: np.ndarray) -> np.ndarray:
        """Log-odds of a stop codon at t..t+2 (usage against background composition); -inf elsewhere."""
        out = np.full(len(codes), -np.inf, dtype=np.float32)
        for codon, lp in zip(STOPS, self.stop_logp):
            m = _pair_mask(codes, {codon}, 0)
            out[m] = lp - sum(self.log_bg[encode(codon)])
        return out

    def coding_scores(self, codes: np.ndarray) -> np.ndarray:
        """(3, L) float32: log-odds of base t being at codon position k (0, 1, 2) of a coding frame
        read left to right, against the non-coding chain; 0 where the context holds an N."""
        k = self.coding_order
        idx, valid = kmer_index(codes, k + 1)
        coding = self.coding.reshape(-1, 3, 4 ** (k + 1))
        noncoding = self.noncoding.reshape(-1, 1, 4 ** (k + 1))
        cls = gc_classes(codes, self.gc_edges)
        out = np.empty((3, len(codes)), dtype=np.float32)
        for j in range(len(coding)):
            at = cls == j
            out[:, at] = (coding[j] - noncoding[j])[:, idx[at]]
        out[:, ~valid] = 0.0
        # the third base of a stop codon: a CDS can only hold one as its last codon, which the stop signal
        # scores; the chain, trained on sense codons, would charge every gene end ~20 nats for it
        out[2, _pair_mask(codes, set(STOPS), -2)] = 0.0
        return out

    def coding_log_likelihood(self, codes: np.ndarray) -> tuple[float, int]:
        """(log-likelihood, bases scored) of `codes`, a CDS without its stop codon read in frame from its
        first base, under the coding chain alone; bases whose context runs off the start or holds an N are
        left out."""
        k = self.coding_order
        idx, valid = kmer_index(codes, k + 1)
        t = np.flatnonzero(valid)
        coding = self.coding.reshape(-1, 3, 4 ** (k + 1))
        return float(coding[gc_classes(codes, self.gc_edges)[t], t % 3, idx[t]].sum()), len(t)

    # ------------------------------------------------------------------ lengths

    def length_quantile(self, kind: str, q: float, default: float) -> float:
        a = self.lengths.get(kind)
        return float(np.quantile(a, q)) if a is not None and len(a) else default

    def mean_length(self, kind: str, default: float) -> float:
        a = self.lengths.get(kind)
        return float(np.mean(a)) if a is not None and len(a) else default

    def histogram(self, kind: str, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """(counts, log-spaced bin edges) of a length distribution."""
        a = self.lengths.get(kind, np.zeros(0))
        hi = max(10.0, float(a.max()) if len(a) else 10.0)
        edges = np.unique(np.round(np.logspace(0, np.log10(hi + 1), bins + 1)))
        return np.histogram(a, bins=edges)[0], edges

    # ------------------------------------------------------------------ save / load

    def save(self, directory: str | Path) -> Path:
        """Write `genemodel.npz` into `directory` (created if needed); returns the file path."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "kind": "euk-genemodel",
            "donor": [self.donor.offset, self.donor.length, self.donor.order],
            "acceptor": [self.acceptor.offset, self.acceptor.length, self.acceptor.order],
            "start": [self.start.offset, self.start.length, self.start.order],
            "stops": list(STOPS),
            "donor_pairs": self.donor_pairs,
            "acceptor_pairs": self.acceptor_pairs,
            "stats": self.stats,
            "splice_weight": self.splice_weight,
            "pairwise_weight": self.pairwise_weight,
            "exon_types": self.exon_types,
            "leader_share": self.leader_share,
            "leader_length": self.leader_length,
        }
        arrays = {
            "log_bg": self.log_bg, "donor": self.donor.logp, "acceptor": self.acceptor.logp, "start": self.start.logp,
            "stop_logp": self.stop_logp, "coding": self.coding.astype(np.float32), "noncoding": self.noncoding.astype(np.float32),
            "intron_phases": self.intron_phases, "gc_edges": np.asarray(self.gc_edges, dtype=np.float64),
            "upstream_atg_share": np.asarray(self.upstream_atg_share, dtype=np.float64),
        }
        for k, v in self.lengths.items():
            arrays[f"length_{k}"] = np.asarray(v, dtype=np.int64)
        for prefix, model in (("donor_pw", self.donor_pairwise), ("acceptor_pw", self.acceptor_pairwise)):
            if model is not None:
                arrays.update(model.arrays(prefix))
        path = d / FILE_NAME
        tmp = d / (FILE_NAME + ".tmp.npz")
        np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "GeneModelParams":
        """From a model directory holding genemodel.npz, or the file itself."""
        p = Path(path)
        if p.is_dir():
            p = p / FILE_NAME
        if not p.is_file():
            raise ModelError(f"{p}: no gene-structure model ({FILE_NAME})")
        try:
            with np.load(p, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arr = {k: z[k] for k in z.files if k != "meta"}
        except (OSError, ValueError, KeyError) as e:
            raise ModelError(f"{p}: not a readable gene-structure model: {e}") from None
        if meta.get("kind") != "euk-genemodel" or meta.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"{p}: unsupported gene-structure model (kind {meta.get('kind')!r}, version {meta.get('format_version')})")

        def sig(name: str) -> SignalModel:
            off, length, order = meta[name]
            return SignalModel(off, length, order, arr[name].astype(np.float64))

        return cls(
            log_bg=arr["log_bg"], donor=sig("donor"), acceptor=sig("acceptor"), start=sig("start"),
            stop_logp=arr["stop_logp"], coding=arr["coding"].astype(np.float64), noncoding=arr["noncoding"].astype(np.float64),
            donor_pairs={k: int(v) for k, v in meta["donor_pairs"].items()},
            acceptor_pairs={k: int(v) for k, v in meta["acceptor_pairs"].items()},
            lengths={k[len("length_"):]: v for k, v in arr.items() if k.startswith("length_")},
            intron_phases=arr["intron_phases"], stats=meta.get("stats", {}), gc_edges=arr.get("gc_edges", np.zeros(0)),
            upstream_atg_share=arr.get("upstream_atg_share", np.zeros(0)), splice_weight=float(meta.get("splice_weight", 1.0)),
            donor_pairwise=PairwiseSiteModel.from_arrays(arr, "donor_pw"),
            acceptor_pairwise=PairwiseSiteModel.from_arrays(arr, "acceptor_pw"),
            pairwise_weight=float(meta.get("pairwise_weight", PAIRWISE_WEIGHT)), exon_types=bool(meta.get("exon_types", False)),
            leader_share=float(meta.get("leader_share", 0.0)), leader_length=float(meta.get("leader_length", 30.0)),
        )

    # ------------------------------------------------------------------ fitting

    @classmethod
    def fit(
        cls,
        genomes_and_annotations: Iterable[tuple[str | Path, str | Path]],
        *,
        coding_order: int = 5,
        signal_order: int = 1,
        pseudo: float = 1.0,
        backoff: float = 16.0,
        gc_edges: Sequence[float] = GC_EDGES,
        exclude: tuple[str, int, int] | None = None,
        pairwise: bool = True,
    ) -> "GeneModelParams":
        """Estimate every model from (FASTA, annotation) pairs (sequence ids must match).

        `exclude` (seqid, start0, end) half-open: genes overlapping this held-out region are not learned from.

        The Markov chains are interpolated: each order's estimate is shrunk towards the next lower
        order's with weight `backoff` pseudo-observations, so rare contexts fall back on shorter ones."""
        from genannot.io.annotation import read_annotation
        from genannot.io.fasta import read_fasta

        files: list[list[str]] = []

        def pairs() -> Iterator[tuple[str, list[Gene]]]:
            for fa, ann in genomes_and_annotations:
                genes = read_annotation(ann)
                files.append([str(fa), str(ann)])
                n = 0
                for rec in read_fasta(fa):
                    if rec.id in genes:
                        kept = genes[rec.id]
                        if exclude and rec.id == exclude[0]:
                            kept = [g for g in kept if g.end <= exclude[1] or g.start > exclude[2]]
                        yield rec.seq, kept
                        n += 1
                if not n:
                    raise InputError(f"{ann}: none of its sequence ids is in {fa}")

        params = cls.from_genes(pairs(), coding_order=coding_order, signal_order=signal_order, pseudo=pseudo,
                                backoff=backoff, gc_edges=gc_edges, files=files, pairwise=pairwise)
        if params.stats["complete_orfs"] == 0:
            raise InputError("no complete coding transcript (ATG ... stop) in the training annotation: cannot fit a gene model")
        return params

    @classmethod
    def from_genes(
        cls,
        sequences_and_genes: Iterable[tuple[str, list[Gene]]],
        *,
        coding_order: int = 5,
        signal_order: int = 1,
        pseudo: float = 1.0,
        backoff: float = 16.0,
        gc_edges: Sequence[float] = (),
        files: list[list[str]] | None = None,
        pairwise: bool = True,
        max_site_intron: int | None = None,
    ) -> "GeneModelParams":
        """Estimate every model from (sequence, its genes) pairs held in memory (`fit` reads them from
        files; genannot.euk.selftrain passes predicted genes); `files` is recorded in the stats; without
        `pairwise`, no pairwise splice-site models (faster: no decoys, no regression); with
        `max_site_intron`, the splice-site models learn only from introns up to that length (the longer
        ones' sites are neither sites nor decoys: self-training's suspect introns)."""
        acc = _Accumulator(coding_order, signal_order, backoff, np.asarray(gc_edges, dtype=np.float64), pairwise,
                           max_site_intron)
        for seq, genes in sequences_and_genes:
            acc.add(seq, genes)
        return acc.finish(pseudo, files if files is not None else [])


def upstream_atg(codes: np.ndarray, codons: int = UPSTREAM_CODONS) -> np.ndarray:
    """True at t where an ATG starts within `codons` codons upstream of t, in frame with t, with no
    stop codon in frame between them."""
    out = np.zeros(len(codes), dtype=bool)
    atg, stop = _pair_mask(codes, {"ATG"}, 0), _pair_mask(codes, set(STOPS), 0)
    for frame in range(3):
        idx = np.arange(len(atg[frame::3]))
        # the latest ATG / stop codon strictly upstream of each codon (-1: none)
        last_atg = np.concatenate([[-1], np.maximum.accumulate(np.where(atg[frame::3], idx, -1))[:-1]])
        last_stop = np.concatenate([[-1], np.maximum.accumulate(np.where(stop[frame::3], idx, -1))[:-1]])
        out[frame::3] = (last_atg > last_stop) & (idx - last_atg <= codons)
    return out


def _pair_mask(codes: np.ndarray, words: set[str], offset: int) -> np.ndarray:
    """True at t where the word starting at t + offset is one of `words` (all the same length)."""
    n = len(codes)
    m = np.zeros(n, dtype=bool)
    for w in words:
        hit = np.ones(n, dtype=bool)
        for j, b in enumerate(encode(w)):
            hit &= _shift(codes == b, offset + j, False)
        m |= hit
    return m


# ----------------------------------------------------------------------------- fitting


def _exons(t: Transcript) -> list[tuple[int, int]]:
    return sorted(t.exons or t.cds)


class _Accumulator:
    def __init__(self, coding_order: int, signal_order: int, backoff: float, gc_edges: np.ndarray, pairwise: bool,
                 max_site_intron: int | None = None) -> None:
        self.k = coding_order
        self.pairwise = pairwise
        self.max_site_intron = max_site_intron
        self.rng = np.random.default_rng(0)  # the decoy sample
        self.decoys: dict[str, list[np.ndarray]] = {"donor": [], "acceptor": []}
        self.backoff = backoff
        self.so = signal_order
        self.gc_edges = gc_edges
        self.gc_class = np.zeros(0, dtype=np.int64)  # of the sequence being added
        self.base_counts = np.zeros(4)
        self.coding = np.zeros((len(gc_edges) + 1, 3, 4 ** (self.k + 1)))
        self.noncoding = np.zeros((len(gc_edges) + 1, 4 ** (self.k + 1)))
        self.donor_w: list[np.ndarray] = []
        self.acc_w: list[np.ndarray] = []
        self.start_w: list[np.ndarray] = []
        self.upstream_counts = np.zeros((2, 2))  # [real starts, ATGs outside genes] x [count, with an ATG upstream]
        self.stops = np.zeros(3)
        self.donor_pairs: dict[str, int] = {}
        self.acceptor_pairs: dict[str, int] = {}
        self.lengths: dict[str, list[int]] = {k: [] for k in LENGTH_KINDS}
        self.phases = np.zeros(3)
        self.n_orfs = 0
        self.n_coding_genes = 0
        self.n_lnc_genes = 0
        self.n_utr5 = 0
        self.n_utr3 = 0
        self.bp = 0
        self.genic_bp = 0

    # strand-oriented access: a transcript's sequence in transcription direction
    def add(self, seq: str, genes: list[Gene]) -> None:
        from genannot.euk.labels import representative_transcript

        codes = encode(seq)
        n = len(codes)
        rc = revcomp_codes(codes)
        self.gc_class = gc_classes(codes, self.gc_edges)
        self.bp += int(np.sum(codes < 4))
        self.base_counts += np.bincount(codes[codes < 4], minlength=4)[:4]
        genic = np.zeros(n, dtype=bool)
        coding = np.zeros(n, dtype=bool)
        spans = []
        upstream = {"+": upstream_atg(codes), "-": upstream_atg(rc)}  # in transcription order, per strand

        def oriented(strand: str, a: int, b: int) -> np.ndarray:
            """Bases a..b (1-based closed, forward) in transcription order."""
            if strand == "+":
                return codes[a - 1 : b]
            return rc[n - b : n - a + 1]

        def window(strand: str, pos: int, before: int, length: int) -> np.ndarray | None:
            """`order` + `length` bases around transcription-order position `pos` (0-based in the
            oriented sequence, reference point) or None when off the end / holding N."""
            lo = pos - before - self.so
            hi = pos - before + length
            src = codes if strand == "+" else rc
            if lo < 0 or hi > n:
                return None
            w = src[lo:hi]
            return None if (w >= 4).any() else w

        def opos(strand: str, forward_1based: int) -> int:
            """0-based position in the oriented sequence of a forward 1-based base."""
            return forward_1based - 1 if strand == "+" else n - forward_1based

        seen_sites: set[tuple] = set()
        for g in genes:
            genic[max(0, g.start - 1) : g.end] = True
            spans.append((g.start, g.end))
            for t in g.transcripts:
                ex = _exons(t)
                for s, e in t.cds:
                    coding[s - 1 : e] = True
                if not (t.cds or t.biotype == "lnc_RNA"):
                    continue
                for (_, e1), (s2, _) in zip(ex, ex[1:]):
                    if s2 - e1 - 1 < 4:
                        continue
                    if g.strand == "+":
                        d_ref, a_ref = opos("+", e1 + 1), opos("+", s2)  # intron's first base / exon's first base
                    else:
                        d_ref, a_ref = opos("-", s2 - 1), opos("-", e1)
                    key = (g.strand, d_ref, a_ref)
                    if key in seen_sites:
                        continue
                    seen_sites.add(key)  # a real site either way: never a decoy
                    if self.max_site_intron is not None and s2 - e1 - 1 > self.max_site_intron:
                        continue
                    src = codes if g.strand == "+" else rc
                    dpair = _word(src[d_ref : d_ref + 2])
                    apair = _word(src[a_ref - 2 : a_ref])
                    self.donor_pairs[dpair] = self.donor_pairs.get(dpair, 0) + 1
                    self.acceptor_pairs[apair] = self.acceptor_pairs.get(apair, 0) + 1
                    w = window(g.strand, d_ref, *DONOR_WINDOW)
                    if w is not None:
                        self.donor_w.append(w)
                    w = window(g.strand, a_ref, *ACCEPTOR_WINDOW)
                    if w is not None:
                        self.acc_w.append(w)
            rep = representative_transcript(g)
            if rep is None:
                continue
            ex = _exons(rep)
            introns = [(e1 + 1, s2 - 1) for (_, e1), (s2, _) in zip(ex, ex[1:]) if s2 - e1 > 1]
            if not rep.cds:
                self.n_lnc_genes += 1
                self.lengths["lnc_exon"].extend(e - s + 1 for s, e in ex)
                self.lengths["lnc_intron"].extend(e - s + 1 for s, e in introns)
                continue
            self.n_coding_genes += 1
            self.lengths["intron"].extend(e - s + 1 for s, e in introns)
            self._add_coding(g, rep, oriented, window, opos, upstream)
        if self.pairwise:
            self._add_decoys(codes, rc, genes, seen_sites, window)
        self.genic_bp += int(genic.sum())
        for strand, outside in (("+", ~genic), ("-", ~genic[::-1])):
            atg = _pair_mask(codes if strand == "+" else rc, {"ATG"}, 0) & outside
            self.upstream_counts[1] += (atg.sum(), (atg & upstream[strand]).sum())
        # intergenic gaps between gene spans (sequence ends count as edges)
        merged = []
        for s, e in sorted(spans):
            if merged and s <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        for (_, e1), (s2, _) in zip(merged, merged[1:]):
            self.lengths["intergenic"].append(s2 - e1 - 1)
        # non-coding background: every base outside any annotated CDS, both strands (UTRs and lncRNA
        # exons are non-coding sequence too; leave-one-species-out CDS-exon F1 +0.003)
        nc = codes.copy()
        nc[coding] = 4
        for src, cls in ((nc, self.gc_class), (revcomp_codes(nc), self.gc_class[::-1])):
            idx, valid = kmer_index(src, self.k + 1)
            for j, counts in enumerate(self.noncoding):
                counts += np.bincount(idx[valid & (cls == j)], minlength=len(counts))

    def _add_decoys(self, codes: np.ndarray, rc: np.ndarray, genes: list[Gene], sites: set[tuple], window) -> None:
        """Decoys for the pairwise splice-site models: a `DECOY_SHARE` sample of the canonical donor and
        acceptor dinucleotides inside genes, on their strand, that are not real sites."""
        n = len(codes)
        for strand, src in (("+", codes), ("-", rc)):
            inside = np.zeros(n, dtype=bool)
            for g in genes:
                if g.strand == strand:
                    inside[g.start - 1 : g.end] = True
            if strand == "-":
                inside = inside[::-1]
            real = {"donor": {d for s, d, _ in sites if s == strand}, "acceptor": {a for s, _, a in sites if s == strand}}
            for kind, (words, offset, spec, _) in SITE_KINDS.items():
                pos = np.flatnonzero(_pair_mask(src, set(words), offset) & inside)
                for t in pos[self.rng.random(len(pos)) < DECOY_SHARE]:
                    w = None if int(t) in real[kind] else window(strand, int(t), *spec)
                    if w is not None:
                        self.decoys[kind].append(w[self.so :])

    def _pairwise(self, kind: str, sites: list[np.ndarray], log_bg: np.ndarray) -> PairwiseSiteModel | None:
        """The pairwise model of one kind of site ("donor", "acceptor"), or None without enough sites."""
        decoys = self.decoys[kind]
        if not self.pairwise or len(sites) < PAIRWISE_MIN_SITES or len(decoys) < PAIRWISE_MIN_SITES:
            return None
        d = np.stack(decoys)
        if len(d) > MAX_DECOYS:
            d = d[np.sort(self.rng.choice(len(d), MAX_DECOYS, replace=False))]
        _, offset, (before, _), distance = SITE_KINDS[kind]
        return PairwiseSiteModel.fit(np.stack(sites)[:, self.so :], d, before, offset, distance, log_bg)

    def _add_coding(self, g: Gene, t: Transcript, oriented, window, opos, upstream: dict[str, np.ndarray]) -> None:
        cds = sorted(t.cds)
        if g.strand == "-":
            cds = cds[::-1]
        parts = [oriented(g.strand, s, e) for s, e in cds]
        spliced = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)
        stop_codes = {tuple(encode(s)): i for i, s in enumerate(STOPS)}
        # lengths of CDS pieces and UTR presence
        lens = [e - s + 1 for s, e in cds]
        if len(lens) == 1:
            self.lengths["cds_single"].append(lens[0])
        else:
            self.lengths["cds_initial"].append(lens[0])
            self.lengths["cds_internal"].extend(lens[1:-1])
            self.lengths["cds_terminal"].append(lens[-1])
        done = 0
        for L in lens[:-1]:
            done += L
            self.phases[done % 3] += 1
        ex = _exons(t)
        lo, hi = min(s for s, _ in t.cds), max(e for _, e in t.cds)
        left = [(s, min(e, lo - 1)) for s, e in ex if s < lo]
        right = [(max(s, hi + 1), e) for s, e in ex if e > hi]
        u5, u3 = (left, right) if g.strand == "+" else (right, left)
        if u5:
            self.n_utr5 += 1
            self.lengths["utr5_exon"].extend(e - s + 1 for s, e in u5)
        if u3:
            self.n_utr3 += 1
            self.lengths["utr3_exon"].extend(e - s + 1 for s, e in u3)
        # a whole ORF? (extend by one codon when the annotation stops short of its stop)
        if len(spliced) % 3 or len(spliced) < 6 or (spliced >= 4).any():
            return
        end_fwd = cds[-1][1] if g.strand == "+" else cds[-1][0]
        last = tuple(spliced[-3:])
        if last not in stop_codes:
            p = opos(g.strand, end_fwd) + 1
            nxt = window(g.strand, p, 0, 3)
            if nxt is None or tuple(nxt[self.so :]) not in stop_codes:
                return
            spliced = np.concatenate([spliced, nxt[self.so :]])
            last = tuple(spliced[-3:])
        codons = spliced[:-3].reshape(-1, 3)
        if tuple(spliced[:3]) != (0, 3, 2):  # ATG
            return
        if np.isin(codons.astype(np.int64) @ [16, 4, 1], _STOP_INDEX).any():
            return
        self.n_orfs += 1
        self.stops[stop_codes[last]] += 1
        start_fwd = cds[0][0] if g.strand == "+" else cds[0][1]
        w = window(g.strand, opos(g.strand, start_fwd), *START_WINDOW)
        if w is not None:
            self.start_w.append(w)
        self.upstream_counts[0] += (1, upstream[g.strand][opos(g.strand, start_fwd)])
        body = spliced[:-3]
        idx, valid = kmer_index(body, self.k + 1)
        phase = np.arange(len(body)) % 3
        counts = self.coding[self.gc_class[(g.start + g.end) // 2 - 1]]
        for k in range(3):
            counts[k] += np.bincount(idx[valid & (phase == k)], minlength=counts.shape[1])

    def finish(self, pseudo: float, files: list) -> GeneModelParams:
        bg = (self.base_counts + pseudo) / (self.base_counts + pseudo).sum()
        log_bg = np.log(bg)

        def sig(ws: list[np.ndarray], spec: tuple[int, int]) -> SignalModel:
            arr = np.stack(ws) if ws else np.zeros((0, self.so + spec[1]), dtype=np.uint8)
            return SignalModel.fit(arr, spec[0], spec[1], self.so, pseudo)

        def chain(counts: np.ndarray) -> np.ndarray:
            """Per GC class (shrunk towards the pooled counts); one class: no class axis."""
            if len(counts) > 1:
                counts = counts + GC_SHRINK * counts.sum(axis=0)
            p = np.log(_interpolated(counts.reshape(*counts.shape[:-1], -1, 4), self.k, self.backoff))
            return p if len(counts) > 1 else p[0]

        stats = {
            "files": files, "bp": self.bp, "genic_bp": self.genic_bp, "coding_genes": self.n_coding_genes,
            "lnc_genes": self.n_lnc_genes, "complete_orfs": self.n_orfs, "utr5_transcripts": self.n_utr5,
            "utr3_transcripts": self.n_utr3, "donor_sites": len(self.donor_w), "acceptor_sites": len(self.acc_w),
            "start_sites": len(self.start_w), "coding_order": self.k, "signal_order": self.so,
        }
        log.info("gene model: %d coding genes (%d whole ORFs), %d lncRNA genes, %d donors, %d acceptors", self.n_coding_genes, self.n_orfs, self.n_lnc_genes, len(self.donor_w), len(self.acc_w))
        stop = (self.stops + pseudo) / (self.stops + pseudo).sum()
        return GeneModelParams(
            log_bg=log_bg, donor=sig(self.donor_w, DONOR_WINDOW), acceptor=sig(self.acc_w, ACCEPTOR_WINDOW),
            start=sig(self.start_w, START_WINDOW), stop_logp=np.log(stop),
            coding=chain(self.coding), noncoding=chain(self.noncoding),
            donor_pairs=dict(sorted(self.donor_pairs.items())), acceptor_pairs=dict(sorted(self.acceptor_pairs.items())),
            lengths={k: np.asarray(v, dtype=np.int64) for k, v in self.lengths.items()},
            intron_phases=self.phases.copy(), stats=stats, gc_edges=self.gc_edges.copy(),
            upstream_atg_share=(self.upstream_counts[:, 1] + pseudo) / (self.upstream_counts[:, 0] + 2 * pseudo),
            donor_pairwise=self._pairwise("donor", self.donor_w, log_bg),
            acceptor_pairwise=self._pairwise("acceptor", self.acc_w, log_bg),
        )


def _interpolated(counts: np.ndarray, k: int, alpha: float) -> np.ndarray:
    """P(base | k preceding bases) from counts (..., 4**k, 4), each order smoothed towards the one
    below: P_j = (n_j + alpha * P_{j-1}) / (N_j + alpha), P_-1 uniform."""
    lead = counts.shape[:-2]
    levels = [counts]
    for _ in range(k):
        c = levels[-1]
        levels.append(c.reshape(*lead, 4, c.shape[-2] // 4, 4).sum(axis=-3))  # drop the oldest base
    p = np.full((*lead, 1, 4), 0.25)
    for c in reversed(levels):
        reps = c.shape[-2] // p.shape[-2]
        prior = np.tile(p, (*([1] * len(lead)), reps, 1))  # context index: oldest base most significant
        p = (c + alpha * prior) / (c.sum(axis=-1, keepdims=True) + alpha)
    return p


def _word(codes: np.ndarray) -> str:
    return "".join("ACGTN"[int(c)] for c in codes)
