"""Self-training of the signal models on the input (genannot.euk.selftrain) and the stop-codon scoring
of the coding chain it depends on."""

from __future__ import annotations

import numpy as np
import pytest

from genannot.euk.decode import decode_record, decode_records
from genannot.euk.genemodel import GeneModelParams, encode
from genannot.features import Gene, Transcript
from genannot.euk.selftrain import (CODING_ORDER, FINAL_CODING_ORDER, FOREIGN_GAIN, INTRON_POOR_TRIM, INTRON_TRIM, LEADER_PROBE, POOLED_LENGTHS,
                                    SITE_TRIM, SPLICE_WEIGHT, _fit, _strongest_sites, held_out_coding_gain, long_orfs, self_train)
from genannot.io.seqout import reverse_complement
from genannot.models.registry import resolve_model

STOPS = ("TAA", "TAG", "TGA")
SENSE = [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT" if a + b + c not in STOPS]


@pytest.fixture(scope="module")
def prior() -> GeneModelParams:
    return GeneModelParams.load(resolve_model(None, "euk-seg").path)


def _compact_genome(seed: int, n_genes: int) -> tuple[str, list[tuple[str, int, int]]]:
    """Single-exon genes (ATG, codons from a skewed usage, a stop) between short AT-rich spacers, on
    both strands, as in a yeast; returns the sequence and (strand, start, end) 1-based of each CDS."""
    rng = np.random.default_rng(seed)
    usage = rng.dirichlet(np.full(len(SENSE), 0.3))
    parts, genes, pos = [], [], 0
    for i in range(n_genes):
        spacer = "".join(rng.choice(list("ACGT"), size=int(rng.integers(200, 600)), p=[0.35, 0.15, 0.15, 0.35]))
        body = "".join(rng.choice(SENSE, size=int(rng.integers(200, 500)), p=usage))
        cds = "ATG" + body + STOPS[i % 3]
        strand = "+" if rng.random() < 0.5 else "-"
        parts += [spacer, cds if strand == "+" else reverse_complement(cds)]
        pos += len(spacer)
        genes.append((strand, pos + 1, pos + len(cds)))
        pos += len(cds)
    return "".join(parts), genes


def test_coding_chain_does_not_charge_the_stop_codon(prior: GeneModelParams) -> None:
    # the chain is trained on sense codons: the third base of a stop must score 0, not a ~20-nat penalty
    seq = "ATGGCTGCAAAAGGCTAA"
    scores = prior.coding_scores(encode(seq))
    assert scores[2, len(seq) - 1] == 0.0
    assert scores[2, len(seq) - 4] != 0.0


def test_long_orfs_golden() -> None:
    orf = "ATG" + "GCT" * 299 + "TAA"  # 903 nt
    seq = "CC" + orf + "TT" + reverse_complement(orf) + "GG"
    got = [(g.strand, g.transcripts[0].cds) for g in long_orfs("s", seq, 900)]
    assert ("+", [(3, 905)]) in got
    assert ("-", [(908, 1810)]) in got
    assert long_orfs("s", seq, 1000) == []


def test_too_few_long_orfs_keeps_the_prior(prior: GeneModelParams) -> None:
    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("ACGT"), size=50_000))
    params, report = self_train(prior, [("r", seq)], lambda p, sample: decode_records(sample, p))
    assert params is None and not report.used and "long ORFs" in report.reason


def test_self_training_finds_the_genes_of_a_compact_genome(prior: GeneModelParams) -> None:
    seq, truth = _compact_genome(7, 120)

    def exact(params: GeneModelParams) -> int:
        got = {(g.strand, *g.transcripts[0].cds[0]) for g in decode_record("r", seq, params) if len(g.transcripts[0].cds) == 1}
        return len(got & set(truth))

    params, report = self_train(prior, [("r", seq)], lambda p, sample: decode_records(sample, p), min_orfs=40, min_genes=40)
    assert report.used, report.reason
    assert report.long_orfs >= 40
    assert params.coding_order == FINAL_CODING_ORDER < prior.coding_order  # few, noisy genes: a smaller chain
    assert params.exon_types and not prior.exon_types  # the input's own exon lengths, one per exon type
    before, after = exact(prior), exact(params)
    assert after >= 0.6 * len(truth), (before, after)
    assert after > before


