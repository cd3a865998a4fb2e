"""Sequence output: FASTA writing, reverse complement, CDS extraction and translation."""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, TextIO

from genannot.features import Gene, Transcript

__all__ = ["write_fasta", "reverse_complement", "translate", "N_CODONS", "codon_indices", "codon_table", "stop_codons",
           "cds_sequence", "protein_sequence", "is_5prime_partial"]

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


# IUPAC nucleotide codes and the bases each stands for; a codon's index is its three letters' positions in
# _LETTERS read as base-15 digits (U reads as T, any other byte as N)
_IUPAC = {"A": "A", "C": "C", "G": "G", "T": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
          "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT"}
_LETTERS = "".join(_IUPAC)
N_CODONS = len(_LETTERS) ** 3  # codon_indices are below this


def _bases(codon: str) -> set[str]:
    """The A C G T codons an uppercase IUPAC codon stands for."""
    from itertools import product

    return {"".join(c) for c in product(*(_IUPAC.get(b, "ACGT") for b in codon))}


@lru_cache(maxsize=None)
def _table(table: int):
    """Biopython's NCBI table over A C G T: `codon_table` resolves IUPAC letters, and the codons of tables 27, 28
    and 31 that are both stop and sense, itself (Bio.Seq.translate warns on those tables)."""
    from Bio.Data import CodonTable

    try:
        return CodonTable.unambiguous_dna_by_id[table]
    except KeyError:
        raise ValueError(f"unknown NCBI translation table {table}") from None


@lru_cache(maxsize=None)
def _digits():
    """Byte -> its letter's position in _LETTERS (a codon-index digit)."""
    import numpy as np

    d = np.full(256, _LETTERS.index("N"), dtype=np.int16)
    for i, c in enumerate(_LETTERS):
        d[ord(c)] = d[ord(c.lower())] = i
    d[ord("U")] = d[ord("u")] = _LETTERS.index("T")
    return d


def codon_indices(seq: str, step: int = 1):
    """numpy index (below N_CODONS) of the codon at every `step`-th position of `seq` (IUPAC letters, any case)."""
    import numpy as np

    d = _digits()[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)]
    if len(d) < 3:
        return np.zeros(0, dtype=np.int16)
    return (d[:-2] * 225 + d[1:-1] * 15 + d[2:])[::step]


@lru_cache(maxsize=None)
def codon_table(table: int):
    """numpy lookup, codon index -> amino-acid byte: what every base the codon's IUPAC letters stand for
    agrees on (an amino acid, or '*' for a certain stop), else 'X'. So CTN is L, TAR and TRA are stops, TAN is X.

    Tables 27, 28 and 31 have codons that are both a stop and an amino acid: NCBI lists them with their amino
    acid and marks them as able to terminate, termination depending on the mRNA (near its poly(A) tail), which
    genomic DNA does not show. Here they are stops ('*'), as in the ORF finder (genannot.prok.orfs), which
    must end ORFs at them (table 28 has no other stop): so a gene's protein never carries its own stop codon
    as an amino acid, and an internal '*' always means an ORF would have ended there.
    """
    import numpy as np

    t = _table(table)
    aa = {**t.forward_table, **dict.fromkeys(t.stop_codons, "*")}
    lut = np.empty(N_CODONS, dtype=np.uint8)
    for i, codon in enumerate(_all_codons()):
        found = {aa[c] for c in _bases(codon)}
        lut[i] = ord(found.pop() if len(found) == 1 else "X")
    return lut


@lru_cache(maxsize=None)
def stop_codons(table: int) -> tuple[str, ...]:
    """Every codon over IUPAC letters (uppercase) that is a stop whichever bases it stands for (TAR, TRA...)."""
    lut = codon_table(table)
    return tuple(c for i, c in enumerate(_all_codons()) if lut[i] == ord("*"))


def _all_codons() -> list[str]:
    """Every codon over _LETTERS, in index order."""
    from itertools import product

    return ["".join(c) for c in product(_LETTERS, repeat=3)]


def translate(seq: str, table: int = 11, *, complete_start: bool = True, codon_start: int = 1) -> str:
    """Translate a CDS (stop codon included or not) into protein.

    - `codon_start` (1-3, GenBank convention) skips bases of a 5'-partial CDS first;
    - with `complete_start` the first codon, if it is a start codon of the table (GTG, TTG,
      CTG... or an IUPAC codon standing only for those, such as NTG), becomes 'M'; for a 5'-partial CDS
      pass complete_start=False;
    - internal stops are '*', the final stop is removed; ambiguous codons as in `codon_table`;
    - trailing bases that do not fill a codon are ignored.
    """
    if codon_start not in (1, 2, 3):
        raise ValueError(f"codon_start must be 1, 2 or 3, not {codon_start!r}")
    tab = _table(table)
    seq = seq[codon_start - 1 :].upper().replace("U", "T")
    seq = seq[: len(seq) - len(seq) % 3]
    if not seq:
        return ""
    protein = codon_table(table)[codon_indices(seq, 3)].tobytes().decode("ascii")
    if complete_start and _bases(seq[:3]) <= set(tab.start_codons):
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
