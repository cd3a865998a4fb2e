"""Gene-structure signal models (fit / save / load) and the structured and heuristic decoders, on
synthetic genomes with planted genes of known structure."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import genannot
from genannot.errors import ModelError
from genannot.euk.decode import FLOOR_SAMPLE, DecodeOptions, GeneHMM, decode_heuristic, decode_record, decode_records, intron_mixture
from genannot.euk.genemodel import (
    FILE_NAME, GC_EDGES, GeneModelParams, PairwiseSiteModel, SignalModel, encode, gc_classes, kmer_index, upstream_atg,
)
from genannot.euk.labels import strand_track
from genannot.features import Gene, Transcript
from genannot.io.seqout import reverse_complement, translate

# a strongly biased codon usage, so that a small training set gives a sharp coding model
CODONS = ["GCC", "CTG", "GAG", "AAG", "GTG", "ATC", "CAG", "GAC", "TTC", "AGC", "ACC", "CGC", "AAC", "TAC", "GGC", "CCC", "ATG", "TGG", "CAC", "TGC"]
STOPS = ["TAA", "TAG", "TGA"]


class Builder:
    """Random sequence with planted genes (1-based closed coordinates, as genannot.features)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.parts: list[str] = []
        self.pos = 0
        self.genes: list[Gene] = []

    def random(self, n: int, alphabet: str = "ACGT") -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.pos += len(s)

    def intergenic(self, n: int) -> None:
        self.add(self.random(n))

    def intron(self, n: int) -> str:
        return "GTAAGT" + self.random(n - 18, "AAATTTCG") + "TTTTCCTTTCAG"

    def gene(self, strand: str, cds_pieces: list[int], *, utr5: int = 0, utr3: int = 0, introns: list[int] | None = None,
             coding: bool = True, gid: str | None = None) -> Gene:
        """A gene whose CDS (ATG ... stop, stop included) is split into pieces of these lengths."""
        total = sum(cds_pieces)
        assert total % 3 == 0
        cds = "ATG" + "".join(self.rng.choice(CODONS) for _ in range(total // 3 - 2)) + self.rng.choice(STOPS)
        if not coding:
            cds = self.random(total, "ACGT").replace("ATG", "ACG")
        introns = introns or [self.rng.randint(120, 300) for _ in cds_pieces[1:]]
        u5 = self.random(utr5).replace("ATG", "ACG") if utr5 else ""
        u3 = self.random(utr3) if utr3 else ""
        kozak = "" if utr5 >= 6 else "GCCACC"
        if utr5 >= 6:
            u5 = u5[:-6] + "GCCACC"
        # assemble in transcription order
        seq, exons, cdsiv = kozak + u5, [], []
        x0 = len(kozak)
        at = 0
        for k, n in enumerate(cds_pieces):
            piece = cds[at : at + n]
            at += n
            start = len(seq)
            seq += piece
            cdsiv.append((start, len(seq)))
            if k < len(cds_pieces) - 1:
                exons.append((x0, len(seq)))
                seq += self.intron(introns[k])
                x0 = len(seq)
        seq += u3
        exons.append((x0, len(seq)))
        L = len(seq)
        if strand == "-":
            seq = reverse_complement(seq)
            exons = [(L - b, L - a) for a, b in exons]
            cdsiv = [(L - b, L - a) for a, b in cdsiv]
        off = self.pos
        tx = Transcript(f"t{len(self.genes)}", "mRNA" if coding else "lnc_RNA",
                        exons=sorted((off + a + 1, off + b) for a, b in exons),
                        cds=sorted((off + a + 1, off + b) for a, b in cdsiv) if coding else [])
        g = Gene("chr", strand, gid or f"g{len(self.genes)}", [tx], kind="gene" if coding else "ncRNA_gene")
        self.genes.append(g)
        self.add(seq)
        return g

    @property
    def seq(self) -> str:
        return "".join(self.parts)


def training_genome(seed: int = 1, n: int = 40) -> Builder:
    b = Builder(seed)
    for i in range(n):
        b.intergenic(b.rng.randint(1500, 3000))
        pieces = [3 * b.rng.randint(30, 120) for _ in range(b.rng.randint(1, 4))]
        b.gene("+-"[i % 2], pieces, utr5=b.rng.choice([0, 60]), utr3=b.rng.choice([0, 120]))
    b.intergenic(2000)
    return b


def write_pair(tmp_path, b: Builder, name: str = "train"):
    fa, gff = tmp_path / f"{name}.fa", tmp_path / f"{name}.gff3"
    s = b.seq
    fa.write_text(">chr\n" + "\n".join(s[i : i + 80] for i in range(0, len(s), 80)) + "\n")
    lines = ["##gff-version 3"]
    for g in b.genes:
        t = g.transcripts[0]
        lines.append(f"chr\tt\tgene\t{g.start}\t{g.end}\t.\t{g.strand}\t.\tID={g.id}")
        lines.append(f"chr\tt\t{t.biotype}\t{g.start}\t{g.end}\t.\t{g.strand}\t.\tID={t.id};Parent={g.id}")
        for a, e in t.exons:
            lines.append(f"chr\tt\texon\t{a}\t{e}\t.\t{g.strand}\t.\tParent={t.id}")
        for a, e in t.cds:
            lines.append(f"chr\tt\tCDS\t{a}\t{e}\t.\t{g.strand}\t0\tParent={t.id}")
    gff.write_text("\n".join(lines) + "\n")
    return fa, gff


@pytest.fixture(scope="module")
def params(tmp_path_factory) -> GeneModelParams:
    d = tmp_path_factory.mktemp("gm")
    fa, gff = write_pair(d, training_genome())
    return GeneModelParams.fit([(fa, gff)])


def tracks_for(genes: list[Gene], length: int, hi: float = 0.95) -> np.ndarray:
    t = {s: strand_track(genes, length, s).labels for s in "+-"}
    return (np.stack([t["+"], t["-"]], axis=1) * (2 * hi - 1) + (1 - hi)).astype(np.float32)


def structure(genes: list[Gene]) -> list[tuple]:
    return sorted((g.strand, g.kind, g.transcripts[0].biotype, tuple(g.transcripts[0].exons), tuple(g.transcripts[0].cds)) for g in genes)


def check_orf(seq: str, g: Gene) -> None:
    t = g.transcripts[0]
    cds = "".join(seq[a - 1 : b] for a, b in t.cds)
    if g.strand == "-":
        cds = reverse_complement(cds)
    assert len(cds) % 3 == 0, (g.id, t.cds)
    protein = translate(cds, table=1)  # the final stop is removed
    assert cds[:3] == "ATG" and cds[-3:] in STOPS and "*" not in protein, (g.id, protein)


# ----------------------------------------------------------------------------- gene model


def test_fit_save_load_roundtrip(tmp_path, params):
    assert params.allowed_pairs("donor") == {"GT"} and params.allowed_pairs("acceptor") == {"AG"}
    assert params.stats["complete_orfs"] == 40 and params.stats["coding_genes"] == 40
    assert params.intron_phases.sum() == sum(len(v) for v in [params.lengths["intron"]])
    assert len(params.lengths["cds_single"]) + len(params.lengths["cds_initial"]) == 40
    path = params.save(tmp_path / "model")
    assert path.name == FILE_NAME
    back = GeneModelParams.load(tmp_path / "model")
    for name in ("log_bg", "stop_logp", "intron_phases"):
        np.testing.assert_allclose(getattr(back, name), getattr(params, name))
    np.testing.assert_allclose(back.coding, params.coding, atol=1e-6)
    assert back.donor_pairs == params.donor_pairs and back.stats == params.stats and back.exon_types is False
    assert GeneModelParams.load(replace(params, exon_types=True).save(tmp_path / "typed")).exon_types is True
    assert back.leader_share == 0
    led = GeneModelParams.load(replace(params, leader_share=0.6, leader_length=25.5).save(tmp_path / "led"))
    assert (led.leader_share, led.leader_length) == (0.6, 25.5)
    for k, v in params.lengths.items():
        assert np.array_equal(back.lengths[k], v)
    codes = encode(training_genome(7, 3).seq)
    for f in ("donor_scores", "acceptor_scores", "start_scores", "stop_scores", "coding_scores"):
        np.testing.assert_allclose(getattr(back, f)(codes), getattr(params, f)(codes), atol=1e-5)
    counts, edges = back.histogram("intron", bins=10)
    assert counts.sum() == len(back.lengths["intron"]) and len(edges) == len(counts) + 1
    (tmp_path / "bad").mkdir()
    with pytest.raises(ModelError):
        GeneModelParams.load(tmp_path / "bad")
    (tmp_path / "bad" / FILE_NAME).write_bytes(b"not a zip")
    with pytest.raises(ModelError):
        GeneModelParams.load(tmp_path / "bad")


def test_pairwise_site_model_learns_what_a_chain_cannot():
    """Sites whose first and last window bases are equal (a dependency 8 bases apart) against decoys
    without it: the pairwise model separates them on fresh windows, the order-1 chain does not."""
    rng = np.random.default_rng(3)

    def windows(n: int, site: bool) -> np.ndarray:
        w = rng.integers(0, 4, (n, 9)).astype(np.uint8)
        w[:, 3], w[:, 4] = 2, 3  # GT
        same = w[:, 0] == w[:, 8]
        w[same != site, 8] = (w[same != site, 0] + (0 if site else 1)) % 4
        return w

    log_bg = np.log(np.full(4, 0.25))
    model = PairwiseSiteModel.fit(windows(2000, True), windows(8000, False), 3, 0, 8, log_bg)
    chain = SignalModel.fit(np.concatenate([np.zeros((2000, 1), np.uint8), windows(2000, True)], axis=1), 3, 9, 1)

    def auc(score) -> float:
        a, b = score(windows(500, True)), score(windows(500, False))
        return float((a[:, None] > b[None, :]).mean())

    def pairwise_at_site(w: np.ndarray) -> np.ndarray:  # each window laid out alone, scored at its reference point
        return np.array([model.score(x)[3] for x in w])

    def chain_at_site(w: np.ndarray) -> np.ndarray:
        return np.array([chain.score(np.concatenate([[0], x]).astype(np.uint8), log_bg)[4] for x in w])

    assert auc(pairwise_at_site) > 0.95
    assert abs(auc(chain_at_site) - 0.5) < 0.1
    assert model.words == {"GT": pytest.approx(np.log(16.0))}  # every decoy is GT: log(1 / (1/4 * 1/4))
    assert np.isnan(model.score(encode("AAAGCAAAA"))[3])  # a dinucleotide no decoy had: the chain scores it


def test_pairwise_splice_models_fit_blend_and_survive_save_load(tmp_path):
    b = training_genome(5, 160)
    fitted = GeneModelParams.from_genes([(b.seq, b.genes)])
    assert fitted.stats["donor_sites"] >= 100
    assert fitted.donor_pairwise is not None and fitted.acceptor_pairwise is not None
    chains = GeneModelParams.from_genes([(b.seq, b.genes)], pairwise=False)
    assert chains.donor_pairwise is None and chains.acceptor_pairwise is None
    np.testing.assert_array_equal(chains.donor.logp, fitted.donor.logp)
    codes = encode(training_genome(7, 3).seq)
    for f, model in (("donor_scores", fitted.donor_pairwise), ("acceptor_scores", fitted.acceptor_pairwise)):
        chain, blended = getattr(fitted, f)(codes, pairwise=False), getattr(fitted, f)(codes)
        np.testing.assert_array_equal(chain, getattr(chains, f)(codes))
        pw = model.score(codes)
        at = np.isfinite(chain) & np.isfinite(pw)
        assert at.sum() > 10
        np.testing.assert_allclose(blended[at], 0.5 * chain[at] + 0.5 * pw[at], rtol=1e-5, atol=1e-4)
        assert np.array_equal(np.isfinite(blended), np.isfinite(chain))  # the splice filter as before
    back = GeneModelParams.load(fitted.save(tmp_path / "m"))
    for f in ("donor_scores", "acceptor_scores"):
        np.testing.assert_allclose(getattr(back, f)(codes), getattr(fitted, f)(codes), atol=1e-5)
    assert back.pairwise_weight == 0.5 and back.acceptor_pairwise.words == fitted.acceptor_pairwise.words
    assert GeneModelParams.load(chains.save(tmp_path / "c")).donor_pairwise is None


def test_compiled_signal_scans_are_the_models_written_out():
    """The compiled scans (genannot.euk.scan) against each model's definition written out base by base, on
    a sequence with N runs and single Ns: k-mer indices, the Markov chains' window sums, the pairwise
    model's sum over bases and pairs (NaN at a dinucleotide no decoy had), -inf off the ends or over an N;
    with the embedded gene model."""
    params = GeneModelParams.load(Path(genannot.__file__).parent / "models" / "weights" / "euk-seg-small")
    rng = np.random.default_rng(11)
    codes = rng.integers(0, 4, 3000).astype(np.uint8)
    codes[rng.random(3000) < 0.01] = 4
    codes[1500:1530] = 4

    def kmer(t: int, k: int) -> tuple[int, bool]:
        bases = [int(codes[p]) if p >= 0 else 4 for p in range(t - k + 1, t + 1)]
        return sum((b if b < 4 else 0) * 4 ** (k - 1 - i) for i, b in enumerate(bases)), max(bases) < 4

    for k in (1, 3, 6):
        idx, valid = kmer_index(codes, k)
        assert [(int(i), bool(v)) for i, v in zip(idx, valid)] == [kmer(t, k) for t in range(len(codes))]
    log_bg = params.log_bg
    for chain in (params.donor, params.acceptor, params.start):
        got = chain.score(codes, log_bg)
        for t in range(len(codes)):
            first, last = t - chain.offset - chain.order, t - chain.offset + chain.length - 1  # context and window
            if first < 0 or last >= len(codes) or (codes[first : last + 1] >= 4).any():
                assert got[t] == -np.inf, t
                continue
            window = [kmer(t + j - chain.offset, chain.order + 1)[0] for j in range(chain.length)]
            want = sum(chain.logp[j].reshape(-1)[i] - log_bg[i % 4] for j, i in enumerate(window))
            assert got[t] == pytest.approx(want, rel=1e-6, abs=1e-5), t
    for model in (params.donor_pairwise, params.acceptor_pairwise):
        got = model.score(codes)
        at = model.before + model.word_offset
        for t in range(len(codes)):
            w = codes[t - model.before : t - model.before + model.length] if t >= model.before else np.zeros(0, np.uint8)
            if len(w) < model.length or (w >= 4).any():
                assert got[t] == -np.inf, t
                continue
            word = model._word_table[4 * w[at] + w[at + 1]]
            want = (model.bias + sum(float(model.single[j, b]) for j, b in enumerate(w))
                    + sum(float(model.pair[p, 4 * w[i] + w[j]]) for p, (i, j) in enumerate(model.pairs)) + word)
            assert np.isnan(got[t]) if np.isnan(word) else got[t] == pytest.approx(want, rel=1e-9), t
    assert np.isnan(params.donor_pairwise.score(codes)).any() and np.isfinite(params.donor_pairwise.score(codes)).any()


def test_gc_classes_choose_the_coding_chain_by_local_gc(tmp_path, params):
    rng = np.random.default_rng(0)
    at_rich = rng.choice(list("ACGT"), 30_000, p=[0.35, 0.15, 0.15, 0.35])
    gc_rich = rng.choice(list("ACGT"), 30_000, p=[0.15, 0.35, 0.35, 0.15])
    codes = encode("".join(at_rich) + "".join(gc_rich))
    cls = gc_classes(codes, np.array([0.45, 0.55]))
    assert cls[5_000:25_000].max() == 0 and cls[35_000:55_000].min() == 2
    assert not gc_classes(codes, np.zeros(0)).any()
    assert params.gc_edges.tolist() == list(GC_EDGES) and params.coding.ndim == 4  # `fit` default: classes
    single = GeneModelParams.from_genes([(training_genome(7, 3).seq, training_genome(7, 3).genes)])
    assert single.coding.ndim == 3 and not len(single.gc_edges)  # `from_genes` default: one class
    # class 0 (AT-rich) gets a chain that knows nothing; class 1 the single-class chain
    flat = np.full_like(single.coding, np.log(0.25))
    two = replace(single, coding=np.stack([flat, single.coding]), noncoding=np.stack([single.noncoding] * 2), gc_edges=np.array([0.5]))
    back = GeneModelParams.load(two.save(tmp_path / "two"))
    assert back.gc_edges.tolist() == [0.5]
    got, want = back.coding_scores(codes), single.coding_scores(codes)
    np.testing.assert_allclose(got[:, 35_000:55_000], want[:, 35_000:55_000], atol=1e-5)
    k = single.coding_order
    idx, _ = kmer_index(codes[5_000 - k : 25_000], k + 1)
    np.testing.assert_allclose(got[0, 5_000:25_000], (np.log(0.25) - single.noncoding.reshape(-1))[idx[k:]], atol=1e-5)


def test_signal_scores_sit_on_the_sites(params):
    b = Builder(3)
    b.intergenic(500)
    g = b.gene("+", [150, 201], introns=[200])
    b.intergenic(500)
    codes = encode(b.seq)
    t = g.transcripts[0]
    (e1s, e1e), (e2s, _) = t.exons
    don, acc = params.donor_scores(codes), params.acceptor_scores(codes)
    assert don[e1e] > 5 and acc[e2s - 1] > 5  # intron's first base, next exon's first base (0-based)
    gt = (codes[:-1] == 2) & (codes[1:] == 3)
    assert np.isinf(don[:-1][~gt]).all() and np.isfinite(don[:-1][gt]).any()
    assert don[e1e] == don[np.isfinite(don)].max()
    assert params.start_scores(codes)[t.cds[0][0] - 1] > 0
    assert np.isfinite(params.stop_scores(codes)[t.cds[-1][1] - 3])
    cod = params.coding_scores(codes)
    pos = np.arange(t.cds[0][0] - 1, t.cds[0][1])
    k = np.arange(len(pos)) % 3
    assert cod[k, pos].mean() > 0.3 > cod[(k + 1) % 3, pos].mean()


def test_upstream_atg_scores_starts_called_too_far_downstream(tmp_path, params):
    """A start with an in-frame ATG upstream (no stop between) is scored by how often real starts have
    one against ATGs outside genes (ribosomes start at the first ATG they meet)."""
    #           0  3  6  9  12 15 18 21
    codes = encode("ATGAAATAAATGCCCATGGGGATG")
    assert np.flatnonzero(upstream_atg(codes)).tolist() == [3, 6, 12, 15, 18, 21]
    far = encode("ATG" + "CCC" * 5 + "ATG")
    assert upstream_atg(far, codons=5)[18] == False and upstream_atg(far, codons=6)[18] == True  # noqa: E712
    at_start, elsewhere = params.upstream_atg_share
    assert 0 < at_start < 1 and 0 < elsewhere < 1
    b = Builder(5)
    b.intergenic(3000)
    codes = encode(b.seq)
    share = replace(params, upstream_atg_share=np.array([0.05, 0.3]))
    none = replace(params, upstream_atg_share=np.zeros(0))
    with_term, without = share.start_scores(codes), none.start_scores(codes)
    atg = np.isfinite(without)
    diff = np.where(atg, with_term - np.where(atg, without, 0.0), 0.0)
    up = upstream_atg(codes)
    assert (atg & up).any() and (atg & ~up).any()
    np.testing.assert_allclose(diff[atg & up], np.log(0.05 / 0.3), atol=1e-5)
    np.testing.assert_allclose(diff[atg & ~up], np.log(0.95 / 0.7), atol=1e-5)
    back = GeneModelParams.load(none.save(tmp_path / "old"))  # a model without the term keeps it off
    assert not len(back.upstream_atg_share)
    np.testing.assert_allclose(back.start_scores(codes), none.start_scores(codes), atol=1e-5)
    np.testing.assert_allclose(GeneModelParams.load(share.save(tmp_path / "new")).upstream_atg_share, [0.05, 0.3])


# ----------------------------------------------------------------------------- structured decoder


def test_intron_lengths_are_a_mixture_of_short_introns_and_a_long_tail(params):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.exponential(150, 7000), rng.exponential(3000, 3000)])
    (w_short, m_short), (w_long, m_long) = sorted(intron_mixture(x), key=lambda c: c[1])
    assert abs(w_short - 0.7) < 0.05 and abs(w_long - 0.3) < 0.05
    assert abs(m_short / 150 - 1) < 0.15 and abs(m_long / 3000 - 1) < 0.15
    assert intron_mixture(rng.uniform(100, 300, 1000)) == [(1.0, pytest.approx(200, rel=0.05))]  # one length scale
    long_tail = replace(params, lengths={**params.lengths, "intron": np.rint(x + 60).astype(np.int64)})
    mixed = GeneHMM(long_tail, DecodeOptions(), network=False)
    single = GeneHMM(long_tail, DecodeOptions(intron_mean=500), network=False)
    assert len(mixed.intron_length) == 2 and single.intron_length == [(1.0, 500 - single.m_intron)]
    assert mixed.kind.count("intron") == 2 * single.kind.count("intron") > 0


