"""Self-training of the signal models on the genome being annotated (GeneMark-ES style).

The embedded gene-structure model was estimated on mammals, a worm and a fly; its coding chain, gene
density and exon and intron lengths are wrong for a yeast or a plant (CDS-exon F1 0.04 on Arabidopsis,
0.04 on yeast with the mammal model, against 0.74 and 0.87 with models fitted to those genomes). So,
when the input holds enough coding sequence, the models are re-fitted on the input itself:

1. bootstrap (a dense input; a sparse one starts from the prior's genes, see below): the coding chain
   is estimated from the long ORFs of the input (ATG ... stop, at least
   `min_orf` nt: in a genome with genes, most such ORFs are genes), the rest of the model kept. ORFs
   that share much of their sequence with another are left out: copies of a repeat (a tandem array
   in Drosophila taught the first version to call every copy a gene);
2. up to `rounds` times, until a round predicts less than `converged` (1%) more complete genes than
   the round before: decode the sample with the current model and re-fit every model from the
   predicted genes (coding chain, start context, stop usage, exon, intron and intergenic lengths,
   intron phases, gene density, and the splice sites once the genes hold `min_introns` introns and
   at least one per gene; until then, and in an intron-poor genome such as a yeast, whose few
   predicted introns are mostly wrong, the prior's splice sites stay; such a genome's are fitted once
   the rounds have settled, see below).
   On the Arabidopsis slice the complete genes per round climb 157 -> 230 -> 275 -> 297 -> 312 ->
   318 -> 320 (CDS-exon F1 0.657; 0.04 with the prior); on yeast they settle within 4.

The self-trained coding chains are of order 3 (`coding_order`; the prior's, fitted on annotation, are
of order 5). Re-fitted on its own predictions, an order-5 chain (4x the parameters of order 4, 16x
those of order 3) settles on the genes it already finds: on the Arabidopsis slice the self-trained
models stopped at CDS-exon F1 0.505, and the coding chain alone, swapped for one fitted on the
reference annotation (or on a random 75% of its genes), lifted that to 0.66, while swapping the splice,
start / stop or length models gained 0.00-0.06. Self-trained at order 2 / 3 / 4: 0.647 / 0.657 / 0.627
on Arabidopsis; `genannot euk` on yeast: 0.805 at order 3, 0.799 at order 5. Once the rounds have settled, the
chain is re-fitted one order higher (`FINAL_CODING_ORDER`) on the last round's genes, and that is the one the
input is annotated with: the gene set no longer moves, so the larger chain cannot feed on its own mistakes
(Arabidopsis 0.752 -> 0.760; yeast 0.869 -> 0.871, the same +0.002 on the 7 Mb outside the self-training
sample as on the 5 Mb inside it; at order 5: 0.753 on Arabidopsis).

Intron lengths are fitted to the predicted introns below their 97% quantile (`INTRON_TRIM`). Where
two neighbouring genes come out fused into one, the junction between them is a long, false intron
(Arabidopsis slice: 34 such fusions among 316 predicted genes, junction introns median 1,248 nt
against 98 for real introns); a few percent of these are enough to stretch the fitted long-intron
component (mean 565 nt beyond the minimum against 209 in the annotation), which makes the next
round's fusions cheaper still. Left out, the fit comes back near the annotation's (172 nt) and
Arabidopsis CDS-exon F1 rises from 0.692 to 0.707 (intron lengths taken from the annotation itself:
0.709). Their ends, random GT and AG dinucleotides, are left out of the splice-site models too (neither
sites nor decoys): Arabidopsis slice 0.766 -> 0.770 (splice sites re-fitted once on the last round's
genes without the genes holding an intron above the 97% / 90% / 75% quantile: 0.775 / 0.764 / 0.748: the
cut must stay high); the C. elegans slice's self-training from the embedded prior, refused before (its
rounds lost genes), now runs: 0.603 -> 0.669. In an intron-poor genome (too few predicted introns to
re-fit the splice sites) most predicted introns are wrong, the long ones most of all (fused genes, Ty
elements' frameshifts bridged), so intron lengths come from those up to their median (`INTRON_POOR_TRIM`): yeast's fitted introns
went from a 36% / 64% mixture of 21 and 435 nt beyond the minimum to one component of 28 nt (median
86 nt against 289), and its first four chromosomes from CDS-exon F1 0.846 to 0.871 (quantile 0.25 /
0.75: 0.866 / 0.860; the prior's mammal intron lengths: 0.844), with intron F1 0.10 -> 0.17. Such a
genome's CDS exon lengths are its few predicted multi-exon genes' (yeast: 89 first exons on chrI-VIII), too
few to set the decoder's exon length floors (genannot.euk.decode.FLOOR_SAMPLE): intron F1 0.17 -> 0.24.
Its splice sites stay the prior's even so: re-fitted from the predicted introns, 13-15 of yeast chrI-VIII's
100 real ones among 90-700 per round, yeast lost (introns found 13 -> 10, CDS-exon F1 0.870 -> 0.866; with
the floors above too, its rounds ended at 0.853 with 13 real introns among 138), and
even splice sites and lengths fitted on the reference annotation itself find only 45 of them (CDS-exon F1
0.892): many of the rest are genes whose first exon is a few codons long, where the decoder picks another ATG.
Once the rounds have settled, though, an intron-poor genome's splice sites are fitted once on the last round's
genes (as the final coding chain is; `min_own_sites` sites needed), weighted `SPLICE_WEIGHT`, from its genes without
copies (`_unique`): a Ty retrotransposon's +1 frameshift, read as a 103-nt intron with an ATAAGC donor in each of
yeast's copies, made up a fifth of the predicted introns. Yeast's 5 Mb sample decoded with its self-trained models:
104 introns (23 real; 66 in unique genes, the same 23 real); intron F1 on chrI-VIII 0.265 -> 0.339 (from all 104:
0.294; the annotation's own splice sites: 0.489; decoding the sample once more with the new sites and fitting
again: 0.345, not worth a decoding); the whole genome 0.259 -> 0.327, CDS-exon F1 0.882 either way.
Two cuts keep that fit to the introns most likely real:
- only introns whose donor and acceptor dinucleotides each make up at least `SITE_SHARE` (5%) of the prior's
  real sites (GT, AG): rarer ones (GC donors, 0.8% of the prior's) cannot be estimated from a few dozen
  predicted introns, and the predicted ones are false (yeast: 31 of 198 predicted introns GC-AG or AT-AG,
  none real; the reference's 212 are all GT-AG); the dinucleotides left out are then disallowed in the
  final decoding, as in a genome whose annotation never has them;
- the genes are fitted once, and the `SITE_TRIM` (30%) whose weakest intron scores lowest under that first fit
  are left out of the second, which is the one used: a robust fit, as the real sites share a motif and the
  false ones do not (yeast: 59 sites -> 41).
Yeast, intron F1 / CDS-exon F1: 0.327 / 0.882 before; the dinucleotide cut alone 0.343 / 0.884 (with the rare
dinucleotides still allowed, scored by the chain: 0.339 / 0.883); the trim alone 0.356 / 0.886 (trimming 50%:
0.375 / 0.887 with the cut; trimming twice, 30% each time: 0.361 / 0.886); both 0.381 / 0.888.
Then the sample is decoded once more with those sites and they are fitted again the same way on the genes it gives
(`INTRON_POOR_SITE_FITS`): the first fit's introns are more often real than the rounds' (yeast: 0.381 / 0.888 ->
0.404 / 0.889; a third fit 0.390 / 0.887). `min_own_sites` is 20, not `min_introns`' 40: yeast with its
chromosomes in reverse order puts other genes in the 5 Mb sample, whose rounds leave 38 sites, and kept the prior's
splice sites (0.244 / 0.887); from those 38, then the second fit: 0.348 / 0.890.

Re-fitted splice-site models have their log-odds weighted `SPLICE_WEIGHT` = 1.2 against the state
machine's length and density terms (`GeneModelParams.splice_weight`): CDS-exon F1 on the Arabidopsis
slice 0.707 -> 0.752 (decoding with every signal weighted 1.15 / 1.25 / 1.35: 0.744 / 0.756 / 0.746;
the start alone at 1.25: 0.705). Checked on the C. elegans slice with self-training forced (too few
long ORFs to self-train by default): 0.601 -> 0.594 (every signal at 1.2: 0.612). A genome whose
splice sites stay the prior's keeps 1.0, as the annotation-fitted embedded models do
(leave-one-species-out over the mammals: 0.655 at 1.0, 0.571 with every signal at 1.25); weighting
every signal on yeast fused more neighbouring genes (chrI-IV 0.846 -> 0.842).

Predicted genes holding an intron shorter than `MIN_FIT_INTRON` (40 nt) are left out of every fit (none of
../shared/data's annotations has 0.1% of its introns under 40 nt; the decoder's floor is 20). Such "introns"
bridge stop codons, and the genes holding them are the long runaway models that string real exons and
non-coding sequence together: on the Drosophila slice decoded with a prior fitted without it, 17 of its 105
genes hold 461 of its 816 predicted CDS exons. The coding chain fitted on all 105 separates the reference's CDS
from its intergenic sequence by 0.046 nats per base (the prior's own: 0.074), fitted without those 17 by 0.192,
as well as one fitted on the reference annotation (0.204). C. elegans slice, prior fitted without it: 0.636 ->
0.660 self-trained (the embedded prior: 0.669 -> 0.671); single pieces (`bench/euk_pieces.py`): Arabidopsis Chr4
0.350 -> 0.535, C. elegans V+X 0.438 -> 0.460, yeast chrVI 0.800 -> 0.795, the rest unchanged; the Arabidopsis
slice and yeast chrI-VIII unchanged (0.780; 0.873); the Drosophila slice now runs away instead of collapsing
(81 / 152 / 252 complete genes, against 85 in its annotation) and keeps its prior, as before.

The models self-training returns decode CDS exons with a length per exon type (single, initial, internal,
terminal: `GeneModelParams.exon_types`, see genannot.euk.decode). In the final decoding: Arabidopsis slice 0.780
-> 0.792, yeast 0.879 -> 0.881 (intron F1 0.236 -> 0.241), C. elegans 0.660 -> 0.659. A dense input's rounds
(bootstrapped from long ORFs: plants, fungi) decode with them too once a round holds `typed_round_genes` (100)
complete genes: Arabidopsis slice 0.792 -> 0.798 (intron F1 0.798 -> 0.803), yeast 0.881 -> 0.882 (intron F1
0.241 -> 0.259), yeast chrIII 0.787 -> 0.791. From a round of fewer genes the types' lengths come from a few dozen
genes, and chromosome pieces of 24-80 genes lost (Arabidopsis Chr1 0.802 -> 0.762, Chr5 0.674 -> 0.645, Chr2+Chr4
0.372 -> 0.333, yeast chrI 0.826 -> 0.814). A sparse (animal) input's rounds keep one length for every exon: with
the types, the C. elegans slice from a prior fitted without it fell from 0.660 to 0.642 (its rounds' gene sets
drift with their own lengths).

The rounds fit no pairwise splice-site models (genannot.euk.genemodel.PairwiseSiteModel: a regression
per fit, too slow to repeat every round); an intron-poor genome keeps the prior's with its chains until its
splice sites are fitted once at the end (pairwise models too from 100 sites on; yeast: chains alone), and an
intron-rich one decodes its rounds with its re-fitted chains alone and gets pairwise models fitted on
the last round's genes, beside the final coding chain. Arabidopsis slice CDS-exon F1: 0.769 before
pairwise models existed, 0.765 with the prior's in the first round only, 0.774 with them re-fitted at the end.

Then an intron-rich genome's splice sites are fitted once more: the sample is decoded with the final models (the
final coding chain and pairwise models: better genes than the last round's, decoded with order-3 chains alone),
and the splice sites are fitted on those genes but the `SITE_TRIM` (30%) whose weakest intron scores lowest, as
an intron-poor genome's are (real sites share a motif; the false introns of fused or extended genes end in
random GT and AG). CDS-exon F1 / intron F1: Arabidopsis slice 0.798 / 0.807 -> 0.811 / 0.815; C. elegans slice
(prior fitted without it) 0.659 / 0.708 -> 0.674 / 0.721. Other ways, CDS-exon F1 on Arabidopsis / C. elegans:
trimming none 0.803 / 0.662, half 0.796 / 0.680; the last round's genes trimmed, without decoding again 0.804 /
0.675; splice sites fitted on the reference annotation itself, the bound: 0.822 / 0.714. Not after a round that
ran away (see below): decoding again with the models kept would re-fit them towards the round that ran away
(Drosophila 0.367 -> 0.344).

Before that last decoding, an intron-rich genome is decoded once with a spliced-leader path on offer at an even
share (`LEADER_PROBE`: a gene may begin at a splice acceptor and a short 5'UTR before its start codon, genannot.euk.decode).
Where more than that share of the genes take it, most genes start at an acceptor (a trans-splicing genome, as a
nematode's: SL1 leaders), and the genome is decoded with the path at the share and mean 5'UTR length those genes
show (`GeneModelParams.leader_share`, `leader_length`); the splice sites are then fitted on the probe's genes, in
which neighbours no longer fuse through their leaders' acceptors. Elsewhere the path is not used. The probe's share:
C. elegans slice 62% (5'UTR mean 32 nt), Arabidopsis slice 40% (its 5'UTR introns). C. elegans from a prior fitted
without it: CDS-exon F1 0.674 -> 0.699, intron F1 0.721 -> 0.736 (from the embedded prior 0.686 -> 0.691). Other
ways, CDS-exon F1 on C. elegans / Arabidopsis (0.811 without the path): the path used at the share found whatever
it is, splice sites fitted on the probe's genes 0.699 / 0.800, on genes decoded without the path 0.687 / 0.809, on
genes decoded again at the share found - / 0.806; hard EM on the share (decoding at the share found until it
settles) converged at 61% and 28%, no better than one probe. So the genomes below the bar (Arabidopsis, the draft),
the intron-poor ones (yeast: no probe) and every input that keeps its prior decode as before; the probe costs an
intron-rich genome one more decoding of the sample.

In an intron-rich genome (splice sites re-fitted), the lengths of initial, internal and terminal CDS
exons are pooled with the prior's (`POOLED_LENGTHS`): the exons self-training misses are mostly short
ones, so lengths learnt from its own predictions alone run long (Arabidopsis: internal CDS exons mean
236 nt against 175 in the annotation) and keep the short exons out. Arabidopsis CDS-exon F1 0.652 ->
0.692. Not in an intron-poor one: yeast's few predicted multi-exon genes fell apart into mammal-sized
exons (0.84 -> 0.66 on its first four chromosomes).

A sparse input (long ORFs fewer than `min_orfs` or `min_density` per Mb: an intron-rich genome such as
an animal's, whose genes are split into short exons; yeast has 293 per Mb, the Arabidopsis slice 73,
C. elegans 16, Drosophila 48, human regions 2-27) does not start from its long ORFs but from the prior's own
genes: its first round decodes with the prior as it is. Started from long ORFs, the Drosophila slice ran away
(complete genes 184 -> 513 over nine rounds, CDS-exon F1 0.30 -> 0.01: tiny "introns" bridging stop codons,
then genes wall to wall), as did two human regions (0.58 -> 0.00, 0.33 -> 0.00). Started from the prior's
genes, a mammal still runs away (the human regions of ../shared/data as one 5 Mb sample: complete genes
132 / 187 / 233 / 277 / 495), so a sparse input self-trains only where the prior finds at least
`sparse_min_gene_density` complete genes per Mb (a nematode's or an insect's gene density, not a mammal's: C. elegans
64-115 per Mb, the human sample 26, the human MHC region 38), and a round that predicts more than `runaway`
times the prior's complete genes, or introns with a median under `min_intron_median` nt, ends it. The second
is the Drosophila failure: with the prior's coding chain kept for one more round, the slice's self-training
did not collapse but settled at 2.2 times the prior's genes with CDS-exon F1 0.004 and introns of median 24
nt, tiny "introns" bridging stop codons (no reference annotation here has a median under 69 nt, nor 0.1% of
its introns under 40). That median is read over every intron the round predicted, including those of the genes
the fit leaves out (`MIN_FIT_INTRON`, below): it is the decoder's behaviour that is checked, not the fit's input.
On every measured sparse input it stays above the floor (C. elegans 293-536 nt per round, Drosophila 63-153), so
the runaway guard is the one that ends the Drosophila slice's rounds. Where the round that runs away is the first
re-fit's (the second), the prior is kept; where it is a later one, the models of the round before (the last within
bounds) are kept, their coding chain re-fitted at the final order on the genes they were fitted on, as at the end
of rounds that settle. The Drosophila slice, prior fitted without it, runs away in its third round (81 / 152 / 252
complete genes, 85 in the annotation): the prior scored 0.293 CDS-exon F1 (intron F1 0.230), the models of its
second round 0.367 (0.337), AUGUSTUS --species=fly 0.433. Its later rounds feed on their own mistakes: with no
bound, CDS-exon F1 per round (unmasked) 0.174 / 0.265 / 0.145 / 0.075, false genes outside the annotated ones 51 /
87 / 148, CDS exons per gene 4 -> 8 (short false introns splitting real exons). Keeping the prior's intron lengths,
CDS exon lengths or gene density in the re-fits did not stop it, nor did the prior's splice sites. The embedded
prior, which saw the slice, lost by the same rule (0.531 -> 0.406: its rounds run away too, 106 / 196 / 299): a
prior fitted on the genome itself is not what self-training is for.

| sparse input, CDS-exon F1 (`python bench/euk_unseen.py`) | prior | self-trained from the prior's genes | complete genes per round |
|---|---:|---:|---|
| C. elegans slice, prior fitted without C. elegans | 0.199 | **0.601** | 64 / 75 / 101 / 117 / 119 / 119 |
| C. elegans slice, the embedded prior (saw it) | 0.547 | **0.619** | 115 / 118 / 128 / 129 |
| Drosophila slice, prior fitted without it / the embedded prior | 0.162 / 0.301 | kept | 10 in round 2; 47: too few |
| Drosophila slice, the same, since the round before a runaway is kept (masked slice) | 0.293 / 0.531 | **0.367** / 0.406 | 81 / 152 / 252; 106 / 196 / 299 |
| human regions (5 Mb sample), human MHC region | | kept | 132 in 5.1 Mb, 65 in 1.7 Mb: too gene-poor |
| every other mammal region of ../shared/data | | kept | too few long ORFs or complete genes |

With the pairwise splice-site models (masked slices, `bench/euk_unseen.py`): C. elegans from a prior fitted
without it 0.252 -> **0.637** self-trained; with the embedded prior 0.603, kept (its rounds lost genes: 121 / 118);
Drosophila 0.293 / 0.531, kept. With the longest predicted introns' ends left out of the splice-site models (above):
C. elegans 0.252 -> 0.636, and from the embedded prior 0.603 -> **0.669** (121 / 122 complete genes).

Where a sparse input has fewer than `sparse_min_orfs` long ORFs (too short or too gene-poor to give
`sparse_min_genes` complete genes), a round predicts too few complete genes (`min_genes`; a sparse input:
`sparse_min_genes`), or the rounds lose genes (the last predicts fewer complete genes than the first, or more than
`drift` (10%) fewer than the round that predicted the most: the model is drifting, not converging), the prior is
kept: `self_train` then returns None. The sample is the input's first records up to `max_bp`. The second test is
the Drosophila slice decoded with a prior fitted on C. elegans alone (CDS-exon F1 0.352, ahead of the pooled
prior's 0.293): its rounds rose and fell (148 / 198 / 259 / 207 complete genes), never under the first round nor
past the runaway bound, and the models they ended with scored 0.168. Every measured self-training that converges
ends within 2% of its highest round (C. elegans 114 / 113; every `bench/euk_pieces.py` row, Arabidopsis Chr2+Chr4
68 / 67 the furthest).

The floors are set for small inputs. A plant's or a yeast's chromosome piece of 0.2-0.3 Mb holds 15-50 long
ORFs and its first round 20-60 complete genes; with the prior kept (its mammal coding chain), CDS-exon F1 is
0.10-0.19 (`python bench/euk_pieces.py`). Bootstrapped from its long ORFs and re-fitted from as few as 25
complete genes, Arabidopsis Chr1 rises 0.174 -> 0.801, Chr5 0.143 -> 0.681, Chr4 0.167 -> 0.350, yeast chrI
0.099 -> 0.826; Chr5 only once the splice sites are re-fitted from 40 introns (`min_introns`: at 100 they stayed
the prior's and it ended at 0.170). A sparse input keeps the floor of 60 unless its coding sequence is foreign
to the prior: with 30 for every sparse input, the prior's 38-46 genes in the mouse and orangutan regions
self-trained and lost (0.656 -> 0.515, 0.745 -> 0.498, priors fitted without their species). What tells them
apart is whether the prior's coding chain fits the prior's own genes (`held_out_coding_gain`): a chain of order
`coding_order` fitted on half of the first round's genes, against the prior's, on the other half's coding
sequence (both halves), in nats per base. Mammal regions with 20-62 genes, priors fitted without their species:
-0.040 to +0.016 (mouse 0.005, orangutan -0.021, marmoset -0.040); Arabidopsis pieces 0.046-0.067 (the whole slice
0.067), C. elegans 0.081-0.098, Drosophila 0.076-0.66. At `foreign_gain` = 0.03 and above, a sparse input needs
only `min_genes`: Arabidopsis Chr3 (30 genes, 11 long ORFs) 0.179 -> 0.794, C. elegans V+X (28 genes, prior
fitted without it) 0.326 -> 0.438; Arabidopsis Chr2 and Drosophila 3L+3R start and are refused in their second
round (19 and 0 genes); every mammal region keeps its prior. Nothing at or above the old floors moves: the
whole Arabidopsis slice (0.780), C. elegans (0.636), Drosophila, the mammals.
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
    `min_share` of the prior's real sites (see the module doc)."""

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
    under `sites`) scores lowest (see the module doc)."""
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
    nats per base, each half of the genes scored by a chain fitted on the other half (see the module doc)."""
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
    scores lowest under `scorer`'s: the end-of-training fit of either kind of genome (see the module doc)."""
    sites, _, _ = _fit(prior, sample, _strongest_sites(sample, genes, scorer, SITE_TRIM), coding_order, pairwise=True)
    return sites


