"""Annotation reader: every flavour on tiny hand-written files, with the exact models expected."""

from __future__ import annotations

import gzip
import textwrap
from pathlib import Path

import pytest

from genannot.errors import InputError
from genannot.io.annotation import read_annotation


def _write(tmp_path: Path, name: str, text: str, gz: bool = False) -> Path:
    text = textwrap.dedent(text).lstrip("\n").replace("|", "\t")
    p = tmp_path / name
    if gz:
        with gzip.open(p, "wt") as fh:
            fh.write(text)
    else:
        p.write_text(text)
    return p


def _genes(ann):
    return {g.id: g for gs in ann.values() for g in gs}


EUK_GFF3 = """
##gff-version 3
##sequence-region chr1 1 10000
chr1|test|gene|100|900|.|+|.|ID=g1;biotype=protein_coding
chr1|test|mRNA|100|900|.|+|.|ID=t1;Parent=g1
chr1|test|exon|100|200|.|+|.|Parent=t1
chr1|test|exon|300|400|.|+|.|Parent=t1,t2
chr1|test|exon|600|900|.|+|.|Parent=t1
chr1|test|five_prime_UTR|100|149|.|+|.|Parent=t1
chr1|test|CDS|150|200|.|+|0|ID=cds1;Parent=t1,t1-Protein
chr1|test|CDS|300|400|.|+|0|ID=cds1;Parent=t1,t1-Protein
chr1|test|CDS|600|700|.|+|2|ID=cds1;Parent=t1,t1-Protein
chr1|test|three_prime_UTR|701|900|.|+|.|Parent=t1
chr1|test|protein|150|700|.|+|.|ID=t1-Protein;Derives_from=t1
chr1|test|mRNA|300|800|.|+|.|ID=t2;Parent=g1
chr1|test|exon|600|800|.|+|.|Parent=t2
chr1|test|CDS|350|400|.|+|0|Parent=t2
chr1|test|CDS|600|650|.|+|1|Parent=t2
chr1|RNASeq_splice|intron|201|299|30|+|.|Name=RNASeq intron
chr1|test|intron|201|299|.|+|.|Parent=t1
chr1|test|ncRNA_gene|2000|3000|.|-|.|ID=g2;biotype=lncRNA
chr1|test|lnc_RNA|2000|3000|.|-|.|ID=t3;Parent=g2
chr1|test|exon|2000|2100|.|-|.|Parent=t3
chr1|test|exon|2900|3000|.|-|.|Parent=t3
chr1|test|gene|4000|4500|.|-|.|ID=g3;biotype=lincRNA
chr1|test|transcript|4000|4500|.|-|.|ID=t4;Parent=g3;biotype=lincRNA
chr1|test|exon|4000|4500|.|-|.|Parent=t4
chr1|test|gene|5000|5600|.|+|.|ID=g4
chr1|test|mRNA|5000|5600|.|+|.|ID=t5;Parent=g4
chr1|test|CDS|5000|5100|.|+|0|Parent=t5
chr1|test|CDS|5200|5600|.|+|1|Parent=t5
chr1|test|pseudogene|6000|6500|.|+|.|ID=g5
chr1|test|pseudogenic_transcript|6000|6500|.|+|.|ID=t6;Parent=g5
chr1|test|pseudogenic_exon|6000|6500|.|+|.|Parent=t6
chr1|test|tRNA|7000|7072|.|+|.|ID=trna1
###
##FASTA
>chr1
ACGT
"""