def test_exon_length_floors_need_a_sample_that_can_show_them(params):
    """A low quantile of a few dozen lengths (a self-trained intron-poor genome's) is no floor: defaults stand."""
    def hmm(n: int, length: int) -> GeneHMM:
        lengths = {kind: np.full(n, length, dtype=np.int64) for kind in ("cds_initial", "cds_internal", "cds_terminal")}
        return GeneHMM(replace(params, lengths={**params.lengths, **lengths}), DecodeOptions(), network=False)

    many, few = hmm(FLOOR_SAMPLE, 25), hmm(FLOOR_SAMPLE - 1, 25)
    assert (many.m_first, many.m_exon, many.m_last) == (25, 25, 25)
    assert (few.m_first, few.m_exon, few.m_last) == (6, 20, 6)
    forced = GeneHMM(params, DecodeOptions(min_first_exon=9, min_exon=11), network=False)
    assert (forced.m_first, forced.m_exon) == (9, 11)


def test_exon_types_give_each_type_its_own_length(params):
    """With `exon_types` (self-trained models), single, initial, internal and terminal CDS exons each get their own
    length; a minus-strand gene is read from its 3' end, so there the exon entered at a gene edge is the terminal one."""
    def lengths(n: int, mean: int) -> np.ndarray:
        return np.full(n, mean, dtype=np.int64)

    typed = replace(params, exon_types=True, lengths={**params.lengths, "cds_single": lengths(30, 900), "cds_initial": lengths(40, 60),
                                                       "cds_internal": lengths(100, 120), "cds_terminal": lengths(40, 240)})
    hmm = GeneHMM(typed, DecodeOptions(), network=False)
    multi, mid = 41 / 72, 101 / 142
    for st, (first, last) in (("+", (60, 240)), ("-", (240, 60))):
        assert hmm.families[st] == [("s", {"edge": pytest.approx(1 - multi)}, {"edge": 1.0}, 900.0),
                                    ("f", {"edge": pytest.approx(multi)}, {"intron": 1.0}, float(first)),
                                    ("i", {"intron": pytest.approx(mid)}, {"intron": 1.0}, 120.0),
                                    ("l", {"intron": pytest.approx(1 - mid)}, {"edge": 1.0}, float(last))]
    few = GeneHMM(replace(typed, lengths={**typed.lengths, "cds_single": lengths(19, 900)}), DecodeOptions(), network=False)
    assert few.families["+"][0][3] == pytest.approx((40 * 60 + 100 * 120 + 40 * 240) / 180)  # too few singles: every exon's mean
    shared = GeneHMM(replace(typed, exon_types=False), DecodeOptions(), network=False)
    assert [f[0] for f in shared.families["+"]] == [""] and shared.kind.count("cds") * 4 == hmm.kind.count("cds")


