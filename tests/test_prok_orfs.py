"""ORF finder: golden hand-made sequences and an exact cross-check against a brute-force scanner."""

from __future__ import annotations

import random
import warnings
from dataclasses import replace

import pytest

from genannot.errors import InputError
from genannot.io.seqout import reverse_complement
from genannot.prok.orfs import EDGE, MIN_N_RUN, StopGroup, codon_sets, find_stop_groups, orf_sequence
from genannot.io.seqout import translate

IUPAC = {"A": "A", "C": "C", "G": "G", "T": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
         "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT"}
rc = reverse_complement


def certain_stops(table):
    """Every IUPAC codon whose expansions are all stop codons of `table`."""
    stops = set(codon_sets(table)[1])
    return {a + b + c for a in IUPAC for b in IUPAC for c in IUPAC
            if all(x + y + z in stops for x in IUPAC[a] for y in IUPAC[b] for z in IUPAC[c])}


def brute_force(seq, table=11, min_length=90, min_edge_length=60, allow_ctg=False, closed=False):
    """Codon-by-codon scan straight from the definition (slow, obviously right)."""
    seq = seq.upper()
    n = len(seq)
    starts = codon_sets(table, allow_ctg)[0]
    stops = certain_stops(table)
    out = []
    for strand, s in (("+", seq), ("-", rc(seq))):
        for f in range(3):
            edge, cand = True, []
            p = f
            while p + 3 <= n:
                c = s[p : p + 3]
                if c in stops:
                    out.append((strand, s, p + 2, edge, f, cand, False))
                    edge, cand = False, []
                elif c in starts:
                    cand.append(p)
                p += 3
            if not closed and (cand or edge) and p - 3 >= f:
                out.append((strand, s, p - 1, edge, f, cand, True))
    groups = []
    for strand, s, last, edge, f, cand, p3 in out:
        st, cc = [], []
        if edge and not closed and last - f + 1 >= min_edge_length:
            st.append(f)
            cc.append(EDGE)
        for q in cand:
            if st and st[0] == q:
                continue  # the edge start already sits on this codon
            if last - q + 1 >= (min_edge_length if p3 else min_length):
                st.append(q)
                cc.append(s[q : q + 3])
        if not st:
            continue
        if strand == "+":
            groups.append(StopGroup("+", last, tuple(st), tuple(cc), p3))
        else:
            groups.append(StopGroup("-", n - 1 - last, tuple(n - 1 - q for q in st), tuple(cc), p3))
    return sorted(groups, key=lambda g: (g.left, g.strand, g.stop))


def test_simple_orfs_both_strands():
    gene = "ATG" + "GCA" * 30 + "TAA"  # 96 nt
    seq = "TAGTAGTAG" + gene + "TAGTAGTAGTAG" + rc("ATG" + "GCT" * 32 + "TGA") + "TAGTAGTAG"
    groups = [g for g in find_stop_groups(seq, closed=True) if len(g.starts)]
    plus = [g for g in groups if g.strand == "+" and g.start_codons == ("ATG",)]
    assert len(plus) == 1
    g = plus[0]
    assert g.starts == (9,) and g.stop == 9 + 96 - 1 and not g.partial3
    assert orf_sequence(seq, g, g.starts[0]) == gene
    minus = [g for g in groups if g.strand == "-" and g.start_codons == ("ATG",)]
    assert len(minus) == 1
    m = minus[0]
    left = 9 + 96 + 12
    assert m.stop == left and m.starts == (left + 102 - 1,)
    assert orf_sequence(seq, m, m.starts[0]) == "ATG" + "GCT" * 32 + "TGA"
    assert translate(orf_sequence(seq, m, m.starts[0])) == "M" + "A" * 32


def test_nested_starts_longest_first():
    body = "ATG" + "GCA" * 10 + "GTG" + "GCA" * 10 + "TTG" + "GCA" * 20 + "TAA"
    seq = "TAA" + body + "TAA"
    (g,) = [g for g in find_stop_groups(seq, min_length=60, closed=True) if g.strand == "+" and g.start_codons[0] == "ATG"]
    assert g.start_codons == ("ATG", "GTG", "TTG")
    assert g.starts == (3, 3 + 33, 3 + 66)
    assert [g.length(s) for s in g.starts] == [len(body), len(body) - 33, len(body) - 66]
    # a min_length between the nested ORFs drops only the short one
    (g2,) = [g for g in find_stop_groups(seq, min_length=len(body) - 40, closed=True) if g.strand == "+" and g.start_codons[0] == "ATG"]
    assert g2.start_codons == ("ATG", "GTG")