def test_gff3_eukaryotic_hierarchy(tmp_path):
    ann = read_annotation(_write(tmp_path, "a.gff3", EUK_GFF3))
    assert list(ann) == ["chr1"]
    g = _genes(ann)
    assert set(g) == {"g1", "g2", "g3", "g4", "g5", "trna1"}
    t1, t2 = g["g1"].transcripts
    assert (t1.id, t1.biotype) == ("t1", "mRNA")
    assert t1.exons == [(100, 200), (300, 400), (600, 900)]
    assert t1.cds == [(150, 200), (300, 400), (600, 700)]  # the protein parent is not a transcript
    assert t1.introns() == [(201, 299), (401, 599)]  # intron lines (evidence or not) are not read
    assert t2.exons == [(300, 400), (600, 800)]  # shared exon (multi-Parent)
    assert g["g1"].kind == "gene" and not g["g1"].pseudo and not g["g1"].multipart
    assert g["g2"].transcripts[0].biotype == "lnc_RNA" and g["g2"].kind == "ncRNA_gene"
    assert g["g2"].strand == "-"
    assert g["g3"].transcripts[0].biotype == "lnc_RNA"  # type `transcript`, biotype lincRNA
    # mRNA with CDS but no exon lines: exons derived from the CDS
    assert g["g4"].transcripts[0].exons == [(5000, 5100), (5200, 5600)]
    assert g["g5"].pseudo and g["g5"].kind == "pseudogene"
    assert g["trna1"].transcripts[0].biotype == "tRNA" and g["trna1"].transcripts[0].exons == [(7000, 7072)]


PROK_GFF3 = """
##gff-version 3
NC_1|RefSeq|region|1|20000|.|+|.|ID=NC_1:1..20000;Is_circular=true
NC_1|RefSeq|gene|100|399|.|+|.|ID=gene-a
NC_1|RefSeq|CDS|100|399|.|+|0|ID=cds-a;Parent=gene-a
NC_1|RefSeq|gene|500|1000|.|-|.|ID=gene-b
NC_1|RefSeq|CDS|500|700|.|-|0|ID=cds-b;Parent=gene-b
NC_1|RefSeq|CDS|700|1000|.|-|0|ID=cds-b;Parent=gene-b
NC_1|RefSeq|CDS|500|1000|.|-|0|ID=cds-b2;Parent=gene-b
NC_1|RefSeq|pseudogene|2000|2300|.|+|.|ID=gene-c;pseudo=true
NC_1|RefSeq|CDS|2000|2300|.|+|0|ID=cds-c;Parent=gene-c;pseudo=true
NC_1|RefSeq|gene|3000|3300|.|+|.|ID=gene-d;partial=true;start_range=.,3000
NC_1|RefSeq|CDS|3000|3300|.|+|0|ID=cds-d;Parent=gene-d;partial=true;start_range=.,3000
NC_1|RefSeq|gene|4000|4076|.|+|.|ID=gene-t
NC_1|RefSeq|tRNA|4000|4076|.|+|.|ID=rna-t;Parent=gene-t
NC_1|RefSeq|exon|4000|4076|.|+|.|Parent=rna-t
"""


def test_gff3_prokaryotic_gene_cds(tmp_path):
    g = _genes(read_annotation(_write(tmp_path, "p.gff3.gz", PROK_GFF3, gz=True)))
    a = g["gene-a"]
    assert [(t.id, t.exons, t.cds) for t in a.transcripts] == [("cds-a", [], [(100, 399)])]
    b = g["gene-b"]  # two products of one locus: one frameshifted (two lines, one ID), one plain
    assert {t.id: t.cds for t in b.transcripts} == {"cds-b": [(500, 700), (700, 1000)], "cds-b2": [(500, 1000)]}
    assert all(t.exons == [] for t in b.transcripts) and b.multipart
    assert g["gene-c"].pseudo and g["gene-c"].kind == "pseudogene"
    assert g["gene-d"].partial == "10"
    assert g["gene-t"].transcripts[0].biotype == "tRNA" and not g["gene-t"].transcripts[0].cds


