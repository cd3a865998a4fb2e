"""Open reading frames grouped by stop codon: the candidate space of the prokaryotic gene finder.

orfipy finds the longest ORF of every stop codon on both strands (and, unless `closed`, the ORFs that
run off the 3' end of the contig); the nested in-frame starts of each group and the ORFs that run off the
5' end (no in-frame stop before the contig start: the contig edge is a candidate start, codon 'EDGE')
come from a vectorised codon scan of the same uppercase sequence. Coordinates are 0-based on the forward
strand; see `StopGroup`.

A run of at least MIN_N_RUN N (an assembly gap) is a contig edge: no ORF holds any of its bases, and the
sequence between two such runs (or a run and a contig end) is searched as a contig of its own, so an ORF cut
by a gap is partial (EDGE start at the first complete codon after the run, 3'-partial at the last complete
codon before it) under the same `min_edge_length` and `closed` rules. Shorter runs and single N are read as
any other base (codons holding them are neither starts nor stops, as in Prodigal). A codon of other IUPAC
letters is a stop when every codon it stands for is one (TAR, TRA under table 11: an ORF cannot run through
it), never a start (genannot.io.seqout.stop_codons).

A candidate's length counts the stop codon (Prodigal's convention): a complete ORF is kept when it is at
least `min_length` nt long, a partial one (EDGE start and/or 3'-partial group) when at least
`min_edge_length`. A group without any qualifying start is dropped.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

import numpy as np

from genannot.errors import InputError
from genannot.io.seqout import N_CODONS, codon_indices, reverse_complement, stop_codons

log = logging.getLogger(__name__)

EDGE = "EDGE"
_BASE_START_CODONS = ("ATG", "GTG", "TTG")
MIN_N_RUN = 50  # N in a row that make an assembly gap, a contig edge for ORFs (module doc); Prodigal's `-m`
# masks runs of this length (MASK_SIZE in its source), though it only keeps genes from crossing them
_N_RUN = re.compile(f"[Nn]{{{MIN_N_RUN},}}")


@dataclass(frozen=True)
class StopGroup:
    """All candidate ORFs that share one stop codon (or one open 3' contig end)."""

    strand: str  # '+' or '-'
    stop: int  # 0-based forward coordinate of the stop codon's outermost base ('+': right end - 1; '-': left end);
    #            for a 3'-partial group the outermost base of the last complete in-frame codon at the contig edge
    #            (or before a run of N)
    starts: tuple[int, ...]  # 0-based forward coordinate of each start codon's first base in transcription direction
    #                          ('+': leftmost base; '-': rightmost base), longest ORF first; EDGE = first complete codon
    start_codons: tuple[str, ...]  # 'ATG', 'GTG', 'TTG', 'CTG', or 'EDGE' for a 5'-partial candidate
    partial3: bool  # the ORF runs off the contig or into a run of N (no stop codon)

    @property
    def left(self) -> int:
        """0-based leftmost base of the group's longest ORF."""
        return self.starts[0] if self.strand == "+" else self.stop

    @property
    def right(self) -> int:
        """0-based rightmost base (inclusive) of the group's longest ORF."""
        return self.stop if self.strand == "+" else self.starts[0]

    def length(self, start: int) -> int:
        """ORF length in nt (stop codon included) from `start`."""
        return abs(self.stop - start) + 1

    def bounds(self, start: int) -> tuple[int, int]:
        """0-based half-open forward interval [left, right) of the ORF from `start`."""
        return (start, self.stop + 1) if self.strand == "+" else (self.stop, start + 1)


# ---------------------------------------------------------------- codon tables


def codon_sets(table: int = 11, allow_ctg: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(start codons, stop codons) used for an NCBI translation table, over A C G T.

    Starts are ATG/GTG/TTG where the table allows them (Prodigal's set), CTG only with `allow_ctg`. Stops are
    NCBI's, including the codons of tables 27, 28 and 31 that are also sense codons: whether they terminate
    depends on the mRNA, not seen here, and table 28 has no other stop (genannot.io.seqout.codon_table).
    """
    from Bio.Data import CodonTable

    try:
        t = CodonTable.unambiguous_dna_by_id[int(table)]
    except (KeyError, ValueError):
        raise InputError(f"unknown translation table {table!r} (NCBI genetic code ids: 1-6, 9-16, 21-33)") from None
    starts = [c for c in _BASE_START_CODONS if c in t.start_codons] or ["ATG"]
    if allow_ctg:
        starts.append("CTG")
    return tuple(starts), tuple(sorted(t.stop_codons))


# ---------------------------------------------------------------- sequence helpers

def _mask(codes: np.ndarray, codons) -> np.ndarray:
    """Where `codes` (codon_indices) is one of `codons`."""
    lut = np.zeros(N_CODONS, dtype=bool)
    lut[codon_indices("".join(codons), 3)] = True
    return lut[codes]


# ---------------------------------------------------------------- the finder


def n_runs(seq: str) -> list[tuple[int, int]]:
    """[begin, end) of every run of at least MIN_N_RUN N: the assembly gaps, where ORFs end as at contig ends."""
    if "N" not in seq and "n" not in seq:  # most genomes: a substring test is ~50x faster than the regex's scan
        return []
    return [m.span() for m in _N_RUN.finditer(seq)]


def find_stop_groups(
    seq: str,
    table: int = 11,
    min_length: int = 90,
    min_edge_length: int = 60,
    allow_ctg: bool = False,
    closed: bool = False,
) -> list[StopGroup]:
    """Every stop group of `seq` on both strands, sorted by (left end of the longest ORF, strand, stop); the
    pieces between runs of N are searched as contigs of their own (module doc)."""
    seq = seq.upper()
    if len(seq) < 6:
        return []
    starts, _ = codon_sets(table, allow_ctg)
    stops = stop_codons(table)
    groups: list[StopGroup] = []
    begin = 0
    for gap_begin, gap_end in n_runs(seq) + [(len(seq), len(seq))]:
        for g in _contig_groups(seq[begin:gap_begin], starts, stops, min_length, min_edge_length, closed):
            groups.append(g if begin == 0 else replace(g, stop=g.stop + begin, starts=tuple(q + begin for q in g.starts)))
        begin = gap_end
    groups.sort(key=lambda g: (g.left, g.strand, g.stop))
    log.debug("%d stop groups on %d nt", len(groups), len(seq))
    return groups


def _contig_groups(seq: str, starts: tuple[str, ...], stops: tuple[str, ...], min_length: int, min_edge_length: int,
                   closed: bool) -> list[StopGroup]:
    """The stop groups of one uppercase contig without gaps, unsorted."""
    import orfipy_core

    n = len(seq)
    if n < 6:
        return []
    min_any = max(3, min(min_length, min_edge_length) - 3)
    codes_f = codon_indices(seq)
    rc = reverse_complement(seq)
    codes_r = codon_indices(rc)
    groups: list[StopGroup] = []
    for strand, s, codes in (("+", seq, codes_f), ("-", rc, codes_r)):
        is_start = _mask(codes, starts)
        is_stop = _mask(codes, stops)
        start_pos = np.flatnonzero(is_start)
        stop_pos = np.flatnonzero(is_stop)
        starts_by_frame = [start_pos[start_pos % 3 == f] for f in range(3)]
        stops_by_frame = [stop_pos[stop_pos % 3 == f] for f in range(3)]
        # longest ORF per stop (complete; 3'-partial unless closed), strand coordinates: [begin, end) coding,
        # end = first base of the stop codon (or the end of the last full codon for a 3'-partial ORF)
        found: dict[tuple[int, bool], int] = {}
        for begin, end, _strand, desc in orfipy_core.orfs(
            s, minlen=min_any, maxlen=2**31 - 1, strand="f", starts=list(starts), stops=list(stops),
            include_stop=False, partial3=not closed, partial5=False,
        ):
            p3 = "ORF_type=3-prime-partial" in desc
            found[(end, p3)] = begin
        # 5'-edge ORFs: no in-frame stop between the contig start and the first stop of each frame
        edges: dict[tuple[int, bool], int] = {}
        if not closed:
            for f in range(3):
                if n - f < 3:
                    continue
                st = stops_by_frame[f]
                if len(st):
                    edges[(int(st[0]), False)] = f
                else:
                    last_end = f + 3 * ((n - f) // 3)
                    edges[(last_end, True)] = f
        keys = sorted(set(found) | set(edges))
        if not keys:
            continue
        ends = np.array([k[0] for k in keys], dtype=np.int64)
        p3s = np.array([k[1] for k in keys], dtype=bool)
        edge_b = np.array([edges.get(k, -1) for k in keys], dtype=np.int64)
        firsts = np.array([found.get(k, -1) for k in keys], dtype=np.int64)
        # where to look for start codons: from orfipy's longest ORF, else from the edge
        lo = np.where(firsts >= 0, firsts, np.where(edge_b >= 0, edge_b, ends))
        frames = ends % 3
        stop_len = np.where(p3s, 0, 3)
        need = np.where(p3s, min_edge_length, min_length)
        # a start p qualifies when end + stop_len - p >= need  <=>  p <= end + stop_len - need
        hi_pos = ends + stop_len - need
        cand_lo = np.zeros(len(keys), dtype=np.int64)
        cand_hi = np.zeros(len(keys), dtype=np.int64)
        for f in range(3):
            m = frames == f
            fs = starts_by_frame[f]
            cand_lo[m] = np.searchsorted(fs, lo[m], side="left")
            cand_hi[m] = np.searchsorted(fs, np.minimum(hi_pos[m], ends[m] - 1), side="right")
        edge_ok = (edge_b >= 0) & (ends + stop_len - edge_b >= min_edge_length) if not closed else np.zeros(len(keys), bool)
        for k in range(len(keys)):
            fs = starts_by_frame[frames[k]]
            cand = fs[cand_lo[k] : cand_hi[k]].tolist() if cand_hi[k] > cand_lo[k] else []
            eb = int(edge_b[k])
            if edge_ok[k]:
                if cand and cand[0] == eb:
                    cand = cand[1:]  # a start codon on the contig's first codon is the edge start itself
                out_s = [eb] + cand
                out_c = [EDGE] + [s[q : q + 3] for q in cand]
            else:
                if not cand:
                    continue
                out_s = cand
                out_c = [s[q : q + 3] for q in cand]
            last = int(ends[k] + stop_len[k] - 1)  # outermost base of the stop (or last full codon), strand coords
            if strand == "+":
                groups.append(StopGroup("+", last, tuple(out_s), tuple(out_c), bool(p3s[k])))
            else:
                groups.append(StopGroup("-", n - 1 - last, tuple(n - 1 - q for q in out_s), tuple(out_c), bool(p3s[k])))
    return groups


def orf_sequence(seq: str, group: StopGroup, start: int) -> str:
    """ORF nucleotides 5'->3' from `start` to the stop codon inclusive (reverse complement on '-')."""
    lo, hi = group.bounds(start)
    nt = seq[lo:hi].upper()
    return nt if group.strand == "+" else reverse_complement(nt)
