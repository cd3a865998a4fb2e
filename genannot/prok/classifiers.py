"""Coding (CDS) and start-site (TIS) classifiers: Hugging Face sequence classifiers over DNABERT k-mers.

Checkpoints are plain Hugging Face directories (config.json, model.safetensors or pytorch_model.bin,
vocab.txt), so GeneLM's published models (`Genereux-akotenou/BacteriaCDS-DNABERT-K6-89M`,
`...BacteriaTIS-DNABERT-K6-89M`: BertForSequenceClassification, DNABERT 6-mer vocabulary) load with
the same code as genannot's own small ones.

Input recipe (GeneLM's):
  - CDS: the last 510 nt of a stop group's longest ORF (stop codon included), 6-mers with stride 3
    (codon-aligned hexamers: 169 tokens + [CLS] + [SEP] for a full window);
  - TIS: 60 nt around a candidate start, 30 upstream and 30 from the first base of the start codon,
    in transcription direction, padded with N beyond the contig ends; 6-mers with stride 1 (55 + 2).
`cds_input` / `tis_input` cut those windows; `SequenceClassifier.predict` tokenizes them with the
checkpoint's own vocab.txt (a k-mer holding N -> [UNK]) and returns P(label 1) per window.

Tokenization is vectorised (k-mer codes -> vocabulary ids through a lookup table built from
vocab.txt), which gives exactly the ids that BertTokenizer gives for the space-separated k-mer
sentence ("ATGAAA TGAAAC ...") GeneLM was trained on; `predict` also accepts such sentences.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from genannot.errors import ModelError
from genannot.io.seqout import reverse_complement

log = logging.getLogger(__name__)

CDS_WINDOW = 510  # nt: the last 510 nt of the longest ORF
TIS_UPSTREAM = 30  # nt before the start codon's first base
TIS_DOWNSTREAM = 30  # nt from the start codon's first base on
KMER = 6
STRIDES = {"cds": 3, "tis": 1}
KIND_TASK = {"prok-cds": "cds", "prok-tis": "tis"}
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
CONFIG_KEY = "genannot"  # our extra config.json entry: {"task": "cds"|"tis", "kmer": 6, "stride": 3, ...}

# base -> digit 0..3, anything else (N) -> 4
_BASE5 = np.full(256, 4, dtype=np.int64)
for _i, _b in enumerate("ACGT"):
    _BASE5[ord(_b)] = _i
    _BASE5[ord(_b.lower())] = _i
_BASE5_32 = _BASE5.astype(np.int32)


# ---------------------------------------------------------------- input windows


def cds_input(orf_nt: str) -> str:
    """CDS classifier window: the last 510 nt of an ORF given 5'->3' (stop codon included)."""
    return orf_nt[-CDS_WINDOW:].upper()


def tis_input(seq: str, strand: str, start: int) -> str:
    """TIS classifier window: 30 nt upstream + 30 nt from the start codon's first base, in transcription
    direction; `start` is that base's 0-based forward coordinate (on '-' the codon's rightmost base).
    Positions beyond the sequence ends are N."""
    n = len(seq)
    if strand == "+":
        lo, hi = start - TIS_UPSTREAM, start + TIS_DOWNSTREAM
    elif strand == "-":
        lo, hi = start - TIS_DOWNSTREAM + 1, start + TIS_UPSTREAM + 1
    else:
        raise ValueError(f"strand must be '+' or '-', not {strand!r}")
    window = "N" * max(0, -lo) + seq[max(lo, 0) : min(hi, n)].upper() + "N" * max(0, hi - n)
    return window if strand == "+" else reverse_complement(window)


def kmer_sentence(nt: str, k: int = KMER, stride: int = 1) -> str:
    """GeneLM's text form of a window: space-separated k-mers (for inspection and interchange)."""
    return " ".join(nt[i : i + k] for i in range(0, len(nt) - k + 1, stride))


# ---------------------------------------------------------------- tokenizer


