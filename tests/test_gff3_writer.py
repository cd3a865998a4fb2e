"""GFF3 writer: exact golden output, phases, UTRs, escaping, IDs, and `gt gff3validator` on every file."""

from __future__ import annotations

import io
import random
import re

import pytest

from genannot import __version__
from genannot.features import Gene, Transcript
from genannot.io.atomic import atomic_output
from genannot.io.gff3 import Gff3Writer, cds_phases, escape_seqid, escape_value, provenance_lines, write_gff3

SHA = "ab" * 32

# columns separated by 2+ spaces (attribute values hold single spaces only)
GOLDEN_FEATURES = """
##sequence-region ctg1 1 2000
ctg1          genannot   gene              1      302    .      +   .   ID=ctg1_1;partial=10;start_range=.,1
ctg1          genannot   CDS               1      302    45.2   +   2   ID=ctg1_1.cds;Parent=ctg1_1;score=45.2;start_type=Edge;partial=10;start_range=.,1
ctg1          genannot   gene              400    699    .      -   .   ID=ctg1_2
ctg1          genannot   CDS               400    699    12.5   -   0   ID=ctg1_2.t;Parent=ctg1_2;score=12.5;prob=0.98;start_type=ATG;rbs_motif=AGGAGG
ctg1          genannot   gene              1701   2000   .      -   .   ID=ctg1_3;partial=01;end_range=2000,.
ctg1          genannot   CDS               1701   2000   .      -   0   ID=ctg1_3.cds;Parent=ctg1_3;partial=01;end_range=2000,.
###
##sequence-region chr%201%3Bx 1 10000
chr%201%3Bx   genannot   gene              100    800    .      +   .   ID=g1;Name=abc%3Bd%3De;note=a%2Cb %26 c%25
chr%201%3Bx   genannot   mRNA              100    800    .      +   .   ID=g1.t1;Parent=g1;prob=0.91
chr%201%3Bx   genannot   exon              100    300    .      +   .   ID=g1.t1.exon1;Parent=g1.t1
chr%201%3Bx   genannot   five_prime_UTR    100    149    .      +   .   ID=g1.t1.5utr1;Parent=g1.t1
chr%201%3Bx   genannot   CDS               150    300    .      +   0   ID=g1.t1.cds;Parent=g1.t1
chr%201%3Bx   genannot   exon              500    800    .      +   .   ID=g1.t1.exon2;Parent=g1.t1
chr%201%3Bx   genannot   CDS               500    699    .      +   2   ID=g1.t1.cds;Parent=g1.t1
chr%201%3Bx   genannot   three_prime_UTR   700    800    .      +   .   ID=g1.t1.3utr1;Parent=g1.t1
chr%201%3Bx   genannot   gene              1000   1900   .      -   .   ID=g2
chr%201%3Bx   genannot   mRNA              1000   1900   .      -   .   ID=g2.t1;Parent=g2
chr%201%3Bx   genannot   exon              1000   1200   .      -   .   ID=g2.t1.exon3;Parent=g2.t1
chr%201%3Bx   genannot   three_prime_UTR   1000   1099   .      -   .   ID=g2.t1.3utr1;Parent=g2.t1
chr%201%3Bx   genannot   CDS               1100   1200   .      -   2   ID=g2.t1.cds;Parent=g2.t1
chr%201%3Bx   genannot   exon              1400   1500   .      -   .   ID=g2.t1.exon2;Parent=g2.t1
chr%201%3Bx   genannot   CDS               1400   1500   .      -   1   ID=g2.t1.cds;Parent=g2.t1
chr%201%3Bx   genannot   exon              1700   1900   .      -   .   ID=g2.t1.exon1;Parent=g2.t1
chr%201%3Bx   genannot   CDS               1700   1800   .      -   0   ID=g2.t1.cds;Parent=g2.t1
chr%201%3Bx   genannot   five_prime_UTR    1801   1900   .      -   .   ID=g2.t1.5utr1;Parent=g2.t1
chr%201%3Bx   genannot   ncRNA_gene        3000   3500   .      +   .   ID=g3
chr%201%3Bx   genannot   lnc_RNA           3000   3500   .      +   .   ID=g3.t1;Parent=g3
chr%201%3Bx   genannot   exon              3000   3100   .      +   .   ID=g3.t1.exon1;Parent=g3.t1
chr%201%3Bx   genannot   exon              3300   3500   .      +   .   ID=g3.t1.exon2;Parent=g3.t1
###
"""


