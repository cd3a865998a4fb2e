"""Reference-annotation reader: GFF3, GTF, GenBank/EMBL and coordinate tables -> gene models.

`read_annotation(path)` returns ``{seqid: [Gene, ...]}`` (genannot.features dataclasses), genes
sorted by start. The format is detected from the content, gzip/bgzf from the magic bytes, and
``-`` reads standard input.

Formats and flavours
- **GFF3** (RefSeq, Ensembl, TAIR, WormBase, FlyBase, GenBank->GFF3, CDS-only PTT/StartLink files,
  Prodigal/GeneMark GFF and GFF2 with ``key=value`` attributes). The hierarchy is built from the
  Parent links, not from type names: a feature holding exon/CDS/UTR lines is a transcript, its
  root ancestor is the gene. Leaves whose Parent is missing (FlyBase non-coding transcripts,
  CDS-only RefSeq files) get an implicit transcript named after that Parent; leaves without a
  Parent are grouped by ID (one gene per ID, or per line when there is no ID). Evidence lines are
  ignored: ``intron`` features (introns are derived from exons), sources named ``RNASeq*``,
  ``transcript_region`` and the like, ``protein``/``polypeptide`` parents (TAIR). Column 1 and
  column-9 values are %-decoded (Parent split at its plain commas first). start > end is an
  error, except on CDS/exon lines of files without a ``##gff-version 3`` line (NCBI PTT-derived):
  there it is a feature across the origin of a circular replicon.
- **GTF** (Ensembl, GENCODE, UCSC refGene, GTFs without gene/transcript lines): grouped by
  (seqid, strand, transcript_id). GTF CDS exclude the stop codon; the ``stop_codon`` features are
  joined to the CDS so that, as everywhere in genannot, CDS include the stop.
- **GenBank / EMBL** via Biopython: CDS with joins, ``/pseudo`` and ``< >`` partial ends flagged;
  mRNA features (eukaryotic records) become transcripts, their CDS attached by locus tag / gene.
- **Prodigal ``.genes``** (GenBank-style feature table without LOCUS) and coordinate **TSV** tables
  with a header naming ``seqid``/``accession``, ``strand`` and ``left``/``right`` or
  ``start``/``stop`` (the verified-start table, the converted Prodigal tables).

Prokaryotic versus eukaryotic models
- A CDS directly under a top-level gene (RefSeq bacteria: gene -> CDS), or without any parent, is
  a prokaryotic coding region: a Transcript with ``cds`` and **no exons**. Several pieces (one ID
  on several lines, a GenBank join) set ``Gene.multipart``.
- A transcript-level feature (mRNA, transcript, ...) with CDS but no exon lines gets exons
  derived from its CDS + UTR pieces (adjacent pieces merged). The same holds for every GTF
  transcript.

Biotype of a transcript: ``mRNA`` when it has CDS; ``lnc_RNA`` for lnc_RNA/lncRNA/lincRNA types or
lncRNA-class biotype attributes (transcript_biotype/biotype, else the gene's gene_biotype/biotype:
lincRNA, antisense, sense_intronic, ...); otherwise the SO type or the biotype attribute
(tRNA, rRNA, ncRNA, miRNA, ...).
"""

from __future__ import annotations

import gzip
import io
import logging
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Iterator
from urllib.parse import unquote

from genannot.errors import InputError
from genannot.features import Gene, Interval, Transcript

log = logging.getLogger(__name__)

Annotation = dict[str, list[Gene]]

# Leaf features: the parts of a transcript.
EXON_TYPES = {"exon", "pseudogenic_exon", "noncoding_exon", "coding_exon"}
CDS_TYPES = {"CDS"}
UTR_TYPES = {
    "five_prime_UTR", "three_prime_UTR", "UTR", "five_prime_utr", "three_prime_utr",
    "5UTR", "3UTR", "UTR5", "UTR3", "5'UTR", "3'UTR",
}
CODON_TYPES = {"start_codon", "stop_codon"}
IGNORED_LEAF_TYPES = {
    "intron", "Selenocysteine", "transcription_end_site", "polyA_site", "TSS",
    "splice_site", "five_prime_cis_splice_site", "three_prime_cis_splice_site",
}
LEAF_TYPES = EXON_TYPES | CDS_TYPES | UTR_TYPES | CODON_TYPES | IGNORED_LEAF_TYPES
_WRAPPABLE = CDS_TYPES | EXON_TYPES
# Parents that are not part of the gene model (TAIR CDS have Parent=mRNA,protein).
NON_MODEL_PARENT_TYPES = {"protein", "polypeptide", "mature_protein_region", "signal_peptide", "propeptide"}
# Childless features that are still gene models (one exon spanning the feature).
RNA_TYPES = {
    "tRNA", "rRNA", "ncRNA", "snRNA", "snoRNA", "miRNA", "misc_RNA", "lnc_RNA", "lncRNA", "lincRNA",
    "tmRNA", "RNase_P_RNA", "RNase_MRP_RNA", "SRP_RNA", "antisense_RNA", "piRNA", "scRNA", "pre_miRNA",
    "primary_transcript", "transcript", "mRNA", "pseudogenic_transcript", "pseudogenic_tRNA",
    "nc_primary_transcript", "circular_ncRNA", "scaRNA", "Y_RNA", "vault_RNA", "telomerase_RNA",
    "guide_RNA", "ribozyme", "processed_transcript",
}
GENE_TYPES = {
    "gene", "pseudogene", "ncRNA_gene", "lincRNA_gene", "processed_pseudogene", "rRNA_gene",
    "transposable_element_gene", "protein_coding_gene", "snRNA_gene", "snoRNA_gene", "miRNA_gene",
    "tRNA_gene", "RNA", "unprocessed_pseudogene", "transcribed_pseudogene",
}
LNC_TYPES = {"lnc_RNA", "lncRNA", "lincRNA", "antisense_RNA", "lincRNA_gene"}
# lncRNA-class biotypes (Ensembl's lncRNA group, GENCODE names).
LNC_BIOTYPES = {
    "lnc_RNA", "lncRNA", "lincRNA", "antisense", "antisense_RNA", "sense_intronic", "sense_overlapping",
    "3prime_overlapping_ncRNA", "3prime_overlapping_ncrna", "bidirectional_promoter_lncRNA",
    "bidirectional_promoter_lncrna", "macro_lncRNA", "non_coding", "known_ncrna",
}
# At gene level, Ensembl's `processed_transcript` biotype is a lncRNA class too.
LNC_GENE_BIOTYPES = LNC_BIOTYPES | {"processed_transcript"}
EVIDENCE_SOURCE = re.compile(r"^(RNASeq|RNA-?seq|rnaseq|EST|cDNA_match|protein_match|blastx|blastn)", re.I)