def test_exon_types_decode_every_exon_type_on_both_strands(params):
    b = Builder(12)
    for strand, pieces in (("+", [300]), ("-", [150, 201]), ("+", [120, 201, 150]), ("-", [303])):
        b.intergenic(3000)
        b.gene(strand, pieces, introns=[200] * (len(pieces) - 1))
    b.intergenic(3000)
    for typed in (False, True):
        genes = decode_record("chr", b.seq, replace(params, exon_types=typed))
        assert structure(genes) == structure(b.genes), typed
        for g in genes:
            check_orf(b.seq, g)


def test_genes_may_start_at_a_spliced_leaders_acceptor(params, tmp_path, gff3_validate):
    """With `leader_share`, a gene's first exon may begin at a splice acceptor upstream of its start codon (a
    trans-spliced leader, or a 5'UTR intron's end): the 5'UTR piece is called on both strands, the CDS as without."""
    from genannot.io.gff3 import Gff3Writer

    acceptor = "TTTTCCTTTCAG"  # the planted introns' 3' end
    b = Builder(13)
    for strand, pieces in (("+", [150, 201]), ("-", [222, 180]), ("+", [303])):
        b.intergenic(3000)
        if strand == "+":
            b.add(acceptor)
        b.gene(strand, pieces, utr5=24, introns=[200] * (len(pieces) - 1))
        if strand == "-":
            b.add(reverse_complement(acceptor))
    b.intergenic(3000)
    led = decode_record("chr", b.seq, replace(params, leader_share=0.6, leader_length=24))
    assert structure(led) == structure(b.genes)
    plain = decode_record("chr", b.seq, params)
    assert [g.transcripts[0].cds for g in plain] == [g.transcripts[0].cds for g in b.genes]
    assert all(g.transcripts[0].exons == g.transcripts[0].cds for g in plain)
    path = tmp_path / "leaders.gff3"
    with open(path, "w") as fh:
        Gff3Writer(fh, ["#test"]).write_record("chr", len(b.seq), led)
    gff3_validate(path)
    assert path.read_text().count("\tfive_prime_UTR\t") == 3


