"""Per-base probability tracks as bgzipped bedGraph, for genome browsers (IGV, JBrowse, UCSC).

    paths = track_paths("out/chr9")           # {"exon_plus": "out/chr9.exon_plus.bedgraph.gz", ...}
    with atomic_outputs(paths, "wb") as handles:
        tracks = BedGraphTracks(handles)
        tracks.write("9", 0, probs)           # probs (n, 2, 5): forward coordinates, + then - strand
        tracks.close()

One file per class and strand (the segmentation model's five classes x two strands). Values are
rounded to `step` (0.1 by default) and runs of equal value merged, with zero runs left out (bedGraph
allows gaps): a whole genome stays a small file. Every file is bgzipped and has no track line, so
that `tabix -p bed` indexes it as it is. Slices must come in order along each sequence; bases already written are skipped, so
overlapping slices are fine.
"""

from __future__ import annotations

from typing import IO, Mapping

import numpy as np
from Bio.bgzf import BgzfWriter

CLASSES = ("five_prime_UTR", "exon", "intron", "three_prime_UTR", "CDS")
STRANDS = ("plus", "minus")
TRACKS = tuple((f"{c}_{s}", ci, si) for si, s in enumerate(STRANDS) for ci, c in enumerate(CLASSES))


def track_paths(prefix: str) -> dict[str, str]:
    """The output file of every track for an output prefix."""
    return {name: f"{prefix}.{name}.bedgraph.gz" for name, _, _ in TRACKS}


class BedGraphTracks:
    """Writes (n, 2, 5) probability slices into one bgzipped bedGraph per class and strand."""

    def __init__(self, handles: Mapping[str, IO[bytes]], step: float = 0.1) -> None:
        self._out = {name: BgzfWriter(fileobj=_KeepOpen(handles[name])) for name, _, _ in TRACKS}
        self._levels = round(1 / step)
        self._seqid: str | None = None
        self._written = 0

    def write(self, seqid: str, start: int, probs: np.ndarray) -> None:
        """Bases start .. start + len(probs) of `seqid` (0-based); those already written are skipped."""
        if seqid != self._seqid:
            self._seqid, self._written = seqid, 0
        skip = max(0, self._written - start)
        if skip >= len(probs):
            return
        start += skip
        q = np.rint(np.asarray(probs[skip:], dtype=np.float32) * self._levels).astype(np.int16)
        for name, ci, si in TRACKS:
            self._out[name].write(_runs(seqid, start, q[:, si, ci], self._levels).encode("utf-8"))
        self._written = start + len(q)

    def close(self) -> None:
        """Finish the bgzip streams (last block, EOF marker); the handles themselves stay open."""
        for w in self._out.values():
            w.close()


def _runs(seqid: str, start: int, q: np.ndarray, levels: int) -> str:
    """bedGraph lines for the non-zero runs of the quantised values `q` (encoded as UTF-8 by the caller:
    BgzfWriter would encode text as Latin-1, which fails on other sequence IDs)."""
    edges = np.flatnonzero(np.diff(q)) + 1
    lo = np.concatenate([[0], edges])
    hi = np.concatenate([edges, [len(q)]])
    keep = q[lo] != 0
    return "".join(
        f"{seqid}\t{start + a}\t{start + b}\t{v / levels:g}\n" for a, b, v in zip(lo[keep], hi[keep], q[lo[keep]])
    )


class _KeepOpen:
    """A binary handle whose close() only flushes: the atomic output commits and closes it."""

    mode = "wb"

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle

    def write(self, data: bytes) -> int:
        return self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        self._handle.flush()