def test_cds_only_files(tmp_path):
    # StartLink/PTT style: CDS lines only, no IDs; a stray tab in column 9; an origin-spanning CDS
    text = (
        "NC_2\tNCBI_PTT\tCDS\t190\t255\t.\t+\t0\tid=1;len=66;cog=-; thrL b0001\n"
        "NC_2\tNCBI_PTT\tCDS\t337\t2799\t.\t-\t0\tid=2;len=2463; thrA b0002\tstray column\n"
        "NC_2\tNCBI_PTT\tCDS\t9500\t120\t.\t+\t0\tid=3;len=-9380; wraps the origin\n"
        "NC_2\tNCBI_PTT\tCDS\t3000\t3099\t.\t+\t0\tID=x;Parent=gene9;pseudo=true\n"
        "NC_2\tNCBI_PTT\tCDS\t3099\t3300\t.\t+\t0\tID=x;Parent=gene9;pseudo=true\n"
    )
    p = tmp_path / "ptt.gff"
    p.write_text(text)
    genes = read_annotation(p)["NC_2"]
    assert len(genes) == 4
    by_start = {g.transcripts[0].cds[0][0]: g for g in genes}
    assert by_start[190].transcripts[0].exons == [] and by_start[190].transcripts[0].cds == [(190, 255)]
    assert by_start[337].strand == "-"
    wrap = by_start[1]
    assert wrap.attributes["origin_spanning"] == "true" and wrap.transcripts[0].cds == [(1, 120), (9500, 9500)]
    multi = by_start[3000]  # Parent without a line: implicit gene named after it
    assert multi.id == "gene9" and multi.multipart and multi.pseudo


GTF = """
chr2|ensembl|gene|100|2000|.|+|.|gene_id "G1"; gene_biotype "protein_coding";
chr2|ensembl|transcript|100|2000|.|+|.|gene_id "G1"; transcript_id "T1"; transcript_biotype "protein_coding";
chr2|ensembl|exon|100|300|.|+|.|gene_id "G1"; transcript_id "T1"; exon_number "1";
chr2|ensembl|exon|500|601|.|+|.|gene_id "G1"; transcript_id "T1"; exon_number "2";
chr2|ensembl|exon|1000|2000|.|+|.|gene_id "G1"; transcript_id "T1"; exon_number "3";
chr2|ensembl|CDS|200|300|.|+|0|gene_id "G1"; transcript_id "T1";
chr2|ensembl|CDS|500|600|.|+|1|gene_id "G1"; transcript_id "T1";
chr2|ensembl|start_codon|200|202|.|+|0|gene_id "G1"; transcript_id "T1";
chr2|ensembl|stop_codon|601|601|.|+|0|gene_id "G1"; transcript_id "T1";
chr2|ensembl|stop_codon|1000|1001|.|+|1|gene_id "G1"; transcript_id "T1";
chr2|ensembl|five_prime_utr|100|199|.|+|.|gene_id "G1"; transcript_id "T1";
chr2|ensembl|exon|5000|5600|.|-|.|gene_id "G2"; transcript_id "T2"; gene_biotype "lincRNA"; transcript_biotype "lincRNA";
chr2|ensembl|exon|3000|3100|.|-|.|gene_id "G3"; transcript_id "T3";
chr2|ensembl|exon|3300|3500|.|-|.|gene_id "G3"; transcript_id "T3";
chr2|ensembl|CDS|3050|3100|.|-|0|gene_id "G3"; transcript_id "T3";
chr2|ensembl|CDS|3300|3400|.|-|0|gene_id "G3"; transcript_id "T3";
chr2|ensembl|stop_codon|3047|3049|.|-|0|gene_id "G3"; transcript_id "T3";
chr2|ensembl|CDS|7000|7299|.|+|0|gene_id "G4"; transcript_id "T4";
chr2|ensembl|stop_codon|7300|7302|.|+|0|gene_id "G4"; transcript_id "T4";
"""


def test_gtf_stop_codon_join_and_missing_lines(tmp_path):
    g = _genes(read_annotation(_write(tmp_path, "a.gtf.gz", GTF, gz=True)))
    t1 = g["G1"].transcripts[0]
    # a stop codon split over an intron: both pieces joined to the CDS
    assert t1.cds == [(200, 300), (500, 601), (1000, 1001)]
    assert t1.exons == [(100, 300), (500, 601), (1000, 2000)] and t1.biotype == "mRNA"
    assert g["G2"].transcripts[0].biotype == "lnc_RNA" and g["G2"].strand == "-"
    t3 = g["G3"].transcripts[0]  # minus strand, no gene/transcript lines
    assert t3.cds == [(3047, 3100), (3300, 3400)]
    t4 = g["G4"].transcripts[0]  # CDS only: exons derived, stop included
    assert t4.cds == [(7000, 7302)] and t4.exons == [(7000, 7302)]