_GTF_ATTR = re.compile(r'\s*([A-Za-z_][\w.]*)\s+(?:"([^"]*)"|([^;\s]+))\s*;?')
_GTF_SNIFF = re.compile(r'^\s*[A-Za-z_][\w.]*\s+("[^"]*"|[^;=\s]+)\s*(;|$)')


# ----------------------------------------------------------------------------- opening


def _open_text(path: str | Path) -> tuple[IO[str], str]:
    """Open a file or '-' as text, gunzipping when the content starts with the gzip magic."""
    name = str(path)
    if name == "-":
        raw = sys.stdin.buffer
        name = "<stdin>"
    else:
        try:
            raw = open(name, "rb")
        except FileNotFoundError:
            raise InputError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{name}: is a directory, not an annotation file") from None
        except PermissionError:
            raise InputError(f"{name}: permission denied") from None
    buf = io.BufferedReader(raw) if not hasattr(raw, "peek") else raw
    head = buf.peek(2)[:2]
    stream: IO[bytes] = gzip.GzipFile(fileobj=buf) if head == b"\x1f\x8b" else buf
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline=None), name


def _sniff(lines: list[str]) -> str:
    """Format from the first meaningful lines: genbank, embl, prodigal_genes, tsv, gtf or gff."""
    for line in lines:
        s = line.rstrip("\n")
        if not s.strip():
            continue
        if s.startswith("##gff-version"):
            return "gff"
        if s.startswith("##format: gtf"):  # GENCODE's header, and genannot's (it may have no feature line)
            return "gtf"
        if s.startswith("LOCUS "):
            return "genbank"
        if s.startswith("ID   "):
            return "embl"
        if s.startswith("DEFINITION  seqnum=") or s.startswith("FEATURES   "):
            return "prodigal_genes"
        if s.startswith("#"):
            continue
        if "\t" not in s and len(lines) > 1 and line is not lines[-1]:
            continue  # junk before the first feature line (e.g. a number glued to '##gff-version')
        cols = s.split("\t")
        low = [c.strip().lower() for c in cols]
        if "strand" in low and ({"seqid", "accession", "seqname", "chrom", "contig"} & set(low)):
            return "tsv"
        if len(cols) >= 9:
            attr = cols[8]
            if _GTF_SNIFF.match(attr) and "=" not in attr.split(";")[0]:
                return "gtf"
            return "gff"
        if len(cols) >= 8:
            return "gff"
        return "unknown"
    return "empty"


def read_annotation(path: str | Path, *, keep_evidence: bool = False) -> Annotation:
    """Read an annotation file (format detected from the content) into {seqid: [Gene]}.

    Raises InputError for a missing/unreadable file, an unknown format, or a malformed line (the
    message names the file and the line number).
    """
    fh, name = _open_text(path)
    try:
        head: list[str] = []
        try:
            for line in fh:
                head.append(line)
                st = line.strip()
                if len(head) >= 200 or st.startswith("##gff-version") or (
                    st and not st.startswith("#") and ("\t" in st or re.match(r"(LOCUS|ID|DEFINITION|FEATURES) ", st))
                ):
                    break
        except (OSError, EOFError) as e:
            raise InputError(f"{name}: cannot read: {e}") from None
        fmt = _sniff(head)

        def lines() -> Iterator[str]:
            yield from head
            try:
                yield from fh
            except (OSError, EOFError) as e:
                raise InputError(f"{name}: cannot read (truncated or corrupt compressed file?): {e}") from None

        if fmt == "empty":
            raise InputError(f"{name}: empty annotation file")
        if fmt == "gff":
            genes = _read_gff3(lines(), name, keep_evidence)
        elif fmt == "gtf":
            genes = _read_gtf(lines(), name)
        elif fmt in ("genbank", "embl"):
            genes = _read_genbank(lines(), name, fmt)
        elif fmt == "prodigal_genes":
            genes = _read_prodigal_genes(lines(), name)
        elif fmt == "tsv":
            genes = _read_tsv(lines(), name)
        else:
            raise InputError(f"{name}: not a GFF3, GTF, GenBank or EMBL file (first line: {head[0][:60].strip()!r})")
    finally:
        fh.close()
    return _finish(genes)