def golden_text() -> str:
    head = [
        "##gff-version 3",
        f"#genannot {__version__}",
        f"#model genelm-cds sha256={SHA}",
        "#command genannot prok in.fa\\n-o x",
    ]
    rows = []
    for line in GOLDEN_FEATURES.strip("\n").splitlines():
        rows.append(line if line.startswith("#") else "\t".join(re.split(r" {2,}", line.rstrip())))
    return "\n".join(head + rows) + "\n"


def golden_records():
    r1 = [
        # prokaryotic, + strand, runs off the left edge, first complete codon at base 3
        Gene("ctg1", "+", "ctg1_1", [Transcript("ctg1_1", cds=[(1, 302)], attributes={"codon_start": "3", "score": "45.2", "start_type": "Edge"})], partial="10"),
        Gene("ctg1", "-", "ctg1_2", [Transcript("ctg1_2.t", cds=[(400, 699)], attributes={"score": "12.5", "prob": "0.98", "start_type": "ATG", "rbs_motif": "AGGAGG"})]),
        Gene("ctg1", "-", "ctg1_3", [Transcript("ctg1_3", cds=[(1701, 2000)])], partial="01"),
    ]
    s2 = "chr 1;x"
    r2 = [  # deliberately out of order: the writer sorts by start
        Gene(s2, "-", "g2", [Transcript("g2.t1", exons=[(1000, 1200), (1400, 1500), (1700, 1900)], cds=[(1100, 1200), (1400, 1500), (1700, 1800)])]),
        Gene(s2, "+", "g1", [Transcript("g1.t1", exons=[(100, 300), (500, 800)], cds=[(150, 300), (500, 699)], attributes={"prob": "0.91"})], attributes={"Name": "abc;d=e", "note": "a,b & c%"}),
        Gene(s2, "+", "g3", [Transcript("g3.t1", biotype="lnc_RNA", exons=[(3000, 3100), (3300, 3500)])], kind="ncRNA_gene"),
    ]
    return [("ctg1", 2000, r1), (s2, 10000, r2)]


def write(records, provenance=()) -> str:
    fh = io.StringIO()
    write_gff3(fh, records, provenance)
    return fh.getvalue()


def test_golden(tmp_path, gff3_validate):
    text = write(golden_records(), provenance_lines("genannot prok in.fa\n-o x", [("genelm-cds", SHA)]))
    assert text == golden_text()
    path = tmp_path / "golden.gff3"
    path.write_text(text)
    gff3_validate(path)


def test_golden_through_atomic_output(tmp_path, gff3_validate):
    path = tmp_path / "out.gff3"
    with atomic_output(path) as fh:
        w = Gff3Writer(fh, provenance_lines("genannot prok in.fa\n-o x", {"genelm-cds": SHA}))
        for rec in golden_records():
            w.write_record(*rec)
    assert path.read_text() == golden_text()
    gff3_validate(path)


def test_provenance_lines_from_model_objects():
    class M:
        name, sha256 = "m1", "00" * 32

    lines = provenance_lines("genannot euk x.fa", [M()], extra={"translation_table": 11})
    assert lines == [f"#genannot {__version__}", f"#model m1 sha256={'00' * 32}", "#translation_table 11", "#command genannot euk x.fa"]
    assert all("\n" not in line for line in provenance_lines("a\r\nb\x01"))


def test_provenance_cannot_forge_directives(tmp_path, gff3_validate):
    text = write([("s", 10, [])], ["##FASTA", "plain text", "#ok"])
    assert text.splitlines()[:4] == ["##gff-version 3", "# FASTA", "# plain text", "#ok"]
    (tmp_path / "p.gff3").write_text(text)
    gff3_validate(tmp_path / "p.gff3")


def test_record_without_genes(tmp_path, gff3_validate):
    text = write([("empty", 50, []), ("other", 70, [])])
    assert text == "##gff-version 3\n##sequence-region empty 1 50\n###\n##sequence-region other 1 70\n###\n"
    (tmp_path / "e.gff3").write_text(text)
    gff3_validate(tmp_path / "e.gff3")


@pytest.mark.parametrize(
    "cds,strand,codon_start,expected",
    [
        ([(1, 10), (20, 30), (40, 45)], "+", 1, [0, 2, 0]),
        ([(1, 10), (20, 30), (40, 45)], "-", 1, [1, 0, 0]),
        ([(5, 7)], "+", 2, [1]),
        ([(5, 7)], "-", 3, [2]),
        ([(1, 4), (10, 12)], "+", 2, [1, 0]),
    ],
)
def test_cds_phases(cds, strand, codon_start, expected):
    assert cds_phases(cds, strand, codon_start) == expected


