"""De novo repeat masking of inputs that carry no soft-mask (k-mer counts, as WindowMasker does).

Most genomes reach a gene finder unmasked (every eukaryotic input of ../shared/data but the human chr9
slice is upper case), and transposons carry real open reading frames (transposase, gag, pol): in the
Drosophila slice, whose pericentric pieces are full of them, the embedded models called genes in them
that no annotation has (CDS-exon precision 0.23). The decoder already charges exons for soft-masked
bases (`--softmask-penalty`); this module supplies the mask where the input has none: the 15-mers that
occur at least `MIN_COPIES` times, on either strand, in the input's first `SAMPLE_BP` bases are repeats,
and every base such a k-mer covers is masked (lower case) in every record. A given 15-mer turns up by
chance about once in 5 x 10^8 bases, so what recurs four times in a few Mb is a transposon, a
satellite, low-complexity sequence or a recent tandem copy.

`genannot euk` as shipped, CDS-exon F1 without -> with the mask (share of the input masked):

| input | without | 3 copies | 4 copies (`MIN_COPIES`) | 5 copies |
|---|---:|---:|---:|---:|
| Drosophila slice | 0.301 | 0.490 | **0.477** (40%) | 0.460 |
| C. elegans slice | 0.619 | 0.616 | **0.619** (16%) | 0.622 |
| Arabidopsis slice | 0.760 | 0.772 | **0.769** (4%) | 0.764 |
| yeast chrI-IV | 0.874 | 0.878 | **0.884** (8%) | 0.884 |
| human MHC / mouse / rabbit regions (the models saw them) | 0.578 / 0.671 / 0.641 | 0.592 / 0.683 / 0.661 | **0.588 / 0.679 / 0.661** | 0.581 / 0.674 / 0.654 |

Models that never saw the species: mammal leave-one-species-out (`python bench/euk_loo.py --mask-repeats`,
15 regions pooled) 0.656 -> 0.663, base CDS F1 0.799 -> 0.811; human chr9:1-1,000,000 with its RepeatMasker
soft-mask removed 0.250 -> 0.254; Drosophila (`python bench/euk_unseen.py`) 0.162 -> 0.266. Three copies
gained a little more on mammals and Arabidopsis but masked 47% of the Drosophila slice and lowered
C. elegans; four never fell below the unmasked input.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from genannot.euk.genemodel import encode, kmer_index, revcomp_codes

K = 15  # odd: no k-mer is its own reverse complement
MIN_COPIES = 4
SAMPLE_BP = 5_000_000  # counted on the input's first records up to this many bases
BLOCK = 1 << 20  # bases masked at a time


def _canonical(text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(code of the smaller of each k-mer and its reverse complement, whether it holds no N), per start."""
    codes = encode(text)
    n = len(codes) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    fwd, ok = kmer_index(codes, k)  # indexed by the k-mer's last base
    rev, _ = kmer_index(revcomp_codes(codes), k)  # the reverse complement of the k-mer starting at s ends at len - 1 - s
    return np.minimum(fwd[k - 1 :], rev[::-1][:n]), ok[k - 1 :]


def repeated_kmers(texts: Iterable[str], k: int = K, min_copies: int = MIN_COPIES) -> np.ndarray:
    """Sorted codes of the canonical k-mers seen at least `min_copies` times in `texts`."""
    found = [kmers[ok] for t in texts for a in range(0, len(t), BLOCK) for kmers, ok in [_canonical(t[a : a + BLOCK + k - 1], k)]]
    if not found:
        return np.zeros(0, dtype=np.int64)
    values, counts = np.unique(np.concatenate(found), return_counts=True)
    return values[counts >= min_copies]


def masked(text: str, repeats: np.ndarray, k: int = K, start: int = 0, end: int | None = None) -> str:
    """`text[start:end]` upper-cased, with every base covered by one of the `repeats` k-mers of `text`
    lower-cased (`text` may reach k - 1 bases beyond the slice on either side, for the k-mers there)."""
    end = len(text) if end is None else end
    lo = max(0, start - k + 1)
    kmers, ok = _canonical(text[lo : min(len(text), end + k - 1)], k)
    hit = np.zeros(len(kmers) + k, dtype=np.int32)
    if len(repeats) and len(kmers):
        i = np.minimum(np.searchsorted(repeats, kmers), len(repeats) - 1)
        rep = ok & (repeats[i] == kmers)
        hit[: len(kmers)] += rep
        hit[k : k + len(kmers)] -= rep
    covered = np.cumsum(hit)[start - lo : end - lo] > 0
    out = np.frombuffer(text[start:end].upper().encode("ascii"), dtype=np.uint8).copy()
    out[covered] |= 0x20  # A C G T N -> a c g t n
    return out.tobytes().decode("ascii")


def masked_blocks(seq, repeats: np.ndarray, k: int = K, block: int = BLOCK) -> Iterable[str]:
    """`seq` (anything sliced like a str) masked as by `masked`, a block at a time."""
    n = len(seq)
    for a in range(0, n, block):
        b = min(n, a + block)
        lo = max(0, a - k + 1)
        yield masked(seq[lo : min(n, b + k - 1)], repeats, k, a - lo, b - lo)