def test_rounds_stop_once_the_gene_count_settles(prior: GeneModelParams) -> None:
    seq, _ = _compact_genome(3, 120)
    calls = []

    def same_genes_every_round(p: GeneModelParams, sample: list) -> dict:
        calls.append(p)
        return {seqid: long_orfs(seqid, s, 300) for seqid, s in sample}

    params, report = self_train(prior, [("r", seq)], same_genes_every_round, min_orfs=40, min_genes=40)
    assert report.used and len(report.genes_per_round) == 2 == len(calls), report
    assert report.genes_per_round[0] == report.genes_per_round[1] >= 100
    # the rounds decode with chains of CODING_ORDER; the one returned is re-fitted one order higher on the last
    # round's genes (the gene set has settled: the larger chain no longer feeds on its own mistakes)
    assert [p.coding_order for p in calls] == [CODING_ORDER] * 2 and params.coding_order == FINAL_CODING_ORDER


def test_exon_lengths_pooled_with_the_priors_only_in_an_intron_rich_genome(prior: GeneModelParams) -> None:
    """Self-training misses short exons, so in an intron-rich genome the multi-exon CDS lengths are
    pooled with the prior's (and the re-fitted splice sites weighted up); in an intron-poor one (a
    yeast) they are the input's own."""
    from test_euk_decode import training_genome

    b = training_genome(3, 150)
    genes = b.genes

    def the_genes(p: GeneModelParams, sample: list) -> dict:
        return {"chr": genes}

    params, report = self_train(prior, [("chr", b.seq)], the_genes, min_orf=150, min_orfs=5, min_density=0, min_genes=40)
    assert report.used and report.introns_per_round[-1] >= max(100, report.genes_per_round[-1]), report
    own = GeneModelParams.from_genes([(b.seq, genes)])
    for kind in POOLED_LENGTHS:
        assert len(params.lengths[kind]) == len(own.lengths[kind]) + len(prior.lengths[kind]) > len(prior.lengths[kind])
    assert np.array_equal(params.lengths["cds_single"], own.lengths["cds_single"])
    assert params.splice_weight == SPLICE_WEIGHT != prior.splice_weight  # re-fitted splice sites count more

    seq, _ = _compact_genome(3, 120)
    params, report = self_train(prior, [("r", seq)], lambda p, sample: {i: long_orfs(i, s, 300) for i, s in sample}, min_orfs=40, min_genes=40)
    assert report.used and not len(params.lengths["cds_internal"])
    assert params.splice_weight == prior.splice_weight == 1.0  # the prior's splice sites, at the prior's weight


def test_intron_lengths_and_splice_sites_leave_out_the_longest_predicted_introns(prior: GeneModelParams) -> None:
    """The longest few percent of the predicted introns (fused neighbouring genes' junctions) neither
    stretch the intron-length model nor teach the splice-site models their random ends."""
    from test_euk_decode import training_genome

    b = training_genome(3, 150)
    params, report = self_train(prior, [("chr", b.seq)], lambda p, sample: {"chr": b.genes}, min_orf=150, min_orfs=5,
                                min_density=0, min_genes=40, rounds=1)
    assert report.used
    own = np.sort(GeneModelParams.from_genes([(b.seq, b.genes)]).lengths["intron"])
    kept = np.sort(params.lengths["intron"])
    cut = np.quantile(own, INTRON_TRIM)
    assert np.array_equal(kept, own[own <= cut]) and 0 < len(own) - len(kept) <= 0.05 * len(own)
    every = GeneModelParams.from_genes([(b.seq, b.genes)], pairwise=False)
    short = GeneModelParams.from_genes([(b.seq, b.genes)], pairwise=False, max_site_intron=int(cut))
    assert short.stats["donor_sites"] == every.stats["donor_sites"] - np.sum(own > cut) > 0
    assert np.array_equal(short.lengths["intron"], every.lengths["intron"])  # lengths: every intron
    fitted, _, _ = _fit(prior, [("chr", b.seq)], {"chr": b.genes}, CODING_ORDER)  # every fit's splice sites, the rounds' too
    np.testing.assert_allclose(fitted.donor.logp, short.donor.logp)
    np.testing.assert_allclose(fitted.acceptor.logp, short.acceptor.logp)
    assert not np.allclose(fitted.donor.logp, every.donor.logp)


def _without_utrs(genes: list[Gene]) -> list[Gene]:
    return [Gene(g.seqid, g.strand, g.id, [Transcript(t.id, t.biotype, exons=list(t.cds), cds=list(t.cds)) for t in g.transcripts])
            for g in genes]