def test_phase_property():
    """For random splits, each segment's phase makes its first full codon start in frame."""
    rnd = random.Random(1)
    for _ in range(300):
        n = rnd.randint(1, 6)
        bounds, pos = [], rnd.randint(1, 50)
        for _ in range(n):
            length = rnd.randint(1, 40)
            bounds.append((pos, pos + length - 1))
            pos += length + rnd.randint(1, 30)
        strand = rnd.choice("+-")
        cs = rnd.randint(1, 3)
        phases = cds_phases(bounds, strand, cs)
        order = sorted(range(n), key=lambda i: bounds[i][0], reverse=strand == "-")
        done = 0
        for i in order:
            s, e = bounds[i]
            assert 0 <= phases[i] <= 2
            assert (done + phases[i] - (cs - 1)) % 3 == 0
            done += e - s + 1


def test_escaping():
    assert escape_seqid("chr1") == "chr1"
    assert escape_seqid("a b;c>d%") == "a%20b%3Bc%3Ed%25"
    assert escape_seqid("x.y:z^*$@!+_?-|") == "x.y:z^*$@!+_?-|"
    assert escape_value("a;b=c&d,e\tf\ng%h\x01 i") == "a%3Bb%3Dc%26d%2Ce%09f%0Ag%25h%01 i"


def test_read_back_ids_equal_written_ids(tmp_path):
    """Escaped seqids and IDs read back as written: `genannot eval`/`train` match the FASTA IDs."""
    from genannot.io.annotation import read_annotation

    seqid = "chr;1,=&%|é x"
    genes = [
        Gene(seqid, "+", f"{seqid}_1", [Transcript(f"{seqid}_1.t,1", exons=[(10, 90)], cds=[(10, 90)])], attributes={"Name": "n;a,m=e"}),
        Gene(seqid, "-", f"{seqid}_2", [Transcript(f"{seqid}_2", cds=[(100, 199)])]),
    ]
    path = tmp_path / "rt.gff3"
    path.write_text(write([(seqid, 300, genes)]))
    ann = read_annotation(path)
    assert list(ann) == [seqid]
    back = ann[seqid]
    assert [(g.seqid, g.id, [t.id for t in g.transcripts]) for g in back] == [
        (seqid, f"{seqid}_1", [f"{seqid}_1.t,1"]),
        (seqid, f"{seqid}_2", [f"{seqid}_2.cds"]),  # a prokaryotic CDS named after its gene: `G.cds`
    ]
    assert back[0].attributes["Name"] == "n;a,m=e"
    assert [(t.exons, t.cds) for g in back for t in g.transcripts] == [([(10, 90)], [(10, 90)]), ([], [(100, 199)])]


def test_attribute_rules(tmp_path, gff3_validate):
    g = Gene(
        "s", "+", "s_1",
        [Transcript("s_1", cds=[(1, 9)], attributes={"Start_Type": "GTG", "_private": "x", "codon_start": "1", "Note": "n", "Dbxref": ["a:1", "b:2"], "flag": True})],
        attributes={"Alias": "x,y"},
        pseudo=True,
    )
    text = write([("s", 20, [g])])
    gene, cds = text.splitlines()[2:4]
    assert gene.split("\t")[8] == "ID=s_1;Alias=x%2Cy;pseudo=true"
    assert cds.split("\t")[8] == "ID=s_1.cds;Parent=s_1;start_type=GTG;Note=n;Dbxref=a:1,b:2;flag=true;pseudo=true"
    (tmp_path / "a.gff3").write_text(text)
    gff3_validate(tmp_path / "a.gff3")


def test_score_column_only_when_numeric():
    g = Gene("s", "+", "g", [Transcript("t", cds=[(1, 9)], attributes={"score": "high"})], attributes={"score": 3})
    gene, cds = write([("s", 9, [g])]).splitlines()[2:4]
    assert gene.split("\t")[5] == "3" and cds.split("\t")[5] == "."


