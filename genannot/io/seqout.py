"""Sequence output: FASTA writing, reverse complement, CDS extraction and translation."""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, TextIO

from genannot.features import Gene, Transcript

__all__ = ["write_fasta", "reverse_complement", "translate", "cds_sequence", "protein_sequence", "is_5prime_partial"]

_COMPLEMENT = str.maketrans(
    "ACGTURYSWKMBDHVNacgturyswkmbdhvn",
    "TGCAAYRSWMKVHDBNtgcaayrswmkvhdbn",
)


def reverse_complement(seq: str) -> str:
    """Reverse complement (IUPAC-aware, case kept; U complements to A)."""
    return seq.translate(_COMPLEMENT)[::-1]


def write_fasta(handle: TextIO, records: Iterable[tuple[str, str] | tuple[str, str, str]], width: int = 60) -> int:
    """Write (id, seq) or (id, seq, description) records wrapped at `width` (0 = one line).

    Returns the number of records written. An empty ID or an ID with whitespace raises ValueError.
    """
    n = 0
    for rec in records:
        rid, seq = rec[0], rec[1]
        desc = rec[2] if len(rec) > 2 else ""  # type: ignore[misc]
        if not rid or any(c.isspace() for c in rid):
            raise ValueError(f"FASTA ID must be one non-empty word, not {rid!r}")
        desc = " ".join(str(desc).split())
        out = [f">{rid} {desc}" if desc else f">{rid}"]
        if width and width > 0:
            out.extend(seq[i : i + width] for i in range(0, len(seq), width))
        elif seq:
            out.append(seq)
        handle.write("\n".join(out) + "\n")
        n += 1
    return n


@lru_cache(maxsize=None)
def _table(table: int):
    from Bio.Data import CodonTable

    try:
        return CodonTable.ambiguous_dna_by_id[table]
    except KeyError:
        raise ValueError(f"unknown NCBI translation table {table}") from None


@lru_cache(maxsize=None)
def _codon_map(table: int) -> dict[str, str]:
    """Every codon over A C G T N -> amino acid, exactly as Biopython translates it ('X' if ambiguous)."""
    from itertools import product

    from Bio.Seq import translate as bio_translate

    _table(table)
    return {"".join(c): bio_translate("".join(c), table=table) for c in product("ACGTN", repeat=3)}


_BASE_INDEX = bytes.maketrans(b"ACGTN", b"\x00\x01\x02\x03\x04")
_NOT_ACGTN = b"ACGTN"


@lru_cache(maxsize=None)
def _codon_lut(table: int):
    """numpy lookup: 25*i(b1) + 5*i(b2) + i(b3) -> amino-acid byte."""
    import numpy as np

    cmap = _codon_map(table)
    lut = np.zeros(125, dtype=np.uint8)
    for codon, aa in cmap.items():
        i = "ACGTN"
        lut[25 * i.index(codon[0]) + 5 * i.index(codon[1]) + i.index(codon[2])] = ord(aa)
    return lut


def _translate_codons(seq: str, table: int) -> str:
    """Translate a string whose length is a multiple of 3."""
    raw = seq.encode("ascii", errors="replace")
    if not raw.translate(None, _NOT_ACGTN):  # only A C G T N: vectorised lookup
        import numpy as np

        idx = np.frombuffer(raw.translate(_BASE_INDEX), dtype=np.uint8).reshape(-1, 3).astype(np.intp)
        return _codon_lut(table)[idx[:, 0] * 25 + idx[:, 1] * 5 + idx[:, 2]].tobytes().decode("ascii")
    from Bio.Seq import translate as bio_translate

    cmap = _codon_map(table)
    return "".join(cmap.get(seq[i : i + 3]) or bio_translate(seq[i : i + 3], table=table) for i in range(0, len(seq), 3))


def translate(seq: str, table: int = 11, *, complete_start: bool = True, codon_start: int = 1) -> str:
    """Translate a CDS (stop codon included or not) into protein.

    - `codon_start` (1-3, GenBank convention) skips bases of a 5'-partial CDS first;
    - with `complete_start` the first codon, if it is a start codon of the table (GTG, TTG,
      CTG...), becomes 'M'; for a 5'-partial CDS pass complete_start=False;
    - internal stops are '*', the final stop is removed; codons with N become 'X';
    - trailing bases that do not fill a codon are ignored.
    """
    if codon_start not in (1, 2, 3):
        raise ValueError(f"codon_start must be 1, 2 or 3, not {codon_start!r}")
    tab = _table(table)
    seq = seq[codon_start - 1 :].upper().replace("U", "T")
    seq = seq[: len(seq) - len(seq) % 3]
    if not seq:
        return ""
    protein = _translate_codons(seq, table)
    if complete_start and seq[:3] in tab.start_codons:
        protein = "M" + protein[1:]
    if protein.endswith("*"):
        protein = protein[:-1]
    return protein


def cds_sequence(genome: str, gene: Gene, transcript: Transcript) -> str:
    """Spliced CDS nucleotides of `transcript` in transcription order (`genome` = the record's sequence)."""
    parts = [genome[s - 1 : e] for s, e in sorted(transcript.cds)]
    seq = "".join(parts)
    return reverse_complement(seq) if gene.strand == "-" else seq


def is_5prime_partial(gene: Gene) -> bool:
    """True when the gene's 5' end runs off the sequence (Prodigal-style `partial`, left/right)."""
    partial = gene.partial or "00"
    return partial[1] == "1" if gene.strand == "-" else partial[0] == "1"


def protein_sequence(genome: str, gene: Gene, transcript: Transcript, table: int = 11) -> str:
    """Protein of a coding transcript: honours `codon_start` and 5' partiality (no forced 'M')."""
    codon_start = int(transcript.attributes.get("codon_start", 1))
    return translate(
        cds_sequence(genome, gene, transcript), table, complete_start=not is_5prime_partial(gene), codon_start=codon_start
    )