class KmerTokenizer:
    """DNABERT k-mer tokenizer driven by a checkpoint's vocab.txt (one token per line, id = line number)."""

    def __init__(self, vocab: Sequence[str]):
        self.vocab = list(vocab)
        self.index = {tok: i for i, tok in enumerate(self.vocab)}
        missing = [t for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]") if t not in self.index]
        if missing:
            raise ModelError(f"vocab.txt lacks the special token(s) {', '.join(missing)}")
        kmers = [t for t in self.vocab if t not in SPECIAL_TOKENS and not t.startswith("[")]
        lengths = {len(t) for t in kmers}
        if len(lengths) != 1 or not kmers:
            raise ModelError(f"vocab.txt is not a k-mer vocabulary (token lengths {sorted(lengths)[:5]})")
        self.k = lengths.pop()
        self.unk_id = self.index["[UNK]"]
        self.cls_id = self.index["[CLS]"]
        self.sep_id = self.index["[SEP]"]
        self.pad_id = self.index["[PAD]"]
        # base-5 k-mer code (N = 4) -> vocabulary id; any k-mer with N (or absent from the vocab) -> [UNK]
        self.table = np.full(5**self.k, self.unk_id, dtype=np.int64)
        weights = 5 ** np.arange(self.k - 1, -1, -1)
        for tok in kmers:
            codes = _BASE5[np.frombuffer(tok.encode("ascii", "replace"), dtype=np.uint8)]
            if (codes < 4).all():
                self.table[int(codes @ weights)] = self.index[tok]
        self._weights = weights

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "KmerTokenizer":
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise ModelError(f"cannot read tokenizer vocabulary {path}: {e.strerror or e}") from None
        return cls([ln.strip() for ln in lines if ln.strip()])

    def kmer_ids(self, texts: Sequence[str], stride: int) -> list[np.ndarray]:
        """Vocabulary ids of the k-mers (no [CLS]/[SEP]) of each nucleotide window, or of each
        space-separated k-mer sentence. All windows are coded in one vectorised pass."""
        k = self.k
        out: list[np.ndarray | None] = [None] * len(texts)
        plain = []
        for i, t in enumerate(texts):
            if " " in t:
                out[i] = np.array([self.index.get(w, self.unk_id) for w in t.split()], dtype=np.int64)
            else:
                plain.append(i)
        if plain:
            joined = "".join(texts[i] for i in plain)
            b = _BASE5_32[np.frombuffer(joined.encode("ascii", "replace"), dtype=np.uint8)]
            if len(b) >= k:
                m_all = len(b) - k + 1
                codes = b[:m_all] * int(self._weights[0])
                for j in range(1, k):
                    codes += b[j : j + m_all] * int(self._weights[j])
                ids_all = self.table[codes]
            else:
                ids_all = np.zeros(0, dtype=np.int64)
            offset = 0
            for i in plain:
                n = len(texts[i])
                m = (n - k) // stride + 1 if n >= k else 0
                out[i] = ids_all[offset : offset + stride * (m - 1) + 1 : stride] if m else np.zeros(0, dtype=np.int64)
                offset += n
        return out  # type: ignore[return-value]

    def encode(self, text: str, stride: int) -> np.ndarray:
        """Token ids [CLS] k-mers [SEP] of one window, as BertTokenizer gives for its k-mer sentence."""
        ids = self.kmer_ids([text], stride)[0]
        return np.concatenate([[self.cls_id], ids, [self.sep_id]]).astype(np.int64)

    def batch(self, kmer_ids: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, attention_mask): [CLS] k-mers [SEP], padded to the longest item."""
        width = max(len(e) for e in kmer_ids) + 2
        ids = np.full((len(kmer_ids), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(kmer_ids), width), dtype=np.int64)
        ids[:, 0] = self.cls_id
        for i, e in enumerate(kmer_ids):
            n = len(e)
            ids[i, 1 : n + 1] = e
            ids[i, n + 1] = self.sep_id
            mask[i, : n + 2] = 1
        return ids, mask


def dnabert_vocab(k: int = KMER) -> list[str]:
    """DNABERT's vocabulary: the 5 special tokens, then every k-mer in A, T, C, G product order."""
    from itertools import product

    return [*SPECIAL_TOKENS, *("".join(p) for p in product("ATCG", repeat=k))]