@pytest.mark.parametrize(
    "records,match",
    [
        ([("s", 100, [Gene("s", "+", "g", [Transcript("g", cds=[(1, 9)])]), Gene("s", "+", "g", [Transcript("h", cds=[(11, 19)])])])], "duplicate"),
        ([("s", 100, [Gene("s", "+", "a", [Transcript("t", cds=[(1, 9)])])]), ("r", 100, [Gene("r", "+", "b", [Transcript("t", cds=[(1, 9)])])])], "duplicate"),
        ([("s", 100, [Gene("s", "+", "g", [Transcript("g.t", exons=[(1, 10)])])]), ("r", 100, [Gene("r", "+", "g.t.exon1", [Transcript("x", cds=[(1, 9)])])])], "duplicate"),
        ([("s", 100, []), ("s", 100, [])], "twice"),
        ([("s", 5, [Gene("s", "+", "g", [Transcript("g", cds=[(1, 9)])])])], "outside"),
        ([("s", 50, [Gene("s", "+", "g", [Transcript("g", cds=[(9, 1)])])])], "outside"),
        ([("s", 50, [Gene("r", "+", "g", [Transcript("g", cds=[(1, 9)])])])], "written under"),
        ([("s", 50, [Gene("s", "+", "g", [Transcript("t", exons=[(1, 10)], cds=[(5, 20)])])])], "not inside"),
        ([("s", 50, [Gene("s", "+", "g", [Transcript("t", exons=[(1, 10), (8, 20)])])])], "overlapping"),
        ([("s", 50, [Gene("s", "+", "g", [Transcript("t", cds=[(1, 9)], attributes={"ID": "x"})])])], "set by the GFF3 writer"),
        ([("s", 50, [Gene("s", "+", "g", [Transcript("t", cds=[(1, 9)], attributes={"codon_start": "4"})])])], "codon_start"),
        ([("s", 50, [Gene("s", "+", "g", [Transcript("t", cds=[(1, 9)])], partial="2")])], "partial"),
        ([("s", 50, [Gene("s", "x", "g", [Transcript("t", cds=[(1, 9)])])])], "strand"),
        ([("s", 50, [Gene("s", "+", "g", [])])], "no transcripts"),
        ([("s", 0, [])], "length"),
    ],
)
def test_pipeline_bugs_raise(records, match):
    with pytest.raises(ValueError, match=match):
        write(records)


def random_models(rnd: random.Random, seqid: str, length: int) -> list[Gene]:
    genes, pos, n = [], 1, 0
    while True:
        pos += rnd.randint(1, 300)
        strand = rnd.choice("+-")
        n += 1
        gid = f"{seqid}_{n}"
        kind = rnd.choice(["prok", "mrna", "lnc"])
        nex = rnd.randint(1, 4)
        exons, p = [], pos
        for _ in range(nex):
            ln = rnd.randint(10, 200)
            exons.append((p, p + ln - 1))
            p += ln + rnd.randint(30, 300)
        if exons[-1][1] > length:
            return genes
        if kind == "prok":
            t = Transcript(gid, cds=[exons[0]], attributes={"score": f"{rnd.uniform(0, 99):.1f}", "codon_start": str(rnd.randint(1, 3))})
            g = Gene(seqid, strand, gid, [t], partial=rnd.choice(["00", "10", "01", "11"]))
        elif kind == "mrna":
            cds = [(max(s, exons[0][0] + 5), min(e, exons[-1][1] - 5)) for s, e in exons]
            cds = [(s, e) for s, e in cds if s <= e]
            t = Transcript(f"{gid}.t1", exons=exons, cds=cds or [exons[0]])
            g = Gene(seqid, strand, gid, [t])
        else:
            g = Gene(seqid, strand, gid, [Transcript(f"{gid}.t1", biotype="lnc_RNA", exons=exons)], kind="ncRNA_gene")
        genes.append(g)
        pos = exons[-1][1]


def test_random_models_validate(tmp_path, gff3_validate):
    rnd = random.Random(7)
    records = [(sid, 20000, random_models(rnd, sid, 20000)) for sid in ["contig_1", "contig 2", "c3|x=y"]]
    path = tmp_path / "random.gff3"
    path.write_text(write(records, provenance_lines("genannot euk -", [("m", SHA)])))
    gff3_validate(path)
    # starts are sorted within each record; every gene's children follow it
    starts: dict[str, list[int]] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            cols = line.split("\t")
            if cols[2] in ("gene", "ncRNA_gene"):
                starts.setdefault(cols[0], []).append(int(cols[3]))
    assert all(v == sorted(v) for v in starts.values()) and len(starts) == 3
