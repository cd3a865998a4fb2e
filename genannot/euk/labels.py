"""Per-base multi-label targets from gene models, strand-aware.

For one strand of one sequence, every base gets five 0/1 labels (columns as genannot.euk.model.CLASSES):
five_prime_UTR, exon, intron, three_prime_UTR, CDS; all zero = intergenic. Exon covers every
exonic base (UTR and coding), CDS the coding bases (stop codon included, as in genannot.features),
the UTRs the exonic bases before the CDS start / after the CDS end *in transcription direction*.

- One representative transcript per gene: the longest (spliced length, then genomic span, then id).
  Where a gene has coding transcripts, the representative is the longest coding one, so that a
  protein-coding gene is not represented by one of its non-coding isoforms.
- Coding genes give UTR/exon/intron/CDS labels; lncRNA genes (transcript biotype lnc_RNA) give
  exon/intron labels only.
- Other genes (pseudogenes, small RNAs, transcripts of unknown type) are neither positive nor
  negative: their span is returned as *ignored* (loss mask 0) so the model is not taught to call
  them intergenic. N bases are ignored too (`window_targets`).

Arrays are in forward-strand coordinates (0-based index i = base i+1). A window read on the minus
strand (reverse-complemented) takes the minus-strand track reversed: `window_targets(..., strand='-')`.
Targets for the both-strand head (`outputs=10`) are the reading strand's five columns, then the
opposite strand's five (each in its own transcription direction), reversed together for '-'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from genannot.features import Gene, Transcript

N_CLASSES = 5
UTR5, EXON, INTRON, UTR3, CDS = range(5)


def _exons(t: Transcript) -> list[tuple[int, int]]:
    return sorted(t.exons or t.cds)


def _spliced_length(t: Transcript) -> int:
    return sum(e - s + 1 for s, e in _exons(t))


def representative_transcript(gene: Gene) -> Transcript | None:
    """The gene's longest coding transcript, else its longest lncRNA, else None."""
    if gene.pseudo or gene.kind == "pseudogene":
        return None
    coding = [t for t in gene.transcripts if t.cds]
    pool = coding or [t for t in gene.transcripts if t.biotype == "lnc_RNA" and t.exons]
    if not pool:
        return None
    return max(pool, key=lambda t: (_spliced_length(t), t.end - t.start, t.id))


def transcript_labels(t: Transcript, strand: str, offset: int, length: int, out: np.ndarray) -> None:
    """OR the labels of transcript `t` into `out` (length, 5); base b (1-based) is row b-1-offset."""
    exons = _exons(t)
    if not exons:
        return

    def put(s: int, e: int, col: int) -> None:
        a, b = max(s - 1 - offset, 0), min(e - offset, length)
        if a < b:
            out[a:b, col] = 1

    for s, e in exons:
        put(s, e, EXON)
    for (_, e1), (s2, _) in zip(exons, exons[1:]):
        if s2 - e1 > 1:
            put(e1 + 1, s2 - 1, INTRON)
    if not t.cds:
        return
    cds = sorted(t.cds)
    lo, hi = cds[0][0], cds[-1][1]
    for s, e in cds:
        put(s, e, CDS)
    before, after = (UTR5, UTR3) if strand == "+" else (UTR3, UTR5)
    for s, e in exons:
        if s < lo:
            put(s, min(e, lo - 1), before)
        if e > hi:
            put(max(s, hi + 1), e, after)


@dataclass
class StrandTrack:
    """Labels (L, 5) uint8 and ignore mask (L,) bool for the genes on one strand of one sequence."""

    labels: np.ndarray
    ignore: np.ndarray


def strand_track(genes: Iterable[Gene], length: int, strand: str, *, offset: int = 0) -> StrandTrack:
    """Tracks for bases offset+1 .. offset+length of a sequence, genes on `strand` only."""
    if strand not in "+-" or len(strand) != 1:
        raise ValueError(f"strand must be '+' or '-', not {strand!r}")
    labels = np.zeros((length, N_CLASSES), dtype=np.uint8)
    ignore = np.zeros(length, dtype=bool)
    for g in genes:
        if g.strand != strand or not g.transcripts:
            continue
        if g.end <= offset or g.start > offset + length:
            continue
        t = representative_transcript(g)
        if t is None:
            a, b = max(g.start - 1 - offset, 0), min(g.end - offset, length)
            if a < b:
                ignore[a:b] = True
            continue
        transcript_labels(t, strand, offset, length, labels)
    # a base labelled by a real gene is not ignored because a pseudogene overlaps it
    ignore &= ~labels.any(axis=1)
    return StrandTrack(labels, ignore)


def window_targets(
    tracks: dict[str, StrandTrack], start: int, end: int, strand: str, seq: str | None = None, *, outputs: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Targets for the window [start, end) (0-based, forward coordinates) read on `strand`.

    Returns (labels (n, outputs) float32, weight (n,) float32) in reading order: for '-' reversed,
    matching a reverse-complemented window. outputs=5: the reading strand's track; outputs=10: the
    reading strand's, then the opposite strand's (a base ignored on either strand is ignored).
    `seq` (the window's forward sequence) marks N bases as ignored.
    """
    if outputs not in (5, 10):
        raise ValueError(f"outputs must be 5 or 10, not {outputs}")
    tr = tracks[strand]
    lab = tr.labels[start:end].astype(np.float32)
    w = (~tr.ignore[start:end]).astype(np.float32)
    if outputs == 10:
        other = tracks["-" if strand == "+" else "+"]
        lab = np.concatenate([lab, other.labels[start:end].astype(np.float32)], axis=1)
        w[other.ignore[start:end]] = 0.0
    if seq is not None:
        b = np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)
        w[(b == ord("N")) | (b == ord("n"))] = 0.0
    if strand == "-":
        lab, w = lab[::-1].copy(), w[::-1].copy()
    return lab, w