def planted(seed: int = 11) -> Builder:
    b = Builder(seed)
    b.intergenic(3000)
    b.gene("+", [150, 201], introns=[220])
    b.intergenic(3000)
    b.gene("-", [222, 180], introns=[180])
    b.intergenic(3000)
    return b


def test_planted_genes_both_strands_signal_models_alone(params):
    b = planted()
    genes = decode_record("chr", b.seq, params)
    assert structure(genes) == structure(b.genes)
    assert [g.id for g in genes] == ["chr.g1", "chr.g2"]
    assert [g.transcripts[0].id for g in genes] == ["chr.g1.t1", "chr.g2.t1"]
    assert all(g.attributes["score"] > 0 and g.partial == "00" for g in genes)
    for g in genes:
        check_orf(b.seq, g)


def test_soft_masked_exons_pay_the_penalty(params, caplog):
    """Lowercase (repeat-masked) bases cost `softmask_penalty` in exons: a gene lying in a masked stretch
    scores lower, and is dropped at a high penalty; a record lowercase throughout is a lowercase file,
    not a mask."""
    b = planted()
    g = b.genes[0]
    masked = b.seq[: g.start - 1] + b.seq[g.start - 1 : g.end].lower() + b.seq[g.end :]
    plain = decode_record("chr", b.seq, params)
    assert DecodeOptions().softmask_penalty > 0
    default = decode_record("chr", masked, params)
    assert structure(default) == structure(b.genes)
    assert default[0].attributes["score"] < plain[0].attributes["score"]
    assert default[1].attributes["score"] == plain[1].attributes["score"]
    assert structure(decode_record("chr", masked, params, softmask_penalty=3.0)) == structure(b.genes[1:])
    assert decode_record("chr", masked, params, softmask_penalty=0.0)[0].attributes == plain[0].attributes
    mask = np.zeros(len(b.seq), dtype=bool)
    mask[g.start - 1 : g.end] = True
    assert structure(decode_record("chr", b.seq, params, softmask=mask, softmask_penalty=3.0)) == structure(b.genes[1:])
    with caplog.at_level("WARNING", logger="genannot.euk.decode"):
        assert structure(decode_record("chr", b.seq.lower(), params, softmask_penalty=3.0)) == structure(b.genes)
    assert "100% lowercase: soft-masking ignored" in caplog.text