def _finish(genes: Iterable[Gene]) -> Annotation:
    out: Annotation = defaultdict(list)
    for g in genes:
        g.transcripts = [t for t in g.transcripts if t.exons or t.cds]
        if not g.transcripts:
            continue
        out[g.seqid].append(g)
    for seqid in out:
        out[seqid].sort(key=lambda g: (g.start, g.end, g.strand, g.id))
    return dict(out)


# ----------------------------------------------------------------------------- helpers


def _merge_touching(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and merge overlapping or adjacent intervals."""
    out: list[list[int]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _join_stop(cds: list[Interval], stops: list[Interval]) -> list[Interval]:
    """Add GTF stop_codon pieces to CDS pieces (extend an adjacent piece, or add a new one)."""
    pieces = sorted(set(cds))
    for s, e in sorted(set(stops)):
        if any(a <= s and e <= b for a, b in pieces):
            continue  # already inside the CDS (GTFs that include the stop)
        for i, (a, b) in enumerate(pieces):
            if s <= b + 1 and e >= a - 1:
                pieces[i] = (min(a, s), max(b, e))
                break
        else:
            pieces.append((s, e))
    return sorted(set(pieces))


def _covered(parts: list[Interval], exons: list[Interval]) -> bool:
    return all(any(a <= s and e <= b for a, b in exons) for s, e in parts)


def _frameshifted(cds: list[Interval]) -> bool:
    """CDS pieces that overlap or nearly touch are a frameshift/multi-part CDS, not an intron."""
    return any(b[0] - a[1] - 1 < 20 for a, b in zip(cds, cds[1:]))


def _is_true(v: str | None) -> bool:
    return v is not None and v.strip().lower() in ("true", "1", "yes", "t")


def _partial_code(attrs: dict[str, str], strand: str) -> str:
    """Two-character Prodigal-style partial flag (left, right) from GFF attributes."""
    p = attrs.get("partial")
    if p is not None and re.fullmatch(r"[01]{2}", p.strip()):
        return p.strip()
    left = "start_range" in attrs
    right = "end_range" in attrs
    if not (left or right) and _is_true(p):
        left = right = True
    return f"{int(left)}{int(right)}"


def _or_partial(a: str, b: str) -> str:
    return "".join("1" if "1" in (x, y) else "0" for x, y in zip(a, b))


def _biotype(ttype: str, has_cds: bool, tattrs: dict[str, str], gattrs: dict[str, str]) -> str:
    if has_cds:
        return "mRNA"
    if ttype in LNC_TYPES:
        return "lnc_RNA"
    tb = tattrs.get("transcript_biotype") or tattrs.get("transcript_type") or tattrs.get("biotype")
    if tb in LNC_BIOTYPES:
        return "lnc_RNA"
    gb = gattrs.get("gene_biotype") or gattrs.get("gene_type") or gattrs.get("biotype")
    if gb in LNC_GENE_BIOTYPES:
        return "lnc_RNA"
    if ttype == "mRNA":
        return "mRNA"
    if ttype in ("transcript", "", "RNA", "primary_transcript") and tb:
        return tb
    return ttype or tb or "transcript"


def _is_pseudo_attrs(ftype: str, attrs: dict[str, str]) -> bool:
    if "pseudo" in ftype.lower():
        return True
    if _is_true(attrs.get("pseudo")) or "pseudogene" in attrs:
        return True
    for k in ("gene_biotype", "biotype", "gene_type", "transcript_biotype", "transcript_type"):
        if "pseudogene" in attrs.get(k, ""):
            return True
    return False


def _gene_kind(gtype: str, pseudo: bool, coding: bool) -> str:
    if pseudo:
        return "pseudogene"
    if coding:
        return "gene"
    if gtype == "gene":
        return "gene"
    return "ncRNA_gene"


# ----------------------------------------------------------------------------- GFF3


@dataclass
class _Feat:
    type: str
    seqid: str
    strand: str
    start: int
    end: int
    source: str
    attrs: dict[str, str]
    parents: list[str]
    line_no: int


@dataclass
class _Tx:
    id: str
    seqid: str
    strand: str
    type: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    exons: list[Interval] = field(default_factory=list)
    cds: list[Interval] = field(default_factory=list)
    utr: list[Interval] = field(default_factory=list)
    stops: list[Interval] = field(default_factory=list)
    cds_by_id: dict[str, list[Interval]] = field(default_factory=dict)
    coparents: set[str] | None = None  # Parents named together with this one on every leaf
    wrapped: bool = False  # crosses the origin of a circular replicon
    prok: bool = False  # coding region directly under a gene or parentless: no exons derived
    gene_id: str | None = None
    pseudo: bool = False
    partial: str = "00"
    line_no: int = 0


def _unescape(text: str) -> str:
    """Decode GFF3 %XX escapes (a '%' not followed by two hex digits is kept as it is)."""
    return unquote(text) if "%" in text else text


def _parse_gff3_attrs(col9: str) -> tuple[dict[str, str], list[str]]:
    """Column 9 as {key: decoded value} and the Parent IDs, split at the commas before decoding:
    an escaped comma (%2C) belongs to the ID, a plain one separates IDs."""
    attrs: dict[str, str] = {}
    parents: list[str] = []
    if col9 in ("", "."):
        return attrs, parents
    for item in col9.split(";"):
        if "=" not in item:
            continue
        k, _, v = item.partition("=")
        k = k.strip()
        if not k or " " in k:
            continue
        v = v.strip()
        attrs[k] = _unescape(v)
        if k == "Parent":
            parents = [_unescape(p) for p in v.split(",") if p]
    return attrs, parents


def _split_line(line: str, name: str, line_no: int) -> list[str] | None:
    """Split a feature line into 9 columns; None for comments/blank; InputError if malformed."""
    s = line.rstrip("\r\n")
    if not s or s.startswith("#"):
        return None
    cols = s.split("\t")
    if len(cols) == 8:
        cols.append("")
    elif len(cols) > 9 and cols[3].isdigit() and cols[4].isdigit():
        cols = cols[:8] + ["\t".join(cols[8:])]  # a stray tab inside column 9 (NCBI PTT-derived files)
    if len(cols) != 9:
        raise InputError(f"{name}:{line_no}: expected 9 tab-separated columns, found {len(cols)}")
    return cols


def _coords(cols: list[str], name: str, line_no: int) -> tuple[int, int]:
    try:
        start, end = int(cols[3]), int(cols[4])
    except ValueError:
        raise InputError(f"{name}:{line_no}: start/end must be integers, got {cols[3]!r} {cols[4]!r}") from None
    if start < 1 or end < start:
        raise InputError(f"{name}:{line_no}: invalid coordinates {start}-{end} (need 1 <= start <= end)")
    return start, end


def _read_gff3(lines: Iterable[str], name: str, keep_evidence: bool = False) -> list[Gene]:
    feats: dict[str, _Feat] = {}
    leaves: list[tuple[_Feat, str | None]] = []  # (feature, its ID)
    childless: list[_Feat] = []
    skipped_strand = 0
    seen_feature = False
    declared_gff3 = False  # '##gff-version 3': its start <= end rule holds
    seq_len: dict[str, int] = {}
    for line_no, line in enumerate(lines, 1):
        if line.startswith("##FASTA") or line.startswith(">"):
            break
        if line.startswith("##gff-version"):
            declared_gff3 = line[len("##gff-version"):].strip().startswith("3")
            continue
        if line.startswith("##sequence-region"):
            parts = line.split()
            if len(parts) >= 4 and parts[3].isdigit():
                seq_len[_unescape(parts[1])] = int(parts[3])
            continue
        if not seen_feature and "\t" not in line and line.strip() and not line.startswith("#"):
            log.warning("%s:%d: ignoring a line without tabs before the first feature", name, line_no)
            continue
        cols = _split_line(line, name, line_no)
        if cols is None:
            continue
        seen_feature = True
        seqid, source, ftype, _, _, _, strand, _, col9 = cols
        seqid = _unescape(seqid)  # GFF3 escapes column 1 (our writer does: 'chr;1' -> 'chr%3B1')
        wrapped = False
        if (
            not declared_gff3 and ftype in _WRAPPABLE
            and cols[3].isdigit() and cols[4].isdigit() and 1 <= int(cols[4]) < int(cols[3])
        ):
            # end < start: a feature across the origin of a circular replicon, as NCBI PTT-derived
            # files (no '##gff-version 3' line) write it; in GFF3 it is a reversed, malformed
            # feature (GFF3 writes an origin-crossing end past the replicon's length)
            start, end, wrapped = int(cols[3]), int(cols[4]), True
        else:
            start, end = _coords(cols, name, line_no)
        if strand not in ("+", "-", ".", "?"):
            raise InputError(f"{name}:{line_no}: strand must be +, -, . or ?, got {strand!r}")
        if not keep_evidence and EVIDENCE_SOURCE.match(source):
            continue
        attrs, parents = _parse_gff3_attrs(col9)
        f = _Feat(ftype, seqid, strand, start, end, source, attrs, parents, line_no)
        if wrapped:
            f.attrs["origin_spanning"] = "true"
        if ftype in LEAF_TYPES:
            if ftype in IGNORED_LEAF_TYPES:
                continue
            if strand not in ("+", "-"):
                skipped_strand += 1
                continue
            leaves.append((f, attrs.get("ID")))
            continue
        fid = attrs.get("ID")
        if fid is not None:
            if fid in feats:
                # the same ID on several lines of a non-leaf feature (multi-line gene): span them
                old = feats[fid]
                if old.seqid == seqid:
                    old.start, old.end = min(old.start, start), max(old.end, end)
                    continue
                raise InputError(f"{name}:{line_no}: ID {fid!r} already used on {old.seqid} (line {old.line_no})")
            feats[fid] = f
        if ftype in RNA_TYPES or ftype in GENE_TYPES:
            childless.append(f)
    if skipped_strand:
        log.warning("%s: %d exon/CDS lines without a strand were ignored", name, skipped_strand)

    txs: dict[str, _Tx] = {}
    noparent: dict[str, _Tx] = {}
    has_children: set[str] = set()

    def tx_for(key: str, seqid: str, strand: str, line_no: int) -> _Tx:
        t = txs.get(key)
        if t is None:
            t = txs[key] = _Tx(key, seqid, strand, line_no=line_no)
        return t

    anon = 0
    for f, fid in leaves:
        parents = [p for p in f.parents if not (p in feats and feats[p].type in NON_MODEL_PARENT_TYPES)]
        targets: list[_Tx] = []
        if not parents:
            if fid is None:
                anon += 1
                key = f"{f.seqid}:{f.start}-{f.end}:{f.strand}#{anon}"
            else:
                key = fid
            t = noparent.get(key)
            if t is None:
                t = noparent[key] = _Tx(key, f.seqid, f.strand, type="CDS" if f.type in CDS_TYPES else "", prok=True, line_no=f.line_no)
            targets.append(t)
        else:
            for p in parents:
                t = tx_for(p, f.seqid, f.strand, f.line_no)
                has_children.add(p)
                targets.append(t)
            if len(parents) > 1:
                for t in targets:
                    others = {p for p in parents if p != t.id}
                    t.coparents = others if t.coparents is None else (t.coparents & others)
        for t in targets:
            if t.seqid != f.seqid or t.strand != f.strand:
                raise InputError(
                    f"{name}:{f.line_no}: {f.type} on {f.seqid} {f.strand} but its transcript {t.id!r} "
                    f"is on {t.seqid} {t.strand}"
                )
            if "origin_spanning" in f.attrs:
                # two pieces: (1, end) and (start, length of the replicon, or start when unknown)
                ivs = [(1, f.end), (f.start, max(f.start, seq_len.get(f.seqid, f.start)))]
                t.wrapped = True
            else:
                ivs = [(f.start, f.end)]
            if f.type in EXON_TYPES:
                t.exons.extend(ivs)
            elif f.type in CDS_TYPES:
                t.cds.extend(ivs)
                t.cds_by_id.setdefault(fid or "", []).extend(ivs)
            elif f.type in UTR_TYPES:
                t.utr.extend(ivs)
            elif f.type == "stop_codon":
                t.stops.extend(ivs)
            if _is_pseudo_attrs("", f.attrs):
                t.pseudo = True
            t.partial = _or_partial(t.partial, _partial_code(f.attrs, f.strand))

    # Resolve transcripts to genes.
    genes: dict[str, Gene] = {}
    gene_order: list[str] = []

    def root_of(fid: str) -> str:
        seen = set()
        cur = fid
        while True:
            f = feats.get(cur)
            if f is None or not f.parents or cur in seen:
                return cur
            seen.add(cur)
            nxt = [p for p in f.parents if not (p in feats and feats[p].type in NON_MODEL_PARENT_TYPES)]
            if not nxt:
                return cur
            cur = nxt[0]

    def make_gene(gid: str, seqid: str, strand: str) -> Gene:
        g = genes.get(gid)
        if g is None:
            gf = feats.get(gid)
            attrs = dict(gf.attrs) if gf else {}
            if gf:
                attrs.setdefault("source", gf.source)
            g = genes[gid] = Gene(seqid=seqid, strand=strand, id=gid, attributes=attrs)
            g.kind = gf.type if gf else "gene"
            gene_order.append(gid)
        return g

    def add(t: _Tx, gid: str, gtype: str, gattrs: dict[str, str]) -> None:
        named = [k for k in t.cds_by_id if k]
        if t.prok and not t.exons and len(named) > 1:
            # gene -> several CDS (RefSeq: alternative products of one locus): one transcript each
            for k in named:
                part = _Tx(k, t.seqid, t.strand, type=t.type, cds=t.cds_by_id[k] + t.cds_by_id.get("", []),
                           stops=t.stops, prok=True, pseudo=t.pseudo, partial=t.partial, line_no=t.line_no,
                           wrapped=t.wrapped)
                part.cds_by_id = {k: part.cds}
                add(part, gid, gtype, gattrs)
            return
        tf = feats.get(t.id)
        ttype = tf.type if tf else t.type
        tattrs = dict(tf.attrs) if tf else {}
        if tf:
            tattrs.setdefault("source", tf.source)
        cds = sorted(set(t.cds))
        cds = _join_stop(cds, t.stops) if cds and t.stops else cds
        exons = _merge_touching(t.exons) if t.exons else []
        if not exons and not t.prok:
            exons = _merge_touching(cds + t.utr)
        elif exons and not _covered(cds + t.utr, exons):
            exons = _merge_touching(exons + cds + t.utr)  # exon lines lost (a truncated slice)
        if not exons and not cds:
            return
        g = make_gene(gid, t.seqid, t.strand)
        if g.seqid != t.seqid or g.strand != t.strand:
            raise InputError(f"{name}:{t.line_no}: transcript {t.id!r} is on {t.seqid} {t.strand} but gene {gid!r} on {g.seqid} {g.strand}")
        if tf:
            pseudo_t = _is_pseudo_attrs(tf.type, tf.attrs)
            g.partial = _or_partial(g.partial, _partial_code(tf.attrs, tf.strand))
        else:
            pseudo_t = False
        bt = _biotype(ttype or ("mRNA" if cds else "transcript"), bool(cds), tattrs, gattrs)
        g.transcripts.append(Transcript(id=t.id, biotype=bt, exons=exons, cds=cds, attributes=tattrs))
        g.pseudo = g.pseudo or t.pseudo or pseudo_t or _is_pseudo_attrs(gtype, gattrs)
        g.partial = _or_partial(g.partial, t.partial)
        if t.wrapped:
            g.attributes["origin_spanning"] = "true"
        elif len(cds) > 1 and (t.prok or _frameshifted(cds)):
            g.multipart = True

    # Gene lines without any part (slices that lost the transcript lines): orphans may join them.
    spare: dict[tuple[str, str], list[_Feat]] = defaultdict(list)
    for f in childless:
        fid = f.attrs.get("ID")
        if f.type in GENE_TYPES and not f.parents and fid and fid not in has_children:
            spare[(f.seqid, f.strand)].append(f)

    for key, t in txs.items():
        tf = feats.get(key)
        if tf is None:
            # leaves point to a Parent that has no line: an implicit transcript
            if not (t.exons or t.utr) and t.coparents and any(
                c in feats or (c in txs and (txs[c].exons or txs[c].utr)) for c in t.coparents
            ):
                continue  # a protein-like co-parent of CDS lines (TAIR `-Protein` whose line is missing)
            t.prok = not t.exons and not t.utr
            lo = min(s for s, _ in (t.exons or t.cds or t.utr or [(0, 0)]))
            hi = max(e for _, e in (t.exons or t.cds or t.utr or [(0, 0)]))
            holders = [f for f in spare.get((t.seqid, t.strand), []) if f.start <= lo and hi <= f.end]
            if len(holders) == 1 and t.exons:
                gf = holders[0]
                t.prok = False
                has_children.add(gf.attrs["ID"])
                add(t, gf.attrs["ID"], gf.type, gf.attrs)
            else:
                add(t, key, "gene", {})
            continue
        if tf.parents:
            gid = root_of(key)
            gf = feats.get(gid)
            t.type = tf.type
            add(t, gid, gf.type if gf else "gene", gf.attrs if gf else {})
        else:
            # leaves directly under a top-level feature: gene -> CDS (prokaryotic) or gene -> exon
            t.type = tf.type
            t.prok = not t.exons and not t.utr
            if tf.type in GENE_TYPES:
                t.type = "mRNA" if t.cds else ("pseudogenic_transcript" if "pseudo" in tf.type else "transcript")
            named = [k for k in t.cds_by_id if k]
            if len(named) == 1:
                t.id = named[0]  # the implicit transcript is named after its CDS
            add(t, key, tf.type, tf.attrs)
    for key, t in noparent.items():
        t.type = "mRNA" if t.cds else "transcript"
        add(t, key, "gene", {})
    # Childless RNA features (yeast tRNA, ...): one exon spanning the feature.
    for f in childless:
        fid = f.attrs.get("ID")
        if fid in has_children or f.strand not in ("+", "-"):
            continue
        if f.type not in RNA_TYPES:
            continue  # a gene line without any part carries no gene model
        tid = fid or f"{f.seqid}:{f.start}-{f.end}:{f.strand}"
        parents = [p for p in f.parents if p in feats]
        gid = root_of(tid) if fid and parents else (parents[0] if parents else tid)
        gf = feats.get(gid)
        if gid == tid:
            gf = None
        t = _Tx(tid, f.seqid, f.strand, type=f.type, exons=[(f.start, f.end)], line_no=f.line_no)
        add(t, gid, gf.type if gf else "gene", gf.attrs if gf else {})
    out = []
    for gid in gene_order:
        g = genes[gid]
        coding = any(t.cds for t in g.transcripts)
        gf = feats.get(gid)
        g.kind = _gene_kind(gf.type if gf else "gene", g.pseudo, coding)
        out.append(g)
    return out


# ----------------------------------------------------------------------------- GTF


def _parse_gtf_attrs(col9: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for m in _GTF_ATTR.finditer(col9):
        k = m.group(1)
        v = m.group(2) if m.group(2) is not None else m.group(3)
        if k in attrs and k == "tag":
            attrs[k] += "," + v
        else:
            attrs.setdefault(k, v)
    return attrs


def _read_gtf(lines: Iterable[str], name: str) -> list[Gene]:
    txs: dict[tuple[str, str, str], _Tx] = {}
    gene_attrs: dict[tuple[str, str, str], dict[str, str]] = {}
    tx_gene: dict[tuple[str, str, str], str] = {}
    for line_no, line in enumerate(lines, 1):
        cols = _split_line(line, name, line_no)
        if cols is None:
            continue
        seqid, source, ftype, _, _, _, strand, _, col9 = cols
        start, end = _coords(cols, name, line_no)
        if strand not in ("+", "-", ".", "?"):
            raise InputError(f"{name}:{line_no}: strand must be +, -, . or ?, got {strand!r}")
        if EVIDENCE_SOURCE.match(source):
            continue
        attrs = _parse_gtf_attrs(col9)
        gid = attrs.get("gene_id")
        tid = attrs.get("transcript_id")
        if ftype == "gene" or (tid is None and gid is not None and ftype not in LEAF_TYPES):
            if gid is not None:
                gene_attrs.setdefault((seqid, strand, gid), {**attrs, "source": source})
            continue
        if tid is None:
            if ftype in LEAF_TYPES and ftype not in IGNORED_LEAF_TYPES:
                raise InputError(f"{name}:{line_no}: GTF {ftype} line without transcript_id")
            continue
        if strand not in ("+", "-"):
            continue
        key = (seqid, strand, tid)
        t = txs.get(key)
        if t is None:
            t = txs[key] = _Tx(tid, seqid, strand, line_no=line_no)
            tx_gene[key] = gid or tid
        if ftype in ("transcript", "mRNA") or ftype in RNA_TYPES:
            t.type = ftype
            t.attrs = {**attrs, "source": source}
            continue
        if not t.attrs:
            t.attrs = {k: v for k, v in attrs.items() if k.startswith("transcript") or k.startswith("gene")}
        iv = (start, end)
        if ftype in EXON_TYPES:
            t.exons.append(iv)
        elif ftype in CDS_TYPES:
            t.cds.append(iv)
        elif ftype in UTR_TYPES:
            t.utr.append(iv)
        elif ftype == "stop_codon":
            t.stops.append(iv)
        if _is_pseudo_attrs("", attrs):
            t.pseudo = True
    genes: dict[tuple[str, str, str], Gene] = {}
    for key, t in txs.items():
        seqid, strand, _ = key
        gid = tx_gene[key]
        gkey = (seqid, strand, gid)
        gattrs = gene_attrs.get(gkey, {})
        if not gattrs:
            gattrs = {k: v for k, v in t.attrs.items() if k.startswith("gene")}
        cds = _join_stop(sorted(set(t.cds)), t.stops) if t.cds else []
        exons = _merge_touching(t.exons) if t.exons else _merge_touching(cds + t.utr)
        if not _covered(cds + t.utr, exons):
            exons = _merge_touching(exons + cds + t.utr)
        if not exons and not cds:
            continue
        g = genes.get(gkey)
        if g is None:
            g = genes[gkey] = Gene(seqid=seqid, strand=strand, id=gid, attributes=gattrs)
        bt = _biotype(t.type or "transcript", bool(cds), t.attrs, gattrs)
        g.transcripts.append(Transcript(id=t.id, biotype=bt, exons=exons, cds=cds, attributes=t.attrs))
        g.pseudo = g.pseudo or t.pseudo or _is_pseudo_attrs("", gattrs)
    out = []
    for g in genes.values():
        g.kind = _gene_kind("gene", g.pseudo, any(t.cds for t in g.transcripts))
        out.append(g)
    return out


# ----------------------------------------------------------------------------- GenBank / EMBL


def _loc_parts(loc) -> tuple[list[Interval], str, str]:
    """Biopython location -> (1-based parts in transcript order, strand, partial code)."""
    from Bio.SeqFeature import AfterPosition, BeforePosition

    parts = list(loc.parts)
    strand = "-" if (loc.strand == -1 or (parts and parts[0].strand == -1)) else "+"
    ivs = [(int(p.start) + 1, int(p.end)) for p in parts]
    left = any(isinstance(p.start, BeforePosition) for p in parts)
    right = any(isinstance(p.end, AfterPosition) for p in parts)
    # Biopython keeps '<' on the start position and '>' on the end position whatever the strand
    left = left or any(isinstance(p.end, BeforePosition) for p in parts)
    right = right or any(isinstance(p.start, AfterPosition) for p in parts)
    return ivs, strand, f"{int(left)}{int(right)}"


def _read_genbank(lines: Iterable[str], name: str, fmt: str) -> list[Gene]:
    from Bio import SeqIO

    out: list[Gene] = []
    try:
        for rec in SeqIO.parse(io.StringIO("".join(lines)), fmt):
            out.extend(_genbank_record(rec))
    except InputError:
        raise
    except Exception as e:  # Biopython raises ValueError and friends with useful text
        raise InputError(f"{name}: cannot parse {fmt.upper()}: {e}") from None
    return out


def _q(feat, key: str) -> str | None:
    v = feat.qualifiers.get(key)
    return v[0] if v else None


def _genbank_record(rec) -> list[Gene]:
    seqid = rec.id if rec.id and rec.id != "<unknown id>" else rec.name
    genes: dict[str, Gene] = {}
    has_mrna = any(f.type == "mRNA" for f in rec.features)
    mrnas: dict[str, list[Transcript]] = defaultdict(list)
    gene_feats: dict[str, object] = {}
    order: list[str] = []
    n = 0

    def key_of(f) -> str:
        return _q(f, "locus_tag") or _q(f, "gene") or ""

    for f in rec.features:
        if f.type == "gene":
            k = key_of(f)
            if k:
                gene_feats.setdefault(k, f)
    for f in rec.features:
        if f.type not in ("CDS", "mRNA") and f.type not in RNA_TYPES:
            continue
        if f.location is None:
            continue
        n += 1
        ivs, strand, partial = _loc_parts(f.location)
        k = key_of(f) or f"{seqid}_{f.type}_{n}"
        gkey = f"{k}|{strand}"
        g = genes.get(gkey)
        gf = gene_feats.get(k)
        if g is None:
            attrs = {q: v[0] for q, v in (gf.qualifiers.items() if gf is not None else []) if v and isinstance(v[0], str)}
            g = genes[gkey] = Gene(seqid=seqid, strand=strand, id=k, attributes=attrs)
            order.append(gkey)
            if gf is not None and ("pseudo" in gf.qualifiers or "pseudogene" in gf.qualifiers):
                g.pseudo = True
        tattrs = {q: v[0] for q, v in f.qualifiers.items() if v and isinstance(v[0], str) and q != "translation"}
        tid = _q(f, "protein_id") or _q(f, "transcript_id") or f"{k}.{f.type}{n}"
        if "pseudo" in f.qualifiers or "pseudogene" in f.qualifiers:
            g.pseudo = True
        g.partial = _or_partial(g.partial, partial)
        wrapped = len(ivs) > 1 and (
            any(b[0] < a[0] for a, b in zip(ivs, ivs[1:])) if strand == "+" else any(b[0] > a[0] for a, b in zip(ivs, ivs[1:]))
        )
        if wrapped:
            g.attributes["origin_spanning"] = "true"
        if f.type == "CDS":
            ivs_sorted = sorted(ivs)
            if has_mrna and mrnas.get(gkey):
                # attach to the first mRNA of the gene whose exon span contains the CDS and has none yet
                for t in mrnas[gkey]:
                    if not t.cds and t.start <= ivs_sorted[0][0] and ivs_sorted[-1][1] <= t.end:
                        t.cds = ivs_sorted
                        break
                else:
                    g.transcripts.append(Transcript(id=tid, biotype="mRNA", exons=_merge_touching(ivs), cds=ivs_sorted, attributes=tattrs))
            else:
                g.transcripts.append(Transcript(id=tid, biotype="mRNA", exons=[], cds=ivs_sorted, attributes=tattrs))
                if len(ivs) > 1 and not has_mrna and not wrapped:
                    g.multipart = True
        else:
            bt = "mRNA" if f.type == "mRNA" else _biotype(f.type, False, tattrs, g.attributes)
            t = Transcript(id=tid, biotype=bt, exons=_merge_touching(ivs), cds=[], attributes=tattrs)
            g.transcripts.append(t)
            if f.type == "mRNA":
                mrnas[gkey].append(t)
    out = []
    for gk in order:
        g = genes[gk]
        g.kind = _gene_kind("gene", g.pseudo, any(t.cds for t in g.transcripts))
        out.append(g)
    return out


# ----------------------------------------------------------------------------- Prodigal .genes / TSV

_LOC = re.compile(r"^\s{5}CDS\s+(complement\()?(<?)(\d+)\.\.(>?)(\d+)\)?\s*$")


def _read_prodigal_genes(lines: Iterable[str], name: str) -> list[Gene]:
    out: list[Gene] = []
    seqid = ""
    n = 0
    cur: Gene | None = None
    for line_no, line in enumerate(lines, 1):
        if line.startswith("DEFINITION"):
            m = re.search(r'seqhdr="([^"]*)"', line)
            seqid = (m.group(1).split() or [""])[0] if m else ""
            continue
        if line.startswith("     CDS"):
            m = _LOC.match(line.rstrip("\n"))
            if not m:
                raise InputError(f"{name}:{line_no}: cannot parse CDS location {line.strip()!r}")
            if not seqid:
                raise InputError(f"{name}:{line_no}: CDS before any DEFINITION line")
            strand = "-" if m.group(1) else "+"
            s, e = int(m.group(3)), int(m.group(5))
            if e < s:
                raise InputError(f"{name}:{line_no}: invalid coordinates {s}..{e}")
            n += 1
            cur = Gene(seqid=seqid, strand=strand, id=f"{seqid}_{n}",
                       transcripts=[Transcript(id=f"{seqid}_{n}.cds", cds=[(s, e)])])
            cur.partial = f"{int(bool(m.group(2)))}{int(bool(m.group(4)))}"
            out.append(cur)
        elif cur is not None and "/note=" in line:
            note = line.split("/note=", 1)[1].strip().strip('"')
            attrs, _ = _parse_gff3_attrs(note)
            cur.attributes.update(attrs)
            p = attrs.get("partial")
            if p and re.fullmatch(r"[01]{2}", p):
                cur.partial = p
    return out


def _read_tsv(lines: Iterable[str], name: str) -> list[Gene]:
    it = iter(lines)
    header: list[str] | None = None
    out: list[Gene] = []
    for line_no, line in enumerate(it, 1):
        s = line.rstrip("\r\n")
        if not s.strip() or s.startswith("#"):
            continue
        cols = s.split("\t")
        if header is None:
            header = [c.strip().lower() for c in cols]
            idx = {c: i for i, c in enumerate(header)}
            seq_col = next(idx[c] for c in ("seqid", "accession", "seqname", "chrom", "contig") if c in idx)
            strand_col = idx["strand"]
            if "left" in idx and "right" in idx:
                lo_col, hi_col = idx["left"], idx["right"]
            elif "start" in idx and "stop" in idx:
                lo_col, hi_col = idx["start"], idx["stop"]
            elif "start" in idx and "end" in idx:
                lo_col, hi_col = idx["start"], idx["end"]
            else:
                raise InputError(f"{name}:{line_no}: table needs left/right or start/stop columns")
            id_col = next((idx[c] for c in ("gene_id", "id", "name", "locus_tag") if c in idx), None)
            continue
        if len(cols) < len(header):
            raise InputError(f"{name}:{line_no}: expected {len(header)} tab-separated columns, found {len(cols)}")
        strand = cols[strand_col].strip()
        if strand not in ("+", "-"):
            raise InputError(f"{name}:{line_no}: strand must be + or -, got {strand!r}")
        ca, cb = cols[lo_col].strip(), cols[hi_col].strip()
        try:
            a, b = int(ca.lstrip("<>")), int(cb.lstrip("<>"))
        except ValueError:
            raise InputError(f"{name}:{line_no}: coordinates must be integers, got {ca!r} {cb!r}") from None
        lo, hi = min(a, b), max(a, b)
        partial = f"{int(ca.startswith('<') or cb.startswith('<'))}{int(ca.startswith('>') or cb.startswith('>'))}"
        if lo < 1:
            raise InputError(f"{name}:{line_no}: invalid coordinates {a} {b}")
        seqid = cols[seq_col].strip()
        gid = cols[id_col].strip() if id_col is not None else f"{seqid}_{line_no}"
        attrs = {h: c for h, c in zip(header, cols)}
        g = Gene(seqid=seqid, strand=strand, id=gid, transcripts=[Transcript(id=gid, cds=[(lo, hi)])], attributes=attrs)
        g.partial = partial
        extra = attrs.get("prodigal_attributes")
        if extra:
            pa, _ = _parse_gff3_attrs(extra)
            p = pa.get("partial")
            if p and re.fullmatch(r"[01]{2}", p):
                g.partial = p
        out.append(g)
    return out
