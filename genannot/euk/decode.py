"""Per-base scores -> eukaryotic gene models: a structured (Viterbi) decoder and a heuristic one.

    genes = decode_record(seqid, seq, params, probs)                # structured, the default
    genes = decode_heuristic(seqid, seq, probs, params)             # threshold + splice snapping

`params` is a genannot.euk.genemodel.GeneModelParams (signal models estimated from a training
annotation); `probs` the segmentation network's (L, 2, 5) forward-coordinate tracks
(genannot.euk.windows.predict_record), a callable (start, end) -> that array for a slice, or None
(signal models alone: a GENSCAN-like gene finder). Output: genannot.features.Gene objects, gene ->
mRNA (exons with UTRs, CDS with the stop codon) or ncRNA_gene -> lnc_RNA, IDs `{seqid}.g{n}` and
`{seqid}.g{n}.t1`, attribute `score` (log-odds of the gene against intergenic sequence, nats) and,
with network tracks, `prob` (mean exon probability over the transcript's exons).

Structured decoder
- A hidden Markov model read left to right: intergenic; per strand 5'UTR exon/intron, CDS exon
  states C0 C1 C2 (codon position in reading direction), introns by phase with the bases of a
  split codon remembered (so a stop codon can never form across a splice junction), 3'UTR
  exon/intron; and a lncRNA path (exon/intron). A minus-strand gene is read from its 3' end: the
  same machine with reverse-complemented signals and stop codons. Both strands share one path
  (genes exclude each other: better for the signal models alone) or each strand is decoded on its
  own (genes may overlap on opposite strands, as antisense lncRNAs do: better with network
  tracks; on simulated tracks of human chr9:1-1,000,000 it lifted lncRNA exon F1 from 0.11 to
  0.23 and genes found from 11 to 16 of 23); `joint_strands`.
- Emissions: `net_weight` x the network's log-odds (sum of the logits of the state's labels, so
  that intergenic scores 0; with `net_prior`, the logits of the class frequencies the network was
  trained on are subtracted, so that the state machine's own length and density priors are not
  counted twice: a network that knows nothing then leaves the signal models' answer unchanged) + `coding_weight` x the in-frame coding Markov chain's log-odds in CDS
  states (0 elsewhere: introns, UTRs and intergenic share the background).
- Signals are transitions: an intron opens only at an allowed donor dinucleotide and closes at an
  allowed acceptor (GT/GC/AT, AG/AC as seen in the training annotation; `splice_filter=False`
  lets any pair through at its position-weight-matrix score), a CDS starts at ATG and ends at a
  stop, each adding `signal_weight` x its log-odds; an in-frame stop inside a CDS is impossible.
- Minimum lengths (introns, CDS exons) as fixed-length jumps: entering an intron or an exon moves
  `min_intron` / `min_exon` bases at once, scoring every base on the way (and checking every codon
  on the way for a stop). Beyond that, UTR and intergenic lengths are geometric with the training
  means (the training annotation's gene density sets the intergenic one), intron lengths a mixture
  of two geometrics fitted to the training introns (`intron_mixture`: short introns and a long tail;
  leave-one-species-out over the mammal regions CDS-exon F1 0.651 -> 0.654, held-out human chr9
  0.211 -> 0.250), CDS exon lengths a sum of `exon_stages` geometrics (2: a peaked distribution,
  so that short spurious exons cost more; on held-out mouse + human chr21 this lifted CDS-exon F1
  of the signal models alone from 0.39 to 0.47).
- CDS exon types: models self-trained on the input (`GeneModelParams.exon_types`, set by
  genannot.euk.selftrain) give single, initial, internal and terminal CDS exons each its own mean length:
  four families of CDS states per strand, told apart by what they are entered from (a gene edge or an
  intron) and left to. The types' lengths differ far more than one length can follow (annotations'
  medians, single / initial / internal / terminal: Arabidopsis 639 / 186 / 121 / 204 nt, yeast 1,272 /
  33 / 123 / 474, C. elegans 175 / 88 / 168 / 150). Self-trained models: Arabidopsis slice CDS-exon F1
  0.780 -> 0.798, yeast 0.879 -> 0.882 (intron F1 0.236 -> 0.259), C. elegans 0.660 -> 0.659 (which
  rounds use them: genannot.euk.selftrain). Not for the embedded models on a genome they were not
  fitted to: their single-exon genes' lengths (mostly mammal ones, mean 1,047 nt) let long ORFs through
  as genes on the Drosophila slice (single-exon genes 20 -> 49, CDS-exon F1 0.531 -> 0.494).
- Spliced leaders: with `GeneModelParams.leader_share` > 0 (set by self-training where most genes start so,
  genannot.euk.selftrain), a coding gene may also begin at a splice acceptor followed by a short 5'UTR (one state,
  geometric with `leader_length`) and then its start codon: the exon an SL1 trans-spliced leader joins in a
  nematode (C. elegans: about 70% of genes). Without that path the acceptor could only end an intron, and the
  decoder fused neighbours through it: on the C. elegans slice 25 predicted genes spanned two annotated ones, the
  junction's acceptor mostly the downstream gene's leader site a few bases before its ATG. Decoded with it (share
  0.5, self-trained models fitted without the slice): CDS-exon F1 0.674 -> 0.690, exon F1 0.531 -> 0.562
  (first exons now end where the annotation's do), transcript F1 0.189 -> 0.230.
- Long sequences are decoded in overlapping windows (`window`, `overlap`), `batch` windows at once
  (vectorised over windows and states; the loop over positions compiled with numba). Consecutive windows'
  paths are joined inside their overlap where they agree state by state; where they never agree
  (inside a gene longer than the overlap) the right window is decoded again from the left path's
  state (`max_rounds` rounds), so genes longer than a window come out whole. Memory: the
  backpointers of one batch plus the unfinished part of the joined path; the sequence itself can
  stay on disk (genannot.io.fasta.SpooledSequence), read one window group at a time.
- UTR and lncRNA states are used when network tracks are given (the signal models cannot place
  transcript ends); `utr` / `lnc` override.

Heuristic decoder (the ablation baseline): exon/intron tracks thresholded into transcribed regions,
exon edges snapped to the nearest allowed splice dinucleotide, exons with disallowed flanks dropped
(`splice_filter`), the CDS = the ORF of the spliced transcript with the most CDS-track support
(else lnc_RNA).
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Sequence

import numpy as np

from genannot.euk.genemodel import STOPS, GeneModelParams, _pair_mask, _shift, encode, revcomp_codes
from genannot.euk.viterbi import backtrack, jump_sums, viterbi_steps
from genannot.euk.windows import n_runs, plan_windows
from genannot.features import Gene, Transcript
from genannot.io.fasta import SpooledSequence
from genannot.io.seqout import reverse_complement

log = logging.getLogger("genannot.euk.decode")

UTR5, EXON, INTRON, UTR3, CDS = range(5)
NEG = -np.inf
LOW = -1e30  # "impossible" inside the Viterbi engine: finite, so that scores can carry tag bits
PAD_PENALTY = -1e4

Probs = np.ndarray | Callable[[int, int], np.ndarray] | None


# CDS exon length floors are low quantiles of the training lengths, and a low quantile of a few dozen
# lengths is no floor. Self-training in an intron-poor genome is where that happens: its multi-exon genes are
# the few it has predicted, and each round's are censored by the last round's floor (yeast chrI-VIII: 89
# first exons, 2% quantile 31 nt, so first exons under 30 nt were ruled out, where a third of yeast's real
# ones are). Below FLOOR_SAMPLE lengths the defaults stand (first and last exons 6 nt, internal 20).
FLOOR_SAMPLE = 200
MAX_LEADER_SHARE = 0.95  # GeneModelParams.leader_share is capped here: a gene may always start at its start codon
TYPE_SAMPLE = 20  # an exon type with fewer known lengths takes the mean of every multi-exon gene's CDS exons


@dataclass
class DecodeOptions:
    window: int = 50_000
    overlap: int = 10_000
    batch: int = 64
    max_rounds: int = 3  # re-decoding rounds for window junctions where the paths disagree
    net_weight: float = 1.0
    net_prior: Sequence[float] | None = None  # per-class base frequency the network was trained on (5 values)
    signal_weight: float = 1.0
    coding_weight: float = 1.0
    utr: bool | None = None  # None: on with network tracks
    lnc: bool | None = None  # None: on with network tracks
    splice_filter: bool = True
    softmask_penalty: float = 0.15  # per soft-masked (lowercase: repeat) base in exon states
    own_mask: bool = False  # the lowercase letters are genannot's own repeat mask (genannot.euk.repeats): a mask
    # however much of a record it covers, never a lowercase file
    min_intron: int | None = None  # default: 1% quantile of the training introns, 20..80
    min_exon: int | None = None  # CDS exons after an intron; default: 1% quantile of internal exons, 3..30 (FLOOR_SAMPLE)
    min_first_exon: int | None = None  # CDS exon after the start codon; default: 2% quantile, 3..30 (FLOOR_SAMPLE)
    min_utr_exon: int = 8
    exon_stages: int = 2  # CDS exon length beyond the minimum: a sum of this many geometrics (peaked)
    joint_strands: bool | None = None  # one path over both strands, or each strand on its own (then
    # genes may overlap on opposite strands: antisense lncRNAs); None: joint for the signal models
    # alone, separate with network tracks
    intron_mean: float | None = None  # one geometric intron length with this mean (minimum included);
    # default: a mixture of two geometrics fitted to the training introns (short ones and a long tail)
    gene_rate: float | None = None  # genes per intergenic base; default: training density
    context: int = 2000  # extra bases each side when `probs` is a callable
    min_n_run: int = 1000  # N runs at least this long split the sequence
    chunk: int = 2048  # positions per emission chunk
    min_cds: int = 90  # coding genes with less CDS are dropped
    min_partial_cds: int = 60  # the same for genes cut by a record or contig edge (Prodigal's edge minimum)
    min_lnc: int = 200  # lncRNAs with a shorter spliced length are dropped (the GENCODE definition)


# ----------------------------------------------------------------------------- the state machine


@dataclass
class _Jump:
    src: int
    dst: int
    logp: float
    fill: list[int]  # states of the bases covered, in order (the last is dst)
    terms: list[tuple[str, int]]  # (signal array, offset from the departure base)
    cds: tuple[str, int] | None = None  # fill[:-1] cycles through strand's C states from codon position k0
    checks: tuple[str, int, int] | None = None  # in-frame stop check array, first and last offset (step 3)


class GeneHMM:
    """States, edges and emission matrix of the gene-structure HMM (see the module doc)."""

    FEATURES = ["code+0", "code+1", "code+2", "code-0", "code-1", "code-2"] + [f"net{s}{c}" for s in "+-" for c in range(5)] + ["softmask", "pad"]

    def __init__(self, params: GeneModelParams, opt: DecodeOptions, network: bool, strands: str = "+-") -> None:
        self.p = params
        self.opt = opt
        self.network = network
        self.utr = network if opt.utr is None else opt.utr
        self.lnc = network if opt.lnc is None else opt.lnc
        self.names: list[str] = []
        self.kind: list[str] = []  # ig, utr5, cds, utr3, intron, utr_intron, lnc_exon, lnc_intron
        self.strand: list[int] = []  # 0 intergenic, 1 plus, 2 minus
        self.codon: list[int] = []  # codon position of CDS states, else -1
        self.labels: list[list[tuple[int, int]]] = []  # network labels (strand index, class)
        self.edges: list[tuple[int, int, float]] = []  # delay-1 edges: src, dst, log-probability
        self.jumps: list[_Jump] = []
        self.groups: dict[str, dict] = {}
        # per strand, one exon family's CDS states at codon positions 0, 1, 2: the engine sums a CDS jump's
        # emissions over them whatever family the jump enters, as every family's CDS states emit alike
        self.cds_states: dict[str, list[int]] = {}
        self._lengths()
        self.IG = self._state("IG", "ig", 0)
        self.edges.append((self.IG, self.IG, np.log1p(-self.q_ig * len(strands) / 2)))
        for st in strands:
            self._strand(st)
        self._emission_matrix()

    # ------------------------------------------------------------------ parameters

    def _floor(self, kind: str, q: float, default: float) -> float:
        """The `q` quantile of the training lengths of a CDS exon `kind`, or `default` where fewer than
        FLOOR_SAMPLE of them are known (see FLOOR_SAMPLE)."""
        n = len(self.p.lengths.get(kind, ()))
        return self.p.length_quantile(kind, q, default) if n >= FLOOR_SAMPLE else default

    def _lengths(self) -> None:
        p, o = self.p, self.opt
        self.m_intron = int(o.min_intron or np.clip(round(p.length_quantile("intron", 0.01, 60) - 5), 20, 80))
        self.m_exon = int(o.min_exon or np.clip(round(self._floor("cds_internal", 0.01, 20)), 3, 30))
        self.m_first = int(o.min_first_exon or np.clip(round(self._floor("cds_initial", 0.02, 6)), 3, 30))
        self.m_last = int(np.clip(round(self._floor("cds_terminal", 0.02, 6)), 6, 30))  # stop codon included
        st = p.stats
        n_coding = max(1, st.get("coding_genes", 1))
        # lncRNA genes: at least 5% of genes, so that a training set without any does not rule them out
        n_lnc = max(st.get("lnc_genes", 0), 0.05 * n_coding) if self.lnc else 0
        ig_bp = max(1, st.get("bp", 1) - st.get("genic_bp", 0))
        self.q_ig = min(0.01, o.gene_rate or (n_coding + n_lnc) / ig_bp)
        self.f_coding = n_coding / (n_coding + n_lnc)
        self.u5 = st.get("utr5_transcripts", 0) / n_coding if self.utr else 0.0
        self.u3 = st.get("utr3_transcripts", 0) / n_coding if self.utr else 0.0
        multi = np.concatenate([p.lengths.get(k, np.zeros(0)) for k in ("cds_initial", "cds_internal", "cds_terminal")])
        mean_exon = float(np.mean(multi)) if len(multi) else 150.0
        self.stages = o.exon_stages
        self.families = {st: self._exon_families(st, mean_exon) for st in "+-"}
        ph = np.asarray(p.intron_phases, dtype=float) + 1.0
        self.phase_p = ph / ph.sum()
        lengths = p.lengths.get("intron", np.zeros(0))
        if o.intron_mean or len(lengths) < 20:
            self.intron_length = [(1.0, (o.intron_mean or p.mean_length("intron", 2000)) - self.m_intron)]
        else:
            self.intron_length = intron_mixture(np.asarray(lengths, dtype=float) - self.m_intron)

    def _exon_families(self, st: str, mean_exon: float) -> list[tuple[str, dict[str, float], dict[str, float], float]]:
        """CDS exon families of strand `st` in reading direction: (tag, share of the entries from a gene edge /
        an intron that go to it, share of its exits to an intron / a gene edge, mean length). With
        the models' `exon_types`, one family per exon type (single, initial, internal, terminal: each its own
        length, told apart by what it is entered from and left to); else one family for every exon."""
        p = self.p
        n = {k: len(p.lengths.get(f"cds_{k}", ())) for k in ("single", "initial", "internal", "terminal")}
        if not p.exon_types:
            fe = (n["single"] + n["initial"]) / max(1, sum(n.values()))  # share of CDS exon ends that are the CDS end
            return [("", {"edge": 1.0, "intron": 1.0}, {"intron": 1 - fe, "edge": fe}, mean_exon)]

        def mean(kind: str) -> float:
            return p.mean_length(f"cds_{kind}", mean_exon) if n[kind] >= TYPE_SAMPLE else mean_exon

        first, last = ("initial", "terminal") if st == "+" else ("terminal", "initial")
        multi = (n["initial"] + 1) / (n["initial"] + n["single"] + 2)  # a gene edge opens a multi-exon CDS
        mid = (n["internal"] + 1) / (n["internal"] + n["terminal"] + 2)  # an intron leads to an internal exon
        return [("s", {"edge": 1 - multi}, {"edge": 1.0}, mean("single")),
                ("f", {"edge": multi}, {"intron": 1.0}, mean(first)),
                ("i", {"intron": mid}, {"intron": 1.0}, mean("internal")),
                ("l", {"intron": 1 - mid}, {"edge": 1.0}, mean(last))]

    # ------------------------------------------------------------------ building

    def _state(self, name: str, kind: str, strand: int, codon: int = -1, labels: Sequence[tuple[int, int]] = ()) -> int:
        self.names.append(name)
        self.kind.append(kind)
        self.strand.append(strand)
        self.codon.append(codon)
        self.labels.append(list(labels))
        return len(self.names) - 1

    @staticmethod
    def _stay_exit(mean: float, minimum: int) -> tuple[float, float]:
        q = 1.0 / max(2.0, mean - minimum)
        return float(np.log1p(-q)), float(np.log(q))

    def _strand(self, st: str) -> None:
        si = 1 if st == "+" else 2
        ni = si - 1  # network strand index
        plus = st == "+"
        self.groups[st] = _strand_groups(st)
        g1, g2 = self.groups[st]["g1"], self.groups[st]["g2"]
        S = self._state
        E, J = self.edges.append, self.jumps.append
        lg = np.log
        op, cl = f"open{st}", f"close{st}"
        q_gene = self.q_ig / 2
        q_cod = q_gene * self.f_coding
        P = self.phase_p  # intron phases 0 / 1 / 2, left after codon position 2 / 0 / 1 (plus), 2 / 1 / 0 (minus)
        phase_after = {2: P[0], 0: P[1], 1: P[2]} if plus else {2: P[0], 0: P[2], 1: P[1]}
        # CDS exon families (see _exon_families), each a sum of `stages` geometrics: entered in its first
        # stage's states (C{k}{tag}s0), left from its last (C{k}{tag}); per codon, an exon ends with probability Q
        fams = []
        for tag, enter, leave, mean in self.families[st]:
            q = min(0.3, self.stages / max(10.0, mean - self.m_exon))  # per base, per stage
            Q = min(0.9, 3 * q)
            final = [S(f"C{k}{tag}{st}", "cds", si, k, [(ni, EXON), (ni, CDS)]) for k in range(3)]
            stages = [[S(f"C{k}{tag}s{j}{st}", "cds", si, k, [(ni, EXON), (ni, CDS)]) for k in range(3)] for j in range(self.stages - 1)] + [final]
            intr_after = {k: Q * leave.get("intron", 0.0) * phase_after[k] for k in range(3)}
            end_after = Q * leave.get("edge", 0.0)  # after codon position 2
            for k in range(3):
                E((final[k], final[(k + 1) % 3], lg(1 - intr_after[k] - (end_after if k == 2 else 0.0))))
                for x, y in zip(stages, stages[1:]):
                    E((x[k], x[(k + 1) % 3], lg(1 - q)))
                    E((x[k], y[(k + 1) % 3], lg(q)))
            fams.append((stages[0], final, enter, intr_after, end_after))
        self.cds_states[st] = fams[0][1]
        into_from_edge = [(first, enter["edge"]) for first, _, enter, _, _ in fams if enter.get("edge")]
        into_from_intron = [(first, enter["intron"]) for first, _, enter, _, _ in fams if enter.get("intron")]
        to_intron = [(final, intr_after) for _, final, _, intr_after, _ in fams if intr_after[2] > 0]
        to_edge = [(final, end_after) for _, final, _, _, end_after in fams if end_after > 0]
        # introns by phase (and, phases 1 and 2, by the bases of the split codon), one set per length
        # component: entries are jumps of m_intron bases, exits jumps of m_exon bases into CDS
        mi, me = self.m_intron, self.m_exon
        for c, (weight, mean) in enumerate(self.intron_length):
            stay_i, exit_i = self._stay_exit(mean + mi, mi)
            w = lg(weight)
            I0 = S(f"I0{st}{c}", "intron", si, labels=[(ni, INTRON)])
            for final, after in to_intron:
                J(_Jump(final[2], I0, lg(after[2]) + w, [I0] * mi, [(op, 0)]))
            E((I0, I0, stay_i))
            for first, share in into_from_intron:
                J(self._cds_jump(I0, st, 0, me, exit_i + lg(share), [(cl, 0)], into=first))
            for name in g1:
                I1 = S(f"I1{name}{st}{c}", "intron", si, labels=[(ni, INTRON)])
                for final, after in to_intron:
                    J(_Jump(final[0], I1, lg(after[0]) + w, [I1] * mi, [(op, 0), (f"g1{st}{name}", 0)]))
                E((I1, I1, stay_i))
                for first, share in into_from_intron:
                    J(self._cds_jump(I1, st, 1, me, exit_i + lg(share), [(cl, 0), (f"cmp2{st}{name}", 1)], into=first))
            for name in g2:
                I2 = S(f"I2{name}{st}{c}", "intron", si, labels=[(ni, INTRON)])
                for final, after in to_intron:
                    J(_Jump(final[1], I2, lg(after[1]) + w, [I2] * mi, [(op, 0), (f"g2{st}{name}", 0)]))
                E((I2, I2, stay_i))
                for first, share in into_from_intron:
                    J(self._cds_jump(I2, st, 2, me, exit_i + lg(share), [(cl, 0), (f"cmp1{st}{name}", 0)], into=first))
        # UTRs
        u5_pair = u3_pair = None
        if self.utr:
            u5_pair = self._utr(st, "utr5", [(ni, UTR5), (ni, EXON)], "u5")
            u3_pair = self._utr(st, "utr3", [(ni, UTR3), (ni, EXON)], "u3")
        p5 = self.u5 if self.utr else 0.0
        lead = min(max(float(self.p.leader_share), 0.0), MAX_LEADER_SHARE)
        p3 = self.u3 if self.utr else 0.0
        # gene ends
        if plus:
            # start: IG / 5'UTR -> ATG + first exon; stop: C2 -> stop codon -> 3'UTR / IG
            for first, share in into_from_edge:
                J(self._cds_jump(self.IG, st, 0, self.m_first, lg(q_cod * (1 - p5) * (1 - lead) * share) if p5 < 1 else NEG,
                                 [("start+", 0)], into=first))
            if lead:
                ld, ld_exit = self._leader(st)
                J(_Jump(self.IG, ld, lg(q_cod * (1 - p5) * lead), [ld] * 2, [(cl, 0)]))
                for first, share in into_from_edge:
                    J(self._cds_jump(ld, st, 0, self.m_first, ld_exit + lg(share), [("start+", 0)], into=first))
            for final, stop_p in to_edge:
                for dst, share in ((self.IG, 1 - p3), (u3_pair[0] if u3_pair else None, p3)):
                    if dst is not None and share > 0:
                        J(_Jump(final[2], dst, lg(stop_p * share), [final[0], final[1], final[2], dst], [("stop+", 0)], cds=("+", 0)))
            if u5_pair:
                u5e, _, u5_exit = u5_pair
                E((self.IG, u5e, lg(q_cod * p5)))
                for first, share in into_from_edge:
                    J(self._cds_jump(u5e, st, 0, self.m_first, u5_exit + lg(share), [("start+", 0)], into=first))
            if u3_pair:
                u3e, _, u3_exit = u3_pair
                E((u3e, self.IG, u3_exit))
        else:
            # read from the 3' end: IG / 3'UTR -> stop codon + exon; C2 after CAT -> 5'UTR / IG
            for first, share in into_from_edge:
                J(self._cds_jump(self.IG, st, 0, self.m_last, lg(q_cod * (1 - p3) * share) if p3 < 1 else NEG, [("stop-", 0)],
                                 skip_first=True, into=first))
            # the start codon ends the CDS: a 2-base jump, so that its score rides on the edge
            for final, end_p in to_edge:
                J(_Jump(final[2], self.IG, lg(end_p * (1 - p5) * (1 - lead)) if p5 < 1 else NEG, [self.IG] * 2, [("end-", 0)]))
            if lead:
                ld, ld_exit = self._leader(st)
                for final, end_p in to_edge:
                    J(_Jump(final[2], ld, lg(end_p * (1 - p5) * lead), [ld] * 2, [("end-", 0)]))
                J(_Jump(ld, self.IG, ld_exit, [self.IG] * 2, [(op, 0)]))
            if u3_pair:
                u3e, _, u3_exit = u3_pair
                E((self.IG, u3e, lg(q_cod * p3)))
                for first, share in into_from_edge:
                    J(self._cds_jump(u3e, st, 0, self.m_last, u3_exit + lg(share), [("stop-", 0)], skip_first=True, into=first))
            if u5_pair:
                u5e, _, u5_exit = u5_pair
                for final, end_p in to_edge:
                    J(_Jump(final[2], u5e, lg(end_p * p5), [u5e] * 2, [("end-", 0)]))
                E((u5e, self.IG, u5_exit))
        if self.lnc:
            le, li, le_exit = self._utr(st, "lnc", [(ni, EXON)], "lnc")
            E((self.IG, le, lg(q_gene * (1 - self.f_coding))))
            E((le, self.IG, le_exit))

    def _leader(self, st: str) -> tuple[int, float]:
        """The 5'UTR of a gene whose start-codon exon begins at a splice acceptor (GeneModelParams.leader_share):
        one state, geometric with the models' `leader_length`; returns (state, log P(exit | state))."""
        si = 1 if st == "+" else 2
        ld = self._state(f"lead{st}", "utr5", si, labels=[(si - 1, UTR5), (si - 1, EXON)])
        q = 1.0 / max(2.0, float(self.p.leader_length))
        self.edges.append((ld, ld, float(np.log1p(-q))))
        return ld, float(np.log(q))

    def _utr(self, st: str, which: str, labels: list, tag: str) -> tuple[int, int, float]:
        """Exon/intron pair of a 5'UTR, 3'UTR or lncRNA; returns (exon, intron, log P(exit to the
        gene's next part | exon))."""
        si = 1 if st == "+" else 2
        ni = si - 1
        p = self.p
        kind = {"utr5": "utr5", "utr3": "utr3", "lnc": "lnc_exon"}[which]
        ik = "lnc_intron" if which == "lnc" else "utr_intron"
        ex = self._state(f"{tag}e{st}", kind, si, labels=labels)
        it = self._state(f"{tag}i{st}", ik, si, labels=[(ni, INTRON)])
        lens = p.lengths.get({"utr5": "utr5_exon", "utr3": "utr3_exon", "lnc": "lnc_exon"}[which], np.zeros(0))
        n_tx = {"utr5": p.stats.get("utr5_transcripts", 1), "utr3": p.stats.get("utr3_transcripts", 1), "lnc": p.stats.get("lnc_genes", 1)}[which]
        mean = float(np.mean(lens)) if len(lens) else 300.0
        f_intron = max(0.05, min(0.95, 1 - n_tx / max(1, len(lens))))  # exon followed by another exon
        q = 1.0 / max(10.0, mean)
        self.edges.append((ex, ex, float(np.log1p(-q))))
        mi, mu = self.m_intron, self.opt.min_utr_exon
        intr = p.lengths.get("lnc_intron" if which == "lnc" else "intron", np.zeros(0))
        stay_i, exit_i = self._stay_exit(float(np.mean(intr)) if len(intr) else 2000.0, mi)
        self.jumps.append(_Jump(ex, it, float(np.log(q * f_intron)), [it] * mi, [(f"open{st}", 0)]))
        self.edges.append((it, it, stay_i))
        self.jumps.append(_Jump(it, ex, exit_i, [ex] * mu, [(f"close{st}", 0)]))
        return ex, it, float(np.log(q * (1 - f_intron)))

    def _cds_jump(self, src: int, st: str, k0: int, d: int, logp: float, terms: list, into: list[int], skip_first: bool = False) -> _Jump:
        """Jump from `src` into the CDS states `into` (codon positions 0, 1, 2): d bases starting at codon
        position k0, every complete codon in it checked for an in-frame stop (except the first with
        `skip_first`: the stop codon itself)."""
        fill = [into[(k0 + i) % 3] for i in range(d)]
        first = (3 - k0) % 3 + 2  # offset of the end of the first codon lying wholly inside the jump
        if skip_first and first == 2:
            first = 5
        last = first + (d - 1 - first) // 3 * 3
        checks = (f"chk{st}", first, last) if last >= first else None
        return _Jump(src, fill[-1], logp, fill, list(terms), cds=(st, k0), checks=checks)

    def _emission_matrix(self) -> None:
        o = self.opt
        F = self.FEATURES
        M = np.zeros((len(F), len(self.names)))
        for s in range(len(self.names)):
            if s == self.IG:
                continue
            M[F.index("pad"), s] = PAD_PENALTY
            for ni, c in self.labels[s]:
                M[F.index(f"net{'+-'[ni]}{c}"), s] = o.net_weight
            if self.kind[s] == "cds":
                M[F.index(f"code{'+-'[self.strand[s] - 1]}{self.codon[s]}"), s] = o.coding_weight
            if self.kind[s] in ("cds", "utr5", "utr3", "lnc_exon"):
                M[F.index("softmask"), s] = -o.softmask_penalty
        self.M = M