def test_a_network_that_only_knows_the_prior_changes_nothing(params):
    b = planted()
    prior = [0.01, 0.2, 0.3, 0.02, 0.05]
    flat = np.broadcast_to(np.asarray(prior, dtype=np.float32), (len(b.seq), 2, 5)).copy()
    same = dict(utr=False, lnc=False, joint_strands=True)
    alone = structure(decode_record("chr", b.seq, params, **same))
    assert alone == structure(b.genes)
    assert structure(decode_record("chr", b.seq, params, flat, net_prior=prior, **same)) == alone
    assert decode_record("chr", b.seq, params, flat, **same) == [], "uncorrected, a 20% exon prior reads as evidence against genes"


def utr_and_lncrna_genome() -> Builder:
    """A coding gene with UTRs on each strand, then a two-exon lncRNA (no CDS track)."""
    b = Builder(5)
    b.intergenic(2000)
    b.gene("+", [99, 150, 120], utr5=80, utr3=150)
    b.intergenic(2500)
    b.gene("-", [300], utr5=60, utr3=200)
    b.intergenic(2500)
    b.gene("+", [150, 150], introns=[400], coding=False)
    b.intergenic(2000)
    return b


def test_planted_genes_with_network_tracks_utrs_and_lncrna(params):
    b = utr_and_lncrna_genome()
    probs = tracks_for(b.genes, len(b.seq))
    genes = decode_record("chr", b.seq, params, probs)
    assert structure(genes) == structure(b.genes)
    lnc = [g for g in genes if g.kind == "ncRNA_gene"]
    assert len(lnc) == 1 and lnc[0].transcripts[0].biotype == "lnc_RNA" and not lnc[0].transcripts[0].cds
    assert all(0.9 <= g.transcripts[0].attributes["prob"] <= 1 for g in genes)
    # the same through a callable that predicts any slice
    calls = []

    def fn(a, e):
        calls.append((a, e))
        return probs[a:e]

    assert structure(decode_record("chr", b.seq, params, fn, window=6000, overlap=2000)) == structure(b.genes)
    assert len(calls) >= 1


