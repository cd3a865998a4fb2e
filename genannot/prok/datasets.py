"""Training sets for the prokaryotic classifiers, built from annotated genomes.

For every genome the stop groups are found exactly as the annotator finds them (orfs.find_stop_groups,
closed: no contig-edge partials, whose true extent is unknown), then:

CDS set  positive: a group whose stop codon is the stop of an annotated CDS;
         negative: every other group, except those overlapping a CDS we cannot trust on the same
         strand (pseudo, multipart, partial) and those whose stop lies inside an annotated CDS in the
         same frame (impossible for a real gene, but a sign of an annotation frameshift);
         negatives are sampled to follow the positives' length distribution (log-spaced bins of the
         longest-ORF length; in each bin up to `cds_neg_ratio` x as many negatives as positives,
         weighted so that both classes weigh the same in every bin where negatives are plentiful),
         so that length alone does not separate the classes and the short groups, the hard ones,
         are well represented.
         window: the last 510 nt of the group's longest ORF (classifiers.cds_input).
TIS set  positive: the annotated start of each positive group (when it is one of the group's
         candidate starts); negative: the group's other candidate starts, plus one start of some
         non-coding groups (a quarter as many as the positives), all capped at `tis_neg_ratio` x positives.
         window: 60 nt around the start (classifiers.tis_input).

Genomes are read with io.fasta (or Biopython for a GenBank file that carries its sequence), the
annotation with io.annotation; pseudo genes and multipart CDS (frameshifts, joins) are skipped.
The translation table is the caller's, unless the annotation shows that the genome uses another
one (M. genitalium: TGA read through in most CDS -> table 4): see `detect_table`.
Everything is deterministic for a given seed.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from genannot.errors import InputError
from genannot.io.seqout import reverse_complement
from genannot.prok.classifiers import cds_input, tis_input
from genannot.prok.orfs import StopGroup, codon_sets, find_stop_groups, orf_sequence

log = logging.getLogger(__name__)

LENGTH_BINS = np.geomspace(60, 20000, 25)  # longest-ORF length bins (nt) for the length balance
ALT_TABLES = (4, 25)  # tables tried when the given one leaves many annotated CDS with internal stops


@dataclass(frozen=True)
class RefCDS:
    """An annotated CDS in 0-based forward coordinates (start/stop as in orfs.StopGroup)."""

    seqid: str
    strand: str
    start: int  # first base of the start codon in transcription direction
    stop: int  # outermost base of the stop codon
    trusted: bool  # False: pseudo, multipart or partial (used only to keep negatives clean)

    @property
    def left(self) -> int:
        return min(self.start, self.stop)

    @property
    def right(self) -> int:
        return max(self.start, self.stop)


@dataclass
class Example:
    window: str  # model input (nucleotides)
    label: int
    genome: str
    seqid: str
    strand: str
    stop: int
    start: int  # the start scored (TIS) or the longest ORF's start (CDS)
    length: int  # longest-ORF length of the group (nt)
    weight: float = 1.0  # loss weight (CDS negatives: see length_balanced)


@dataclass
class GenomeSets:
    tag: str
    table: int
    cds: list[Example] = field(default_factory=list)
    tis: list[Example] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


# ---------------------------------------------------------------- reading


def genome_tag(path: str | Path) -> str:
    """File name without directories and sequence/compression suffixes: 'ecoli.fna.gz' -> 'ecoli'."""
    name = Path(str(path)).name
    name = re.sub(r"\.(gz|bgz|bz2)$", "", name)
    name = re.sub(r"\.(fna|fa|fasta|fas|fsa|seq|gbk|gb|gbff|genbank|embl)$", "", name, flags=re.I)
    return name or "genome"


def _first_line(path: Path) -> str:
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rt", errors="replace") if gz else open(path, errors="replace")) as fh:
        for line in fh:
            if line.strip():
                return line
    return ""


def read_genome(path: str | Path) -> dict[str, str]:
    """{seqid: uppercase sequence} from a FASTA file, or from a GenBank/EMBL file with sequence."""
    from genannot.io.fasta import read_fasta

    p = Path(path)
    first = _first_line(p) if p.is_file() else ""
    if first.startswith(("LOCUS", "ID ")):
        from Bio import SeqIO

        with open(p, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
        with (gzip.open(p, "rt") if gz else open(p)) as fh:
            out = {rec.id: str(rec.seq).upper() for rec in SeqIO.parse(fh, "genbank" if first.startswith("LOCUS") else "embl")}
        if not out or not any(out.values()):
            raise InputError(f"{p}: GenBank file without sequence")
        return out
    return {rec.id: rec.seq for rec in read_fasta(p)}


def reference_cds(annotation: dict) -> list[RefCDS]:
    """Annotated CDS of a {seqid: [Gene]} annotation (io.annotation), one per coding transcript."""
    out: list[RefCDS] = []
    for seqid, genes in annotation.items():
        for g in genes:
            for t in g.transcripts:
                if not t.cds:
                    continue
                lo = min(s for s, _ in t.cds)
                hi = max(e for _, e in t.cds)
                trusted = not (g.pseudo or g.multipart or len(t.cds) > 1 or g.partial != "00" or g.kind == "pseudogene")
                if g.strand == "+":
                    out.append(RefCDS(seqid, "+", lo - 1, hi - 1, trusted))
                elif g.strand == "-":
                    out.append(RefCDS(seqid, "-", hi - 1, lo - 1, trusted))
    return out




def _codon_at(seq: str, strand: str, pos: int) -> str:
    """Codon whose first base (in transcription direction) is at forward coordinate `pos`."""
    if strand == "+":
        return seq[pos : pos + 3]
    return reverse_complement(seq[max(pos - 2, 0) : pos + 1])


def internal_stop_fraction(seqs: dict[str, str], refs: Sequence[RefCDS], table: int) -> float:
    """Share of trusted annotated CDS with an in-frame stop codon (of `table`) before their own stop."""
    _starts, stops = codon_sets(table)
    stops = set(stops)
    checked = bad = 0
    for r in refs:
        if not r.trusted or r.seqid not in seqs:
            continue
        seq = seqs[r.seqid]
        lo, hi = r.left, r.right + 1
        if (hi - lo) % 3 or lo < 0 or hi > len(seq):
            continue
        nt = seq[lo:hi] if r.strand == "+" else reverse_complement(seq[lo:hi])
        checked += 1
        if any(nt[i : i + 3] in stops for i in range(0, len(nt) - 3, 3)):
            bad += 1
    return bad / checked if checked else 0.0


def detect_table(seqs: dict[str, str], refs: Sequence[RefCDS], table: int, tag: str = "") -> int:
    """`table`, unless over 10% of the annotated CDS read through one of its stop codons and an
    alternative table (4, 25) fixes that (then that table, with a warning)."""
    frac = internal_stop_fraction(seqs, refs, table)
    if frac <= 0.10:
        return table
    for alt in ALT_TABLES:
        if alt != table and internal_stop_fraction(seqs, refs, alt) < 0.02:
            log.warning("%s: %.0f%% of the annotated CDS have in-frame stops under table %d; using table %d", tag, 100 * frac, table, alt)
            return alt
    log.warning("%s: %.0f%% of the annotated CDS have in-frame stops under table %d", tag, 100 * frac, table)
    return table


# ---------------------------------------------------------------- one genome


def _overlaps(intervals: np.ndarray, lo: int, hi: int) -> bool:
    """Whether [lo, hi] overlaps any of the sorted, closed intervals (an (n, 2) array)."""
    if not len(intervals):
        return False
    i = np.searchsorted(intervals[:, 0], hi, side="right")
    return bool(i and intervals[:i, 1].max() >= lo)


def genome_sets(
    tag: str,
    seqs: dict[str, str],
    refs: Sequence[RefCDS],
    *,
    table: int = 11,
    rng: np.random.Generator,
    cds_neg_ratio: float = 2.0,
    tis_neg_ratio: float = 3.0,
    noncoding_tis_share: float = 0.25,
    min_length: int = 90,
) -> GenomeSets:
    """CDS and TIS examples of one genome (see the module doc)."""
    out = GenomeSets(tag=tag, table=table)
    ref_by_stop: dict[tuple[str, str, int], RefCDS] = {}
    untrusted: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for r in refs:
        if r.trusted:
            ref_by_stop[(r.seqid, r.strand, r.stop)] = r
        else:
            untrusted.setdefault((r.seqid, r.strand), []).append((r.left, r.right))
    untrusted_arr = {k: np.array(sorted(v), dtype=np.int64) for k, v in untrusted.items()}
    # same-strand, same-frame coding intervals of trusted CDS: a group whose stop falls inside one
    # would be a stop codon inside an annotated gene
    coding: dict[tuple[str, str, int], np.ndarray] = {}
    for r in refs:
        if r.trusted:
            coding.setdefault((r.seqid, r.strand, r.stop % 3), []).append((r.left, r.right))  # type: ignore[arg-type]
    coding_arr = {k: np.array(sorted(v), dtype=np.int64) for k, v in coding.items()}

    pos_cds: list[Example] = []
    pos_tis: list[Example] = []
    neg_tis_alt: list[Example] = []
    neg_groups: list[tuple[str, str, StopGroup]] = []  # (seqid, sequence, group) of non-coding groups
    matched = 0
    start_found = 0
    for seqid, seq in seqs.items():
        groups = find_stop_groups(seq, table=table, min_length=min_length, closed=True)
        for g in groups:
            length = g.length(g.starts[0])
            ref = ref_by_stop.get((seqid, g.strand, g.stop))
            if ref is not None:
                matched += 1
                pos_cds.append(Example(cds_input(orf_sequence(seq, g, g.starts[0])), 1, tag, seqid, g.strand, g.stop, g.starts[0], length))
                if ref.start in g.starts:
                    start_found += 1
                    for s in g.starts:
                        ex = Example(tis_input(seq, g.strand, s), int(s == ref.start), tag, seqid, g.strand, g.stop, s, length)
                        (pos_tis if s == ref.start else neg_tis_alt).append(ex)
                continue
            lo, hi = g.left, g.right
            if _overlaps(untrusted_arr.get((seqid, g.strand), np.zeros((0, 2))), lo, hi):
                continue
            inside = coding_arr.get((seqid, g.strand, g.stop % 3))
            if inside is not None and _overlaps(inside, g.stop, g.stop):
                continue
            neg_groups.append((seqid, seq, g))

    # length-balanced negatives
    keep, weights = length_balanced([e.length for e in pos_cds], [g.length(g.starts[0]) for _, _, g in neg_groups], rng, cds_neg_ratio)
    chosen = []
    for i, w in zip(keep, weights):
        seqid, seq, g = neg_groups[i]
        nt = cds_input(orf_sequence(seq, g, g.starts[0]))
        chosen.append(Example(nt, 0, tag, seqid, g.strand, g.stop, g.starts[0], g.length(g.starts[0]), w))
    out.cds = pos_cds + chosen

    # TIS negatives: alternative starts of coding groups + one start of some non-coding groups
    n_nc = min(len(neg_groups), int(round(noncoding_tis_share * len(pos_tis))))
    nc_pick = rng.choice(len(neg_groups), size=n_nc, replace=False) if n_nc else []
    neg_tis_nc = []
    for i in nc_pick:
        seqid, seq, g = neg_groups[int(i)]
        s = g.starts[int(rng.integers(len(g.starts)))]
        neg_tis_nc.append(Example(tis_input(seq, g.strand, s), 0, tag, seqid, g.strand, g.stop, s, g.length(g.starts[0])))
    cap = int(round(tis_neg_ratio * len(pos_tis)))
    alt_cap = max(0, cap - len(neg_tis_nc))
    if len(neg_tis_alt) > alt_cap:
        idx = np.sort(rng.choice(len(neg_tis_alt), size=alt_cap, replace=False))
        neg_tis_alt = [neg_tis_alt[i] for i in idx]
    out.tis = pos_tis + neg_tis_alt + neg_tis_nc

    n_trusted = sum(r.trusted for r in refs)
    out.stats = {
        "genome": tag,
        "table": table,
        "annotated_cds": n_trusted,
        "stop_groups": matched + len(neg_groups),
        "cds_positive": len(pos_cds),
        "cds_negative": len(chosen),
        "cds_negative_pool": len(neg_groups),
        "tis_positive": len(pos_tis),
        "tis_negative": len(neg_tis_alt) + len(neg_tis_nc),
        "annotated_stop_matched": matched,
        "annotated_start_found": start_found,
    }
    if n_trusted and matched < 0.9 * n_trusted:
        log.warning("%s: only %d of %d annotated CDS stops match a stop group (wrong translation table or seqids?)", tag, matched, n_trusted)
    return out


def length_balanced(
    pos_lengths: Sequence[int], neg_lengths: Sequence[int], rng: np.random.Generator, ratio: float = 1.0
) -> tuple[list[int], list[float]]:
    """Negatives sampled to follow the positives' length distribution: in each log-spaced length bin
    up to `ratio` x as many negatives as positives. Returns (indices ascending, loss weights): each
    bin's negatives weigh min(1, positives / negatives) apiece, so that in every bin where negatives
    are plentiful both classes weigh the same, whatever `ratio` (a ratio > 1 only adds variety)."""
    if not len(neg_lengths):
        return [], []
    pb = np.digitize(np.asarray(pos_lengths, dtype=float), LENGTH_BINS)
    nb = np.digitize(np.asarray(neg_lengths, dtype=float), LENGTH_BINS)
    want = Counter(pb.tolist())
    chosen: dict[int, float] = {}
    for b in sorted(set(nb.tolist())):
        idx = np.flatnonzero(nb == b)
        k = min(len(idx), int(round(ratio * want.get(b, 0))))
        if k:
            w = min(1.0, want[b] / k)
            chosen.update((int(i), w) for i in rng.choice(idx, size=k, replace=False))
    keep = sorted(chosen)
    return keep, [chosen[i] for i in keep]


# ---------------------------------------------------------------- several genomes


@dataclass
class Datasets:
    genomes: list[GenomeSets]

    def cds(self, tags: Iterable[str] | None = None) -> list[Example]:
        keep = None if tags is None else set(tags)
        return [e for g in self.genomes if keep is None or g.tag in keep for e in g.cds]

    def tis(self, tags: Iterable[str] | None = None) -> list[Example]:
        keep = None if tags is None else set(tags)
        return [e for g in self.genomes if keep is None or g.tag in keep for e in g.tis]

    @property
    def stats(self) -> list[dict]:
        return [g.stats for g in self.genomes]


def build_datasets(
    genomes: Sequence[str | Path],
    annotations: Sequence[str | Path],
    *,
    table: int = 11,
    seed: int = 0,
    tags: Sequence[str] | None = None,
    **kwargs,
) -> Datasets:
    """CDS and TIS examples of each (genome, annotation) pair; tags default to the genome file names."""
    from genannot.io.annotation import read_annotation

    if len(genomes) != len(annotations):
        raise InputError(f"{len(genomes)} genomes but {len(annotations)} annotations: give them in pairs")
    tags = list(tags) if tags is not None else [genome_tag(g) for g in genomes]
    seen: Counter = Counter()
    for i, t in enumerate(tags):  # unique tags even for same-named files
        seen[t] += 1
        if seen[t] > 1:
            tags[i] = f"{t}_{seen[t]}"
    out = []
    for i, (gpath, apath, tag) in enumerate(zip(genomes, annotations, tags)):
        seqs = read_genome(gpath)
        ann = read_annotation(apath)
        refs = reference_cds(ann)
        missing = {r.seqid for r in refs} - set(seqs)
        if refs and len(missing) == len({r.seqid for r in refs}):
            raise InputError(f"{apath}: no sequence ID of the annotation ({', '.join(sorted(missing)[:3])}) is in {gpath}")
        refs = [r for r in refs if r.seqid in seqs]
        t = detect_table(seqs, refs, table, tag)
        rng = np.random.default_rng([seed, i])
        gs = genome_sets(tag, seqs, refs, table=t, rng=rng, **kwargs)
        log.info(
            "%s: %d CDS (+%d/-%d), %d TIS (+%d/-%d), table %d", tag, len(gs.cds), gs.stats["cds_positive"], gs.stats["cds_negative"],
            len(gs.tis), gs.stats["tis_positive"], gs.stats["tis_negative"], t,
        )
        out.append(gs)
    return Datasets(out)
