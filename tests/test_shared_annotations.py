"""Every annotation file in ../shared/data reads without error, with the counts SOURCES.md gives.

Counts are checked where SOURCES.md states them; where the reader's count differs for a reason
found in the data, the comment says why (the SOURCES.md figure is quoted).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from genannot.io.annotation import read_annotation as _read_annotation


@functools.lru_cache(maxsize=8)
def read_annotation(path: Path):
    """Each file is read once per session even when several tests look at it."""
    return _read_annotation(path)

# ----------------------------------------------------------------------------- prokaryotic

# file (relative to prok/) -> CDS features as SOURCES.md counts them (one per CDS line in GFF,
# one per CDS feature in GenBank; an origin-spanning line is one feature)
PROK_CDS = {
    "genomes/bsubtilis_best7003/bsubtilis_best7003.gff3.gz": 4011,
    "genomes/ccrescentus_cb15/ccrescentus_cb15.gff3.gz": 3737,
    "genomes/ctrachomatis_d_uw3/ctrachomatis_d_uw3.gbk.gz": 945,
    "genomes/ecoli_k12_mg1655/ecoli_k12_mg1655.gff3.gz": 4337,
    "genomes/ecoli_k12_mg1655/ecoli_k12_mg1655.startlink_ncbi_cds.gff.gz": 4140,
    "genomes/hsalinarum_r1/hsalinarum_r1.refseq_latest_cds.gff.gz": 2744,
    "genomes/hsalinarum_r1/hsalinarum_r1.startlink_ncbi_cds.gff.gz": 2749,
    "genomes/mgenitalium_g37/mgenitalium_g37.gff3.gz": 476,
    "genomes/mtuberculosis_h37rv/mtuberculosis_h37rv.gbk.gz": 3906,
    "genomes/mtuberculosis_h37rv/mtuberculosis_h37rv.startlink_ncbi_cds.gff.gz": 3906,
    "genomes/npharaonis_dsm2160/npharaonis_dsm2160.refseq_latest_cds.gff.gz": 2768,
    "genomes/npharaonis_dsm2160/npharaonis_dsm2160.startlink_ncbi_cds.gff.gz": 2820,
    "genomes/pfluorescens/pfluorescens.gff3.gz": 5178,
    "genomes/pfuriosus_dsm3638/pfuriosus_dsm3638.gff3.gz": 1986,
    "genomes/rdenitrificans_och114/rdenitrificans_och114.startlink_ncbi_cds.gff.gz": 4057,
    "genomes/saureus/saureus.gff3.gz": 2500,
    "genomes/synechocystis_pcc6803/synechocystis_pcc6803.startlink_ncbi_cds.gff.gz": 3575,
    "predictions/genemark_hmm/ecoli_k12_mg1655.genemark_hmm.gff.gz": 4308,
    "predictions/genemark_hmm/hsalinarum_r1.genemark_hmm.gff.gz": 2762,
    "predictions/genemark_hmm/mtuberculosis_h37rv.genemark_hmm.gff.gz": 4029,
    "predictions/genemark_hmm/npharaonis_dsm2160.genemark_hmm.gff.gz": 2826,
    "predictions/genemark_hmm/rdenitrificans_och114.genemark_hmm.gff.gz": 4104,
    "predictions/genemarks2/bsubtilis_best7003.gms2.gff.gz": 3980,
    "predictions/genemarks2/ccrescentus_cb15.gms2.gff.gz": 3715,
    "predictions/genemarks2/mgenitalium_g37.gms2.gff.gz": 992,
    "predictions/genemarks2/pfluorescens.gms2.gff.gz": 5432,
    "predictions/genemarks2/saureus.gms2.gff.gz": 2546,
    "predictions/prodigal_v2.6.2/bsubtilis_best7003.prodigal.gff.gz": 4016,
    "predictions/prodigal_v2.6.2/ccrescentus_cb15.prodigal.gff.gz": 3704,
    "predictions/prodigal_v2.6.2/mgenitalium_g37.prodigal.gff.gz": 995,
    # its first line is '1423481##gff-version  3' (a number glued to the directive): skipped
    "predictions/prodigal_v2.6.2/pfluorescens.prodigal.gff.gz": 5421,
    "predictions/prodigal_v2.6.2/saureus.prodigal.gff.gz": 2534,
    "predictions/prodigal_v3.0.0rc1/ecoli_k12_mg1655.prodigal.genes.gz": 4347,
    "predictions/prodigal_v3.0.0rc1/ecoli_k12_mg1655.prodigal.tsv.gz": 4347,
    "predictions/prodigal_v3.0.0rc1/hsalinarum_r1.prodigal.genes.gz": 2852,
    "predictions/prodigal_v3.0.0rc1/hsalinarum_r1.prodigal.tsv.gz": 2852,
    "predictions/prodigal_v3.0.0rc1/mtuberculosis_h37rv.prodigal.genes.gz": 4204,
    "predictions/prodigal_v3.0.0rc1/mtuberculosis_h37rv.prodigal.tsv.gz": 4204,
    "predictions/prodigal_v3.0.0rc1/npharaonis_dsm2160.prodigal.genes.gz": 2873,
    "predictions/prodigal_v3.0.0rc1/npharaonis_dsm2160.prodigal.tsv.gz": 2873,
    "predictions/prodigal_v3.0.0rc1/rdenitrificans_och114.prodigal.genes.gz": 4124,
    "predictions/prodigal_v3.0.0rc1/rdenitrificans_och114.prodigal.tsv.gz": 4124,
    "predictions/pyrodigal_tests/SRR492066.meta.gff.gz": 70,
    "verified_tis/raw/ecoli_k12_mg1655.verified.gff.gz": 769,
    "verified_tis/raw/hsalinarum_r1.verified.gff.gz": 530,
    "verified_tis/raw/mtuberculosis_h37rv.verified.gff.gz": 701,
    "verified_tis/raw/npharaonis_dsm2160.verified.gff.gz": 315,
    "verified_tis/raw/rdenitrificans_och114.verified.gff.gz": 526,
    "verified_tis/raw/synechocystis_pcc6803.verified.gff.gz": 96,
    # SOURCES.md's prose says 3,451 rows; its own per-genome table sums to 2,937, as does the file
    "verified_tis/verified_tis.tsv.gz": 769 + 530 + 701 + 315 + 526 + 96,
}


def _cds_features(path: Path) -> int:
    ann = read_annotation(path)
    gbk = ".gbk" in path.name
    n = 0
    for genes in ann.values():
        for g in genes:
            for t in g.transcripts:
                if not t.cds:
                    continue
                if gbk or g.attributes.get("origin_spanning") == "true":
                    n += 1
                else:
                    n += len(t.cds)
    return n


def test_every_prok_annotation_is_listed(shared_data):
    root = shared_data / "prok"
    found = {
        str(p.relative_to(root))
        for p in root.rglob("*.gz")
        if not p.name.endswith((".fna.gz", ".faa.gz", ".fa.gz"))
    }
    assert found == set(PROK_CDS)


@pytest.mark.parametrize("rel", sorted(PROK_CDS))
def test_prok_annotation_counts(shared_data, rel):
    assert _cds_features(shared_data / "prok" / rel) == PROK_CDS[rel]


def test_prok_flags(shared_data):
    root = shared_data / "prok" / "genomes"
    ecoli = [g for gs in read_annotation(root / "ecoli_k12_mg1655/ecoli_k12_mg1655.gff3.gz").values() for g in gs]
    coding = [g for g in ecoli if any(t.cds for t in g.transcripts)]
    assert all(t.exons == [] for g in coding for t in g.transcripts if t.cds)  # gene -> CDS, no mRNA
    assert sum(g.pseudo for g in coding) == 17 and sum(g.multipart for g in coding) == 20
    syn = read_annotation(root / "synechocystis_pcc6803/synechocystis_pcc6803.startlink_ncbi_cds.gff.gz")
    assert sum(g.attributes.get("origin_spanning") == "true" for gs in syn.values() for g in gs) == 5
    pfu = [g for gs in read_annotation(root / "pfuriosus_dsm3638/pfuriosus_dsm3638.gff3.gz").values() for g in gs]
    assert sum(g.multipart for g in pfu) == 4  # programmed frameshifts (mRNA + exon lines present)


# ----------------------------------------------------------------------------- eukaryotic

# file (relative to euk/) -> (genes with a gene line, transcripts with a line, coding ones, lnc_RNA)
EUK = {
    "human/GRCh38_chr9_1-1000000.Ensembl91.gtf.gz": (23, 105, 41, 35),
    "yeast/Scer_S288C_Yue2017.all_feature.gff.gz": (5570 + 273, 5570 + 273, 5570, 0),  # + tRNA lines
    # 362 gene + 7 pseudogene + 11 transposable_element_gene; 459 mRNA (+4 mRNAs whose line the
    # slice lost, read from their CDS/exon lines)
    "athaliana/Athaliana_TAIR10_1pct.gff3.gz": (362 + 7 + 11, None, 459, 0),
    # 257 WormBase genes + 3 WormBase_transposon genes; 300 WormBase mRNA
    "celegans/Celegans_1pct.gff3.gz": (257 + 3, None, 300, 0),
    # SOURCES: 108 gene lines, but the slice lost the transcript lines of the non-coding genes:
    # 101 genes keep parts (orphan transcripts re-attached to the gene line that contains them)
    "dmelanogaster/Dmel_1pct.gff3.gz": (101, 236, 236, 0),
    "human/GRCh37_chr6MHC_chr2.EnsemblComparaTestDB.gff3.gz": (102, 535, 291, None),
    "human/GRCh38_chr6MHC_chrXPAR.EnsemblDatacheckTestDB.gff3.gz": (89, 216, 94, None),
    "human/NCBI33_chr20_30249935-31254640.EnsemblCoreTestDB.gff3.gz": (19, 24, 24, 0),
    # SOURCES: 28 genes (18 coding); in the file processed_pseudogene is a transcript-level type
    # (Parent=gene:...), `RNA` is a gene-level one, and 2 NMD_transcript_variant have CDS
    "human/GRCh38_chr21_2regions.Ensembl84.gff3.gz": (23, 55, 20, None),
    "human/GRCh37_chr6_995529-1624040.EnsemblRestTestDB.gff3.gz": (8, 8, 4, None),
    "mouse/GRCm38_chr17_34664016-35462852.EnsemblComparaTestDB.gff3.gz": (69, 281, 153, None),
    "chimp/CHIMP2.1.4_chr6_5blocks.EnsemblComparaTestDB.gff3.gz": (24, 24, 19, 0),
    "cow/UMD3.1_chr23_27189518-27616684.EnsemblComparaTestDB2012.gff3.gz": (47, None, 44, 0),
    "dog/CanFam3.1_chr12_911923-1435354.EnsemblComparaTestDB2012.gff3.gz": (46, None, 48, 0),
    "pig/Sscrofa10.2_chr7_3blocks.EnsemblComparaTestDB2012.gff3.gz": (28, None, 27, 0),
    "horse/EquCab2_chr20_31194743-31721903.EnsemblComparaTestDB2012.gff3.gz": (47, None, 45, 0),
    "rat/RGSC3.4_chr20_2blocks.EnsemblComparaTestDB2012.gff3.gz": (39, None, 51, 0),
    "rabbit/oryCun2_chr12_chr13_3blocks.EnsemblComparaTestDB2012.gff3.gz": (57, None, 63, 0),
    "elephant/loxAfr3_8scaffold_blocks.EnsemblComparaTestDB2012.gff3.gz": (59, None, 68, 0),
    "gorilla/gorGor3.1_chr6_chr2a_2blocks.EnsemblComparaTestDB2012.gff3.gz": (60, None, 72, 0),
    "orangutan/PPYG2_chr6_31989936-32543278.EnsemblComparaTestDB2012.gff3.gz": (59, None, 56, 0),
    "macaque/MMUL_1_chr4_31137148-31710812_3blocks.EnsemblComparaTestDB2012.gff3.gz": (53, None, 104, 0),
    "marmoset/C_jacchus3.2.1_chr4_32009451-32385775.EnsemblComparaTestDB2012.gff3.gz": (37, None, 54, 0),
    "cat/CAT_10genescaffold_blocks.EnsemblComparaTestDB2012.gff3.gz": (15, None, 13, 0),
}
EUK_SUFFIXES = (".gff3.gz", ".gtf.gz", ".gff.gz")


def test_every_euk_annotation_is_listed(shared_data):
    root = shared_data / "euk"
    found = {str(p.relative_to(root)) for p in root.glob("*/*") if p.name.endswith(EUK_SUFFIXES)}
    assert found == set(EUK)


@pytest.mark.parametrize("rel", sorted(EUK))
def test_euk_annotation_counts(shared_data, rel):
    ann = read_annotation(shared_data / "euk" / rel)
    genes = [g for gs in ann.values() for g in gs]
    txs = [t for g in genes for t in g.transcripts]
    n_genes, n_tx, n_coding, n_lnc = EUK[rel]
    assert sum("source" in g.attributes for g in genes) == n_genes
    if n_tx is not None:
        assert sum("source" in t.attributes for t in txs) == n_tx
    assert sum(bool(t.cds) and "source" in t.attributes for t in txs) == n_coding
    if n_lnc is not None:
        assert sum(t.biotype == "lnc_RNA" for t in txs) == n_lnc
    for g in genes:  # model sanity: sorted, non-overlapping exons; CDS inside exons
        for t in g.transcripts:
            assert t.exons == sorted(t.exons)
            assert all(a[1] < b[0] for a, b in zip(t.exons, t.exons[1:]))
            for s, e in t.cds:
                assert any(a <= s and e <= b for a, b in t.exons), (rel, t.id)


def test_evidence_lines_are_not_gene_models(shared_data):
    tair = read_annotation(shared_data / "euk/athaliana/Athaliana_TAIR10_1pct.gff3.gz")
    sources = {t.attributes.get("source") for gs in tair.values() for g in gs for t in g.transcripts}
    assert not any(s and s.startswith("RNASeq") for s in sources)
