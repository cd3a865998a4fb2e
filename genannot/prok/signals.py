"""Per-genome statistics for the prokaryotic gene finder (self-training on the genome being annotated).

Everything here is vectorised numpy over whole strands; nothing knows about the DP or the classifiers.

- Sequence arrays: `StrandSeq` holds one strand of a record as base codes (A0 C1 G2 T3 N4) and the in-frame
  hexamer index at every position; coordinates are *strand coordinates* (position in the strand string,
  5'->3' in transcription direction).
- Strided cumulative sums (`FrameCumsum`) make "sum of a per-position value over every third position from
  a to b" O(1) per candidate: hexamer log-odds of a whole ORF, GC-frame counts.
- `gc_frame_classes`: for every codon position, which of the three codon positions is the most GC-rich in a
  120 nt window (Prodigal's bootstrap signal: genes have a characteristic GC position, GC3 in GC-rich
  genomes, GC1 in AT-rich ones).
- `HexamerModel`: in-frame hexamer (dicodon) log-odds, coding versus the genome's background.
- Start-site signals: start-codon type, Shine-Dalgarno motif class (motif strength x spacer bins),
  position-specific upstream composition; `StartModel` holds their log-odds weights, learned from the
  genome's own confident genes against all candidate starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# ---------------------------------------------------------------- sequence arrays

_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i
_COMP_CODE = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


def encode(seq: str) -> np.ndarray:
    """Base codes A0 C1 G2 T3, anything else 4."""
    return _CODE[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)]


def revcomp_codes(codes: np.ndarray) -> np.ndarray:
    return _COMP_CODE[codes[::-1]]


def kmer_index(codes: np.ndarray, k: int) -> np.ndarray:
    """Index (base 4) of the k-mer starting at every position (length n-k+1); -1 where it holds an N. int16 up to
    k = 7 (two bytes a base per strand kept for hexamers), int32 above."""
    n = len(codes)
    dtype = np.int16 if k <= 7 else np.int32
    if n < k:
        return np.zeros(0, dtype=dtype)
    idx = np.zeros(n - k + 1, dtype=dtype)
    bad = np.zeros(n - k + 1, dtype=bool)
    for j in range(k):
        c = codes[j : n - k + 1 + j]
        idx = idx * 4 + np.minimum(c, 3)
        bad |= c > 3
    idx[bad] = -1
    return idx


@dataclass
class StrandSeq:
    """One strand of one record in strand coordinates."""

    codes: np.ndarray  # uint8 base codes
    hexa: np.ndarray  # int16 hexamer index at each position (-1 with N), length n-5

    def kmers(self, k: int) -> np.ndarray:
        """k-mer indices (kmer_index); computed afresh for k other than 6, as they are read once per record."""
        return self.hexa if k == 6 else kmer_index(self.codes, k)

    @classmethod
    def from_codes(cls, codes: np.ndarray) -> "StrandSeq":
        return cls(codes, kmer_index(codes, 6))

    def __len__(self) -> int:
        return len(self.codes)


class FrameCumsum:
    """Sums of a per-position value over positions a, a+3, ..., b (inclusive) in O(1). Boolean values are counted
    in int32 (half the memory of float64 sums)."""

    def __init__(self, values: np.ndarray):
        v = np.asarray(values)
        dtype = np.int32 if v.dtype == bool else np.float64
        c = np.zeros(len(v) + 3, dtype=dtype)
        for f in range(3):
            c[f + 3 :: 3] = np.cumsum(v[f::3], dtype=dtype)
        self.c = c
        self.n = len(v)

    def range_sum(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Sum over a, a+3, ..., b (b - a a multiple of 3); 0 where b < a. Positions are clipped to the array."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        ok = (b >= a) & (a >= 0) & (self.n > 0)
        # the last position of the same frame that exists
        bb = np.where(b >= self.n, b - 3 * ((b - self.n) // 3 + 1), b)
        ok &= bb >= a
        aa = np.where(ok, a, 0)
        bb = np.where(ok, bb, 0)
        out = self.c[np.where(ok, bb + 3, 0)] - self.c[aa]
        return np.where(ok, out, 0.0)


# ---------------------------------------------------------------- genome-level numbers


def gc_content(codes_list: list[np.ndarray]) -> float:
    acgt = sum(int((c < 4).sum()) for c in codes_list)
    gc = sum(int(((c == 1) | (c == 2)).sum()) for c in codes_list)
    return gc / acgt if acgt else 0.5


def prob_stop(stops: tuple[str, ...], gc: float) -> float:
    """Probability that a random codon is a stop codon at this GC content."""
    p = {"A": (1 - gc) / 2, "T": (1 - gc) / 2, "G": gc / 2, "C": gc / 2}
    return float(sum(p[c[0]] * p[c[1]] * p[c[2]] for c in stops))


def length_factor(length_nt: np.ndarray, p_stop: float) -> np.ndarray:
    """Log-odds that an ORF this long is not a chance open frame, relative to an 80-codon one (Prodigal's length
    prior): log((1 - q^L) / q^L) - the same at L = 80 codons, q = P(codon is not a stop); linear beyond 1000 codons."""
    q = min(max(1.0 - p_stop, 1e-6), 1 - 1e-9)
    lq = math.log(q)

    def f(L):
        # log((1 - q^L)/q^L) = log(q^-L - 1), computed stably
        x = -L * lq
        return np.where(x > 30, x, np.log(np.expm1(np.minimum(x, 30)) + 1e-300))

    L = np.asarray(length_nt, dtype=np.float64) / 3.0
    f80 = f(np.float64(80.0))
    f1000 = f(np.float64(1000.0))
    short = f(np.minimum(L, 1000.0)) - f80
    long_ = (f1000 - f80) * (L - 80.0) / 920.0
    return np.where(L > 1000.0, long_, short)


# ---------------------------------------------------------------- GC frame (bootstrap)


def gc_frame_classes(codes: np.ndarray, window_codons: int = 40) -> np.ndarray:
    """For every position j, the codon position k in {0,1,2} (relative to j) whose in-frame GC count over a
    window of `window_codons` codons centred on j is highest (ties -> the later position, as 3rd > 2nd > 1st)."""
    n = len(codes)
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    gc = (codes == 1) | (codes == 2)
    half = 3 * (window_codons // 2)
    # S(x) = sum_{m} gc[x + 3m] for x + 3m in [x - half, x + half), as differences of per-frame running sums
    pad = np.concatenate([np.zeros(half + 3, bool), gc, np.zeros(half + 6, bool)])
    c = np.zeros(len(pad) + 3, dtype=np.int32)
    for f in range(3):
        c[f + 3 :: 3] = np.cumsum(pad[f::3], dtype=np.int32)
    s = (c[2 * half + 3 : 2 * half + n + 5] - c[3 : n + 5]).astype(np.int16)  # x = 0..n+1 (pad index x + half + 3)
    s0, s1, s2 = s[0:n], s[1 : n + 1], s[2 : n + 2]
    # the highest of the three, ties broken towards the later codon position
    return np.where((s2 >= s1) & (s2 >= s0), np.int8(2), (s1 >= s0).astype(np.int8))


# ---------------------------------------------------------------- coding (hexamer) model


def background_hexamers(strands: list[StrandSeq]) -> np.ndarray:
    """Hexamer counts over every position of every strand given (both strands of every record)."""
    counts = np.zeros(4096, dtype=np.float64)
    for s in strands:
        h = s.hexa[s.hexa >= 0]
        counts += np.bincount(h, minlength=4096)
    return counts


def inframe_hexamer_counts(strand: StrandSeq, begins: np.ndarray, lasts: np.ndarray) -> np.ndarray:
    """Counts of hexamers at positions begin, begin+3, ..., last for each (begin, last) pair."""
    counts = np.zeros(4096, dtype=np.float64)
    begins = np.asarray(begins, dtype=np.int64)
    lasts = np.minimum(np.asarray(lasts, dtype=np.int64), len(strand.hexa) - 1)
    ok = lasts >= begins
    if not ok.any():
        return counts
    b, l = begins[ok], lasts[ok]
    n = (l - b) // 3 + 1
    tot = int(n.sum())
    off = np.repeat(np.cumsum(n) - n, n)
    pos = np.repeat(b, n) + 3 * (np.arange(tot) - off)
    h = strand.hexa[pos]
    return counts + np.bincount(h[h >= 0], minlength=4096)


@dataclass
class HexamerModel:
    """log P(hexamer | coding, in frame) / P(hexamer | genome background), clipped to +-5."""

    lo: np.ndarray

    @classmethod
    def fit(cls, coding_counts: np.ndarray, background_counts: np.ndarray, pseudo: float = 0.0) -> "HexamerModel":
        """Log ratio of frequencies; a hexamer never seen in genes gets the floor (-5), one absent from the
        background 0 (Prodigal's convention when `pseudo` is 0)."""
        cc = np.asarray(coding_counts, dtype=np.float64) + pseudo
        bc = np.asarray(background_counts, dtype=np.float64) + pseudo
        pc = cc / max(cc.sum(), 1e-300)
        pb = bc / max(bc.sum(), 1e-300)
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.log(pc / pb)
        lo = np.where(pb > 0, np.where(pc > 0, lo, -5.0), 0.0)
        return cls(np.clip(lo, -5.0, 5.0))

    def position_values(self, strand: StrandSeq) -> np.ndarray:
        v = self.lo[np.maximum(strand.hexa, 0)]
        v[strand.hexa < 0] = 0.0
        return v


# ---------------------------------------------------------------- start-site signals

START_TYPES = ("ATG", "GTG", "TTG", "CTG", "EDGE")
TYPE_INDEX = {c: i for i, c in enumerate(START_TYPES)}


def _one_mismatch(word: str, positions: tuple[int, ...]) -> set[str]:
    out = set()
    for i in positions:
        for b in "ACGT":
            if b != word[i]:
                out.add(word[:i] + b + word[i + 1 :])
    return out


# Shine-Dalgarno motif families (subsets of AGGAGG, the complement of the 16S rRNA 3' end), strongest first;
# each is (name, k, words). Mismatches are allowed only in the interior of 5/6-mers.
SD_FAMILIES: list[tuple[str, int, tuple[str, ...]]] = [
    ("AGGAGG", 6, ("AGGAGG",)),
    ("GGAGG", 5, ("GGAGG",)),
    ("AGGAG", 5, ("AGGAG",)),
    ("AGGAGG-mm", 6, tuple(sorted(_one_mismatch("AGGAGG", (2, 3))))),
    ("GGAG", 4, ("GGAG", "GAGG")),
    ("AGGA", 4, ("AGGA",)),
    ("5mer-mm", 5, tuple(sorted(_one_mismatch("AGGAG", (2,)) | _one_mismatch("GGAGG", (2,))))),
    ("3mer", 3, ("AGG", "GGA", "GAG")),
]
# spacer = nt between the motif's last base and the start codon's first base
SD_SPACERS: list[tuple[int, int]] = [(5, 10), (11, 12), (4, 4), (13, 15)]
N_SD_BINS = len(SD_FAMILIES) * len(SD_SPACERS) + 1  # + "no motif" (bin 0)


def _word_index(w: str) -> int:
    v = 0
    for ch in w:
        v = v * 4 + "ACGT".index(ch)
    return v


def _sd_lookup_tables() -> list[tuple[int, np.ndarray]]:
    """(k, boolean table over k-mer indices) per SD family, in SD_FAMILIES order."""
    out = []
    for _name, k, words in SD_FAMILIES:
        lut = np.zeros(4**k, dtype=bool)
        lut[[_word_index(w) for w in words]] = True
        out.append((k, lut))
    return out


_SD_LUTS = _sd_lookup_tables()
_SPACER_LO = np.array([lo for lo, _ in SD_SPACERS], dtype=np.int64)[:, None]
_SPACER_HI = np.array([hi for _, hi in SD_SPACERS], dtype=np.int64)[:, None]


def sd_bin_matrix(strand: StrandSeq, starts: np.ndarray) -> np.ndarray:
    """Boolean (len(starts), N_SD_BINS): which SD (family, spacer) bins occur upstream of each start.
    Bin 0 (no motif) is always set. Fixed costs kept low, for inputs of many short contigs."""
    starts = np.asarray(starts, dtype=np.int64)
    out = np.zeros((len(starts), N_SD_BINS), dtype=bool)
    out[:, 0] = True
    if len(starts) == 0:
        return out
    n_sp = len(SD_SPACERS)
    kmers: dict[int, np.ndarray] = {}  # families share k-mer lengths
    for f, (k, lut) in enumerate(_SD_LUTS):
        if k not in kmers:
            kmers[k] = strand.kmers(k)
        km = kmers[k]
        occ = lut[np.maximum(km, 0)] & (km >= 0)
        cs = np.concatenate([np.zeros(1, np.int32), np.cumsum(occ, dtype=np.int32)])
        # motif start q in [p - hi_sp - k, p - lo_sp - k], every spacer bin at once
        q0c = np.minimum(np.maximum(starts - _SPACER_HI - k, 0), len(km))
        q1c = np.minimum(np.maximum(starts - _SPACER_LO - k + 1, 0), len(km))
        out[:, 1 + f * n_sp : 1 + (f + 1) * n_sp] = ((q1c > q0c) & ((cs[q1c] - cs[q0c]) > 0)).T
    return out


def sd_bin_name(b: int) -> str:
    """Readable name of an SD bin, e.g. 'AGGAGG/5-10bp' ('None' for bin 0)."""
    if b <= 0:
        return "None"
    fi, si = divmod(b - 1, len(SD_SPACERS))
    lo, hi = SD_SPACERS[si]
    return f"{SD_FAMILIES[fi][0]}/{lo}-{hi}bp"


def default_sd_order() -> np.ndarray:
    """Prior preference of SD bins (higher = stronger) used before any weights are learned."""
    pref = np.zeros(N_SD_BINS)
    b = 1
    nf = len(SD_FAMILIES)
    for fi in range(nf):
        for si in range(len(SD_SPACERS)):
            pref[b] = (nf - fi) * 10 + (len(SD_SPACERS) - si)
            b += 1
    return pref


UPS_OFFSETS = np.array([-1, -2] + list(range(-15, -45, -1)), dtype=np.int64)  # 32 positions


def upstream_codes(strand: StrandSeq, starts: np.ndarray, offsets: np.ndarray = UPS_OFFSETS) -> np.ndarray:
    """(len(starts), len(offsets)) base codes at start+offset (4 outside the strand)."""
    starts = np.asarray(starts, dtype=np.int64)
    pos = starts[:, None] + offsets[None, :]
    ok = (pos >= 0) & (pos < len(strand.codes))
    out = np.full(pos.shape, 4, dtype=np.uint8)
    out[ok] = strand.codes[pos[ok]]
    return out


@dataclass
class StartFeatures:
    """Start-site features of every candidate (aligned with the candidate arrays)."""

    ctype: np.ndarray  # int8 index into START_TYPES
    sd: np.ndarray  # bool (n, N_SD_BINS)
    ups: np.ndarray  # uint8 (n, len(UPS_OFFSETS))
    _flat: np.ndarray | None = None

    @property
    def ups_flat(self) -> np.ndarray:
        """(n, P) indices into a flattened (P, 5) weight table."""
        if self._flat is None:
            P = self.ups.shape[1]
            self._flat = (np.arange(P, dtype=np.int32)[None, :] * 5 + self.ups).astype(np.int32)
        return self._flat


@dataclass
class StartModel:
    """Log-odds weights of start features (true start versus any candidate start)."""

    type_wt: np.ndarray = field(default_factory=lambda: np.zeros(len(START_TYPES)))
    sd_wt: np.ndarray = field(default_factory=lambda: np.zeros(N_SD_BINS))
    ups_wt: np.ndarray = field(default_factory=lambda: np.zeros((len(UPS_OFFSETS), 5)))
    trained: bool = False

    def sd_choice(self, sd: np.ndarray) -> np.ndarray:
        """Index of the bin used for each start: the present bin of highest weight (prior order untrained)."""
        w = self.sd_wt if self.trained else default_sd_order()
        order = np.argsort(-w, kind="stable")  # bins from best to worst
        present = sd[:, order]
        return order[np.argmax(present, axis=1)]

    def components(self, f: StartFeatures) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(type, rbs, upstream) raw log-odds of each candidate."""
        t = self.type_wt[f.ctype]
        r = self.sd_wt[self.sd_choice(f.sd)]
        u = self.ups_wt.ravel()[f.ups_flat].sum(axis=1)
        return t, r, u

    @classmethod
    def fit(cls, f: StartFeatures, chosen: np.ndarray, background: np.ndarray, prev: "StartModel | None" = None,
            pseudo: float = 1.0, clip: float = 4.0, shrink: float = 20.0, gc: float | None = None) -> "StartModel":
        """Weights = log(P(feature | chosen starts) / P(feature | background starts))."""
        prev = prev or cls()
        m = cls()
        real = chosen & (f.ctype < TYPE_INDEX["EDGE"])
        bg = background & (f.ctype < TYPE_INDEX["EDGE"])
        if real.sum() < 10 or bg.sum() < 10:
            return m

        def lr(cr, cb):
            # background frequencies with a flat pseudocount; true-start frequencies shrunk towards the
            # background by `shrink` pseudo-observations, so that rare features get weights near 0
            cr = np.asarray(cr, dtype=np.float64)
            cb = np.asarray(cb, dtype=np.float64)
            pb = (cb + pseudo) / (cb + pseudo).sum(axis=-1, keepdims=True)
            pr = (cr + shrink * pb) / (cr.sum(axis=-1, keepdims=True) + shrink)
            w = np.clip(np.log(pr / pb), -clip, clip)
            return np.where(cb + cr > 0, w, 0.0)

        nt = len(START_TYPES)
        m.type_wt = lr(np.bincount(f.ctype[real], minlength=nt), np.bincount(f.ctype[bg], minlength=nt))
        m.type_wt[TYPE_INDEX["EDGE"]] = 0.0
        choice = prev.sd_choice(f.sd)
        m.sd_wt = lr(np.bincount(choice[real], minlength=N_SD_BINS), np.bincount(choice[bg], minlength=N_SD_BINS))
        P = f.ups.shape[1]
        cr = np.bincount(f.ups_flat[real].ravel(), minlength=P * 5).reshape(P, 5)[:, :4]
        uw = np.zeros((P, 5))
        if gc is None:
            cb = np.bincount(f.ups_flat[bg].ravel(), minlength=P * 5).reshape(P, 5)[:, :4]
            uw[:, :4] = lr(cr, cb)
        else:
            # against the genome's base composition (Prodigal's choice): upstream regions of true starts
            # differ from random sequence (AT-rich intergenic DNA), not only from other candidate starts
            g = min(max(gc, 0.1), 0.9)
            comp = np.array([(1 - g) / 2, g / 2, g / 2, (1 - g) / 2])
            pr = (cr + shrink * comp) / (cr.sum(axis=1, keepdims=True) + shrink)
            uw[:, :4] = np.clip(np.log(pr / comp), -clip, clip)
        m.ups_wt = uw
        m.trained = True
        return m