def test_antisense_overlap_needs_separate_strands(params):
    """A lncRNA on the minus strand overlapping a coding gene on the plus strand: decoding each
    strand on its own (the default with tracks) finds both; one joint path cannot."""
    b = Builder(17)
    b.intergenic(2000)
    coding = b.gene("+", [150, 201], introns=[600], utr5=50, utr3=100)
    b.intergenic(2000)
    lnc = Gene("chr", "-", "lnc", [Transcript("tl", "lnc_RNA", exons=[(coding.start + 300, coding.start + 450), (coding.end + 200, coding.end + 400)])], kind="ncRNA_gene")
    a, z = coding.start + 451, coding.end + 199  # the lncRNA's intron, forward coordinates
    seq = b.seq[: a - 1] + "CT" + b.seq[a + 1 : z - 2] + "AC" + b.seq[z:]  # minus-strand AG ... GT
    probs = tracks_for([coding, lnc], len(seq))
    assert structure(decode_record("chr", seq, params, probs)) == structure([coding, lnc])
    assert structure(decode_record("chr", seq, params, probs, joint_strands=True)) != structure([coding, lnc])


def test_genes_longer_than_a_window_come_out_whole(params):
    b = Builder(8)
    b.intergenic(1500)
    b.gene("+", [120, 150, 90, 141, 99], introns=[1500, 1200, 1800, 900], utr5=50, utr3=80)
    b.intergenic(1500)
    b.gene("-", [210, 150, 132], introns=[1400, 1600], utr5=40, utr3=90)
    b.intergenic(1500)
    probs = tracks_for(b.genes, len(b.seq))
    whole = decode_record("chr", b.seq, params, probs, window=len(b.seq))
    assert structure(whole) == structure(b.genes)
    small = decode_record("chr", b.seq, params, probs, window=2500, overlap=800, batch=3)
    assert structure(small) == structure(b.genes)


def test_records_decoded_together_give_the_genes_each_gives_alone(params, caplog):
    """decode_records batches the windows of several records: every record gets exactly the genes
    (ids, coordinates, scores, partial flags) it gets alone, whether it is shorter than a window,
    spans several, ends inside a gene, is soft-masked or lowercase throughout, or has a few Ns at its
    ends (which join the N spacer between records)."""
    one, two = planted(11), training_genome(5, 6)
    cut = one.genes[1].end - 60  # ends inside the second gene, before its start codon
    records = [("a", one.seq), ("g", "N" * 100 + one.seq[one.genes[0].start - 40 :] + "N" * 30), ("b", two.seq),
               ("c", one.seq[:cut]), ("d", two.seq[:5000].lower()),
               ("e", one.seq[: one.genes[0].end].lower() + one.seq[one.genes[0].end :]), ("f", "ACGT")]
    opts = dict(window=4000, overlap=1000, batch=4)
    one_class = GeneModelParams.from_genes([(two.seq, two.genes)])  # no GC classes: shorter spacers
    assert len(params.gc_edges) and not len(one_class.gc_edges)
    for p in (params, one_class):
        with caplog.at_level("WARNING"):
            together = decode_records(records, p, **opts)
        assert "d is 100% lowercase" in caplog.text
        alone = {seqid: decode_record(seqid, seq, p, **opts) for seqid, seq in records}
        assert together == alone
        assert len(together["b"]) >= 4 and together["c"][-1].partial == "01"


def test_short_windows_share_lanes_and_decode_as_each_alone(params):
    """Intervals shorter than a lane (contigs of a draft assembly) are decoded one after another in one
    lane: each gets exactly the path it gets alone, a free start or an anchored one; a batch of windows
    is as many as fill `batch` lanes of a window's length."""
    from genannot.euk.decode import _Codes, _decode_spans, _Engine, _Region, _Spans, _window_groups

    b = training_genome(3, 8)
    hmm = GeneHMM(params, DecodeOptions(), network=False, strands="+-")
    eng = _Engine(hmm)
    region = _Region(hmm, _Codes(b.seq), 0, len(b.seq), None, None)
    cuts = [0, 3100, 3900, 9000, 9050, 14000, 21000]
    spans = list(zip(cuts, cuts[1:]))
    alone = [_decode_spans(eng, region, [sp], None, 512)[0] for sp in spans]
    assert any(len(set(x.tolist())) > 1 for x in alone)  # genes in some of them
    packed = _Spans(region, spans, len(b.seq), eng.D + 1)
    assert (packed.B, packed.W) == (1, cuts[-1] + (len(spans) - 1) * (eng.D + 1))
    assert all((x == y).all() for x, y in zip(eng.run(packed, 512), alone))
    anchors = [-1, int(alone[0][-1]), -1, int(alone[2][-1]), -1, -1]
    in_turn = [eng.run(_Spans(region, [sp]), 512, [a])[0] for sp, a in zip(spans, anchors)]
    assert all((x == y).all() for x, y in zip(_decode_spans(eng, region, spans, anchors, 512, len(b.seq)), in_turn))

    opt = DecodeOptions(window=1000, overlap=200, batch=2)
    tiles = [(i * 800, i * 800 + 1000) for i in range(5)]
    assert list(_window_groups(tiles, opt, 10)) == [tiles[:2], tiles[2:4], tiles[4:]]
    opt = DecodeOptions(window=1000, overlap=0, batch=3)
    ends = np.cumsum([400, 500, 600, 300, 900, 100]) + 10 * np.arange(6)
    contigs = [(int(e) - n, int(e)) for e, n in zip(ends, [400, 500, 600, 300, 900, 100])]
    assert list(_window_groups(contigs, opt, 10)) == [contigs[:5], contigs[5:]]  # lanes 400+500, 600+300, 900
    far = [(0, 400), (2700, 3100)]  # a batch covers no more sequence than `batch` tiled windows
    assert list(_window_groups(far, opt, 10)) == [[far[0]], [far[1]]]


