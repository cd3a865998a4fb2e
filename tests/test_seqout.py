"""Sequence output (FASTA, reverse complement, translation) and CSV/TSV tables."""

from __future__ import annotations

import csv
import io
import random
import warnings

import pytest

from genannot.features import Gene, Transcript
from genannot.io.fasta import read_fasta
from genannot.io.seqout import cds_sequence, protein_sequence, reverse_complement, translate, write_fasta
from genannot.io.tables import write_table


def test_reverse_complement():
    assert reverse_complement("ACGTN") == "NACGT"
    assert reverse_complement("aaCCgT") == "AcGGtt"
    assert reverse_complement("RYKMSWBDHV") == "BDHVWSKMRY"
    assert reverse_complement("") == ""
    rnd = random.Random(0)
    s = "".join(rnd.choices("ACGTN", k=1000))
    assert reverse_complement(reverse_complement(s)) == s


def test_reverse_complement_matches_biopython():
    from Bio.Seq import reverse_complement as bio_rc

    s = "ACGTRYSWKMBDHVNacgtryswkmbdhvn"
    assert reverse_complement(s) == bio_rc(s)


@pytest.mark.parametrize(
    "seq,kwargs,protein",
    [
        ("ATGAAATTTTAA", {}, "MKF"),
        ("GTGAAATTTTGA", {}, "MKF"),  # alternative start -> M
        ("TTGAAATAG", {}, "MK"),
        ("CTGAAATAA", {}, "MK"),  # CTG is a start in table 11
        ("GTGAAATTTTAA", {"complete_start": False}, "VKF"),
        ("ATGTAAGGGTAA", {}, "M*G"),  # internal stop kept, final stripped
        ("ATGAAANNNTCNTAA", {}, "MKXS"),  # N codons -> X, four-fold site resolved
        ("ATGAAATT", {}, "MK"),  # incomplete trailing codon ignored
        ("CCATGAAATAA", {"codon_start": 3}, "MK"),
        ("ATGTGATAA", {"table": 4}, "MW"),  # TGA = Trp in table 4
        ("ATGTGATAA", {"table": 11}, "M*"),
        ("", {}, ""),
    ],
)
def test_translate(seq, kwargs, protein):
    assert translate(seq, **kwargs) == protein


def test_translate_matches_biopython_random():
    from Bio.Seq import translate as bio_translate

    rnd = random.Random(3)
    for table in (1, 4, 11, 25):
        for _ in range(200):
            s = "".join(rnd.choices("ACGTN", weights=[10, 10, 10, 10, 1], k=rnd.randint(0, 60) * 3))
            expected = bio_translate(s, table=table)
            if expected.endswith("*"):
                expected = expected[:-1]
            assert translate(s, table, complete_start=False) == expected
        s = "".join(rnd.choices("ACGTRYKMSWBDHVN", k=300))
        assert translate(s, table, complete_start=False) == "".join(
            _certain(s[i : i + 3], table) for i in range(0, 300, 3)).removesuffix("*")


IUPAC = {"R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC", "B": "CGT", "D": "AGT", "H": "ACT",
         "V": "ACG", "N": "ACGT"}


def _certain(codon, table):
    """What Biopython translates every A C G T codon `codon` stands for to, if they all agree, else X."""
    from itertools import product

    from Bio.Seq import translate as bio_translate

    aas = {bio_translate("".join(c), table=table) for c in product(*(IUPAC.get(b, b) for b in codon))}
    return aas.pop() if len(aas) == 1 else "X"


@pytest.mark.parametrize(
    "seq,table,protein",
    [
        ("ATGCTNGGNYTRTAA", 11, "MLGL"),  # every expansion agrees: the amino acid
        ("ATGRAYSARMTTTAA", 11, "MXXX"),  # D/N, E/Q, I/L: X, not Biopython's B, Z, J
        ("ATGAAATARTRAGGGTAR", 11, "MK**G"),  # TAR, TRA: certain stops, inside '*', at the end removed
        ("ATGTANTRRNNNTAA", 11, "MXXX"),  # a stop or sense: X
        ("ATGAAATRA", 4, "MKX"),  # TGA is Trp under table 4: TRA is TAA or W
        ("NTGAAATAA", 11, "MK"),  # NTG is a start whichever base N is
        ("augcunuar", 11, "ML"),  # RNA, lowercase
    ],
)
def test_translate_ambiguous_codons(seq, table, protein):
    assert translate(seq, table) == protein