def intron_mixture(excess: np.ndarray, iterations: int = 50) -> list[tuple[float, float]]:
    """[(weight, mean)] of two geometric distributions fitted (EM) to intron lengths beyond the minimum:
    short introns and a long tail. One geometric fitted to all of them (mean 705 nt on the embedded
    model's mammal-rich training set) makes a 20 kb intron cost ~28 nats more than as much intergenic
    sequence, so genes with long introns came out cut into pieces; the long component fixes that
    without making spurious short introns cheaper. One component where the two come out alike."""
    x = np.maximum(excess, 1.0)
    w, m = np.array([0.7, 0.3]), np.array([np.quantile(x, 0.3), np.quantile(x, 0.9)])
    for _ in range(iterations):
        log_lik = np.log(w) - np.log(m) - x[:, None] / m  # exponential approximation of the geometric
        r = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
        r /= r.sum(axis=1, keepdims=True)
        w = np.clip(r.mean(axis=0), 1e-3, None)
        m = np.maximum((r * x[:, None]).sum(axis=0) / np.maximum(r.sum(axis=0), 1e-9), 10.0)
    if m.max() < 2 * m.min():
        return [(1.0, float(x.mean()))]
    return [(float(wi / w.sum()), float(mi)) for wi, mi in zip(w, m)]


