"""The eukaryotic segmentation model (kind 'euk-seg'): BPE tokenizer + RMT encoder + nucleotide U-Net.

    model = EukSegModel.from_pretrained(directory)         # config.json, model.safetensors, tokenizer.json
    probs = model.predict(window)                          # (len(window), n_outputs) float32 in [0, 1]

Columns of `probs`: the five CLASSES (five_prime_UTR, exon, intron, three_prime_UTR, CDS; all low =
intergenic) for the strand the window is read on (the forward strand of `window`), then, when
`n_outputs` is 10 (the default since the both-strand head), the same five for the opposite strand,
each strand in its own transcription direction (a minus-strand gene's 5'UTR is column 5 + UTR5).
Reading the reverse complement therefore predicts the same two tracks with the halves swapped and
the positions reversed (`rc_to_forward`), so averaging the two passes is exact. Older 5-output
models predict the reading strand only. Whole-chromosome windowing and reverse-complement averaging
are genannot.euk.windows'; `predict` handles one window of any length (the RMT encoder walks its
512-token segments with memory).

A saved directory is Hugging Face-shaped: config.json (kind, classes, n_outputs, encoder = a
GENA-LM-style BERT config, rmt, head, provenance), model.safetensors (fp16) and tokenizer.json
(+ tokenizer_config.json); a head that reads signal tracks (`head.signal_dim` > 0, `signal_tracks`)
also needs the decoder's genemodel.npz beside them, the models its tracks are computed with.
`EukSegModel.from_gena(dir)` starts a model from a GENA-LM checkpoint (its tokenizer and encoder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from genannot.errors import ModelError
from genannot.euk.rmt import EncoderConfig, RecurrentMemoryEncoder, RmtConfig, read_gena_checkpoint, strict_load
from genannot.euk.tokenizer import DnaTokenizer, clean_sequence, softmask_of
from genannot.euk.unet import HeadConfig, NucleotideHead

KIND = "euk-seg"
MODEL_TYPE = "genannot-euk-seg"
CLASSES = ("five_prime_UTR", "exon", "intron", "three_prime_UTR", "CDS")
UTR5, EXON, INTRON, UTR3, CDS = range(5)
OUTPUT_CHOICES = (5, 10)
# 5-output models, union of both strands in forward orientation: reading a window reverse-complemented
# flips transcription direction, so the 5'UTR and 3'UTR columns swap
RC_PERMUTATION = (UTR3, EXON, INTRON, UTR5, CDS)


def rc_to_forward(probs: np.ndarray) -> np.ndarray:
    """Outputs of a 10-output model on a reverse-complemented window -> the forward window's layout
    ((+ strand, - strand) per position): positions reversed, the two strand halves swapped."""
    p = probs[::-1]
    return np.concatenate([p[:, 5:], p[:, :5]], axis=1)

_NUC_LUT = np.full(256, 4, dtype=np.int64)
for _i, _c in enumerate("ACGT"):
    _NUC_LUT[ord(_c)] = _i


def nucleotide_ids(clean_seq: str) -> np.ndarray:
    """A C G T N -> 0 1 2 3 4 (input already cleaned: uppercase ACGTN)."""
    return _NUC_LUT[np.frombuffer(clean_seq.encode("ascii"), dtype=np.uint8)]


SIGNAL_SCALES = (49, 145)  # bases over which the coding log-odds are averaged (odd: centred windows)
SIGNAL_TRACKS = 2 * (len(SIGNAL_SCALES) + 4)  # columns of `signal_tracks`
SIGNAL_CLIP = 8.0  # site log-odds are clipped to +-this (impossible sites: -this), then divided by it / 2
CODING_SCALE = 10.0  # mean coding log-odds per base (coding exons: ~0.04-0.2 nats) times this, clipped to +-2


def _coding_means(cp: np.ndarray) -> list[np.ndarray]:
    """Per scale, the best of the three reading frames' mean coding log-odds per base in a centred window:
    a convolution cannot tell a base's position modulo 3, so the frames are resolved here."""
    n = cp.shape[1]
    t = np.arange(n)
    frames = np.stack([cp[(t + ph) % 3, t] for ph in range(3)]).astype(np.float64)
    cum = np.concatenate([np.zeros((3, 1)), np.cumsum(frames, axis=1)], axis=1)
    out = []
    for w in SIGNAL_SCALES:
        lo, hi = np.clip(t - w // 2, 0, n), np.clip(t + w // 2 + 1, 0, n)
        out.append(((cum[:, hi] - cum[:, lo]) / np.maximum(1, hi - lo)).max(axis=0) * CODING_SCALE)
    return out


def signal_tracks(params, seq: str) -> np.ndarray:
    """(len(seq), SIGNAL_TRACKS) float32 inputs for a head with `signal_dim`: the decoder's models
    (genannot.euk.genemodel.GeneModelParams) scored on the window as read: the coding chain's mean
    log-odds per base in the best frame at each of SIGNAL_SCALES, then donor, acceptor, start and stop
    log-odds, first on the window's forward strand, then on its reverse complement (mapped back to
    forward positions). All in [-2, 2]."""
    from genannot.euk.genemodel import encode, revcomp_codes

    codes = encode(seq)
    if not len(codes):
        return np.zeros((0, SIGNAL_TRACKS), dtype=np.float32)
    cols = []
    for strand_codes, back in ((codes, False), (revcomp_codes(codes), True)):
        # the splice chains alone (not blended with pairwise models): what the embedded network was trained on
        sites = np.stack([params.donor_scores(strand_codes, False, pairwise=False),
                          params.acceptor_scores(strand_codes, False, pairwise=False),
                          params.start_scores(strand_codes), params.stop_scores(strand_codes)])
        sites = np.clip(np.nan_to_num(sites, nan=0.0, neginf=-SIGNAL_CLIP, posinf=SIGNAL_CLIP), -SIGNAL_CLIP, SIGNAL_CLIP) * (2.0 / SIGNAL_CLIP)
        parts = [np.clip(c, -2.0, 2.0) for c in _coding_means(params.coding_scores(strand_codes))] + list(sites)
        cols.extend(p[::-1] if back else p for p in parts)
    return np.stack(cols, axis=1).astype(np.float32)


@dataclass
class SegConfig:
    encoder: EncoderConfig
    rmt: RmtConfig
    head: HeadConfig

    @property
    def n_outputs(self) -> int:
        return self.head.n_classes

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "model_type": MODEL_TYPE,
            "architectures": ["EukSegModel"],
            "classes": list(CLASSES),
            "n_outputs": self.n_outputs,
            "encoder": self.encoder.to_dict(),
            "rmt": self.rmt.to_dict(),
            "head": self.head.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SegConfig":
        if d.get("kind") != KIND:
            raise ModelError(f"config.json kind is {d.get('kind')!r}, expected {KIND!r}")
        if tuple(d.get("classes", CLASSES)) != CLASSES:
            raise ModelError(f"unexpected class list {d.get('classes')}")
        head = dict(d.get("head", {}))
        n_out = int(d.get("n_outputs", head.get("n_classes", 5)))  # configs before the both-strand head: 5
        if n_out not in OUTPUT_CHOICES or int(head.get("n_classes", n_out)) != n_out:
            raise ModelError(f"unsupported output layout: n_outputs {n_out}, head n_classes {head.get('n_classes')}")
        head["n_classes"] = n_out
        return cls(EncoderConfig.from_dict(d["encoder"]), RmtConfig.from_dict(d.get("rmt", {})), HeadConfig.from_dict(head))


@dataclass
class SegBatch:
    input_ids: torch.Tensor  # (B, T) content tokens, PAD-padded
    lengths: torch.Tensor  # (B,) tokens per item
    base_to_token: torch.Tensor  # (B, L)
    nuc_ids: torch.Tensor  # (B, L)
    softmask: torch.Tensor  # (B, L) bool
    base_lengths: torch.Tensor  # (B,)
    signals: torch.Tensor | None = None  # (B, L, SIGNAL_TRACKS) for a head that reads them

    def to(self, device: torch.device | str) -> "SegBatch":
        return SegBatch(*(None if t is None else t.to(device) for t in (self.input_ids, self.lengths, self.base_to_token, self.nuc_ids,
                                                                          self.softmask, self.base_lengths, self.signals)))


class EukSegModel(nn.Module):
    def __init__(self, config: SegConfig, tokenizer: DnaTokenizer) -> None:
        super().__init__()
        if config.n_outputs not in OUTPUT_CHOICES:
            raise ModelError(f"n_outputs must be one of {OUTPUT_CHOICES}, not {config.n_outputs}")
        if tokenizer.vocab_size > config.encoder.vocab_size:
            raise ModelError(f"tokenizer has {tokenizer.vocab_size} tokens but the encoder only {config.encoder.vocab_size}")
        self.config = config
        self.tokenizer = tokenizer
        self.encoder = RecurrentMemoryEncoder(config.encoder, config.rmt)
        self.head = NucleotideHead(config.encoder.hidden_size, config.head)
        self.metadata: dict[str, Any] = {}
        self.signal_params = None  # GeneModelParams behind `signal_tracks`, for a head with signal_dim

    # ------------------------------------------------------------------ inputs

    def prepare(self, seqs: Sequence[str], softmasks: Sequence[np.ndarray] | None = None) -> SegBatch:
        """Tokenize and pad a list of sequences.

        The soft-mask is read from lowercase letters unless `softmasks` (one bool array per
        sequence) is given.
        """
        encs, nucs, masks = [], [], []
        for i, s in enumerate(seqs):
            c = clean_sequence(s)
            encs.append(self.tokenizer.encode(c))
            nucs.append(nucleotide_ids(c))
            masks.append(softmask_of(s) if softmasks is None else np.asarray(softmasks[i], dtype=bool))
        b = len(seqs)
        t = max(1, max(len(e) for e in encs))
        length = max(1, max(len(s) for s in seqs))
        ids = np.full((b, t), 3, dtype=np.int64)
        b2t = np.zeros((b, length), dtype=np.int64)
        nuc = np.full((b, length), 4, dtype=np.int64)
        sm = np.zeros((b, length), dtype=bool)
        for i, (e, n, m) in enumerate(zip(encs, nucs, masks)):
            ids[i, : len(e)] = e.ids
            b2t[i, : len(n)] = e.base_to_token
            nuc[i, : len(n)] = n
            sm[i, : len(m)] = m
        signals = None
        if self.config.head.signal_dim:
            if self.signal_params is None:
                raise ModelError("this model reads signal tracks but has no gene-structure model (genemodel.npz) to compute them")
            signals = np.zeros((b, length, SIGNAL_TRACKS), dtype=np.float32)
            for i, s in enumerate(seqs):
                signals[i, : len(s)] = signal_tracks(self.signal_params, s)
        return SegBatch(
            torch.from_numpy(ids),
            torch.tensor([len(e) for e in encs], dtype=torch.long),
            torch.from_numpy(b2t),
            torch.from_numpy(nuc),
            torch.from_numpy(sm),
            torch.tensor([len(s) for s in seqs], dtype=torch.long),
            None if signals is None else torch.from_numpy(signals),
        )

    # ------------------------------------------------------------------ forward / predict

    def forward(self, batch: SegBatch, *, carry_memory: bool = True, n_cycles: int | None = None) -> torch.Tensor:
        """Logits (B, L, n_outputs)."""
        states = self.encoder(batch.input_ids, batch.lengths, carry_memory=carry_memory)
        return self.head(states, batch.base_to_token, batch.nuc_ids, batch.softmask, n_cycles=n_cycles, lengths=batch.base_lengths,
                         signals=batch.signals)

    @property
    def n_outputs(self) -> int:
        return self.config.n_outputs

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def predict_batch(
        self,
        seqs: Sequence[str],
        *,
        batch_size: int = 8,
        carry_memory: bool = True,
        n_cycles: int | None = None,
        softmasks: Sequence[np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """Per-base probabilities (len(seq), n_outputs) float32 for each sequence."""
        was_training = self.training
        self.eval()
        out: list[np.ndarray] = []
        dev = self.device
        try:
            for i in range(0, len(seqs), batch_size):
                chunk = list(seqs[i : i + batch_size])
                sms = None if softmasks is None else list(softmasks[i : i + batch_size])
                batch = self.prepare(chunk, sms).to(dev)
                if dev.type == "cuda":
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        logits = self(batch, carry_memory=carry_memory, n_cycles=n_cycles)
                else:
                    logits = self(batch, carry_memory=carry_memory, n_cycles=n_cycles)
                probs = torch.sigmoid(logits.float()).cpu().numpy()
                out.extend(probs[j, : len(s)] for j, s in enumerate(chunk))
        finally:
            self.train(was_training)
        return out

    def predict(self, seq: str, **kw: Any) -> np.ndarray:
        """Per-base probabilities (len(seq), n_outputs) for one window read on its forward strand."""
        if not seq:
            return np.zeros((0, self.n_outputs), dtype=np.float32)
        return self.predict_batch([seq], **kw)[0]

    # ------------------------------------------------------------------ size

    def num_parameters(self) -> dict[str, int]:
        enc = sum(p.numel() for p in self.encoder.parameters())
        head = sum(p.numel() for p in self.head.parameters())
        emb = self.encoder.bert.embeddings.word_embeddings.weight.numel()
        return {"total": enc + head, "encoder": enc, "encoder_word_embeddings": emb, "head": head}

    # ------------------------------------------------------------------ save / load

    def save_pretrained(self, directory: str | Path, *, fp16: bool = True) -> Path:
        """Write config.json, model.safetensors (fp16 floats) and tokenizer.json into `directory`."""
        from safetensors.torch import save_file

        from genannot import __version__

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        cfg = self.config.to_dict()
        cfg["genannot_version"] = __version__
        cfg["torch_dtype"] = "float16" if fp16 else "float32"
        cfg["num_parameters"] = self.num_parameters()["total"]
        if self.metadata:
            cfg["metadata"] = self.metadata
        sd = {}
        for k, v in self.state_dict().items():
            v = v.detach().cpu()
            if fp16 and v.is_floating_point():
                v = v.half()
            sd[k] = v.contiguous()
        tmp = d / "model.safetensors.tmp"
        save_file(sd, str(tmp), metadata={"format": "pt", "kind": KIND})
        tmp.replace(d / "model.safetensors")
        (d / "config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
        self.tokenizer.save(d)
        return d

    @classmethod
    def from_pretrained(cls, directory: str | Path, *, device: str | torch.device = "cpu") -> "EukSegModel":
        from safetensors.torch import load_file

        d = Path(directory)
        if not (d / "config.json").is_file():
            raise ModelError(f"{d}: no config.json (not a genannot euk-seg model directory)")
        try:
            raw = json.loads((d / "config.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ModelError(f"{d}/config.json is not valid JSON: {e}") from None
        config = SegConfig.from_dict(raw)
        tok = DnaTokenizer.from_file(d / "tokenizer.json")
        model = cls(config, tok)
        model.metadata = raw.get("metadata", {})
        if not (d / "model.safetensors").is_file():
            raise ModelError(f"{d}: no model.safetensors")
        sd = load_file(str(d / "model.safetensors"), device="cpu")
        sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
        strict_load(model, sd, f"{d}: weights do not match config.json")
        if config.head.signal_dim:
            from genannot.euk.genemodel import GeneModelParams

            model.signal_params = GeneModelParams.load(d)
        return model.to(device).eval()

    @classmethod
    def from_gena(
        cls,
        directory: str | Path,
        *,
        rmt: RmtConfig | None = None,
        head: HeadConfig | None = None,
    ) -> "EukSegModel":
        """A segmentation model whose tokenizer and encoder come from a GENA-LM checkpoint."""
        raw_cfg, sd = read_gena_checkpoint(directory)
        enc_cfg = EncoderConfig.from_dict(raw_cfg)
        tok = DnaTokenizer.from_file(Path(directory) / "tokenizer.json")
        model = cls(SegConfig(enc_cfg, rmt or RmtConfig(num_mem_tokens=10), head or HeadConfig()), tok)
        model.encoder.load_gena_encoder(sd)
        return model