# ---------------------------------------------------------------- classifier


@dataclass
class SequenceClassifier:
    """A loaded checkpoint: `predict(windows)` -> P(label 1) per window (float32)."""

    name: str
    sha256: str
    model: Any  # transformers PreTrainedModel
    tokenizer: KmerTokenizer
    task: str  # 'cds' | 'tis'
    stride: int
    device: Any  # torch.device
    batch_size: int | str = "auto"
    path: Path | None = None
    extra: dict = field(default_factory=dict)

    def encode(self, seqs: Sequence[str]) -> list[np.ndarray]:
        """k-mer ids of each window (see KmerTokenizer.kmer_ids)."""
        return self.tokenizer.kmer_ids(seqs, self.stride)

    def predict(self, seqs: Sequence[str], *, progress: bool | None = None) -> np.ndarray:
        """P(label 1) for each window (or k-mer sentence), in input order."""
        import torch

        from genannot.runtime.device import autocast_dtype, batched_predict

        n = len(seqs)
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        encoded = self.encode(seqs)
        # batches of similar length waste less on padding; results are put back in input order
        order = np.argsort([len(e) for e in encoded], kind="stable")
        items = [encoded[i] for i in order]
        dev = self.device
        dtype = autocast_dtype(dev)
        model = self.model
        tok = self.tokenizer

        def run(batch: Sequence[np.ndarray]) -> np.ndarray:
            ids, mask = tok.batch(batch)
            ids_t = torch.from_numpy(ids).to(dev)
            mask_t = None if mask.all() else torch.from_numpy(mask).to(dev)  # no mask: the fused attention path
            with torch.autocast(dev.type, dtype=dtype, enabled=dtype != torch.float32):
                logits = model(input_ids=ids_t, attention_mask=mask_t).logits
            return torch.softmax(logits.float(), dim=-1)[:, 1].cpu().numpy()

        scores = batched_predict(
            run, items, device=dev, batch_size=self.batch_size, desc=f"{self.task.upper()} scores", progress=progress
        )
        out = np.empty(n, dtype=np.float32)
        out[order] = np.asarray(scores, dtype=np.float32)
        return out