def test_partial_orfs_at_both_ends():
    # frame 0 of '+' open from the contig start (5'-partial, EDGE) to a stop; another runs off the 3' end
    left = "GCA" * 30 + "TAA"
    right = "ATG" + "GCA" * 30
    seq = left + "CC" + right
    groups = find_stop_groups(seq, min_length=60, min_edge_length=60)
    g5 = [g for g in groups if g.strand == "+" and g.stop == len(left) - 1]
    assert len(g5) == 1 and g5[0].starts == (0,) and g5[0].start_codons == (EDGE,) and not g5[0].partial3
    g3 = [g for g in groups if g.strand == "+" and g.partial3 and "ATG" in g.start_codons]
    assert len(g3) == 1
    g = g3[0]
    assert g.stop == len(seq) - 1 and g.starts[g.start_codons.index("ATG")] == len(left) + 2
    assert orf_sequence(seq, g, len(left) + 2) == right
    # closed: neither survives
    closed = find_stop_groups(seq, min_length=60, min_edge_length=60, closed=True)
    assert not any(g.partial3 or EDGE in g.start_codons for g in closed)


def test_open_frame_both_ends_partial():
    seq = "GCA" * 40  # no stop anywhere on '+' frame 0
    groups = find_stop_groups(seq, min_edge_length=60)
    g = [g for g in groups if g.strand == "+" and g.starts[0] == 0]
    assert len(g) == 1 and g[0].partial3 and g[0].start_codons[0] == EDGE and g[0].stop == 119


def test_minus_strand_edges():
    gene = rc("ATG" + "GCA" * 30)  # runs off the left contig edge on '-' (3'-partial)
    seq = gene + "TT" + rc("GCA" * 30 + "TAG")  # '-' ORF 5'-partial at the right edge
    groups = find_stop_groups(seq, min_length=60, min_edge_length=60)
    p3 = [g for g in groups if g.strand == "-" and g.partial3 and "ATG" in g.start_codons]
    assert len(p3) == 1 and p3[0].stop == 0 and p3[0].starts[p3[0].start_codons.index("ATG")] == len(gene) - 1
    p5 = [g for g in groups if g.strand == "-" and g.start_codons[0] == EDGE and not g.partial3 and g.starts[0] == len(seq) - 1]
    assert len(p5) == 1 and p5[0].stop == len(gene) + 2


def test_table4_tga_is_not_stop():
    body = "ATG" + "GCA" * 15 + "TGA" + "GCA" * 15 + "TAA"
    seq = "TAA" + body + "TAA"
    g11 = [g for g in find_stop_groups(seq, table=11, min_length=30, closed=True) if g.strand == "+" and g.start_codons[0] == "ATG"]
    g4 = [g for g in find_stop_groups(seq, table=4, min_length=30, closed=True) if g.strand == "+" and g.start_codons[0] == "ATG"]
    assert g11[0].stop == 3 + 48 + 2
    assert g4[0].stop == 3 + len(body) - 1
    assert translate(orf_sequence(seq, g4[0], g4[0].starts[0]), table=4).count("W") == 1


def test_ctg_option():
    body = "CTG" + "GCA" * 30 + "TAA"
    seq = "TAA" + body + "TAA"
    assert not [g for g in find_stop_groups(seq, closed=True) if g.strand == "+" and g.stop == 3 + len(body) - 1]
    (g,) = [g for g in find_stop_groups(seq, closed=True, allow_ctg=True) if g.strand == "+" and g.stop == 3 + len(body) - 1]
    assert g.start_codons == ("CTG",)


def test_lowercase_and_n():
    seq = "taa" + ("atg" + "gca" * 30 + "taa") + "NNNNN"
    (g,) = [g for g in find_stop_groups(seq, closed=True) if g.strand == "+" and g.start_codons == ("ATG",)]
    assert g.starts == (3,)


