"""Gene models as plain data: the currency between readers, pipelines, evaluators and writers.

Coordinates are 1-based and closed (GFF3 convention), intervals sorted ascending whatever the
strand. CDS intervals include the stop codon. A transcript with CDS but no exons is a
prokaryotic gene's coding region and is written as gene -> CDS (no mRNA level).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Interval = tuple[int, int]


@dataclass
class Transcript:
    id: str
    biotype: str = "mRNA"  # mRNA | lnc_RNA | other SO types (tRNA, rRNA, ncRNA, ...)
    exons: list[Interval] = field(default_factory=list)
    cds: list[Interval] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def start(self) -> int:
        return min(s for s, _ in (self.exons or self.cds))

    @property
    def end(self) -> int:
        return max(e for _, e in (self.exons or self.cds))

    @property
    def is_coding(self) -> bool:
        return bool(self.cds)

    def introns(self) -> list[Interval]:
        """Gaps between consecutive exons (1-based closed)."""
        ex = sorted(self.exons)
        return [(a_end + 1, b_start - 1) for (_, a_end), (b_start, _) in zip(ex, ex[1:]) if b_start - a_end > 1]


@dataclass
class Gene:
    seqid: str
    strand: str  # '+' or '-'
    id: str
    transcripts: list[Transcript] = field(default_factory=list)
    kind: str = "gene"  # gene | ncRNA_gene | pseudogene
    attributes: dict[str, str] = field(default_factory=dict)
    partial: str = "00"  # Prodigal convention: left/right end runs off the sequence ('10', '01', '11')
    pseudo: bool = False
    multipart: bool = False  # one feature on several lines (programmed frameshift, trans-splicing)

    @property
    def start(self) -> int:
        return min(t.start for t in self.transcripts)

    @property
    def end(self) -> int:
        return max(t.end for t in self.transcripts)