def _fit(prior: GeneModelParams, sample: Sequence[tuple[str, str]], genes: dict[str, list[Gene]],
         coding_order: int, pairwise: bool = False) -> tuple[GeneModelParams, int, int]:
    """Models estimated from `genes` but those holding an intron under `MIN_FIT_INTRON`; (params, complete
    genes, introns); splice sites from the introns up to their `INTRON_TRIM` quantile (see the module doc)."""
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
    """`params` with its intron lengths cut at their `q` quantile (see the module doc)."""
    introns = params.lengths["intron"]
    return _introns_up_to(params, np.quantile(introns, q) if len(introns) else None)


def _introns_up_to(params: GeneModelParams, cut: float | None) -> GeneModelParams:
    """`params` with the intron lengths above `cut` left out (None: all kept)."""
    if cut is None:
        return params
    introns = np.asarray(params.lengths["intron"])
    return replace(params, lengths={**params.lengths, "intron": introns[introns <= cut]})


def _pooled_lengths(params: GeneModelParams, prior: GeneModelParams) -> GeneModelParams:
    """`params` with its multi-exon CDS exon lengths pooled with the prior's (see the module doc)."""
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
    """Why a sparse input's self-training must stop after this round and keep the prior (see the module doc), or
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
    support it (see the module doc)."""
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
        if sparse and n_genes > runaway * report.genes_per_round[0]:  # the rounds ran away (see the module doc)
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
        # decoded first with a spliced-leader path on offer: a genome whose genes mostly take it keeps it (module doc)
        offered = replace(params, leader_share=LEADER_PROBE, leader_length=LEADER_LENGTH)
        probe = _head(sample, leader_probe_bp)
        probed = decode(offered, probe)
        share, length = _leader_usage(probed)
        if share > LEADER_PROBE:  # most genes start at an acceptor: a trans-splicing genome (see the module doc)
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