@pytest.mark.parametrize("stop", ["TAR", "TRA"])
def test_iupac_certain_stop_ends_an_orf(stop):
    """TAR (TAA or TAG) and TRA (TAA or TGA) are stops under table 11 whatever the base: no ORF runs through."""
    body = "ATG" + "GCA" * 40 + stop + "GCA" * 40 + "TAA"
    seq = "TAA" + body + "TAA"
    for s, strand in ((seq, "+"), (rc(seq), "-")):
        (g,) = [g for g in find_stop_groups(s, closed=True) if g.strand == strand and "ATG" in g.start_codons]
        assert g.length(g.starts[0]) == 3 + 120 + 3
        assert translate(orf_sequence(s, g, g.starts[0])) == "M" + "A" * 40


@pytest.mark.parametrize("codon,table", [("TAN", 11), ("TRR", 11), ("NNN", 11), ("TRA", 4)])
def test_ambiguous_stop_or_sense_is_read_through(codon, table):
    """A codon that may be a stop or a sense codon does not end an ORF (as Prodigal reads N)."""
    body = "ATG" + "GCA" * 40 + codon + "GCA" * 40 + "TAA"
    seq = "TAA" + body + "TAA"
    (g,) = [g for g in find_stop_groups(seq, table=table, closed=True) if g.strand == "+" and "ATG" in g.start_codons]
    assert g.length(g.starts[0]) == len(body)


def test_stop_or_sense_tables_end_orfs_without_warning():
    """Tables 27, 28 and 31: codons that are stop or sense (NCBI) end ORFs (and --proteins stops there)."""
    for table, stop in ((27, "TGA"), (28, "TAA"), (31, "TAG")):
        body = "ATG" + "GCA" * 40 + stop
        seq = "GGG" + body + "GCA" * 10
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            groups = find_stop_groups(seq, table=table, closed=True)
            (g,) = [g for g in groups if g.strand == "+" and "ATG" in g.start_codons]
            assert g.length(g.starts[0]) == len(body)
            assert translate(orf_sequence(seq, g, g.starts[0]), table=table) == "M" + "A" * 40


def shifted(groups, off):
    return [replace(g, stop=g.stop + off, starts=tuple(q + off for q in g.starts)) for g in groups]


def test_n_run_is_a_contig_edge():
    """An ORF that reaches a run of MIN_N_RUN N is cut there as at a contig end, on both strands."""
    left = "TAA" + "ATG" + "GCA" * 30  # the ATG's ORF reaches the gap: 3'-partial at the last codon before it
    right = "GCA" * 30 + "TAA" + "CC"  # frame 0 after the gap: EDGE start on its first codon, up to the TAA
    a, b = len(left), len(left) + 60
    seq = left + "N" * 60 + right
    n = len(seq)
    groups = find_stop_groups(seq, min_length=60, min_edge_length=60)
    assert StopGroup("+", a - 1, (3,), ("ATG",), True) in groups
    assert StopGroup("+", b + 92, (b,), (EDGE,), False) in groups
    # the same ORFs on '-' of the reverse complement
    minus = find_stop_groups(rc(seq), min_length=60, min_edge_length=60)
    assert StopGroup("-", n - a, (n - 4,), ("ATG",), True) in minus
    assert StopGroup("-", n - 1 - b - 92, (n - 1 - b,), (EDGE,), False) in minus
    for x, gs in ((seq, groups), (rc(seq), minus)):
        assert all("N" not in x[slice(*g.bounds(s))] for g in gs for s in g.starts)
    # the partial rules of contig ends: min_edge_length and --closed
    for kw in (dict(min_edge_length=100), dict(closed=True)):
        assert not [g for g in find_stop_groups(seq, min_length=60, **kw) if g.partial3 or EDGE in g.start_codons]


def test_shorter_n_run_is_read_through():
    left = "TAA" + "ATG" + "GCA" * 30
    seq = left + "N" * (MIN_N_RUN - 1) + "GCA" * 30 + "TAA" + "CC"
    groups = find_stop_groups(seq, min_length=60, min_edge_length=60)
    assert groups == brute_force(seq, min_length=60, min_edge_length=60)
    assert [g for g in groups if 3 in g.starts and g.stop > len(left) + MIN_N_RUN]


