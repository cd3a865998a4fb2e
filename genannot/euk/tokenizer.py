"""BPE tokenizer for DNA in GENA-LM's format, and the token -> nucleotide span map.

One class, `DnaTokenizer`, wraps a Hugging Face `tokenizers.Tokenizer`:

- `DnaTokenizer.train(sequences, vocab_size=4096)` learns a BPE vocabulary on genomic sequence with
  GENA-LM's pipeline: specials [UNK]=0 [CLS]=1 [SEP]=2 [PAD]=3 [MASK]=4 and the N-run token '-'=5,
  normalizer "strip, then every run of >= 10 N -> '-'", pre-tokenizer "split on '-' (isolated)",
  BPE model, [CLS] x [SEP] post-processor.
- `DnaTokenizer.from_file(path)` loads any tokenizer.json, GENA-LM's own 32k one included; the
  special-token ids are checked (a tokenizer whose specials sit elsewhere is refused).
- `encode(seq)` returns the content token ids (no [CLS]/[SEP]) and, per token, the half-open span
  of nucleotides it covers in `seq`. Spans tile the sequence exactly: every base belongs to exactly
  one token, in order (a run of N collapsed into '-' is one token spanning the whole run). The
  segmentation head repeats each token's state over its span with `base_to_token`.

The input is uppercased and every letter outside ACGTN becomes N before tokenizing (length is
kept, so spans index the caller's string); soft-masking is returned separately by `softmask_of`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from genannot.errors import ModelError

SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")
UNK_ID, CLS_ID, SEP_ID, PAD_ID, MASK_ID = range(5)
NRUN_TOKEN = "-"
NRUN_ID = 5
NRUN_MIN = 10  # GENA-LM: N{10,} -> '-'
ALPHABET = "ACGTN"

# uppercase + IUPAC/other letters -> N, as a 256-entry byte translation table
_TABLE = bytearray(b"N" * 256)
for _c in "ACGTN":
    _TABLE[ord(_c)] = ord(_c)
    _TABLE[ord(_c.lower())] = ord(_c)
_TABLE = bytes(_TABLE)


def clean_sequence(seq: str) -> str:
    """Uppercase; every character outside ACGT becomes N (same length)."""
    return seq.encode("ascii", "replace").translate(_TABLE).decode("ascii")


def softmask_of(seq: str) -> np.ndarray:
    """Boolean array, True where `seq` has a lowercase (soft-masked) letter."""
    b = np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)
    return (b >= ord("a")) & (b <= ord("z"))


@dataclass
class Encoding:
    """Content tokens of one sequence (no [CLS]/[SEP]).

    ids: (T,) int64; spans: (T, 2) int64 half-open [start, end) into the sequence;
    base_to_token: (L,) int64, the token index covering each base.
    """

    ids: np.ndarray
    spans: np.ndarray
    base_to_token: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def _chunks(sequences: Iterable[str], chunk: int) -> Iterator[str]:
    for s in sequences:
        s = clean_sequence(s)
        for i in range(0, len(s), chunk):
            piece = s[i : i + chunk]
            if piece.strip("N"):
                yield piece


class DnaTokenizer:
    """A GENA-LM-format BPE tokenizer plus the nucleotide span map."""

    def __init__(self, tokenizer) -> None:  # tokenizers.Tokenizer
        self._tok = tokenizer
        self._check_specials()

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_file(cls, path: str | Path) -> "DnaTokenizer":
        """Load a tokenizer.json (or a directory holding one)."""
        from tokenizers import Tokenizer

        p = Path(path)
        if p.is_dir():
            p = p / "tokenizer.json"
        if not p.is_file():
            raise ModelError(f"no tokenizer.json at {path}")
        try:
            tok = Tokenizer.from_file(str(p))
        except Exception as e:  # tokenizers raises plain Exception subclasses
            raise ModelError(f"cannot read tokenizer {p}: {e}") from None
        return cls(tok)

    @classmethod
    def from_str(cls, text: str) -> "DnaTokenizer":
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(text))

    @classmethod
    def train(
        cls,
        sequences: Iterable[str],
        *,
        vocab_size: int = 4096,
        min_frequency: int = 2,
        max_token_length: int = 16,
        chunk: int = 2000,
    ) -> "DnaTokenizer":
        """Learn a BPE vocabulary of `vocab_size` (specials included) on the given sequences.

        Sequences are cut into `chunk`-base pieces (each piece is one BPE "word"; the statistics
        are the same as on whole chromosomes up to the merges that would span a cut).
        """
        from tokenizers import Tokenizer, models, trainers

        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        cls._set_pipeline(tok)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS) + [NRUN_TOKEN],
            initial_alphabet=list(ALPHABET),
            max_token_length=max_token_length,
            show_progress=False,
        )
        tok.train_from_iterator(_chunks(sequences, chunk), trainer=trainer)
        return cls(tok)

    @staticmethod
    def _set_pipeline(tok) -> None:
        from tokenizers import Regex, normalizers, pre_tokenizers, processors, decoders

        tok.normalizer = normalizers.Sequence(
            [normalizers.Strip(), normalizers.Replace(Regex(f"N{{{NRUN_MIN},}}"), NRUN_TOKEN)]
        )
        tok.pre_tokenizer = pre_tokenizers.Split(NRUN_TOKEN, behavior="isolated")
        tok.post_processor = processors.BertProcessing(("[SEP]", SEP_ID), ("[CLS]", CLS_ID))
        tok.decoder = decoders.BPEDecoder(suffix=" ")

    def _check_specials(self) -> None:
        for i, t in enumerate(SPECIAL_TOKENS):
            got = self._tok.token_to_id(t)
            if got != i:
                raise ModelError(f"tokenizer special token {t} has id {got}, expected {i} (GENA-LM layout)")
        for c in "ACGT":
            if self._tok.token_to_id(c) is None:
                raise ModelError(f"tokenizer has no single-letter token {c!r}: not a DNA tokenizer")

    # ------------------------------------------------------------------ properties / io

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    @property
    def backend(self):
        return self._tok

    def to_str(self) -> str:
        return self._tok.to_str()

    def save(self, path: str | Path) -> Path:
        """Write tokenizer.json (path is the file, or a directory to put it in)."""
        p = Path(path)
        if p.is_dir():
            p = p / "tokenizer.json"
        p.write_text(self._tok.to_str(pretty=True), encoding="utf-8")
        # transformers' AutoTokenizer reads this beside tokenizer.json (GENA-LM ships the same file)
        (p.parent / "tokenizer_config.json").write_text(
            json.dumps({"tokenizer_class": "PreTrainedTokenizerFast"}), encoding="utf-8"
        )
        return p

    def token(self, i: int) -> str | None:
        return self._tok.id_to_token(int(i))

    # ------------------------------------------------------------------ encoding

    def encode(self, seq: str) -> Encoding:
        """Content token ids and their nucleotide spans (see module docstring)."""
        s = clean_sequence(seq)
        n = len(s)
        if n == 0:
            z = np.zeros(0, dtype=np.int64)
            return Encoding(z, np.zeros((0, 2), dtype=np.int64), z)
        enc = self._tok.encode(s, add_special_tokens=False)
        ids = np.asarray(enc.ids, dtype=np.int64)
        offs = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
        spans = self._tile(offs, n)
        base_to_token = np.repeat(np.arange(len(ids), dtype=np.int64), spans[:, 1] - spans[:, 0])
        return Encoding(ids, spans, base_to_token)

    def encode_batch(self, seqs: list[str]) -> list[Encoding]:
        return [self.encode(s) for s in seqs]

    @staticmethod
    def _tile(offs: np.ndarray, n: int) -> np.ndarray:
        """Make spans an exact tiling of [0, n): tokens in order, no gap, no overlap.

        Token *ends* are taken from the tokenizer and each token starts where the previous one
        ended. This is what makes N runs exact: the tokenizers library aligns the '-' that
        replaces a run of N with the run's last base only (offsets (e-1, e)), so the bases of the
        run before it would otherwise belong to no token; here the '-' token spans the whole run.
        """
        t = offs.shape[0]
        if t == 0:
            raise ModelError("tokenizer returned no token for a non-empty sequence")
        ends = offs[:, 1].copy()
        ends[-1] = n
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1]
        if np.any(ends <= starts):
            raise ModelError("tokenizer produced an empty or out-of-order token span")
        return np.stack([starts, ends], axis=1)