def test_no_in_frame_stops_on_random_sequence(params):
    rng = np.random.default_rng(4)
    b = Builder(9)
    for _ in range(60):  # coding-like stretches (the training codons, stops sprinkled in) and junk
        b.add("".join(b.rng.choice(CODONS + STOPS[:1]) for _ in range(b.rng.randint(20, 200))))
        b.intergenic(b.rng.randint(0, 300))
    seq = b.seq
    # tracks that call coding exon on both strands everywhere, noisily
    probs = rng.uniform(0.0, 1.0, (len(seq), 2, 5)).astype(np.float32)
    probs[:, :, [1, 4]] = rng.uniform(0.6, 1.0, (len(seq), 2, 2))
    for genes in (decode_record("chr", seq, params, probs, window=8000, overlap=2000), decode_record("chr", seq, params)):
        coding = [g for g in genes if g.kind == "gene"]
        assert coding, "expected some (spurious) coding genes"
        for g in coding:
            t = g.transcripts[0]
            if g.partial == "00":
                check_orf(seq, g)
            for (_, e1), (s2, _) in zip(t.exons, t.exons[1:]):
                intron = seq[e1 : s2 - 1]
                if g.strand == "-":
                    intron = reverse_complement(intron)
                assert intron[:2] == "GT" and intron[-2:] == "AG", (g.id, intron[:2], intron[-2:])
                assert len(intron) >= GeneHMM(params, DecodeOptions(), True).m_intron


def test_splice_filter_toggle(params):
    """An intron with a GA donor (seen nowhere in training) is used only without the filter."""
    b = Builder(12)
    b.intergenic(1500)
    g = b.gene("+", [150, 150], introns=[300], utr5=50, utr3=50)
    b.intergenic(1500)
    seq = list(b.seq)
    e1 = g.transcripts[0].exons[0][1]
    seq[e1 + 1] = "A"  # GT -> GA
    seq = "".join(seq)
    probs = tracks_for(b.genes, len(seq), hi=0.99)
    on = decode_record("chr", seq, params, probs)
    off = decode_record("chr", seq, params, probs, splice_filter=False)
    assert structure(off) == structure(b.genes)
    assert structure(on) != structure(b.genes)


def test_partial_genes_at_sequence_ends_and_edge_cases(params, tmp_path, gff3_validate):
    from genannot.io.gff3 import Gff3Writer

    b = Builder(21)
    b.intergenic(1000)
    g1 = b.gene("+", [150, 201], introns=[300])
    b.intergenic(1500)
    g2 = b.gene("-", [180, 120], introns=[250])
    b.intergenic(1000)
    cut_a = g1.transcripts[0].cds[0][0] + 40  # inside the first CDS exon (1-based)
    cut_b = g2.transcripts[0].cds[-1][0] + 50  # inside the minus gene's 5'-most CDS exon
    seq = b.seq[cut_a - 1 : cut_b]
    probs = tracks_for(b.genes, len(b.seq))[cut_a - 1 : cut_b]
    genes = decode_record("chr", seq, params, probs)
    assert [g.partial for g in genes] == ["10", "01"]
    first, last = genes[0].transcripts[0], genes[1].transcripts[0]
    assert first.cds[0][0] == 1 and last.cds[-1][1] == len(seq)
    # the first full codon: 40 bases cut from a phase-0 CDS leaves codon position 1 at base 1
    assert first.attributes["codon_start"] == 3
    path = tmp_path / "partial.gff3"
    with open(path, "w") as fh:
        Gff3Writer(fh, []).write_record("chr", len(seq), genes)
    gff3_validate(path)
    assert decode_record("chr", "", params) == []
    assert decode_record("chr", "N" * 5000, params) == []
    assert decode_record("chr", "ACGT" * 10, params) == []
    assert decode_heuristic("chr", "", np.zeros((0, 2, 5), np.float32), params) == []


def test_partial_genes_need_a_floor_of_cds_too(params):
    """A gene cut by the record's edge keeps only its CDS inside the record: under `min_partial_cds` it is noise
    (a few codons), at or over it a real partial gene."""
    b = Builder(21)
    b.intergenic(1000)
    g = b.gene("+", [150, 201], introns=[300])
    b.intergenic(1500)
    probs = tracks_for(b.genes, len(b.seq))
    last_exon_end = g.transcripts[0].cds[-1][1]
    for kept in (45, 75):
        cut = last_exon_end - kept  # 0-based: the record starts `kept` bases before the CDS end
        genes = decode_record("chr", b.seq[cut:], params, probs[cut:])
        assert [(x.partial, x.transcripts[0].cds) for x in genes] == ([] if kept < 60 else [("10", [(1, kept)])])
        genes = decode_record("chr", b.seq[cut:], params, probs[cut:], min_partial_cds=30)
        assert [(x.partial, x.transcripts[0].cds) for x in genes] == [("10", [(1, kept)])]