def _read_config(path: Path) -> dict:
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model directory {path} has no config.json") from None
    except (OSError, ValueError) as e:
        raise ModelError(f"model directory {path}: unreadable config.json ({e})") from None


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """No transformers warnings or progress bars (weight loading/saving) on our stderr."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_classifier(
    path: str | os.PathLike,
    device: Any = "cpu",
    batch_size: int | str = "auto",
    *,
    task: str | None = None,
    name: str | None = None,
    sha256: str | None = None,
) -> SequenceClassifier:
    """Load a Hugging Face sequence-classification directory (config.json, model.safetensors or
    pytorch_model.bin, vocab.txt). `task` ('cds'/'tis') sets the k-mer stride; without it the
    `genannot` entry of config.json decides (GeneLM's checkpoints need it given)."""
    from genannot.models import registry  # sets the HF offline variables before transformers loads

    from genannot.runtime.device import select_device

    p = Path(path).expanduser()
    if not p.is_dir():
        raise ModelError(f"model directory {p} does not exist")
    cfg = _read_config(p)
    meta = cfg.get(CONFIG_KEY) or {}
    task = task or meta.get("task")
    if task not in STRIDES:
        raise ModelError(f"{p}: cannot tell whether this is a CDS or a TIS model; load it as prok-cds or prok-tis")
    stride = int(meta["stride"]) if meta.get("task") == task and "stride" in meta else STRIDES[task]
    if not (p / "vocab.txt").is_file():
        raise ModelError(f"model directory {p} has no vocab.txt (DNABERT k-mer vocabulary)")
    if not any((p / f).is_file() for f in ("model.safetensors", "pytorch_model.bin")):
        raise ModelError(f"model directory {p} has neither model.safetensors nor pytorch_model.bin")
    tokenizer = KmerTokenizer.from_file(p / "vocab.txt")
    if cfg.get("vocab_size") is not None and cfg["vocab_size"] < len(tokenizer.vocab):
        raise ModelError(f"{p}: vocab.txt has {len(tokenizer.vocab)} tokens but the model only {cfg['vocab_size']}")
    dev = select_device(device)

    import torch

    if cfg.get("model_type") == "bert":  # DNABERT, GeneLM's and ours: the class itself, without the Auto lookup (0.6 s)
        from transformers import BertForSequenceClassification as loader
    else:
        from transformers import AutoModelForSequenceClassification as loader

    with quiet_transformers():
        try:
            model = loader.from_pretrained(str(p), dtype=torch.float32, local_files_only=True)
        except Exception as e:  # noqa: BLE001 - any loader failure is a model problem for the user
            first = next((ln for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
            raise ModelError(f"cannot load model from {p}: {first}") from None
    if getattr(model.config, "num_labels", 2) < 2:
        raise ModelError(f"{p}: a classifier with at least 2 labels is needed (label 1 = positive)")
    model.to(dev).eval()
    if sha256 is None:
        sha256 = registry.combined_digest(registry.directory_digests(p))
    return SequenceClassifier(
        name=name or str(path), sha256=sha256, model=model, tokenizer=tokenizer, task=task, stride=stride,
        device=dev, batch_size=batch_size, path=p, extra=dict(meta),
    )


# ---------------------------------------------------------------- the pair used by `genannot prok`


@dataclass
class ProkModels:
    cds: SequenceClassifier
    tis: SequenceClassifier
    provenance: list[tuple[str, str]]  # [(name, sha256)] of the CDS and the TIS model


def _pair_dir(model: str | os.PathLike | None, sub: str) -> Path | None:
    """DIR/sub when `model` is a directory written by `genannot train prok -o DIR` (cds/ and tis/)."""
    if model is None:
        return None
    p = Path(os.fspath(model)).expanduser()
    if p.is_dir() and (p / "cds").is_dir() and (p / "tis").is_dir() and not (p / "config.json").exists():
        return p / sub
    return None


def load_prok_models(
    model: str | os.PathLike | None = None,
    tis_model: str | os.PathLike | None = None,
    device: Any = "cpu",
    batch_size: int | str = "auto",
) -> ProkModels:
    """Resolve and load the CDS and TIS classifiers.

    `model`: a prok-cds registry name, a model directory, a `train prok` output directory (cds/ + tis/),
    or None for the registry default. `tis_model` likewise; when None the TIS model is the `tis/` of a
    train-output directory, else the CDS entry's `pair`, else the default prok-tis model."""
    from genannot.models.registry import resolve_model

    cds_ref = _pair_dir(model, "cds") or model
    tis_ref = _pair_dir(tis_model, "tis") or tis_model
    if tis_ref is None:
        tis_ref = _pair_dir(model, "tis")
    cds_res = resolve_model(cds_ref, "prok-cds")
    if tis_ref is None and cds_res.spec is not None and cds_res.spec.pair:
        tis_ref = cds_res.spec.pair
    tis_res = resolve_model(tis_ref, "prok-tis")
    cds = load_classifier(cds_res.path, device, batch_size, task="cds", name=cds_res.name, sha256=cds_res.sha256)
    tis = load_classifier(tis_res.path, device, batch_size, task="tis", name=tis_res.name, sha256=tis_res.sha256)
    log.info("CDS model %s (%s), TIS model %s (%s)", cds.name, cds.sha256[:12], tis.name, tis.sha256[:12])
    return ProkModels(cds=cds, tis=tis, provenance=[(cds.name, cds.sha256), (tis.name, tis.sha256)])