def test_an_intron_rich_genomes_splice_sites_are_fitted_last_on_the_final_models_genes_without_the_weakest(prior: GeneModelParams) -> None:
    """Once the rounds settle, an intron-rich genome is decoded once more with the final models (after a decoding
    that offers the leader path finds few genes taking it: no trans-splicing), and its splice sites are fitted on
    those genes but the SITE_TRIM share holding the weakest introns under those models."""
    from test_euk_decode import training_genome

    b = training_genome(3, 150)
    final_genes = b.genes[: len(b.genes) // 2]  # what the final models find: other genes than the rounds'
    calls: list = []

    def decode(params: GeneModelParams, sample: list) -> dict:
        calls.append(params)
        return {"chr": final_genes if len(calls) == 4 else _without_utrs(b.genes)}

    sample = [("chr", b.seq)]
    params, report = self_train(prior, sample, decode, min_orf=150, min_orfs=5, min_density=0, min_genes=40, rounds=2)
    assert report.used and len(calls) == 4 and "re-fitted on the final models' " in report.reason, report
    assert calls[2].leader_share == LEADER_PROBE and calls[3].leader_share == 0 == params.leader_share
    kept = _strongest_sites(sample, {"chr": final_genes}, calls[-1], SITE_TRIM)
    assert 0 < len(kept["chr"]) < len(final_genes)
    sites, _, _ = _fit(prior, sample, kept, FINAL_CODING_ORDER, pairwise=True)
    np.testing.assert_allclose(params.donor.logp, sites.donor.logp)
    np.testing.assert_allclose(params.acceptor.logp, sites.acceptor.logp)
    assert params.donor_pairs == sites.donor_pairs and params.splice_weight == SPLICE_WEIGHT
    np.testing.assert_allclose(params.coding, calls[-1].coding)  # the rest: the final models'


def test_a_genome_whose_genes_mostly_start_at_an_acceptor_decodes_with_a_leader_path(prior: GeneModelParams) -> None:
    """Where most of the final models' genes take the leader path when it is offered (LEADER_PROBE), the genome is
    decoded with it at the share and mean 5'UTR length those genes show, and its splice sites are fitted on them."""
    from test_euk_decode import training_genome

    b = training_genome(3, 150)
    plain = _without_utrs(b.genes)
    led = [g if i % 4 else plain[i] for i, g in enumerate(_with_leaders(b.genes, 20))]  # 3 in 4 start at an acceptor
    calls: list = []

    def decode(params: GeneModelParams, sample: list) -> dict:
        calls.append(params)
        return {"chr": led if len(calls) == 3 else plain}

    sample = [("chr", b.seq)]
    params, report = self_train(prior, sample, decode, min_orf=150, min_orfs=5, min_density=0, min_genes=40, rounds=2)
    assert report.used and len(calls) == 3 and "75% of them starting at a splice acceptor" in report.reason, report
    share = sum(1 for i in range(len(led)) if i % 4) / len(led)
    assert calls[2].leader_share == LEADER_PROBE and params.leader_share == pytest.approx(share) and params.leader_length == 20
    kept = _strongest_sites(sample, {"chr": led}, calls[-1], SITE_TRIM)
    sites, _, _ = _fit(prior, sample, kept, FINAL_CODING_ORDER, pairwise=True)
    np.testing.assert_allclose(params.acceptor.logp, sites.acceptor.logp)


def test_the_leader_probe_reads_the_first_leader_probe_bp_of_the_sample(prior: GeneModelParams) -> None:
    """The probe decodes only the sample's first `leader_probe_bp` bases (the records up to there, the last one
    cut); where it finds a trans-splicing genome, the whole sample is decoded with the path offered as in the probe."""
    from test_euk_decode import training_genome

    genomes = {"chr": training_genome(3, 150), "chr2": training_genome(4, 150)}
    plain = {k: _without_utrs(b.genes) for k, b in genomes.items()}
    led = {k: _with_leaders(b.genes, 20) for k, b in genomes.items()}
    calls: list = []

    def decode(params: GeneModelParams, sample: list) -> dict:
        calls.append((params, [(k, len(x)) for k, x in sample]))
        return {k: (led if len(calls) >= 3 else plain)[k] for k, _ in sample}

    sample = [(k, b.seq) for k, b in genomes.items()]
    n1, n2 = (len(b.seq) for b in genomes.values())
    params, report = self_train(prior, sample, decode, min_orf=150, min_orfs=5, min_density=0, min_genes=40, rounds=2,
                                leader_probe_bp=n1 + 1000)
    assert report.used and len(calls) == 4, report
    assert calls[2][1] == [("chr", n1), ("chr2", 1000)]  # the probe: the first record and 1,000 bases of the second
    assert calls[3][1] == [("chr", n1), ("chr2", n2)]  # then the whole sample, the path offered as in the probe
    assert calls[2][0].leader_share == calls[3][0].leader_share == LEADER_PROBE
    assert params.leader_share == 1.0 and params.leader_length == 20


def _with_leaders(genes: list[Gene], length: int) -> list[Gene]:
    """`genes` with their first exon reaching `length` nt upstream of the start codon."""
    out = []
    for g in genes:
        t = g.transcripts[0]
        cds = sorted(t.cds)
        exons = [list(x) for x in cds]
        if g.strand == "+":
            exons[0][0] -= length
        else:
            exons[-1][1] += length
        out.append(Gene(g.seqid, g.strand, g.id, [Transcript(t.id, t.biotype, exons=[tuple(x) for x in exons], cds=cds)]))
    return out


def test_an_intron_poor_genome_fits_intron_lengths_to_its_shorter_predicted_introns(prior: GeneModelParams) -> None:
    """Where the predicted introns are too few to re-fit the splice sites, most of them are wrong, the
    long ones most of all: intron lengths come from those up to their median (after the usual trim)."""
    from test_euk_decode import training_genome

    b = training_genome(3, 150)
    params, report = self_train(prior, [("chr", b.seq)], lambda p, sample: {"chr": b.genes}, min_orf=150, min_orfs=5,
                                min_density=0, min_genes=40, min_introns=10**6, min_own_sites=10**6, rounds=1)
    assert report.used
    own = np.sort(GeneModelParams.from_genes([(b.seq, b.genes)]).lengths["intron"])
    trimmed = own[own <= np.quantile(own, INTRON_TRIM)]
    kept = np.sort(params.lengths["intron"])
    assert np.array_equal(kept, trimmed[trimmed <= np.quantile(trimmed, INTRON_POOR_TRIM)])
    assert params.donor is prior.donor and kept.max() < np.median(own) + 1


def test_an_intron_poor_genome_gets_splice_sites_of_its_own_from_its_unique_genes(prior: GeneModelParams, monkeypatch) -> None:
    """An intron-poor genome's rounds keep the prior's splice sites (their few predicted introns are mostly
    wrong); once they settle, the splice sites are fitted on the last round's genes, copies left out (a
    retrotransposon's frameshift read as an intron, in every copy), and weighted as re-fitted ones."""
    from test_euk_decode import training_genome

    from genannot.euk import selftrain

    monkeypatch.setattr(selftrain, "SITE_SHARE", 0.0)  # the copies' GC donors must be left out as copies

    b = training_genome(3, 150)
    singles, _ = _compact_genome(5, 150)
    src = next(g for g in b.genes if len(g.transcripts[0].cds) > 1 and g.strand == "+")
    t = src.transcripts[0]
    donor = t.cds[0][1]  # last base of the first CDS piece: the intron's G is at donor + 1 (1-based)
    unit = b.seq[src.start - 1 : donor + 1] + "C" + b.seq[donor + 2 : src.end] + "A" * 300  # ... its T made a C
    copies = [Gene("copies", "+", f"c{k}", [Transcript(f"c{k}", "mRNA",
              exons=[(a - src.start + 1 + k * len(unit), e - src.start + 1 + k * len(unit)) for a, e in t.exons],
              cds=[(a - src.start + 1 + k * len(unit), e - src.start + 1 + k * len(unit)) for a, e in t.cds])])
              for k in range(20)]
    sample = [("chr", b.seq), ("orfs", singles), ("copies", unit * 20)]
    genes = {"chr": b.genes, "orfs": long_orfs("orfs", singles, 300), "copies": copies}

    def decode(p: GeneModelParams, sample: list) -> dict:
        return genes

    params, report = self_train(prior, sample, decode, min_orf=150, min_orfs=5, min_density=0, min_genes=40)
    assert report.used and report.introns_per_round[-1] < report.genes_per_round[-1], report  # intron-poor
    assert params.splice_weight == SPLICE_WEIGHT and params.donor is not prior.donor
    assert params.donor_pairs.get("GT", 0) >= 100 and "GC" not in params.donor_pairs  # no copy's intron
    kept = self_train(prior, sample, decode, min_orf=150, min_orfs=5, min_density=0, min_genes=40, min_own_sites=10**6)[0]
    assert kept.donor is prior.donor and kept.splice_weight == prior.splice_weight  # too few introns: the prior's


def test_an_intron_poor_genomes_own_splice_sites_are_fitted_again_on_the_genes_they_give(prior: GeneModelParams) -> None:
    """Once an intron-poor genome has splice sites of its own, the sample is decoded once more with them and they
    are fitted again, the same way, on the genes that decoding gives: those are the sites used."""
    from test_euk_decode import training_genome

    from genannot.euk.selftrain import SITE_SHARE, _common_dinucleotides, _trimmed_sites, _unique

    b = training_genome(3, 150)
    singles, _ = _compact_genome(5, 150)
    sample = [("chr", b.seq), ("orfs", singles)]
    orfs = long_orfs("orfs", singles, 300)
    second = {"chr": b.genes[: len(b.genes) // 2], "orfs": orfs}  # what the first own sites find: other genes
    calls: list[GeneModelParams] = []

    def decode(p: GeneModelParams, sample: list) -> dict:
        calls.append(p)
        return second if len(calls) == 2 else {"chr": b.genes, "orfs": orfs}

    params, report = self_train(prior, sample, decode, min_orf=150, min_orfs=5, min_density=0, min_genes=40, rounds=1)
    assert report.used and report.introns_per_round[-1] < report.genes_per_round[-1], report  # intron-poor
    assert len(calls) == 2 and calls[1].donor is not prior.donor and calls[1].splice_weight == SPLICE_WEIGHT
    fit_on = _common_dinucleotides(sample, _unique(sample, second), prior, SITE_SHARE)
    sites = _trimmed_sites(prior, sample, fit_on, _fit(prior, sample, fit_on, CODING_ORDER, pairwise=True)[0], CODING_ORDER)
    np.testing.assert_allclose(params.donor.logp, sites.donor.logp)
    np.testing.assert_allclose(params.acceptor.logp, sites.acceptor.logp)
    assert not np.allclose(params.donor.logp, calls[1].donor.logp)  # not the first fit's
    assert "splice sites of its own from " in report.reason, report


def _spliced(seqid: str, strand: str, exons: list[tuple[int, int]]) -> Gene:
    """A coding gene of these exons (CDS = exons)."""
    return Gene(seqid, strand, f"{seqid}{exons[0][0]}", [Transcript("t", "mRNA", exons=exons, cds=exons)])


def test_an_intron_poor_genomes_splice_sites_come_from_common_dinucleotides(prior: GeneModelParams) -> None:
    """Predicted introns with a dinucleotide rare at the prior's real sites (GC donors: under 1%) are left out
    of an intron-poor genome's splice-site fit, on either strand."""
    from genannot.euk.selftrain import SITE_SHARE, _common_dinucleotides

    assert prior.donor_pairs["GT"] >= SITE_SHARE * sum(prior.donor_pairs.values()) > prior.donor_pairs["GC"]
    intron = "GTAAGT" + "A" * 40 + "TTTCAG"
    seq = "C" * 20 + intron + "C" * 20 + intron.replace("GTAAGT", "GCAAGT") + "C" * 20
    gt, gc = _spliced("s", "+", [(1, 20), (73, 92)]), _spliced("s", "+", [(73, 92), (145, 164)])
    rc = reverse_complement(seq)
    gt_rc, gc_rc = (_spliced("r", "-", [(len(seq) + 1 - e, len(seq) + 1 - a) for a, e in g.transcripts[0].exons])
                    for g in (gt, gc))
    kept = _common_dinucleotides([("s", seq), ("r", rc)], {"s": [gt, gc], "r": [gt_rc, gc_rc]}, prior, SITE_SHARE)
    assert kept == {"s": [gt], "r": [gt_rc]}


def test_an_intron_poor_genomes_splice_sites_are_fitted_again_without_the_weakest(prior: GeneModelParams) -> None:
    """Fitted on real introns (one consensus) and false ones (GT ... AG anywhere), then the genes whose weakest
    intron scores lowest under that fit are left out: mostly the false ones."""
    import random

    from test_euk_decode import training_genome

    b = training_genome(3, 120)
    real = [g for g in b.genes if len(g.transcripts[0].cds) > 1]
    rng = random.Random(0)
    junk = "".join(rng.choice("ACGT") for _ in range(2000 * len(real)))
    false = []
    for at in range(1000, len(junk) - 1000, 4000):  # GT ... AG, 80 nt or more apart, every 4 kb
        a = junk.find("GT", at) + 1  # the intron's first base, 1-based
        e = junk.find("AG", a + 80) + 2  # its last base
        false.append(_spliced("junk", "+", [(a - 150, a - 1), (e + 1, e + 150)]))
    sample = [("chr", b.seq), ("junk", junk)]
    genes = {"chr": real, "junk": false}
    sites, _, n_sites = _fit(prior, sample, genes, CODING_ORDER, pairwise=True)
    kept = _strongest_sites(sample, genes, sites, SITE_TRIM)
    dropped_false = len(false) - len(kept["junk"])
    dropped = len(real) + len(false) - len(kept["chr"]) - len(kept["junk"])
    assert dropped == pytest.approx(SITE_TRIM * (len(real) + len(false)), abs=1)
    assert dropped_false >= 0.8 * dropped, (dropped_false, dropped)


def _growing(seq: str, counts: list[int], calls: list):
    """A decoder whose k-th call predicts the first counts[k] genes of `seq` (its long ORFs), the last
    count repeated after that; the models it was called with go to `calls`."""
    orfs = long_orfs("r", seq, 300)

    def decode(p: GeneModelParams, sample: list) -> dict:
        calls.append(p)
        return {"r": orfs[: counts[min(len(calls), len(counts)) - 1]]}

    return decode


SPARSE = {"min_orfs": 10**6, "sparse_min_orfs": 1, "sparse_min_genes": 30}  # every input sparse


def test_a_sparse_input_self_trains_from_the_priors_genes(prior: GeneModelParams) -> None:
    seq, _ = _compact_genome(3, 120)
    calls: list = []
    params, report = self_train(prior, [("r", seq)], _growing(seq, [40, 70, 70], calls), **SPARSE)
    assert report.used and "sparse" in report.reason, report
    assert calls[0] is prior  # the first round: the prior as it is, not a chain bootstrapped from long ORFs
    assert report.genes_per_round == [40, 70, 70] and params.coding_order == FINAL_CODING_ORDER


def test_a_sparse_input_needs_more_genes_than_one_dense_in_long_orfs(prior: GeneModelParams) -> None:
    """A mammal region's prior genes (26-46 per region of ../shared/data) self-trained into worse models;
    a plant's or a yeast's small piece, dense in long ORFs, gains from as few as 25 (see the module doc)."""
    seq, _ = _compact_genome(3, 120)
    floors = {"min_genes": 20, "sparse_min_genes": 60}
    dense = {"min_orf": 300, "min_orfs": 1, "min_density": 0.0}
    params, report = self_train(prior, [("r", seq)], _growing(seq, [25, 30, 30], []), **floors, **dense)
    assert report.used and "sparse" not in report.reason, report
    params, report = self_train(prior, [("r", seq)], _growing(seq, [25, 30, 30], []), foreign_gain=float("inf"),
                                **{**SPARSE, **floors})  # the prior's coding chain taken to fit (below)
    assert params is None and "fewer than 60" in report.reason, report


def test_coding_log_likelihood_prefers_the_reading_frame(prior: GeneModelParams) -> None:
    seq, _ = _compact_genome(5, 80)
    params = GeneModelParams.from_genes([(seq, long_orfs("r", seq, 300))])
    cds = [g.transcripts[0].cds[0] for g in long_orfs("r", seq, 300) if g.strand == "+"]
    a, b = cds[0]
    codes = encode(seq[a - 1 : b])[:-3]
    in_frame, n = params.coding_log_likelihood(codes)
    shifted, m = params.coding_log_likelihood(codes[1:])
    assert n == len(codes) - params.coding_order and m == n - 1
    assert in_frame / n > shifted / m + 0.1


def test_held_out_coding_gain_tells_a_foreign_genome_from_a_familiar_one(prior: GeneModelParams) -> None:
    """The embedded (mammal-fitted) coding chain is foreign to a genome with its own codon usage; one fitted on that
    genome's genes is not (see the module doc: mammal regions -0.040..0.016 nats per base, Arabidopsis, C. elegans and
    Drosophila pieces 0.046-0.66)."""
    seq, _ = _compact_genome(3, 120)
    genes = {"r": long_orfs("r", seq, 300)}
    familiar = GeneModelParams.from_genes([(seq, genes["r"])])
    assert held_out_coding_gain(prior, [("r", seq)], genes) > FOREIGN_GAIN
    assert held_out_coding_gain(familiar, [("r", seq)], genes) < FOREIGN_GAIN


def test_a_sparse_input_with_foreign_coding_statistics_needs_only_min_genes(prior: GeneModelParams) -> None:
    seq, _ = _compact_genome(3, 120)
    floors = {**SPARSE, "min_genes": 20, "sparse_min_genes": 60}
    params, report = self_train(prior, [("r", seq)], _growing(seq, [25, 30, 30], []), foreign_gain=float("-inf"), **floors)
    assert report.used and "beats the prior's" in report.reason and report.coding_gain is not None, report
    params, report = self_train(prior, [("r", seq)], _growing(seq, [25, 30, 30], []), foreign_gain=float("inf"), **floors)
    assert params is None and "fewer than 60" in report.reason and "the prior fits them" in report.reason, report


def test_a_sparse_input_whose_first_refit_runs_away_keeps_the_prior(prior: GeneModelParams) -> None:
    seq, _ = _compact_genome(3, 120)
    params, report = self_train(prior, [("r", seq)], _growing(seq, [40, 105, 105], []), runaway=2.5, **SPARSE)
    assert params is None and "ran away" in report.reason and report.genes_per_round == [40, 105], report


def test_a_sparse_input_whose_later_round_runs_away_keeps_the_models_of_the_round_before(prior: GeneModelParams) -> None:
    """The Drosophila slice, prior fitted without it: 81 / 152 / 252 complete genes; the models that decoded the
    second round (fitted on the prior's genes) are kept: CDS-exon F1 0.293 with the prior, 0.367 with them."""
    seq, _ = _compact_genome(3, 120)
    calls: list = []
    params, report = self_train(prior, [("r", seq)], _growing(seq, [40, 70, 90, 105], calls), runaway=2.5, **SPARSE)
    assert report.used and "ran away" in report.reason and report.genes_per_round == [40, 70, 90, 105], report
    kept = calls[2]  # decoded the third round (90), fitted on the second's 70 genes: its chain at the final order
    final, _, _ = _fit(prior, [("r", seq)], {"r": long_orfs("r", seq, 300)[:70]}, FINAL_CODING_ORDER)
    assert np.array_equal(params.coding, final.coding) and params.donor is kept.donor
    assert np.array_equal(params.lengths["intron"], kept.lengths["intron"])
    params, report = self_train(prior, [("r", seq)], _growing(seq, [40, 70, 90, 100], []), runaway=2.5, **SPARSE)
    assert report.used and "ran away" not in report.reason, report  # 100 = 2.5 x 40: still within bounds


def test_a_dense_inputs_rounds_decode_with_exon_types_once_they_hold_enough_genes(prior: GeneModelParams) -> None:
    """A length per CDS exon type needs a sample: a dense input's rounds use them from a round of `typed_round_genes`
    complete genes on, a sparse input's never; the models returned always (see the module doc)."""
    seq, _ = _compact_genome(3, 120)
    dense = {"min_orf": 300, "min_orfs": 1, "min_density": 0.0}
    calls: list = []
    params, report = self_train(prior, [("r", seq)], _growing(seq, [40, 70, 70], calls), typed_round_genes=50, **dense)
    assert report.used and [p.exon_types for p in calls] == [False, False, True] and params.exon_types, report
    calls = []
    params, report = self_train(prior, [("r", seq)], _growing(seq, [40, 70, 70], calls), typed_round_genes=50, **SPARSE)
    assert report.used and [p.exon_types for p in calls] == [False, False, False] and params.exon_types, report


def test_rounds_that_rise_and_fall_keep_the_prior(prior: GeneModelParams) -> None:
    """The Drosophila slice self-trained from a C. elegans prior: 148 / 198 / 259 / 207 complete genes, never under the
    first round nor past the runaway bound, and worse models at the end (see the module doc)."""
    seq, _ = _compact_genome(3, 120)
    params, report = self_train(prior, [("r", seq)], _growing(seq, [40, 60, 80, 70], []), drift=0.1, **SPARSE)
    assert params is None and "fell (40 / 60 / 80 / 70)" in report.reason, report
    params, report = self_train(prior, [("r", seq)], _growing(seq, [40, 60, 80, 73], []), drift=0.1, **SPARSE)
    assert report.used and report.genes_per_round == [40, 60, 80, 73], report  # 73 >= 0.9 x 80: settled


def test_a_gene_poor_sparse_input_keeps_the_prior_after_one_round(prior: GeneModelParams) -> None:
    """An animal genome with a mammal's gene density (a few genes per Mb) ran away when self-trained:
    where the prior finds fewer than `sparse_min_gene_density` complete genes per Mb, it stays."""
    seq, _ = _compact_genome(3, 120)
    per_mb = 40 / (len(seq) / 1e6)
    calls: list = []
    params, report = self_train(prior, [("r", seq)], _growing(seq, [40, 70], calls), sparse_min_gene_density=per_mb + 1, **SPARSE)
    assert params is None and "too gene-poor" in report.reason and len(calls) == 1, report
    params, report = self_train(prior, [("r", seq)], _growing(seq, [40, 70, 70], []), sparse_min_gene_density=per_mb - 1, **SPARSE)
    assert report.used, report


def test_a_sparse_input_whose_predicted_introns_are_tiny_keeps_the_prior(prior: GeneModelParams) -> None:
    """Introns far shorter than any real genome's (median under `min_intron_median`) are stop codons bridged
    by the self-trained models, not splicing: the Drosophila slice's failure."""
    from test_euk_decode import training_genome

    b = training_genome(3, 150)
    median = float(np.median(GeneModelParams.from_genes([(b.seq, b.genes)]).lengths["intron"]))
    for threshold, used in ((1.1 * median, False), (0.9 * median, True)):
        params, report = self_train(prior, [("chr", b.seq)], lambda p, sample: {"chr": b.genes}, min_orf=150,
                                    min_intron_median=threshold, **SPARSE)
        assert report.used == used, report
        assert used or (params is None and "introns are tiny" in report.reason)


def _bridged(g, rest: bool = True):
    """`g` with its first CDS exon split by an "intron" one base short of MIN_FIT_INTRON (a stop codon bridged);
    without `rest`, that exon's two halves are the whole gene."""
    from dataclasses import replace

    from genannot.euk.selftrain import MIN_FIT_INTRON

    t = g.transcripts[0]
    a, e = t.cds[0]
    m = (a + e) // 2
    after = m + MIN_FIT_INTRON  # first base after the intron
    host = next(x for x in t.exons if x[0] <= a and e <= x[1])
    exons = [(host[0], m), (after, host[1])] + ([x for x in t.exons if x != host] if rest else [])
    cds = [(a, m), (after, e)] + (list(t.cds[1:]) if rest else [])
    return replace(g, transcripts=[replace(t, exons=sorted(exons), cds=cds)])


def test_tiny_intron_guard_reads_the_introns_the_fit_leaves_out(prior: GeneModelParams) -> None:
    """The guard checks what the decoder predicted: tiny introns stop a sparse input's rounds even though the
    genes holding them teach no model."""
    from test_euk_decode import training_genome

    b = training_genome(3, 150)
    n_real = sum(len(g.transcripts[0].introns()) for g in b.genes)
    bridged = [_bridged(g, rest=False) for g in b.genes] * (n_real // len(b.genes) + 1)  # more tiny introns than real
    for genes, used in ((b.genes, True), (b.genes + bridged, False)):
        _, report = self_train(prior, [("chr", b.seq)], lambda p, sample: {"chr": genes}, min_orf=150, **SPARSE)
        assert report.used == used, report
        assert used or "introns are tiny" in report.reason


def test_genes_holding_a_tiny_intron_are_left_out_of_the_fit(prior: GeneModelParams, monkeypatch) -> None:
    """Predicted genes with an "intron" under MIN_FIT_INTRON (stop codons bridged) teach no model: the fit
    with them added equals the fit without them, and they would have changed it."""
    import genannot.euk.selftrain as selftrain
    from test_euk_decode import training_genome

    b = training_genome(3, 150)
    bridged = [_bridged(g) for g in b.genes[:20]]

    def fit(genes):
        params, report = self_train(prior, [("chr", b.seq)], lambda p, sample: {"chr": genes}, min_orf=150, min_orfs=5,
                                    min_density=0, min_genes=40, rounds=1, final_coding_order=None)
        assert report.used
        return params, report

    clean, clean_report = fit(b.genes)
    mixed, mixed_report = fit(b.genes + bridged)
    assert mixed_report.genes_per_round == clean_report.genes_per_round
    np.testing.assert_array_equal(mixed.coding, clean.coding)
    np.testing.assert_array_equal(np.sort(mixed.lengths["intron"]), np.sort(clean.lengths["intron"]))
    monkeypatch.setattr(selftrain, "MIN_FIT_INTRON", 0)
    taught, _ = fit(b.genes + bridged)
    assert not np.array_equal(np.sort(taught.lengths["intron"]), np.sort(clean.lengths["intron"]))