def _strand_groups(st: str) -> dict:
    """Stop codons as read left to right on the forward strand for genes on `st`, and the codon
    prefixes an intron can interrupt, grouped (see `_prefix_groups`)."""
    forbidden = set(STOPS) if st == "+" else {reverse_complement(c) for c in STOPS}
    g1, g2 = _prefix_groups(forbidden)
    return {"g1": g1, "g2": g2, "forbidden": forbidden}


def _prefix_groups(forbidden: set[str]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Codon prefixes before an intron, grouped by the completions that would make a stop:
    {group name: prefixes}, 1-base and 2-base. The group '' holds the prefixes no completion can
    turn into a stop (N included)."""
    g1: dict[frozenset, set[str]] = {}
    g2: dict[frozenset, set[str]] = {}
    for x in "ACGTN":
        g1.setdefault(frozenset(w[1:] for w in forbidden if w[0] == x), set()).add(x)
        for y in "ACGTN":
            g2.setdefault(frozenset(w[2] for w in forbidden if w[:2] == x + y), set()).add(x + y)

    def name(groups: dict) -> dict[str, set[str]]:
        return {("" if not comp else "_".join(sorted(pref))): pref for comp, pref in sorted(groups.items(), key=lambda kv: sorted(kv[1]))}

    return name(g1), name(g2)


# ----------------------------------------------------------------------------- region data


class _Region:
    """Features and signal arrays for the forward interval [start, end) of a record (`probs` and
    `softmask` cover that interval)."""

    def __init__(self, hmm: GeneHMM, codes: _Codes, start: int, end: int, probs: np.ndarray | None, softmask: np.ndarray | None) -> None:
        p, o = hmm.p, hmm.opt
        margin = 40
        a, b = max(0, start - margin), min(len(codes), end + margin)
        c = codes[a:b]
        rc = revcomp_codes(c)
        n = len(c)
        sl = slice(start - a, start - a + (end - start))
        feats = np.zeros((end - start, len(GeneHMM.FEATURES)), dtype=np.float32)
        cp = p.coding_scores(c)
        cm = p.coding_scores(rc)[::-1, ::-1]
        feats[:, 0:3] = cp[:, sl].T
        feats[:, 3:6] = cm[:, sl].T
        if probs is not None:
            pr = np.clip(np.asarray(probs, dtype=np.float32), 1e-4, 1 - 1e-4)
            logit = np.log(pr / (1 - pr))
            if o.net_prior is not None:  # posterior odds / prior odds: the evidence the network adds
                q = np.clip(np.asarray(o.net_prior, dtype=np.float32), 1e-4, 1 - 1e-4)
                logit -= np.log(q / (1 - q))
            feats[:, 6:16] = logit.reshape(len(pr), 10)
        if softmask is not None:
            feats[:, 16] = softmask
        self.feats = feats
        # the features that can be non-zero (the network's only with its tracks, softmask only with a mask): the
        # emissions need no others
        F = GeneHMM.FEATURES
        self.active = np.array([i for i, f in enumerate(F) if (probs is not None or not f.startswith("net"))
                                and (softmask is not None or f != "softmask")])
        w = o.signal_weight
        sf = o.splice_filter

        def rcmap(arr: np.ndarray, s: int) -> np.ndarray:
            return _shift(arr[::-1].copy(), s, NEG)

        sig = {
            "open+": p.donor_scores(c, sf) * w,
            "close+": p.acceptor_scores(c, sf) * w,
            "start+": p.start_scores(c) * w,
            "stop+": p.stop_scores(c) * w,
            "open-": rcmap(p.acceptor_scores(rc, sf), -1) * w,
            "close-": rcmap(p.donor_scores(rc, sf), -1) * w,
            "end-": rcmap(p.start_scores(rc), -1) * w,
            "stop-": rcmap(p.stop_scores(rc), 2) * w,
        }
        for st in "+-":
            g = _strand_groups(st)
            sig[f"chk{st}"] = _neg(_pair_mask(c, g["forbidden"], -2))
            for name, prefixes in g["g1"].items():
                sig[f"g1{st}{name}"] = _neg(~_pair_mask(c, prefixes, -1))
                comp = {w_[1:] for w_ in g["forbidden"] if w_[0] in prefixes}
                sig[f"cmp2{st}{name}"] = _neg(_pair_mask(c, comp, -1)) if comp else np.zeros(n, dtype=np.float32)
            for name, prefixes in g["g2"].items():
                sig[f"g2{st}{name}"] = _neg(~_pair_mask(c, prefixes, -2))
                comp = {w_[2] for w_ in g["forbidden"] if w_[:2] in prefixes}
                sig[f"cmp1{st}{name}"] = _neg(_pair_mask(c, comp, 0)) if comp else np.zeros(n, dtype=np.float32)
        self.sig = {k: np.ascontiguousarray(v[sl], dtype=np.float32) for k, v in sig.items()}
        self.start, self.end = start, end


def _neg(mask: np.ndarray) -> np.ndarray:
    """0 where False, -inf where True."""
    return np.where(mask, NEG, 0.0).astype(np.float32)


# ----------------------------------------------------------------------------- Viterbi


class _Engine:
    """Batched Viterbi over an HMM with delay-1 edges and jumps (fixed-length multi-base edges).

    Layout: windows are the last, contiguous axis of every array, so that each step works on
    (slots x windows) blocks; the steps and the jumps' sums run compiled (genannot.euk.viterbi), a
    chunk of steps per call. Every incoming edge of a state is a slot: delay-1 edges
    read the previous column, jumps read a ring buffer where they were placed when they departed
    (d - 1 steps earlier, with the emissions of the bases they cover summed in). States are kept in
    order of decreasing in-degree internally, so that slot k only involves the first n_k states:
    the slots are one flat array of blocks (slot k of states 0 .. n_k - 1), maxed into the first
    block one after another (most states have 2 slots, a few up to 9: a dense (9 x states) array
    would be 3x larger).
    """

    def __init__(self, hmm: GeneHMM) -> None:
        S = len(hmm.names)
        self.S = S
        self.jumps = hmm.jumps
        EJ = len(hmm.jumps)
        inc: list[list[tuple]] = [[] for _ in range(S)]
        for src, dst, lp in hmm.edges:
            inc[dst].append(("e", src, lp))
        for e, j in enumerate(hmm.jumps):
            inc[j.dst].append(("j", e, 0.0))
        order = sorted(range(S), key=lambda s: -len(inc[s]))
        self.order = np.array(order)  # internal index -> state
        pos = {s: i for i, s in enumerate(order)}
        self.pos = pos
        self.K = max(len(x) for x in inc)
        if self.K > 16:
            raise ValueError(f"a state with {self.K} incoming edges: the engine handles at most 16")
        none = S + EJ  # the always -inf source row
        slots = [inc[s] or [("none", none, NEG)] for s in order]  # per internal state
        self.n_k = np.array([sum(len(x) > k for x in slots) for k in range(self.K)], dtype=np.int64)
        # flat slots, block k = slot k of states 0 .. n_k - 1: source row in [prev (S), arrivals (EJ), -inf], weight, tag
        src, w, tags = [], [], []
        for k, n in enumerate(self.n_k):
            for kind, ref, lp in (x[k] for x in slots[:n]):
                src.append(pos[ref] if kind == "e" else S + ref if kind == "j" else none)
                w.append(lp if kind == "e" else 0.0 if kind == "j" else NEG)
                tags.append(15 - k)
        self.src = np.array(src, dtype=np.int64)
        self.w = np.maximum(np.array(w), LOW)
        self.tags = np.array(tags, dtype=np.int64)
        self.block_start = np.cumsum(self.n_k) - self.n_k
        self.jsrc = np.array([pos[j.src] for j in hmm.jumps], dtype=np.int64)
        self.jd = np.array([len(j.fill) for j in hmm.jumps], dtype=np.int64)
        self.D = int(self.jd.max()) + 1
        D = self.D
        # per ring slot r of run's X, for a step t with t % D == r: the source row of every slot, and the rows
        # the jumps departing at t fill
        self.src_t = np.stack([np.where((self.src >= S) & (self.src < S + EJ), self.src + r * EJ,
                                        np.where(self.src == S + EJ, S + D * EJ, self.src)) for r in range(D)])
        self.land = np.stack([S + ((r + self.jd - 1) % D) * EJ + np.arange(EJ) for r in range(D)])
        self.M = hmm.M[:, self.order]  # emission matrix in internal order
        self.init = np.full(S, -3.0)
        self.init[pos[hmm.IG]] = 0.0
        self.IG = hmm.IG
        # jumps as arrays for genannot.euk.viterbi.jump_sums: through one state (const_state) or through a
        # strand's coding states from codon position k0; signal terms and stop checks by index
        strands = list(hmm.groups)
        self.c_states = np.array([[pos[s] for s in hmm.cds_states[st]] for st in strands], dtype=np.int64).reshape(-1, 3)
        self.const_state = np.array([pos[j.fill[0]] if len(set(j.fill)) == 1 else -1 for j in hmm.jumps], dtype=np.int64)
        self.const_states = np.unique(self.const_state[self.const_state >= 0])
        self.jstrand = np.array([strands.index(j.cds[0]) if j.cds else -1 for j in hmm.jumps], dtype=np.int64)
        self.jk0 = np.array([j.cds[1] if j.cds else 0 for j in hmm.jumps], dtype=np.int64)
        self.jw = np.array([j.logp for j in hmm.jumps])
        self.term_keys = sorted({t for j in hmm.jumps for t in j.terms})
        self.term_idx = np.full((len(hmm.jumps), max([1, *(len(j.terms) for j in hmm.jumps)])), -1, dtype=np.int64)
        for e, j in enumerate(hmm.jumps):
            self.term_idx[e, : len(j.terms)] = [self.term_keys.index(t) for t in j.terms]
        self.check_names = sorted({j.checks[0] for j in hmm.jumps if j.checks})
        self.check_idx = np.array([self.check_names.index(j.checks[0]) if j.checks else -1 for j in hmm.jumps], dtype=np.int64)
        self.check_f0 = np.array([j.checks[1] if j.checks else 0 for j in hmm.jumps], dtype=np.int64)
        self.check_f1 = np.array([j.checks[2] if j.checks else 0 for j in hmm.jumps], dtype=np.int64)
        sum_key = [(int(c), len(j.fill), j.cds and (j.cds[0], j.cds[1] % 3), tuple(j.terms), j.checks)
                   for c, j in zip(self.const_state, hmm.jumps)]  # what a jump's emission and signal sum depends on
        rows = {k: i for i, k in enumerate(dict.fromkeys(sum_key))}
        self.sum_of = np.array([rows[k] for k in sum_key], dtype=np.int64)
        self.n_sums = len(rows)
        # in-frame stop check: every CDS state at codon position 2 completes a codon at its base
        chk_rows: dict[str, list[int]] = {}
        for s in range(S):
            if hmm.kind[s] == "cds" and hmm.codon[s] == 2:
                chk_rows.setdefault(f"chk{'+-'[hmm.strand[s] - 1]}", []).append(pos[s])
        self.chk_rows = {name: np.array(rows) for name, rows in chk_rows.items()}  # check -> internal states
        # for the backtrack: each internal state's slots as (type: 0 edge, 1 jump, -1 none; source state or jump)
        self.slot_type = np.full((S, self.K), -1, dtype=np.int64)
        self.slot_ref = np.zeros((S, self.K), dtype=np.int64)
        for i, x in enumerate(slots):
            for k, (kind, ref, _) in enumerate(x):
                if kind != "none":
                    self.slot_type[i, k], self.slot_ref[i, k] = (0, pos[ref]) if kind == "e" else (1, ref)
        self.self_slot = np.array([next((k for k in range(self.K) if self.slot_type[i, k] == 0 and self.slot_ref[i, k] == i), -1)
                                   for i in range(S)])
        self.fill = np.zeros((EJ, D), dtype=np.int16)
        for e, j in enumerate(hmm.jumps):
            self.fill[e, : len(j.fill)] = j.fill

    def buffers(self, rows: int, B: int) -> tuple[np.ndarray, ...]:
        """The emissions, jump_sums' sums, its work buffers, the jumps' signal terms and the running stop
        counts of a chunk of up to `rows` steps in B lanes: allocated once a run (fresh memory for every
        chunk cost more than the sums)."""
        D = self.D
        return (np.empty((rows + D, B, self.S)), np.empty((rows, self.n_sums, B)),
                np.empty((rows + D + 1, len(self.const_states), B)), np.empty((len(self.c_states), 3, rows + D + 1, B)),
                np.empty((len(self.term_keys), rows, B), dtype=np.float32),
                np.empty((len(self.check_names), rows + D + 3, B), dtype=np.int64))

    def chunk_scores(self, data: "_Spans", c0: int, c1: int, bufs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(emissions, sums): the emissions (steps c0 .. c1 + D - 1, lanes, states), with the stop check of
        codons completed on arrival, and the jump sums (jump_sums) of the jumps departing at steps
        c0 .. c1 - 1; both in the buffers `bufs` (from `buffers`)."""
        C, D, B = c1 - c0, self.D, data.B
        emit_buf, sums_buf, cum, cum_y, terms, bad = bufs  # jump_sums reads terms and bad at steps < C only
        emit = data.emissions(c0, c1 + D, self.M, emit_buf[: C + D])
        sums = sums_buf[:C]
        for k, (name, off) in enumerate(self.term_keys):
            terms[k, :C] = data.sig(name, c0 + off, c1 + off)
        chk = {name: data.sig(name, c0, c1 + D) for name in {*self.check_names, *self.chk_rows}}  # in-frame stop checks
        counts = bad[:, : C + D + 3]  # running counts of stop codons per frame
        counts[:, :3] = 0
        for k, name in enumerate(self.check_names):
            counts[k, 3:] = chk[name] <= LOW / 2
            for r in range(3):
                counts[k, r::3] = np.cumsum(counts[k, r::3], axis=0)
        jump_sums(emit, self.const_states, self.const_state, self.jd, self.jstrand, self.jk0, self.c_states, self.term_idx, terms,
                  self.check_idx, self.check_f0, self.check_f1, bad, self.sum_of, LOW, sums, cum, cum_y)
        # arriving at codon position 2 (the jumps above check their own codons): no stop codon
        for name, rows in self.chk_rows.items():
            emit[:C, :, rows] += chk[name][:C, :, None]
        return emit, sums

    def run(self, data: "_Spans", chunk: int, anchors: Sequence[int] | None = None) -> list[np.ndarray]:
        """Best state path (int16) of every span in `data`, in order.

        `anchors`: per span, the state of the base before it (the path must continue from
        there), or -1 for a free start."""
        B, W = data.B, data.W
        S, D = self.S, self.D
        EJ = len(self.jumps)
        back = np.zeros((W, S, B), dtype=np.uint8)
        # candidate sources: the previous column (S rows), the ring of jump arrivals (D slots of EJ
        # rows: slot t % D holds the jumps landing at t) and an always -inf row
        X = np.full((S + D * EJ + 1, B), LOW)
        starts: dict[int, list[tuple[int, int]]] = {}  # step -> (lane, anchor) of the spans starting there
        span_ends: dict[int, list[tuple[int, int]]] = {}  # step -> (span, lane) of the spans whose last base it is
        for i, (b, o, n) in enumerate(data.pieces):
            starts.setdefault(o, []).append((b, anchors[i] if anchors else -1))
            span_ends.setdefault(o + n - 1, []).append((i, b))

        def restart(t: int) -> None:
            """A lane's next span starts afresh: nothing carries over from the one before it."""
            for b, a in starts[t]:
                X[:, b] = LOW
                if a >= 0:
                    X[self.pos[a], b] = 0.0
                else:
                    X[:S, b] = self.init
        prev = X[:S]
        full = np.empty((len(self.src), B))
        best = np.empty((S, B))
        # steps where the kernel hands back: a span starts (its lane restarts) or one has just ended
        events = sorted(set(starts) | {t + 1 for t in span_ends} | {W})
        final = np.zeros(len(data.pieces), dtype=np.int64)  # best state at the end of each span
        bufs = self.buffers(min(chunk, W), B)
        for c0 in range(0, W, chunk):
            c1 = min(W, c0 + chunk)
            emit, sums = self.chunk_scores(data, c0, c1, bufs)
            t = c0
            while t < c1:
                if t in starts:
                    restart(t)
                t_next = min(c1, events[bisect.bisect_right(events, t)])
                viterbi_steps(X, self.src_t, self.w, self.tags, self.block_start, self.n_k, self.land, self.jsrc, sums, self.sum_of,
                              self.jw, emit, back, full, best, t, t_next, c0, LOW)
                for i, b in span_ends.get(t_next - 1, ()):
                    final[i] = prev[:, b].argmax()
                t = t_next
        return self._backtrack(back, final, data.pieces)

    def _backtrack(self, back: np.ndarray, final: np.ndarray, pieces: Sequence[tuple[int, int, int]]) -> list[np.ndarray]:
        """Follow the stored slot choices back from the best state at the end of each span (compiled:
        genannot.euk.viterbi.backtrack)."""
        paths = []
        for (b, o, n), fin in zip(pieces, final):
            path = np.zeros(n, dtype=np.int16)
            backtrack(back, b, o, int(fin), self.order, self.self_slot, self.slot_type, self.slot_ref, self.jsrc, self.jd,
                      self.fill, path)
            paths.append(path)
        return paths


# ----------------------------------------------------------------------------- paths -> genes


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open runs of True."""
    if not len(mask):
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist()))


class _Tables:
    """Per-state lookup arrays used when reading paths."""

    def __init__(self, hmm: GeneHMM) -> None:
        self.kind = np.array(hmm.kind)
        self.strand = np.array(hmm.strand)
        self.codon = np.array(hmm.codon)
        self.exonic = np.isin(self.kind, ("utr5", "cds", "utr3", "lnc_exon"))
        self.intronic = np.isin(self.kind, ("intron", "utr_intron", "lnc_intron"))
        self.cds = self.kind == "cds"
        self.lnc = np.isin(self.kind, ("lnc_exon", "lnc_intron"))
        self.IG = hmm.IG


def _path_scores(hmm: GeneHMM, tab: _Tables, path: np.ndarray, region: _Region, offset: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-base score of a window's path (emission of the chosen state, plus each signal the path
    uses, booked at its first base inside the gene) and, with network tracks, the exon probability
    of the path's strand."""
    ro = offset - region.start
    n = len(path)
    rows = np.arange(n) + ro
    feats = region.feats[rows].astype(np.float64)
    score = np.einsum("nf,fn->n", feats, hmm.M[:, path])
    sig = region.sig
    prev, cur = path[:-1], path[1:]
    t = np.arange(1, n)
    for st, si in (("+", 1), ("-", 2)):
        on = tab.strand[cur] == si
        add = []
        add.append((on & tab.exonic[prev] & tab.intronic[cur], f"open{st}", 0, 0))
        add.append((on & tab.intronic[prev] & tab.exonic[cur], f"close{st}", 0, 0))
        if st == "+":
            add.append((on & tab.cds[cur] & ~tab.cds[prev] & ~tab.intronic[prev], "start+", 0, 0))
            add.append(((tab.strand[prev] == 1) & tab.cds[prev] & ~tab.cds[cur] & ~tab.intronic[cur], "stop+", -3, -1))
        else:
            add.append((on & tab.cds[cur] & ~tab.cds[prev] & ~tab.intronic[prev], "stop-", 0, 0))
            add.append(((tab.strand[prev] == 2) & tab.cds[prev] & ~tab.cds[cur] & ~tab.intronic[cur], "end-", 0, -1))
        for mask, name, off, book in add:
            for i in t[mask]:
                v = sig[name][i + off + ro] if 0 <= i + off + ro < len(sig[name]) else 0.0
                if np.isfinite(v):
                    score[i + book] += v
    prob = None
    if hmm.network:
        ni = np.clip(tab.strand[path] - 1, 0, 1)
        logit = feats[np.arange(n), 6 + 5 * ni + EXON]
        prob = (1 / (1 + np.exp(-logit))).astype(np.float32)
    return score.astype(np.float32), prob


class _Stitcher:
    """Joins the windows' Viterbi paths (at splice points where they agree, see `_join`) into one
    path per stretch of sequence and turns finished parts of it into genes; memory is the
    unfinished part of the path."""

    def __init__(self, hmm: GeneHMM, tab: _Tables, seqid: str, codes: _Codes) -> None:
        self.hmm, self.tab, self.seqid, self.codes = hmm, tab, seqid, codes
        self.path: np.ndarray | None = None
        self.score: np.ndarray | None = None
        self.prob: np.ndarray | None = None
        self.start = 0
        self.left_edge = True  # the pending path starts at a stretch edge (not after intergenic)
        self.genes: list[Gene] = []

    def add(self, s: int, path: np.ndarray, score: np.ndarray, prob: np.ndarray | None, splice: int | None) -> None:
        """Append a window's path starting at sequence position `s`: from position `splice` on
        (None: the window starts a new stretch)."""
        if splice is None or self.path is None:
            self.finish()
            self.path, self.score, self.prob, self.start, self.left_edge = path, score, prob, s, True
            return
        k, j = splice - self.start, splice - s
        self.path = np.concatenate([self.path[:k], path[j:]])
        self.score = np.concatenate([self.score[:k], score[j:]])
        if prob is not None:
            self.prob = np.concatenate([self.prob[:k], prob[j:]])

    def flush(self, upto: int) -> None:
        """Turn the path before the last intergenic base preceding `upto` into genes."""
        if self.path is None:
            return
        ig = np.flatnonzero(self.path[: max(0, upto - self.start)] == self.tab.IG)
        if not len(ig) or ig[-1] == 0:
            return
        cut = int(ig[-1])
        self._genes(0, cut, right_edge=False)
        self.path, self.score = self.path[cut:], self.score[cut:]
        if self.prob is not None:
            self.prob = self.prob[cut:]
        self.start += cut
        self.left_edge = False

    def finish(self) -> None:
        if self.path is not None:
            self._genes(0, len(self.path), right_edge=True)
        self.path = None

    def _genes(self, a0: int, b0: int, right_edge: bool) -> None:
        tab, path = self.tab, self.path[a0:b0]
        st_path = tab.strand[path]
        for a, b in _runs(st_path != 0):
            g = self._gene(path, a, b, left_open=a == 0 and self.left_edge, right_open=b == len(path) and right_edge)
            if g is not None:
                self.genes.append(g)

    def _gene(self, path: np.ndarray, a: int, b: int, left_open: bool, right_open: bool) -> Gene | None:
        tab, hmm = self.tab, self.hmm
        seg = path[a:b]
        coding = bool(tab.cds[seg].any())
        if not coding and not tab.lnc[seg].any():
            return None
        off = self.start + a  # 0-based sequence coordinate of seg[0]
        exons = [(off + s + 1, off + e) for s, e in _runs(tab.exonic[seg])]
        if not exons:
            return None
        cds = [(off + s + 1, off + e) for s, e in _runs(tab.cds[seg])] if coding else []
        st = "+" if tab.strand[seg[0]] == 1 else "-"
        n_cds = sum(e - s + 1 for s, e in cds)
        if coding and n_cds < (hmm.opt.min_partial_cds if left_open or right_open else hmm.opt.min_cds):
            return None
        if not coding and sum(e - s + 1 for s, e in exons) < hmm.opt.min_lnc:
            return None
        tattrs: dict[str, object] = {}
        if coding:
            k5 = int(tab.codon[seg[cds[0][0] - 1 - off]]) if st == "+" else 2 - int(tab.codon[seg[cds[-1][1] - 1 - off]])
            if k5:
                tattrs["codon_start"] = (3 - k5) % 3 + 1
            if not _valid_orf(self.codes, cds, st, k5, left_open or right_open):
                log.debug("%s: dropped a gene model with a broken reading frame at %d-%d", self.seqid, off + 1, off + len(seg))
                return None
        if self.prob is not None:
            ex = np.concatenate([self.prob[a + s - 1 - off : a + e - off] for s, e in exons])
            tattrs["prob"] = round(float(ex.mean()), 3)
        score = round(float(self.score[a:b].sum()), 2)
        t = Transcript("", "mRNA" if coding else "lnc_RNA", exons=exons, cds=cds, attributes=tattrs)
        partial = f"{int(left_open)}{int(right_open)}"
        return Gene(self.seqid, st, "", [t], kind="gene" if coding else "ncRNA_gene", attributes={"score": score}, partial=partial)


def _valid_orf(codes: _Codes, cds: list[tuple[int, int]], strand: str, k5: int, partial: bool) -> bool:
    """No in-frame stop before the last codon; a complete CDS is ATG ... stop, a multiple of 3."""
    spliced = np.concatenate([codes[s - 1 : e] for s, e in cds])
    if strand == "-":
        spliced = revcomp_codes(spliced)
    body = spliced[(3 - k5) % 3 :]
    body = body[: len(body) // 3 * 3].reshape(-1, 3)
    idx = body[:, 0].astype(int) * 16 + body[:, 1] * 4 + body[:, 2]
    idx[(body >= 4).any(axis=1)] = -1
    stop_idx = {int(encode(c)[0]) * 16 + int(encode(c)[1]) * 4 + int(encode(c)[2]) for c in STOPS}
    is_stop = np.isin(idx, list(stop_idx))
    if partial:
        return not is_stop[:-1].any()
    return len(spliced) % 3 == 0 and k5 == 0 and idx[0] == 14 and is_stop[-1] and not is_stop[:-1].any()  # 14 = ATG


def _name_genes(seqid: str, genes: list[Gene]) -> list[Gene]:
    genes.sort(key=lambda g: (g.start, g.end, g.strand))
    for n, g in enumerate(genes, 1):
        g.id = f"{seqid}.g{n}"
        g.transcripts[0].id = f"{seqid}.g{n}.t1"
    return genes


def _first_fit(fill: list[int], n: int, capacity: int, gap: int) -> int:
    """Lane an interval of `n` steps goes into, `gap` steps after what the lanes hold (`fill`, updated;
    a new lane when none has room)."""
    b = next((b for b, f in enumerate(fill) if f + gap + n <= capacity), len(fill))
    if b == len(fill):
        fill.append(n)
    else:
        fill[b] += gap + n
    return b


def _pack(lengths: Sequence[int], capacity: int, gap: int) -> list[list[int]]:
    """Lanes of at most `capacity` steps holding the intervals of these lengths one after another,
    `gap` steps apart (first fit, in order): lists of indices into `lengths`."""
    lanes: list[list[int]] = []
    fill: list[int] = []
    for i, n in enumerate(lengths):
        b = _first_fit(fill, n, capacity, gap)
        if b == len(lanes):
            lanes.append([])
        lanes[b].append(i)
    return lanes


class _Spans:
    """Features and signals of sequence intervals inside a region, gathered chunk by chunk, in B
    lanes of W steps (padding between and after intervals).

    Why lanes: a Viterbi step costs much the same for one lane as for a batch of them, so a batch
    takes as long as its longest lane. Intervals shorter than `capacity` (the contigs of a draft
    assembly) share a lane (`_pack`), each decoded afresh after `gap` padding steps (at least the
    engine's longest jump, so nothing reaches from one into the next): the same paths as one lane
    each, in fewer steps."""

    def __init__(self, region: _Region, spans: Sequence[tuple[int, int]], capacity: int = 0, gap: int = 0) -> None:
        self.region = region
        lens = [e - s for s, e in spans]
        lanes = _pack(lens, max([capacity, *lens]), gap)
        where = {}
        for b, lane in enumerate(lanes):
            o = 0
            for i in lane:
                where[i] = (b, o, lens[i])
                o += lens[i] + gap
        self.pieces = [where[i] for i in range(len(spans))]  # per span: (lane, first step, length)
        self.B, self.W = len(lanes), max(o + n for _, o, n in self.pieces)
        self.rows = np.full((self.W, self.B), -1, dtype=np.int64)  # region index of each lane step, -1: padding
        for (s, _), (b, o, n) in zip(spans, self.pieces):
            self.rows[o : o + n, b] = np.arange(s - region.start, s - region.start + n)
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _index(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        if (lo, hi) not in self._cache:
            if len(self._cache) > 8:
                self._cache.clear()
            rows = np.full((hi - lo, self.B), -1, dtype=np.int64)
            a, b = max(lo, 0), min(hi, self.W)
            if a < b:
                rows[a - lo : b - lo] = self.rows[a:b]
            ok = rows >= 0
            self._cache[lo, hi] = (np.where(ok, rows, 0), ok)
        return self._cache[lo, hi]

    def emissions(self, lo: int, hi: int, M: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """(hi - lo, B, states) float64, in `out` if given: the region's features @ the emission matrix M;
        padding rows carry only the `pad` feature."""
        idx, ok = self._index(lo, hi)
        active = self.region.active
        f = self.region.feats[idx[:, :, None], active].astype(np.float64)
        f[~ok] = 0.0
        f[~ok, -1] = 1.0
        return np.matmul(f, M[active], out=out)

    def sig(self, name: str, lo: int, hi: int) -> np.ndarray:
        """(hi - lo, B) float64, LOW where impossible or beyond an interval."""
        idx, ok = self._index(lo, hi)
        return np.where(ok, np.maximum(self.region.sig[name][idx], LOW), LOW)


def _decode_spans(eng: _Engine, region: _Region, spans: Sequence[tuple[int, int]], anchors: Sequence[int] | None, chunk: int,
                  capacity: int = 0) -> list[np.ndarray]:
    """Viterbi paths of the sequence intervals `spans` (inside `region`), decoded together in lanes of
    `capacity` steps or the longest interval's length."""
    return eng.run(_Spans(region, spans, capacity, eng.D + 1), chunk, anchors)


def _join(eng: _Engine, region: _Region, chain: list[tuple[int, np.ndarray]], chunk: int, max_rounds: int) -> list[int | None]:
    """Splice points between consecutive window paths of `chain` (None where they do not overlap).

    Two overlapping paths are joined in the middle of the longest stretch where they agree state by
    state (at least 2 x the longest jump, so that every constraint holds across the join). Where
    they never agree (inside a gene longer than the overlap, one window may call an intron a lncRNA
    intron that the other calls coding), the right window is decoded again from the middle of the
    overlap on, starting from the left path's state there; that can move the disagreement to the
    next junction, so the check repeats there, for up to `max_rounds` rounds (each round one
    batch). Junctions still unresolved then are joined where both paths are intergenic, else in
    the middle of the overlap (genes across such a seam are checked for a valid reading frame)."""
    need = 2 * eng.D
    splices: list[int | None] = [None] * (len(chain) - 1)
    todo = list(range(len(chain) - 1))
    for round_ in range(max_rounds + 1):
        redo = []
        for i in todo:
            (s0, p0), (s1, p1) = chain[i], chain[i + 1]
            hi = s0 + len(p0)
            if s1 >= hi:
                continue
            a0, a1 = p0[s1 - s0 :], p1[: hi - s1]
            runs = _runs(a0 == a1)
            a, b = max(runs, key=lambda r: r[1] - r[0]) if runs else (0, 0)
            if b - a >= min(need, hi - s1):
                splices[i] = s1 + (a + b) // 2
            elif round_ == max_rounds:
                both_ig = np.flatnonzero((a0 == eng.IG) & (a1 == eng.IG))
                splices[i] = s1 + int(both_ig[len(both_ig) // 2] if len(both_ig) else (hi - s1) // 2)
            else:
                redo.append((i, s1 + (hi - s1) // 2))
        if not redo:
            break
        spans = [(x + 1, chain[i + 1][0] + len(chain[i + 1][1])) for i, x in redo]
        anchors = [int(chain[i][1][x - chain[i][0]]) for i, x in redo]
        for (i, x), q in zip(redo, _decode_spans(eng, region, spans, anchors, chunk)):
            (s0, p0), s1 = chain[i], chain[i + 1][0]
            chain[i + 1] = (s1, np.concatenate([p0[s1 - s0 : x + 1 - s0], q]))
            splices[i] = x
        todo = sorted({i + 1 for i, _ in redo if i + 1 < len(chain) - 1})
    return splices


# ----------------------------------------------------------------------------- entry points


class _Codes:
    """Encoded bases of a str or spooled sequence, encoded slice by slice as they are read (a
    chromosome is never encoded whole)."""

    def __init__(self, seq: str | SpooledSequence) -> None:
        self.seq = seq

    def __len__(self) -> int:
        return len(self.seq)

    def __getitem__(self, key: slice) -> np.ndarray:
        return encode(self.seq[key])

    def lowercase(self, a: int, b: int) -> np.ndarray:
        """Soft-mask of seq[a:b]: True where the base is lowercase."""
        return np.frombuffer(self.seq[a:b].encode("ascii", "replace"), dtype=np.uint8) >= ord("a")


MOSTLY_LOWERCASE = 0.99  # a record this soft-masked is a lowercase file, not a repeat mask


def _lowercase_share(codes: _Codes, block: int = 1 << 22) -> float:
    n = sum(int(codes.lowercase(a, min(a + block, len(codes))).sum()) for a in range(0, len(codes), block))
    return n / max(1, len(codes))


def _lowercase_file(seqid: str, share: float) -> bool:
    """Whether a record with this share of lowercase bases is a lowercase file, not a repeat mask (warned)."""
    if share < MOSTLY_LOWERCASE:
        return False
    log.warning("%s is %.0f%% lowercase: soft-masking ignored", seqid, 100 * share)
    return True


def decode_record(
    seqid: str,
    seq: str | SpooledSequence,
    params: GeneModelParams,
    probs: Probs = None,
    *,
    softmask: np.ndarray | None = None,
    options: DecodeOptions | None = None,
    track_sink: Callable[[int, np.ndarray], None] | None = None,
    **overrides,
) -> list[Gene]:
    """Structured decoding of one sequence into gene models (see the module doc).

    `seq`: a str or a genannot.io.fasta.SpooledSequence (a chromosome on disk: only the slices
    decoded at a time are read into memory, encoded as they are used). `probs`: (len(seq), 2, 5)
    tracks, a callable (start, end) -> tracks of seq[start:end], or None. With a `softmask_penalty`,
    exon states pay it on every soft-masked base: `softmask` (bool per base) where given, else the
    lowercase letters of `seq`; not on a record that is lowercase almost throughout (>= 99%: a
    lowercase file, not a repeat mask) unless `own_mask` says genannot masked it. `track_sink(start,
    tracks)` sees the tracks of every window group as the decoder uses them, in order along the
    sequence (groups overlap). Keyword overrides set DecodeOptions fields.
    """
    opt = replace(options or DecodeOptions(), **overrides)
    codes = _Codes(seq)
    L = len(codes)
    wins = plan_windows(L, opt.window, opt.overlap, n_runs(seq, opt.min_n_run)) if L else []
    if opt.softmask_penalty and softmask is None and L and not opt.own_mask and _lowercase_file(seqid, _lowercase_share(codes)):
        opt = replace(opt, softmask_penalty=0.0)
    # one machine for both strands, or one per strand (genes may then overlap on opposite strands)
    decoders = []
    joint = probs is None if opt.joint_strands is None else opt.joint_strands
    for strands in ("+-",) if joint else ("+", "-"):
        hmm = GeneHMM(params, opt, network=probs is not None, strands=strands)
        tab = _Tables(hmm)
        decoders.append((hmm, _Engine(hmm), tab, _Stitcher(hmm, tab, seqid, codes), [None]))
    gap = max(d[1].D for d in decoders) + 1
    for group in _window_groups(wins, opt, gap):
        ra, rb = group[0][0], max(e for _, e in group)
        tracks = region = None  # the previous group's arrays go before this group's are made
        if callable(probs):
            ca, cb = max(0, ra - opt.context), min(L, rb + opt.context)
            tracks = np.asarray(probs(ca, cb))[ra - ca : rb - ca]
        elif probs is not None:
            tracks = probs[ra:rb]
        if track_sink is not None and tracks is not None:
            track_sink(ra, tracks)
        mask = None
        if opt.softmask_penalty:
            mask = softmask[ra:rb] if softmask is not None else codes.lowercase(ra, rb)
        region = _Region(decoders[0][0], codes, ra, rb, tracks, mask)
        for hmm, eng, tab, stitch, last in decoders:
            tail = last[0]  # the previous group's last window (start, path)
            paths = _decode_spans(eng, region, group, None, opt.chunk, opt.window)
            chain = ([tail] if tail else []) + [(s, p) for (s, _), p in zip(group, paths)]
            splices = _join(eng, region, chain, opt.chunk, opt.max_rounds)
            first = 0 if tail is None else 1
            for i in range(first, len(chain)):
                s, path = chain[i]
                score, prob = _path_scores(hmm, tab, path, region, s)
                stitch.add(s, path, score, prob, splices[i - 1] if i else None)
            last[0] = chain[-1]
            stitch.flush(group[-1][0])
    genes = []
    for *_, stitch, _last in decoders:
        stitch.finish()
        genes += stitch.genes
    return _name_genes(seqid, genes)


def _window_groups(wins: Sequence[tuple[int, int]], opt: DecodeOptions, gap: int) -> Iterator[list[tuple[int, int]]]:
    """Consecutive windows decoded as one batch: as many as fill `opt.batch` lanes of `opt.window` steps
    (`_Spans`: windows shorter than that share lanes), over no more sequence than `opt.batch` windows
    overlapping by `opt.overlap` would cover (what bounds a batch's memory)."""
    batch = max(1, opt.batch)
    span = batch * (opt.window - opt.overlap) + opt.overlap
    group: list[tuple[int, int]] = []
    fill: list[int] = []
    for s, e in wins:
        if group and e - group[0][0] > span:
            yield group
            group, fill = [], []
        if _first_fit(fill, e - s, opt.window, gap) == batch:  # no room in a full batch: the window starts the next
            yield group
            group, fill = [], []
            _first_fit(fill, e - s, opt.window, gap)
        group.append((s, e))
    if group:
        yield group


def decode_records(records: Sequence[tuple[str, str]], params: GeneModelParams, *, options: DecodeOptions | None = None,
                   **overrides) -> dict[str, list[Gene]]:
    """decode_record of several in-memory sequences ((seqid, sequence) pairs) with the signal models
    alone, their windows batched together: {seqid: genes}, the genes each record gives alone.

    Why: the Viterbi loop runs once per window group, and a record shorter than a group fills only
    part of one, so N contigs cost N loops. Here the records are joined by N spacers, so the
    Arabidopsis slice's seven records decode in one loop: 1.8x faster; and windows shorter than a
    window's length share a lane (`_Spans`): the slice cut into 72 contigs 2.0x faster, yeast cut into
    1,200 2.3x (bench/euk_bench.py's draft; the same genes). Windows are cut at N runs; a
    spacer longer than the reach of every signal (the upstream-ATG term's) and, with GC classes, half
    the GC window keeps each record's scores as they are alone, and a record's own edge Ns, which join
    the spacer here, are skipped alone too (genannot.euk.windows.n_runs)."""
    from genannot.euk.genemodel import GC_WINDOW, UPSTREAM_CODONS

    opt = replace(options or DecodeOptions(), **overrides)
    spacer = "N" * max(opt.min_n_run, 6 * UPSTREAM_CODONS, GC_WINDOW // 2 if len(params.gc_edges) else 0)
    masks, offsets, pos = [], [], 0
    for seqid, seq in records:
        offsets.append(pos)
        pos += len(seq) + len(spacer)
        if opt.softmask_penalty:
            lower = _Codes(seq).lowercase(0, len(seq))
            if len(seq) and not opt.own_mask and _lowercase_file(seqid, float(lower.mean())):
                lower[:] = False
            masks.append(lower)
            masks.append(np.zeros(len(spacer), dtype=bool))
    joined = spacer.join(seq for _, seq in records)
    softmask = np.concatenate(masks)[: len(joined)] if masks else None
    out: dict[str, list[Gene]] = {seqid: [] for seqid, _ in records}
    for g in decode_record("joined", joined, params, None, softmask=softmask, options=opt):
        i = int(np.searchsorted(offsets, g.start - 1, side="right")) - 1
        seqid, off = records[i][0], offsets[i]
        g.seqid = seqid
        for t in g.transcripts:
            t.exons = [(a - off, b - off) for a, b in t.exons]
            t.cds = [(a - off, b - off) for a, b in t.cds]
        out[seqid].append(g)
    return {seqid: _name_genes(seqid, genes) for seqid, genes in out.items()}


# ----------------------------------------------------------------------------- heuristic decoder


def _fwd_pairs(pairs: set[str]) -> set[str]:
    """Dinucleotides as seen on the forward strand for a minus-strand splice site."""
    return {reverse_complement(p) for p in pairs}


def decode_heuristic(
    seqid: str,
    seq: str,
    probs: np.ndarray,
    params: GeneModelParams | None = None,
    *,
    threshold: float = 0.5,
    snap: int = 20,
    splice_filter: bool = True,
    min_exon: int = 10,
    min_cds: int = 90,
    max_gap: int = 20,
) -> list[Gene]:
    """Threshold-and-snap decoding of (L, 2, 5) tracks (the ablation baseline for `decode_record`).

    Per strand: bases with exon or intron probability >= `threshold` form transcribed regions
    (gaps up to `max_gap` closed); exons are their runs of exon probability >= `threshold` (at
    least `min_exon` long); every exon edge facing an intron moves to the nearest allowed splice
    dinucleotide within `snap` bases (donors GT/GC/AT, acceptors AG/AC: those seen in the training
    annotation when `params` is given); with `splice_filter`, exons with an edge that found none
    are dropped. The CDS is the ATG..stop ORF of the spliced transcript with the largest summed
    (CDS probability - 0.5), kept when its mean CDS probability is >= `threshold` and it has at
    least `min_cds` bases; otherwise the transcript is a lnc_RNA.
    """
    probs = np.asarray(probs, dtype=np.float32)
    codes = encode(seq)
    L = len(codes)
    donors = params.allowed_pairs("donor") if params else {"GT", "GC", "AT"}
    acceptors = params.allowed_pairs("acceptor") if params else {"AG", "AC"}
    genes: list[Gene] = []
    for si, st in enumerate("+-"):
        p = probs[:, si]
        # forward-strand dinucleotide at an intron's first two / last two bases
        open_ok = _pair_mask(codes, donors if st == "+" else _fwd_pairs(acceptors), 0)
        close_ok = _pair_mask(codes, acceptors if st == "+" else _fwd_pairs(donors), -2)  # pair ends at t-1
        if params is not None:  # among allowed sites, prefer those the splice-site models like
            if st == "+":
                o_sc, c_sc = params.donor_scores(codes, False), params.acceptor_scores(codes, False)
            else:
                rc = revcomp_codes(codes)
                o_sc = _shift(params.acceptor_scores(rc, False)[::-1].copy(), -1, NEG)
                c_sc = _shift(params.donor_scores(rc, False)[::-1].copy(), -1, NEG)
            open_ok = np.where(open_ok, o_sc, NEG)
            close_ok = np.where(close_ok, c_sc, NEG)
        else:
            open_ok = np.where(open_ok, 0.0, NEG)
            close_ok = np.where(close_ok, 0.0, NEG)
        tx = (p[:, EXON] >= threshold) | (p[:, INTRON] >= threshold)
        for a, b in _close_gaps(_runs(tx), max_gap):
            ex = [(s + a, e + a) for s, e in _runs(p[a:b, EXON] >= threshold) if e - s >= min_exon]
            ex = _snap_exons(ex, open_ok, close_ok, snap, splice_filter, L)
            if not ex:
                continue
            gene = _heuristic_gene(seqid, st, ex, codes, p, threshold, min_cds)
            if gene is not None:
                genes.append(gene)
    return _name_genes(seqid, genes)


def _close_gaps(runs: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in runs:
        if out and s - out[-1][1] <= gap:
            out[-1][1] = e
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _snap_exons(ex: list[tuple[int, int]], open_ok: np.ndarray, close_ok: np.ndarray, snap: int, splice_filter: bool, L: int) -> list[tuple[int, int]]:
    """Move exon edges that face an intron (0-based half-open exons) onto allowed splice sites:
    `open_ok` / `close_ok` hold a site score (-inf: not allowed); the best score less 0.25 per base
    moved wins."""

    def nearest(score: np.ndarray, pos: int) -> int | None:
        lo, hi = max(0, pos - snap), min(L, pos + snap + 1)
        v = score[lo:hi] - 0.25 * np.abs(np.arange(lo, hi) - pos)
        i = int(np.argmax(v))
        return lo + i if np.isfinite(v[i]) else None

    out = []
    for i, (s, e) in enumerate(ex):
        ok = True
        if i > 0:  # an intron ends just before s: the exon starts at t with the pair at t-2, t-1
            t = nearest(close_ok, s)
            ok &= t is not None
            s = t if t is not None else s
        if i < len(ex) - 1:  # an intron starts at e
            t = nearest(open_ok, e)
            ok &= t is not None
            e = t if t is not None else e
        if e - s < 1 or (not ok and splice_filter):
            continue
        out.append((s, e))
    # snapping can make neighbours touch or cross: merge those
    merged: list[list[int]] = []
    for s, e in sorted(out):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def _heuristic_gene(seqid: str, st: str, ex: list[tuple[int, int]], codes: np.ndarray, p: np.ndarray, thr: float, min_cds: int) -> Gene | None:
    pos = np.concatenate([np.arange(s, e) for s, e in ex])  # forward positions of the spliced transcript
    if st == "-":
        pos = pos[::-1]
    tseq = codes[pos] if st == "+" else np.where(codes[pos] < 4, 3 - codes[pos], 4)
    support = np.concatenate([[0.0], np.cumsum(p[pos, CDS] - 0.5)])
    best = None
    n = len(tseq)
    stops = {tuple(encode(c)) for c in STOPS}
    for frame in range(3):
        start = None
        for i in range(frame, n - 2, 3):
            cod = (int(tseq[i]), int(tseq[i + 1]), int(tseq[i + 2]))
            if start is None and cod == (0, 3, 2):
                start = i
            elif start is not None and cod in stops:
                val = support[i + 3] - support[start]
                if best is None or val > best[0]:
                    best = (val, start, i + 3)
                start = None
    exons = [(s + 1, e) for s, e in ex]
    score = float(np.mean(p[pos, EXON]))
    cds: list[tuple[int, int]] = []
    if best is not None and best[2] - best[1] >= min_cds and float(np.mean(p[pos[best[1] : best[2]], CDS])) >= thr:
        cpos = np.sort(pos[best[1] : best[2]])
        cds = [(int(cpos[s]) + 1, int(cpos[e - 1]) + 1) for s, e in _runs_from_positions(cpos)]
        score = float(np.mean(p[cpos, CDS]))
    t = Transcript("", "mRNA" if cds else "lnc_RNA", exons=exons, cds=cds, attributes={"prob": round(score, 3)})
    return Gene(seqid, st, "", [t], kind="gene" if cds else "ncRNA_gene", attributes={"score": round(score, 3)})


def _runs_from_positions(sorted_pos: np.ndarray) -> list[tuple[int, int]]:
    """Index runs (half-open, into sorted_pos) of consecutive positions."""
    breaks = np.flatnonzero(np.diff(sorted_pos) != 1) + 1
    edges = np.concatenate([[0], breaks, [len(sorted_pos)]])
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))