def test_gtf_that_includes_the_stop_is_not_extended(tmp_path):
    text = 'c|AUGUSTUS|CDS|100|402|.|+|0|gene_id "g1"; transcript_id "g1.t1";\n' \
           'c|AUGUSTUS|stop_codon|400|402|.|+|0|gene_id "g1"; transcript_id "g1.t1";\n'
    g = _genes(read_annotation(_write(tmp_path, "aug.gtf", text)))
    assert g["g1"].transcripts[0].cds == [(100, 402)]


def test_genbank(tmp_path):
    from Bio.Seq import Seq
    from Bio.SeqFeature import BeforePosition, CompoundLocation, FeatureLocation, SeqFeature
    from Bio.SeqRecord import SeqRecord

    rec = SeqRecord(Seq("A" * 3000), id="NC_9.1", name="NC_9", annotations={"molecule_type": "DNA"})
    rec.features = [
        SeqFeature(FeatureLocation(99, 400, strand=1), type="gene", qualifiers={"locus_tag": ["L1"]}),
        SeqFeature(FeatureLocation(99, 400, strand=1), type="CDS", qualifiers={"locus_tag": ["L1"], "protein_id": ["P1"]}),
        SeqFeature(CompoundLocation([FeatureLocation(999, 1200, strand=-1), FeatureLocation(499, 1000, strand=-1)]),
                   type="CDS", qualifiers={"locus_tag": ["L2"]}),
        SeqFeature(FeatureLocation(1999, 2300, strand=1), type="CDS", qualifiers={"locus_tag": ["L3"], "pseudo": [""]}),
        SeqFeature(FeatureLocation(BeforePosition(0), 300, strand=-1), type="CDS", qualifiers={"locus_tag": ["L4"]}),
        SeqFeature(FeatureLocation(2499, 2575, strand=1), type="tRNA", qualifiers={"locus_tag": ["L5"]}),
    ]
    from Bio import SeqIO

    p = tmp_path / "r.gbk"
    SeqIO.write([rec], p, "genbank")
    g = _genes(read_annotation(p))
    assert g["L1"].seqid == "NC_9.1" and g["L1"].transcripts[0].cds == [(100, 400)]
    assert g["L1"].transcripts[0].exons == [] and g["L1"].transcripts[0].id == "P1"
    assert g["L2"].strand == "-" and g["L2"].transcripts[0].cds == [(500, 1000), (1000, 1200)] and g["L2"].multipart
    assert g["L3"].pseudo
    assert g["L4"].partial == "10"
    assert g["L5"].transcripts[0].biotype == "tRNA"
    # EMBL too
    p2 = tmp_path / "r.embl"
    SeqIO.write([rec], p2, "embl")
    assert set(_genes(read_annotation(p2))) == set(g)


def test_prodigal_genes_and_tsv(tmp_path):
    genes = (
        'DEFINITION  seqnum=1;seqlen=5000;seqhdr="NC_5 some organism";version=Prodigal.v3\n'
        "FEATURES             Location/Qualifiers\n"
        "     CDS             <1..150\n"
        '                     /note="ID=1_1;partial=10;start_type=Edge"\n'
        "     CDS             complement(300..599)\n"
        '                     /note="ID=1_2;partial=00;start_type=ATG"\n'
    )
    p = tmp_path / "x.genes"
    p.write_text(genes)
    gs = read_annotation(p)["NC_5"]
    assert [(g.strand, g.transcripts[0].cds, g.partial) for g in gs] == [("+", [(1, 150)], "10"), ("-", [(300, 599)], "00")]
    tsv = "seqid\tleft\tright\tstrand\tprodigal_attributes\nNC_5\t<1\t150\t+\tID=1_1;partial=10\nNC_5\t300\t>599\t-\tID=1_2\n"
    p = tmp_path / "x.tsv"
    p.write_text(tsv)
    gs = read_annotation(p)["NC_5"]
    assert [(g.strand, g.transcripts[0].cds, g.partial) for g in gs] == [("+", [(1, 150)], "10"), ("-", [(300, 599)], "01")]
    tsv = "accession\tstrand\tstart\tstop\tgene_id\nNC_5\t-\t900\t601\tabc\n"
    p = tmp_path / "v.tsv"
    p.write_text(tsv)
    (g,) = read_annotation(p)["NC_5"]
    assert (g.id, g.strand, g.transcripts[0].cds) == ("abc", "-", [(601, 900)])


