"""Self-training of the signal models on the genome being annotated (GeneMark-ES style).

Why: the embedded signal models were fitted on mammals, a worm and a fly; their coding chain, gene density and
exon and intron lengths are wrong for a plant or a fungus (CDS-exon F1 0.04 on Arabidopsis and on yeast, against
0.74 and 0.87 with models fitted to those genomes). Where the input holds enough coding sequence, the models are
re-fitted on the input itself (its first records up to `MAX_BP`, the sample):

1. Start. A dense input (at least `min_orfs` long ORFs, `min_density` per Mb: plants, fungi) fits its coding
   chain on its long ORFs (ATG ... stop of at least `min_orf` nt; ORFs sharing much sequence with another, repeat
   copies, left out). A sparse one (an animal's: genes split into short exons) starts from the prior's own genes.
2. Rounds, up to `rounds`, until one adds under `converged` complete genes: decode the sample, re-fit every model on
   the predicted genes (coding chain of order `coding_order` = 3, start, stop, lengths, phases, gene density; the
   splice sites once the genes hold `min_introns` introns and one per gene, weighted `SPLICE_WEIGHT`). Genes holding
   an intron under `MIN_FIT_INTRON` are left out of every fit (stop codons bridged), intron lengths are fitted below
   the `INTRON_TRIM` quantile (fused neighbours' junctions) and the longest introns' ends are neither sites nor
   decoys. An intron-rich genome pools its CDS exon lengths with the prior's (`POOLED_LENGTHS`); a dense input's
   rounds decode with a length per CDS exon type from `typed_round_genes` complete genes on.
3. Finish. The coding chain is re-fitted once at `FINAL_CODING_ORDER` on the last round's genes (the gene set no
   longer moves, so the larger chain cannot feed on its own mistakes), with pairwise splice-site models. Then:
   - an intron-rich genome is decoded once with a spliced-leader path on offer (`LEADER_PROBE`, on at most the
     sample's first `LEADER_PROBE_BP`): where most genes take it (a nematode's SL1 trans-splicing) it keeps the path
     at the share and 5'UTR length found; its splice sites are then fitted once more on the final models' genes,
     without the `SITE_TRIM` share holding the weakest introns;
   - an intron-poor genome (too few predicted introns to re-fit the sites in the rounds: a yeast) fits its own
     splice sites `INTRON_POOR_SITE_FITS` times, each on the genes the sites before it give, from unique genes whose
     introns have common dinucleotides (`SITE_SHARE`), trimmed the same way; its intron lengths come from the
     predicted ones up to their median (`INTRON_POOR_TRIM`).

The prior is kept (`self_train` returns None) where the input cannot support this: too few long ORFs; a round with
fewer complete genes than the floor (`min_genes`; a sparse input `sparse_min_genes`, unless its own coding chain
beats the prior's by `foreign_gain` nats per held-out coding base, `held_out_coding_gain`); a sparse input whose
prior predicts fewer than `sparse_min_gene_density` complete genes per Mb (a mammal's) or whose predicted introns
have a median under `min_intron_median` nt; rounds that lose genes (`drift`). A sparse input whose round predicts
more than `runaway` times the prior's complete genes (its first round's) has run away: the models of the round
before are kept (the prior, where that is the first re-fit's round).

docs/euk-self-training.md has the measurements behind every step and constant, and what was tried instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterator, Sequence

import numpy as np

from genannot.euk.genemodel import GeneModelParams
from genannot.features import Gene, Transcript
from genannot.io.seqout import reverse_complement

MIN_ORF = 900  # nt, stop codon included
MIN_ORFS = 15  # long ORFs needed to bootstrap
MIN_DENSITY = 60.0  # ... per Mb of sample; a sparser input starts from the prior's genes
SPARSE_MIN_ORFS = 10  # ... and needs this many long ORFs
SPARSE_MIN_GENE_DENSITY = 50.0  # ... and the prior must predict this many complete genes per Mb of it
SPARSE_MIN_GENES = 60  # ... and every round this many complete genes
FOREIGN_GAIN = 0.03  # nats per coding base: a sparse input whose own coding chain beats the prior's by this much needs only MIN_GENES
DRIFT = 0.1  # the last round may predict at most this share fewer complete genes than the highest round
RUNAWAY = 2.5  # ... and its rounds may predict at most this many times the prior's complete genes
MIN_INTRON_MEDIAN = 45  # nt, ... and a median predicted intron at least this long
MIN_GENES = 20  # complete predicted genes needed to re-fit (an input dense in long ORFs; a sparse one: SPARSE_MIN_GENES)
MIN_INTRONS = 40  # predicted introns needed to re-fit the splice sites
MIN_OWN_SITES = 20  # ... and, in an intron-poor genome, to fit its own once the rounds settle
INTRON_POOR_SITE_FITS = 2  # ... fitted this many times, each on the genes the sites before it give
ROUNDS = 12  # at most
CONVERGED = 0.01  # ... stop once a round adds fewer complete genes than this share
MAX_BP = 5_000_000  # sample size
CODING_ORDER = 3  # of the self-trained coding chains in the rounds (the prior's: 5)
FINAL_CODING_ORDER = 4  # ... and of the one re-fitted on the last round's genes
SPLICE_WEIGHT = 1.2  # splice_weight of re-fitted splice-site models
INTRON_TRIM = 0.97  # intron lengths are fitted below this quantile of the predicted ones
INTRON_POOR_TRIM = 0.5  # ... and, in an intron-poor genome, below this quantile of those
SITE_SHARE = 0.05  # an intron-poor genome's splice sites are fitted on introns whose dinucleotides are this common in the prior
SITE_TRIM = 0.3  # splice sites fitted once the rounds settle leave out the genes holding the weakest introns, this share
MIN_FIT_INTRON = 40  # nt: predicted genes holding a shorter intron are left out of every fit
TYPED_ROUND_GENES = 100  # a dense input's rounds decode with a length per CDS exon type once a round holds this many complete genes
LEADER_PROBE = 0.5  # leader_share the final models' genes are decoded with once, to measure how many use the path
LEADER_LENGTH = 30.0  # ... and the leader's mean length then (nt)
LEADER_PROBE_BP = 2_000_000  # ... on at most this much of the sample (its first records)
POOLED_LENGTHS = ("cds_initial", "cds_internal", "cds_terminal")  # pooled with the prior's in intron-rich genomes

Decode = Callable[[GeneModelParams, Sequence[tuple[str, str]]], dict[str, list[Gene]]]  # (params, sample) -> {seqid: genes}


@dataclass
class SelfTrainReport:
    """What the self-training saw: long ORFs, then complete genes per round."""

    sample_bp: int
    long_orfs: int
    genes_per_round: list[int]
    introns_per_round: list[int]
    used: bool
    reason: str
    coding_gain: float | None = None  # held_out_coding_gain of the prior's genes, where it was needed


def long_orfs(seqid: str, seq: str, min_length: int = MIN_ORF) -> list[Gene]:
    """The longest ATG-started ORF of every stop codon (standard code), at least `min_length` nt, as
    single-exon genes."""
    from genannot.prok.orfs import find_stop_groups

    genes = []
    for g in find_stop_groups(seq, table=1, min_length=min_length, min_edge_length=min_length, closed=True):
        start = next((s for s, c in zip(g.starts, g.start_codons) if c == "ATG"), None)
        if start is None or g.length(start) < min_length:
            continue
        a, b = g.bounds(start)
        genes.append(Gene(seqid, g.strand, "", [Transcript("", "mRNA", exons=[(a + 1, b)], cds=[(a + 1, b)])]))
    return genes


def _unique(sample: Sequence[tuple[str, str]], genes: dict[str, list[Gene]], k: int = 16, shared: float = 0.2) -> dict[str, list[Gene]]:
    """`genes` without those whose k-mers (either strand) occur in another gene for more than `shared` of their length."""
    from genannot.euk.genemodel import encode, kmer_index, revcomp_codes

    seqs = dict(sample)
    items = [(seqid, g) for seqid, gs in genes.items() for g in gs]
    kmers, owner = [], []
    for i, (seqid, g) in enumerate(items):
        a, b = g.transcripts[0].cds[0]
        codes = encode(seqs[seqid][a - 1 : b])
        both = [idx[ok] for c in (codes, revcomp_codes(codes)) for idx, ok in [kmer_index(c, k)]]
        kmers.append(np.unique(np.concatenate(both)))  # each (k-mer, gene) once
        owner.append(np.full(len(kmers[-1]), i))
    if not items:
        return genes
    km, ow = np.concatenate(kmers), np.concatenate(owner)
    _, inv, counts = np.unique(km, return_inverse=True, return_counts=True)
    multi = counts[inv] > 1
    n_shared = np.bincount(ow[multi], minlength=len(items))
    n_all = np.bincount(ow, minlength=len(items))
    kept: dict[str, list[Gene]] = {seqid: [] for seqid in genes}
    for i, (seqid, g) in enumerate(items):
        if n_shared[i] <= shared * n_all[i]:
            kept[seqid].append(g)
    return kept


def _oriented_introns(seq: str, gene: Gene, flank: int) -> Iterator[tuple[str, int, int]]:
    """Each intron of `gene` as (its sequence with up to `flank` bases each side, on the gene's strand;
    index of the intron's first base; index of the exon base after it)."""
    for t in gene.transcripts:
        for a, b in t.introns():
            lo = max(0, a - 1 - flank)
            s = seq[lo : b + flank].upper()
            first, after = a - 1 - lo, b - lo
            if gene.strand == "-":
                s, first, after = reverse_complement(s), len(s) - after, len(s) - first
            yield s, first, after


def _common_dinucleotides(sample: Sequence[tuple[str, str]], genes: dict[str, list[Gene]], prior: GeneModelParams,
                          min_share: float) -> dict[str, list[Gene]]:
    """`genes` without those holding an intron whose donor or acceptor dinucleotide makes up less than
    `min_share` of the prior's real sites (docs/euk-self-training.md)."""

    def common(pairs: dict[str, int]) -> set[str]:
        return {w for w, n in pairs.items() if n >= min_share * max(1, sum(pairs.values()))}

    donors, acceptors = common(prior.donor_pairs), common(prior.acceptor_pairs)
    seqs = dict(sample)
    return {seqid: [g for g in gs if all(s[i : i + 2] in donors and s[j - 2 : j] in acceptors
                                         for s, i, j in _oriented_introns(seqs[seqid], g, 0))]
            for seqid, gs in genes.items()}


def _strongest_sites(sample: Sequence[tuple[str, str]], genes: dict[str, list[Gene]], sites: GeneModelParams,
                     trim: float) -> dict[str, list[Gene]]:
    """`genes` without the `trim` share of those with introns whose weakest intron (donor + acceptor log-odds
    under `sites`) scores lowest (docs/euk-self-training.md)."""
    from genannot.euk.genemodel import ACCEPTOR_WINDOW, DONOR_WINDOW, encode

    flank = max(*DONOR_WINDOW, *ACCEPTOR_WINDOW)  # enough bases around an intron for both windows and their context

    def weakest(seq: str, g: Gene) -> float:
        """The lowest donor + acceptor score of `g`'s introns (inf without introns: such genes are kept)."""
        score = np.inf
        for s, first, after in _oriented_introns(seq, g, flank):
            codes = encode(s)
            score = min(score, sites.donor_scores(codes, splice_filter=False)[first]
                        + sites.acceptor_scores(codes, splice_filter=False)[after])
        return score

    seqs = dict(sample)
    scored = {seqid: [(g, weakest(seqs[seqid], g)) for g in gs] for seqid, gs in genes.items()}
    spliced = [v for pairs in scored.values() for _, v in pairs if v != np.inf]
    if not spliced:
        return genes
    cut = np.quantile(spliced, trim)
    return {seqid: [g for g, v in pairs if v >= cut] for seqid, pairs in scored.items()}


def held_out_coding_gain(prior: GeneModelParams, sample: Sequence[tuple[str, str]], genes: dict[str, list[Gene]],
                         coding_order: int = CODING_ORDER) -> float:
    """How much better than the prior's coding chain one fitted on `genes` predicts their coding sequence, in
    nats per base, each half of the genes scored by a chain fitted on the other half (docs/euk-self-training.md)."""
    from genannot.euk.genemodel import encode
    from genannot.io.seqout import cds_sequence

    seqs = dict(sample)
    coding = [(seqid, g) for seqid, gs in genes.items() for g in gs if g.transcripts[0].cds]
    gain, bases = 0.0, 0
    for half in (0, 1):
        fitted_on: dict[str, list[Gene]] = {}
        for i, (seqid, g) in enumerate(coding):
            if i % 2 != half:
                fitted_on.setdefault(seqid, []).append(g)
        own, _, _ = _fit(prior, sample, fitted_on, coding_order)
        for seqid, g in coding[half::2]:
            codes = encode(cds_sequence(seqs[seqid], g, g.transcripts[0]))[:-3]
            (theirs, n), (ours, _) = prior.coding_log_likelihood(codes), own.coding_log_likelihood(codes)
            gain, bases = gain + ours - theirs, bases + n
    return gain / max(1, bases)


def _trimmed_sites(prior: GeneModelParams, sample: Sequence[tuple[str, str]], genes: dict[str, list[Gene]],
                   scorer: GeneModelParams, coding_order: int) -> GeneModelParams:
    """Splice-site models (chains and pairwise) fitted on `genes` but the `SITE_TRIM` share whose weakest intron
    scores lowest under `scorer`'s: the end-of-training fit of either kind of genome (docs/euk-self-training.md)."""
    sites, _, _ = _fit(prior, sample, _strongest_sites(sample, genes, scorer, SITE_TRIM), coding_order, pairwise=True)
    return sites


def _fit(prior: GeneModelParams, sample: Sequence[tuple[str, str]], genes: dict[str, list[Gene]],
         coding_order: int, pairwise: bool = False) -> tuple[GeneModelParams, int, int]:
    """Models estimated from `genes` but those holding an intron under `MIN_FIT_INTRON`; (params, complete
    genes, introns); splice sites from the introns up to their `INTRON_TRIM` quantile (docs/euk-self-training.md)."""
    genes = {seqid: [g for g in gs if all(b - a + 1 >= MIN_FIT_INTRON for t in g.transcripts for a, b in t.introns())]
             for seqid, gs in genes.items()}
    introns = _coding_introns(genes)
    cut = int(np.quantile(introns, INTRON_TRIM)) if len(introns) else None
    params = GeneModelParams.from_genes(((seq, genes.get(seqid, [])) for seqid, seq in sample),
                                        coding_order=coding_order, signal_order=prior.donor.order,
                                        files=[["<input>", "self-trained"]], pairwise=pairwise, max_site_intron=cut)
    params = _introns_up_to(params, cut)
    return params, params.stats["complete_orfs"], params.stats["donor_sites"]


def _short_introns(params: GeneModelParams, q: float) -> GeneModelParams:
    """`params` with its intron lengths cut at their `q` quantile (docs/euk-self-training.md)."""
    introns = params.lengths["intron"]
    return _introns_up_to(params, np.quantile(introns, q) if len(introns) else None)


def _introns_up_to(params: GeneModelParams, cut: float | None) -> GeneModelParams:
    """`params` with the intron lengths above `cut` left out (None: all kept)."""
    if cut is None:
        return params
    introns = np.asarray(params.lengths["intron"])
    return replace(params, lengths={**params.lengths, "intron": introns[introns <= cut]})


def _pooled_lengths(params: GeneModelParams, prior: GeneModelParams) -> GeneModelParams:
    """`params` with its multi-exon CDS exon lengths pooled with the prior's (docs/euk-self-training.md)."""
    lengths = dict(params.lengths)
    for kind in POOLED_LENGTHS:
        lengths[kind] = np.concatenate([lengths[kind], prior.lengths.get(kind, np.zeros(0, dtype=np.int64))])
    return replace(params, lengths=lengths)


def _leader_usage(genes: dict[str, list[Gene]]) -> tuple[float, float]:
    """(share of `genes` whose start-codon exon begins at a splice acceptor (a 5'UTR piece before the CDS), mean
    length of that piece); (0, LEADER_LENGTH) without genes or such pieces."""
    pieces = []
    n = 0
    for gs in genes.values():
        for g in gs:
            t = g.transcripts[0]
            if not t.cds:
                continue
            n += 1
            lo, hi = min(a for a, _ in t.cds), max(b for _, b in t.cds)
            exons = t.exons or t.cds
            first, last = min(a for a, _ in exons), max(b for _, b in exons)
            utr = lo - first if g.strand == "+" else last - hi
            if utr > 0:
                pieces.append(utr)
    if not pieces:
        return 0.0, LEADER_LENGTH
    return len(pieces) / n, float(np.mean(pieces))


def _head(sample: Sequence[tuple[str, str]], bp: int) -> list[tuple[str, str]]:
    """The first `bp` bases of `sample`: its first records, the last one cut."""
    out, n = [], 0
    for seqid, seq in sample:
        if n >= bp:
            break
        out.append((seqid, seq[: bp - n]))
        n += len(out[-1][1])
    return out


def _coding_introns(genes: dict[str, list[Gene]]) -> np.ndarray:
    """Lengths of every intron of the coding genes in `genes`."""
    return np.asarray([b - a + 1 for gs in genes.values() for g in gs for t in g.transcripts if t.cds for a, b in t.introns()])


def _sparse_stop(genes_per_round: list[int], introns: np.ndarray, bp: int, min_genes_per_mb: float,
                 min_intron_median: float) -> str | None:
    """Why a sparse input's self-training must stop after this round and keep the prior (docs/euk-self-training.md), or
    None; rounds that run away are `self_train`'s to stop."""
    n = genes_per_round[-1]
    if len(genes_per_round) == 1 and n < min_genes_per_mb * bp / 1e6:
        return f"the prior predicts {n} complete genes in {bp:,} bp, fewer than {min_genes_per_mb:g} per Mb: too gene-poor to self-train"
    if len(introns) and np.median(introns) < min_intron_median:
        return (f"the predicted introns are tiny (median {np.median(introns):.0f} nt, fewer than {min_intron_median:g}: "
                "stop codons bridged, not splicing)")
    return None


def self_train(
    prior: GeneModelParams,
    sample: Sequence[tuple[str, str]],
    decode: Decode,
    *,
    rounds: int = ROUNDS,
    converged: float = CONVERGED,
    min_orf: int = MIN_ORF,
    min_orfs: int = MIN_ORFS,
    min_density: float = MIN_DENSITY,
    sparse_min_orfs: int = SPARSE_MIN_ORFS,
    sparse_min_gene_density: float = SPARSE_MIN_GENE_DENSITY,
    sparse_min_genes: int = SPARSE_MIN_GENES,
    foreign_gain: float = FOREIGN_GAIN,
    runaway: float = RUNAWAY,
    drift: float = DRIFT,
    min_intron_median: float = MIN_INTRON_MEDIAN,
    min_genes: int = MIN_GENES,
    min_introns: int = MIN_INTRONS,
    min_own_sites: int = MIN_OWN_SITES,
    coding_order: int = CODING_ORDER,
    final_coding_order: int | None = FINAL_CODING_ORDER,
    typed_round_genes: int = TYPED_ROUND_GENES,
    leader_probe_bp: int = LEADER_PROBE_BP,
) -> tuple[GeneModelParams | None, SelfTrainReport]:
    """Signal models re-fitted on `sample` ((seqid, sequence) pairs), or None where the sample cannot
    support it (docs/euk-self-training.md)."""
    bp = sum(len(s) for _, s in sample)
    orfs = _unique(sample, {seqid: long_orfs(seqid, seq, min_orf) for seqid, seq in sample})
    n_orfs = sum(len(v) for v in orfs.values())
    report = SelfTrainReport(bp, n_orfs, [], [], False, "")
    sparse = n_orfs < max(min_orfs, min_density * bp / 1e6)
    if sparse and n_orfs < sparse_min_orfs:
        report.reason = f"{n_orfs} long ORFs (>= {min_orf} nt, repeats left out) in {bp:,} bp, fewer than {sparse_min_orfs}"
        return None, report
    if sparse:
        params = prior  # the first round: the prior's own genes
    else:
        boot, _, _ = _fit(prior, sample, orfs, coding_order)
        params = replace(prior, coding=boot.coding, noncoding=boot.noncoding, gc_edges=boot.gc_edges, log_bg=boot.log_bg)
    floor = sparse_min_genes if sparse else min_genes
    # per round, the models that decoded it, the genes they were fitted on and whether those re-fitted the splice sites
    decoded_with: list[tuple[GeneModelParams, dict[str, list[Gene]] | None, bool]] = []
    fitted_on, splice_refit, ran_away = None, False, False
    for _ in range(rounds):
        decoded_with.append((params, fitted_on, splice_refit))
        genes = decode(params, sample)
        new, n_genes, n_introns = _fit(prior, sample, genes, coding_order)
        report.genes_per_round.append(n_genes)
        report.introns_per_round.append(n_introns)
        if sparse and n_genes > runaway * report.genes_per_round[0]:  # the rounds ran away (docs/euk-self-training.md)
            if len(decoded_with) == 2:  # in the first re-fit's round: the prior stays
                report.reason = (f"complete genes per round ran away ({' / '.join(map(str, report.genes_per_round))}: "
                                 f"more than {runaway:g} times the prior's)")
                return None, report
            ran_away = True
            params, genes, splice_refit = decoded_with[-2]  # the last round within bounds, and what its models came from
            break
        if len(report.genes_per_round) == 1 and min_genes <= n_genes < floor:
            report.coding_gain = held_out_coding_gain(prior, sample, genes, coding_order)
            if report.coding_gain >= foreign_gain:
                floor = min_genes
        if n_genes < floor:
            report.reason = f"a round predicted {n_genes} complete genes, fewer than {floor}"
            if report.coding_gain is not None and report.coding_gain < foreign_gain:
                report.reason += (f" (their own coding chain beats the prior's by {report.coding_gain:.3f} nats per held-out "
                                  f"coding base, less than {foreign_gain:g}: the prior fits them)")
            return None, report
        why = sparse and _sparse_stop(report.genes_per_round, _coding_introns(genes), bp, sparse_min_gene_density,
                                      min_intron_median)
        if why:
            report.reason = why
            return None, report
        splice_refit = n_introns >= max(min_introns, n_genes)
        if not splice_refit:
            new = replace(_short_introns(new, INTRON_POOR_TRIM).with_splice_sites(params), splice_weight=params.splice_weight)
        else:
            new = replace(_pooled_lengths(new, prior), splice_weight=SPLICE_WEIGHT)
        params, fitted_on = replace(new, exon_types=not sparse and n_genes >= typed_round_genes), genes
        done = report.genes_per_round
        if len(done) > 1 and done[-1] < done[-2] * (1 + converged):
            break
    done = report.genes_per_round[:-1] if ran_away else report.genes_per_round
    if done[-1] < done[0] or done[-1] < (1 - drift) * max(done):
        report.reason = f"complete genes per round fell ({' / '.join(map(str, done))})"
        return None, report
    final_order = final_coding_order or coding_order
    if final_order != coding_order or splice_refit:
        final, _, _ = _fit(prior, sample, genes, final_order, pairwise=splice_refit)
        params = replace(params, coding=final.coding, noncoding=final.noncoding)
        if splice_refit:
            params = replace(params, donor_pairwise=final.donor_pairwise, acceptor_pairwise=final.acceptor_pairwise)
    polished = None
    if splice_refit and not ran_away:  # an intron-rich genome: splice sites once more, from the final models' genes, trimmed,
        # decoded first with a spliced-leader path on offer: a genome whose genes mostly take it keeps it (docs/euk-self-training.md)
        offered = replace(params, leader_share=LEADER_PROBE, leader_length=LEADER_LENGTH)
        probe = _head(sample, leader_probe_bp)
        probed = decode(offered, probe)
        share, length = _leader_usage(probed)
        if share > LEADER_PROBE:  # most genes start at an acceptor: a trans-splicing genome (docs/euk-self-training.md)
            whole = sum(len(x) for _, x in probe) == sum(len(x) for _, x in sample)
            polished = probed if whole else decode(offered, sample)
            params = replace(params, leader_share=share, leader_length=length)
        else:
            polished = decode(params, sample)
        params = params.with_splice_sites(_trimmed_sites(prior, sample, polished, params, coding_order))
    own_sites: list[int] = []
    if not splice_refit:  # an intron-poor genome: its own splice sites from unique genes' common introns, trimmed,
        found = genes  # fitted twice: the second time on the genes that the first fit's sites give
        for fit in range(INTRON_POOR_SITE_FITS):
            if fit:
                found = decode(params, sample)
            fit_on = _common_dinucleotides(sample, _unique(sample, found), prior, SITE_SHARE)
            sites, _, n_sites = _fit(prior, sample, fit_on, coding_order, pairwise=True)
            if n_sites < min_own_sites:
                break
            own_sites.append(n_sites)
            params = replace(params.with_splice_sites(_trimmed_sites(prior, sample, fit_on, sites, coding_order)),
                             splice_weight=SPLICE_WEIGHT)
    params = replace(params, exon_types=True)
    report.used = True
    start = "from the prior's genes (a sparse input)" if sparse else "from them"
    if report.coding_gain is not None and report.coding_gain >= foreign_gain:  # what lowered a sparse input's floor
        start += f", whose own coding chain beats the prior's by {report.coding_gain:.3f} nats per held-out coding base"
    report.reason = f"{n_orfs} long ORFs, {start}, then {' / '.join(map(str, report.genes_per_round))} complete genes per round"
    if polished is not None:
        report.reason += f"; splice sites re-fitted on the final models' {sum(map(len, polished.values()))} genes"
        if params.leader_share:
            report.reason += (f", {share:.0%} of them starting at a splice acceptor (a spliced leader; 5'UTR mean "
                              f"{length:.0f} nt)")
    if own_sites:
        report.reason += f"; splice sites of its own from {' / '.join(map(str, own_sites))} predicted introns"
    if ran_away:
        report.reason += f" (the last ran away, more than {runaway:g} times the first: the models of the round before kept)"
    return params, report