def test_all_n_has_no_orfs():
    for seq in ("N" * 20000, "n" * 500, "N" * MIN_N_RUN, "N" * 60 + "ACGTA" + "n" * 60):
        assert find_stop_groups(seq, min_length=30, min_edge_length=30) == []


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("closed", [False, True])
def test_gapped_sequence_is_its_pieces(seed, closed):
    """Between runs of at least MIN_N_RUN N the ORFs are those of each piece as a contig of its own."""
    rng = random.Random(seed)
    pieces = ["".join(rng.choices("ACGT", weights=(3, 1, 1, 3), k=rng.randint(150, 900))) for _ in range(4)]
    pieces[0] = pieces[0][: rng.choice([0, 150])]  # a record may open with a gap
    pieces[2] = pieces[2][:70] + "N" * (MIN_N_RUN - 1) + pieces[2][70:]  # one N short of a gap: read through
    gaps = [rng.choice("Nn") * (MIN_N_RUN + rng.randint(0, 30)) for _ in pieces[1:]]
    seq = pieces[0] + "".join(g + p for g, p in zip(gaps, pieces[1:]))
    kw = dict(min_length=rng.choice([30, 60, 90]), min_edge_length=rng.choice([30, 60]), closed=closed)
    expected, off = [], 0
    for p, g in zip(pieces, gaps + [""]):
        expected += shifted(brute_force(p, **kw), off)
        off += len(p) + len(g)
    assert find_stop_groups(seq, **kw) == sorted(expected, key=lambda g: (g.left, g.strand, g.stop))


def test_unknown_table():
    with pytest.raises(InputError):
        find_stop_groups("ATG" * 40, table=99)


def test_tiny_sequences():
    for n in range(0, 10):
        assert find_stop_groups("A" * n) == [] or n >= 6


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("closed", [False, True])
def test_matches_brute_force(seed, closed):
    rng = random.Random(seed)
    n = rng.choice([50, 200, 1000, 5000])
    # AT-rich or GC-rich random sequence with some N, so stops are rare or frequent
    w = rng.choice([(1, 1, 1, 1), (3, 1, 1, 3), (1, 3, 3, 1)])
    seq = "".join(rng.choices("ACGT", weights=w, k=n))
    if seed % 3 == 0:
        seq = seq[: n // 2] + "N" * 7 + seq[n // 2 + 7 :]
    table = [11, 4, 25][seed % 3]
    kw = dict(table=table, min_length=rng.choice([30, 60, 90]), min_edge_length=rng.choice([30, 60]), allow_ctg=seed % 2 == 1, closed=closed)
    got = find_stop_groups(seq, **kw)
    assert got == brute_force(seq, **kw)
    for g in got:
        for s in g.starts:
            nt = orf_sequence(seq, g, s)
            assert len(nt) == g.length(s) and len(nt) % 3 == 0


@pytest.mark.parametrize("seed", range(4))
def test_iupac_matches_brute_force(seed):
    """IUPAC letters in the input: stops only where every expansion is one, on both strands, any table."""
    rng = random.Random(seed)
    seq = "".join(rng.choices("ACGTRYKMSWBDHVN", weights=[10] * 4 + [3] + [1] * 10, k=3000))
    kw = dict(table=[11, 4, 2, 28][seed], min_length=60, min_edge_length=30, closed=seed % 2 == 1)
    assert find_stop_groups(seq, **kw) == brute_force(seq, **kw)


def test_every_prefix_length():
    rng = random.Random(7)
    seq = "".join(rng.choices("ACGT", weights=(3, 1, 1, 3), k=400))
    for k in range(0, 400, 7):
        assert find_stop_groups(seq[:k], min_length=30, min_edge_length=30) == brute_force(seq[:k], min_length=30, min_edge_length=30)


def test_start_codon_on_the_edge_is_the_edge_start():
    seq = "ATG" + "GCA" * 30 + "TAA" + "CC"
    (g,) = [g for g in find_stop_groups(seq, min_edge_length=60) if g.strand == "+" and g.starts[0] == 0]
    assert g.start_codons == (EDGE,)
    (g,) = [g for g in find_stop_groups(seq, closed=True) if g.strand == "+" and g.starts[0] == 0]
    assert g.start_codons == ("ATG",)