@pytest.mark.parametrize(
    "text, where",
    [
        ("##gff-version 3\nc\tt\tgene\t1\n", ":2:"),
        ("##gff-version 3\nc\tt\tCDS\t1\tx\t.\t+\t0\tID=a\n", ":2:"),
        ("##gff-version 3\nc\tt\tgene\t10\t5\t.\t+\t.\tID=a\n", ":2:"),
        # start > end on a CDS: reversed, not origin-spanning, once the file declares GFF3
        ("##gff-version 3\nc\tt\tCDS\t500\t100\t.\t+\t0\tID=a\n", ":2:"),
        ("##gff-version 3\nc\tt\texon\t2799\t337\t.\t-\t.\tParent=t\n", ":2:"),
        ("##gff-version 3\n\nc\tt\tCDS\t1\t9\t.\tX\t0\tID=a\n", ":3:"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, where):
    p = tmp_path / "bad.gff3"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        read_annotation(p)
    assert "bad.gff3" in str(e.value) and where in str(e.value)


def test_gff3_escapes_are_decoded(tmp_path):
    """Column 1 and attribute values are %-decoded; Parent is split at its plain commas only."""
    p = _write(tmp_path, "esc.gff3", """
        ##gff-version 3
        ##sequence-region chr%3B1 1 1000
        chr%3B1|t|gene|100|400|.|+|.|ID=g%3B1;Name=a%3Bb%2Cc%3Dd
        chr%3B1|t|mRNA|100|400|.|+|.|ID=t%2C1;Parent=g%3B1
        chr%3B1|t|mRNA|100|400|.|+|.|ID=t2;Parent=g%3B1
        chr%3B1|t|exon|100|400|.|+|.|Parent=t%2C1,t2
        chr%3B1|t|CDS|100|399|.|+|0|Parent=t%2C1,t2
    """)
    ann = read_annotation(p)
    assert list(ann) == ["chr;1"]
    (g,) = ann["chr;1"]
    assert (g.seqid, g.id, g.attributes["Name"]) == ("chr;1", "g;1", "a;b,c=d")
    assert sorted((t.id, t.exons, t.cds) for t in g.transcripts) == [
        ("t,1", [(100, 400)], [(100, 399)]),
        ("t2", [(100, 400)], [(100, 399)]),
    ]


def test_unreadable_inputs(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_annotation(tmp_path / "missing.gff3")
    (tmp_path / "empty.gff3").write_text("")
    with pytest.raises(InputError, match="empty"):
        read_annotation(tmp_path / "empty.gff3")
    (tmp_path / "x.fa").write_text(">chr1\nACGT\n")
    with pytest.raises(InputError, match="not a GFF3"):
        read_annotation(tmp_path / "x.fa")
    (tmp_path / "trunc.gff3.gz").write_bytes(gzip.compress(EUK_GFF3.replace("|", "\t").encode())[:60])
    with pytest.raises(InputError):
        read_annotation(tmp_path / "trunc.gff3.gz")


def test_stdin(monkeypatch, tmp_path):
    import io
    import sys

    data = gzip.compress(textwrap.dedent(PROK_GFF3).lstrip("\n").replace("|", "\t").encode())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert "gene-a" in _genes(read_annotation("-"))