@pytest.mark.parametrize(
    "table,seq,protein",
    [
        (27, "ATGTAATAGAAATGA", "MQQK"),  # TGA: Trp or stop -> the final stop, removed
        (27, "ATGTGAAAATGA", "M*K"),
        (28, "ATGTAATAGTGAAAATAR", "M***K"),  # TAA, TAG, TGA all Gln/Trp or stop
        (31, "ATGTGATARAAATAA", "MW*K"),  # TAA, TAG: Glu or stop; TGA Trp
    ],
)
def test_translate_stop_or_sense_tables(table, seq, protein):
    """Codons that are both stop and sense are stops, as in the ORF finder, and Biopython's warning about them
    never reaches the user."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert translate(seq, table) == protein


def test_translate_bad_arguments():
    with pytest.raises(ValueError):
        translate("ATG", table=99)
    with pytest.raises(ValueError):
        translate("ATG", codon_start=0)


def test_cds_and_protein_sequence():
    genome = "CC" + "ATGAAA" + "GGGGG" + "TTTTAA" + "CC"  # CDS 3-8 and 14-19 on +
    g = Gene("s", "+", "g", [Transcript("t", exons=[(1, 10), (12, 21)], cds=[(3, 8), (14, 19)])])
    assert cds_sequence(genome, g, g.transcripts[0]) == "ATGAAATTTTAA"
    assert protein_sequence(genome, g, g.transcripts[0]) == "MKF"
    rc = reverse_complement(genome)
    n = len(genome)
    gm = Gene("s", "-", "g", [Transcript("t", cds=[(n - 19 + 1, n - 14 + 1), (n - 8 + 1, n - 3 + 1)])])
    assert cds_sequence(rc, gm, gm.transcripts[0]) == "ATGAAATTTTAA"
    # 5'-partial on the minus strand (right end open): first codon not forced to M, codon_start honoured
    gp = Gene("s", "-", "g", [Transcript("t", cds=[(1, 8)], attributes={"codon_start": "3"})], partial="01")
    seq = reverse_complement("CCGTGAAA")  # transcribed: CC|GTG|AAA
    assert protein_sequence(seq, gp, gp.transcripts[0]) == "VK"


def test_write_fasta_roundtrip(tmp_path):
    fh = io.StringIO()
    n = write_fasta(fh, [("p1", "M" * 130, "gene=1  strand=+"), ("p2", "MK"), ("p3", "")], width=60)
    assert n == 3
    text = fh.getvalue()
    assert text.splitlines()[:4] == [">p1 gene=1 strand=+", "M" * 60, "M" * 60, "M" * 10]
    assert text.endswith(">p2\nMK\n>p3\n")
    dna = io.StringIO()
    write_fasta(dna, [("a", "ACGT" * 50), ("b", "GGC")], width=0)
    assert dna.getvalue() == ">a\n" + "ACGT" * 50 + "\n>b\nGGC\n"
    path = tmp_path / "x.fa"
    path.write_text(dna.getvalue())
    assert [(r.id, r.seq) for r in read_fasta(path)] == [("a", "ACGT" * 50), ("b", "GGC")]


def test_write_fasta_rejects_bad_ids():
    for bad in ("", "a b", "a\tb"):
        with pytest.raises(ValueError):
            write_fasta(io.StringIO(), [(bad, "ACGT")])


@pytest.mark.parametrize("delimiter", [",", "\t", "tsv"])
def test_write_table(delimiter):
    fh = io.StringIO()
    rows = [
        {"seqid": "chr 1", "start": 1, "score": 0.123456789, "note": 'has, comma "quoted"', "partial": True},
        {"seqid": "c2", "start": 5, "score": None},
        ["c3", 7, 1.0, "", False],
    ]
    n = write_table(fh, rows, ["seqid", "start", "score", "note", "partial"], delimiter=delimiter)
    assert n == 3
    sep = "\t" if delimiter in ("\t", "tsv") else ","
    lines = fh.getvalue().splitlines()
    assert lines[0] == sep.join(["seqid", "start", "score", "note", "partial"])
    parsed = list(csv.reader(io.StringIO(fh.getvalue()), delimiter=sep))
    assert parsed[1] == ["chr 1", "1", "0.123457", 'has, comma "quoted"', "true"]
    assert parsed[2] == ["c2", "5", "", "", ""]
    assert parsed[3] == ["c3", "7", "1", "", "false"]


def test_write_table_errors():
    with pytest.raises(ValueError):
        write_table(io.StringIO(), [{"x": 1}], ["a"])
    with pytest.raises(ValueError):
        write_table(io.StringIO(), [[1, 2]], ["a"])
    with pytest.raises(ValueError):
        write_table(io.StringIO(), [], ["a"], delimiter=";")