def test_runtime_sanity(params):
    seq = Builder(13).random(60_000)
    t = time.perf_counter()
    decode_record("chr", seq, params)
    assert time.perf_counter() - t < 30, "60 kb should decode in seconds"


def test_gff3_output_validates(tmp_path, params, gff3_validate):
    from genannot.io.gff3 import Gff3Writer

    b = Builder(5)
    b.intergenic(2000)
    b.gene("+", [99, 150, 120], utr5=80, utr3=150)
    b.gene("-", [300], utr5=60, utr3=200)
    b.gene("+", [150, 150], introns=[400], coding=False)
    b.intergenic(100)
    genes = decode_record("chr", b.seq, params, tracks_for(b.genes, len(b.seq)))
    genes += decode_heuristic("chr", b.seq, tracks_for(b.genes, len(b.seq)), params)
    for i, g in enumerate(genes):  # two decoders' genes in one file: make IDs unique
        g.id += f"_{i}"
        g.transcripts[0].id += f"_{i}"
    path = tmp_path / "out.gff3"
    with open(path, "w") as fh:
        Gff3Writer(fh, ["#test"]).write_record("chr", len(b.seq), genes)
    gff3_validate(path)


# ----------------------------------------------------------------------------- heuristic decoder


def test_heuristic_decoder(params):
    b = utr_and_lncrna_genome()
    probs = tracks_for(b.genes, len(b.seq))
    assert structure(decode_heuristic("chr", b.seq, probs, params)) == structure(b.genes)
    # exon edges predicted a few bases off snap back onto the GT / AG
    g = b.genes[0]
    (_, e1), (s2, _) = g.transcripts[0].exons[:2]
    blurred = probs.copy()
    blurred[e1 - 4 : e1, 0, 1] = 0.05  # exon track ends 4 bases early
    blurred[s2 - 1 : s2 + 2, 0, 1] = 0.05  # next exon starts 3 bases late
    assert structure(decode_heuristic("chr", b.seq, blurred, params)) == structure(b.genes)
    # an exon edge with no allowed dinucleotide within reach: dropped by the splice filter only
    seq = list(b.seq)
    for i in range(e1 - 25, e1 + 25):
        if seq[i] == "G" and seq[i + 1] == "T":
            seq[i + 1] = "A"
    seq = "".join(seq)
    kept = decode_heuristic("chr", seq, probs, params, splice_filter=False)
    dropped = decode_heuristic("chr", seq, probs, params)
    n_exons = lambda gs: sum(len(x.transcripts[0].exons) for x in gs)  # noqa: E731
    assert n_exons(dropped) < n_exons(kept)


@pytest.mark.parametrize("length", [0, 1, 4, 7])
def test_sequences_shorter_than_the_models_contexts(params, length):
    seq = "ACGTACG"[:length]
    assert decode_record("tiny", seq, params) == []


def test_splice_weight_scales_splice_scores_and_survives_save_load(tmp_path, params):
    codes = encode(training_genome(7, 3).seq)
    heavier = replace(params, splice_weight=1.2)
    for f in ("donor_scores", "acceptor_scores"):
        base, scaled = getattr(params, f)(codes), getattr(heavier, f)(codes)
        ok = np.isfinite(base)
        assert ok.any() and np.array_equal(ok, np.isfinite(scaled))
        np.testing.assert_allclose(scaled[ok], 1.2 * base[ok], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(heavier.start_scores(codes), params.start_scores(codes))
    assert GeneModelParams.load(heavier.save(tmp_path / "m")).splice_weight == 1.2
    assert GeneModelParams.load(params.save(tmp_path / "p")).splice_weight == 1.0


def test_compiled_jump_sums_are_the_emissions_and_signals_each_jump_covers(params):
    """The compiled jump sums (genannot.euk.viterbi.jump_sums) against a plain sum: a jump departing at
    step j scores the emissions of the bases it covers but its last, in the states it fills, plus its
    signal terms (plus its weight, which the Viterbi steps add), and is impossible where its codons hold
    a stop (on real emissions of both strands, several lanes)."""
    from genannot.euk.decode import LOW, _Codes, _Engine, _Region, _Spans

    b = training_genome(3, 8)
    hmm = GeneHMM(params, DecodeOptions(), network=False, strands="+-")
    eng = _Engine(hmm)
    region = _Region(hmm, _Codes(b.seq), 0, len(b.seq), None, None)
    data = _Spans(region, [(0, 3000), (4000, 7000), (9000, 12000)])
    C, D, B = 700, eng.D, data.B
    c0 = 1000
    _, sums = eng.chunk_scores(data, c0, c0 + C, eng.buffers(C, B))
    emit = data.emissions(c0, c0 + C + D, eng.M)
    sig = {name: data.sig(name, c0, c0 + C + D) for name in {n for jp in eng.jumps for n, _ in jp.terms} | set(eng.check_names)}
    rng = np.random.default_rng(0)
    stopped = 0
    for e, jp in enumerate(eng.jumps):
        fill = [eng.pos[s] for s in jp.fill[:-1]]
        for j in rng.integers(0, C, 25):
            want = sum(emit[j + i, :, s] for i, s in enumerate(fill)) if fill else np.zeros(B)
            for name, off in jp.terms:
                want = want + sig[name][j + off]
            if jp.checks:
                name, f0, f1 = jp.checks
                stop = (sig[name][j + f0 : j + f1 + 1 : 3] <= LOW / 2).any(axis=0)
                stopped += int(stop.sum())
                want = np.where(stop, LOW, want)
            got = np.maximum(sums[j, eng.sum_of[e]] + eng.jw[e], LOW)
            assert np.allclose(got, np.maximum(want + jp.logp, LOW), rtol=1e-9, atol=1e-6), (e, j)
    assert stopped > 0  # some codons covered held a stop
