"""`genannot train euk`: train the nucleotide segmentation model from FASTA + annotation pairs.

    run_train_euk(genomes=[...], annotations=[...], output_dir=DIR, epochs=None, resume=False,
                  holdout="SEQID:START-END", device="auto", batch_size="auto", seed=0, **options)

What it does
1. Reads every FASTA (soft-mask kept) and annotation; per sequence, strand-aware label tracks
   (genannot.euk.labels). Sequences without any annotated gene are used only for masked-LM
   pretraining (they may be unannotated rather than gene-free). The `holdout` region is cut out of
   training entirely and used for validation.
2. Trains a BPE tokenizer on the training sequence (or reuses the one from `init_model`).
3. Optional masked-LM pretraining of the encoder on all training sequence (`mlm_steps`).
4. Epochs over windows that tile the annotated sequence (intergenic included) with a random phase,
   each window read on a random strand (reverse-complement augmentation; labels follow the strand),
   with a context-length curriculum: window lengths `window_schedule[epoch]` (short first; the last
   entry is kept for the remaining epochs). Loss: masked binary cross-entropy per base and class
   (N bases and pseudogene / small-RNA spans carry no weight).
5. After every epoch: validation on the holdout region (per-class PR-AUC, exon/CDS base F1 at 0.5,
   both strands), the model directory written (config.json, model.safetensors fp16, tokenizer.json;
   loadable with EukSegModel.from_pretrained), the full training state written to
   trainer_state.pt and a line appended to train_log.jsonl. `resume=True` continues from there with
   the same result as an uninterrupted run (every epoch reseeds from `seed` and the epoch number).

Options (Python API; the CLI passes the fixed keywords only): see DEFAULTS.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from genannot.errors import InputError
from genannot.io.seqout import reverse_complement

log = logging.getLogger("genannot.euk.train")

DEFAULTS: dict[str, Any] = {
    # model
    "vocab_size": 4096,
    "hidden_size": 192,  # defaults: 3.7M parameters, 7.4 MB as fp16 safetensors
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 768,
    "dropout": 0.1,  # encoder hidden dropout
    "attention_dropout": 0.0,  # > 0 forces the slow attention path on CPU
    "head_dropout": 0.0,
    "num_mem_tokens": 8,
    "bptt_depth": 2,
    "segment_tokens": 0,
    "channels": (48, 64, 96, 128),
    "token_dim": 64,
    "nuc_dim": 16,
    "kernel_size": 9,
    "n_cycles": 1,
    "n_outputs": 10,  # 10: both strands per window (reading, opposite); 5: the reading strand only
    "signals": False,  # the head also reads the decoder's signal tracks (genannot.euk.model.signal_tracks)
    "softmask": "auto",  # True / False / "auto": on when >= 5% of the training bases are soft-masked
    "init_model": None,  # a GENA-LM checkpoint directory, or a euk-seg model directory to fine-tune
    # data
    "window_schedule": (2048, 4096, 8192),
    "rc_prob": 0.5,
    "intergenic_keep": 1.0,  # probability of keeping a window with no labelled base on its strand
    "max_n_fraction": 0.5,
    # optimisation
    "epochs": 12,
    "lr": 1e-3,
    "weight_decay": 0.01,
    "warmup_steps": 100,
    "grad_clip": 1.0,
    "batch_bp": None,  # bases per batch; default: batch_size x the longest window
    "max_steps_per_epoch": None,
    "time_limit_s": None,  # stop an epoch after this many seconds (smoke runs)
    # masked-LM pretraining
    "mlm_steps": 0,
    "mlm_batch": 8,
    "mlm_prob": 0.15,
    # validation
    "val_window": 8192,
    "val_max_windows": None,  # evenly spaced subset of the holdout windows (None: all)
    "log_every": 20,
}


# ----------------------------------------------------------------------------- data


@dataclass
class SeqData:
    genome: int
    name: str
    seq: str  # uppercase ACGTN
    softmask: np.ndarray  # bool
    tracks: dict | None  # {'+': StrandTrack, '-': StrandTrack} when annotated

    def __len__(self) -> int:
        return len(self.seq)


@dataclass
class Region:
    idx: int  # index into the SeqData list
    start: int  # 0-based
    end: int  # exclusive




def parse_region(text: str) -> tuple[str, int, int]:
    """'SEQID:START-END' (1-based, closed; commas allowed) -> (seqid, start0, end) half-open."""
    try:
        seqid, rng = text.rsplit(":", 1)
        a, b = rng.replace(",", "").split("-", 1)
        start, end = int(a), int(b)
    except ValueError:
        raise InputError(f"--holdout {text!r}: expected SEQID:START-END (1-based, e.g. 9:1-1000000)") from None
    if not seqid or start < 1 or end < start:
        raise InputError(f"--holdout {text!r}: expected SEQID:START-END with 1 <= START <= END")
    return seqid, start - 1, end


def load_data(genomes: Sequence[str], annotations: Sequence[str]) -> list[SeqData]:
    """Read FASTA/annotation pairs; label tracks for every sequence that has annotated genes."""
    from genannot.euk.labels import strand_track
    from genannot.io.annotation import read_annotation
    from genannot.io.fasta import read_fasta

    if len(genomes) != len(annotations):
        raise InputError(f"{len(genomes)} genomes but {len(annotations)} annotations: give them in pairs")
    data: list[SeqData] = []
    for gi, (fa, ann) in enumerate(zip(genomes, annotations)):
        genes_by_seq = read_annotation(ann)
        n_lab = 0
        ids = set()
        for rec in read_fasta(fa):
            ids.add(rec.id)
            genes = genes_by_seq.get(rec.id, [])
            tracks = None
            if genes:
                tracks = {s: strand_track(genes, len(rec.seq), s) for s in "+-"}
                n_lab += 1
            data.append(SeqData(gi, rec.id, rec.seq, rec.mask_array(), tracks))
        missing = set(genes_by_seq) - ids
        if missing and not n_lab:
            raise InputError(f"{ann}: none of its sequence ids ({', '.join(sorted(missing)[:3])}, ...) is in {fa}")
        if missing:
            log.warning("%s: %d annotated sequence ids are not in %s (ignored)", ann, len(missing), fa)
        log.info("%s: %d sequences, %d with annotated genes", fa, len(ids), n_lab)
    return data


def fit_gene_model(genomes: Sequence[str], annotations: Sequence[str], holdout: str | None, out: Path) -> None:
    """Fit the decoder's signal models (genemodel.npz) beside the network, holdout genes left out.

    `genannot euk` needs both; an annotation without a complete coding transcript only gets a warning,
    since the network alone can still be trained and evaluated per base."""
    from genannot.euk.genemodel import FILE_NAME, GeneModelParams

    if (out / FILE_NAME).is_file():
        return
    try:
        params = GeneModelParams.fit(zip(genomes, annotations), exclude=parse_region(holdout) if holdout else None)
    except InputError as e:
        log.warning("no gene model fitted (%s): `genannot euk` cannot use this model directory", e)
        return
    params.save(out)
    log.info("signal models for the decoder written to %s", out / FILE_NAME)


def _gene_model(out: Path):
    """The signal models `fit_gene_model` wrote into `out`, or None."""
    from genannot.euk.genemodel import FILE_NAME, GeneModelParams

    return GeneModelParams.load(out) if (out / FILE_NAME).is_file() else None


def split_regions(data: list[SeqData], holdout: str | None) -> tuple[list[Region], list[Region], list[Region]]:
    """(supervised training regions, validation regions, all non-holdout regions for MLM)."""
    hold = parse_region(holdout) if holdout else None
    if hold:
        n_named = sum(d.name == hold[0] for d in data)
        if n_named != 1:
            where = "none of the genomes" if not n_named else f"{n_named} genomes: the holdout must name one sequence"
            raise InputError(f"--holdout: sequence {hold[0]!r} is in {where}")
    train, val, unsup = [], [], []
    for i, d in enumerate(data):
        pieces = [(0, len(d))]
        if hold and d.name == hold[0]:
            hs, he = hold[1], min(hold[2], len(d))
            if hs >= len(d):
                raise InputError(f"--holdout starts after the end of {d.name} ({len(d)} bp)")
            if d.tracks is not None:
                val.append(Region(i, hs, he))
            pieces = [(0, hs), (he, len(d))]
        for a, b in pieces:
            if b - a >= 200:
                unsup.append(Region(i, a, b))
                if d.tracks is not None:
                    train.append(Region(i, a, b))
    return train, val, unsup


def sample_windows(regions: list[Region], w: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Tile each region with windows of length w (random phase): (idx, start, end)."""
    out = []
    for r in regions:
        n = r.end - r.start
        if n <= w:
            out.append((r.idx, r.start, r.end))
            continue
        phase = int(rng.integers(0, w))
        starts = list(range(r.start - w + phase, r.end, w))
        for s in starts:
            a, b = max(s, r.start), min(s + w, r.end)
            if b - a >= w // 4:
                out.append((r.idx, a, b))
    return out


def window_input(d: SeqData, a: int, b: int, strand: str) -> tuple[str, np.ndarray]:
    seq, sm = d.seq[a:b], d.softmask[a:b]
    if strand == "-":
        return reverse_complement(seq), sm[::-1].copy()
    return seq, sm


# ----------------------------------------------------------------------------- metrics


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the precision-recall curve (average precision, step-wise; ties grouped)."""
    labels = labels.astype(bool)
    pos = int(labels.sum())
    if pos == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    # evaluate only at the last index of each group of tied scores
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp_l = tp[last]
    prec = tp_l / (last + 1)
    rec = tp_l / pos
    d_rec = np.diff(np.r_[0.0, rec])
    return float(np.sum(prec * d_rec))


def base_metrics(probs: np.ndarray, labels: np.ndarray, weights: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """Per-class PR-AUC, F1 at `threshold`, prevalence, over bases with weight > 0.

    probs/labels (N, 5), weights (N,). The constant predictor's PR-AUC equals the prevalence: that is
    the trivial baseline every class must beat.
    """
    from genannot.euk.model import CLASSES

    keep = weights > 0
    p, y = probs[keep], labels[keep].astype(bool)
    out: dict[str, Any] = {"bases": int(keep.sum())}
    if len(y):
        # mean binary cross-entropy (nats) of the model and of the constant predictor that knows
        # each class's prevalence on this very set: the loss-level trivial baseline
        eps = 1e-6
        pc = np.clip(p.astype(np.float64), eps, 1 - eps)
        out["bce"] = float(-np.mean(np.where(y, np.log(pc), np.log1p(-pc))))
        prev = np.clip(y.mean(axis=0), eps, 1 - eps)
        out["bce_constant"] = float(-np.mean(prev * np.log(prev) + (1 - prev) * np.log1p(-prev)))
    for c, name in enumerate(CLASSES):
        pred = p[:, c] >= threshold
        tp = int(np.sum(pred & y[:, c]))
        fp = int(np.sum(pred & ~y[:, c]))
        fn = int(np.sum(~pred & y[:, c]))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[name] = {
            "pr_auc": average_precision(p[:, c], y[:, c]),
            "f1": f1,
            "precision": prec,
            "recall": rec,
            "prevalence": float(y[:, c].mean()) if len(y) else float("nan"),
        }
    return out


def evaluate(
    model,
    data: list[SeqData],
    regions: list[Region],
    *,
    window: int = 8192,
    max_windows: int | None = None,
    batch_size: int = 4,
    carry_memory: bool = True,
    n_cycles: int | None = None,
    strands: str = "+-",
) -> dict[str, Any]:
    """Stranded per-base metrics on `regions`: windows read forward score '+' genes, read
    reverse-complemented score '-' genes (labels in reading order; of a both-strand model's outputs
    the reading strand's five columns)."""
    from genannot.euk.labels import window_targets

    wins = []
    for r in regions:
        for a in range(r.start, r.end, window):
            wins.append((r.idx, a, min(a + window, r.end)))
    if max_windows is not None and len(wins) > max_windows:
        pick = np.linspace(0, len(wins) - 1, max_windows).round().astype(int)
        wins = [wins[i] for i in sorted(set(pick))]
    probs, labs, ws = [], [], []
    for strand in strands:
        for i in range(0, len(wins), batch_size):
            chunk = wins[i : i + batch_size]
            inputs = [window_input(data[j], a, b, strand) for j, a, b in chunk]
            preds = model.predict_batch([s for s, _ in inputs], softmasks=[m for _, m in inputs], batch_size=batch_size, carry_memory=carry_memory, n_cycles=n_cycles)
            for (j, a, b), pr in zip(chunk, preds):
                lab, w = window_targets(data[j].tracks, a, b, strand, data[j].seq[a:b])
                probs.append(pr[:, :5])
                labs.append(lab)
                ws.append(w)
    if not probs:
        return {}
    m = base_metrics(np.concatenate(probs), np.concatenate(labs), np.concatenate(ws))
    m["windows"] = len(wins) * len(strands)
    return m


def summary_line(m: dict[str, Any]) -> str:
    from genannot.euk.model import CLASSES

    parts = [f"BCE {m['bce']:.4f} (constant {m['bce_constant']:.4f})"] if "bce" in m else []
    for c in CLASSES:
        if c in m:
            parts.append(f"{c}: AP {m[c]['pr_auc']:.3f} (base {m[c]['prevalence']:.3f}) F1 {m[c]['f1']:.3f}")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- training pieces


def _lr_at(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    frac = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def _targets_batch(data: list[SeqData], wins: list[tuple[int, int, int, str]], length: int, outputs: int = 10):
    import torch

    from genannot.euk.labels import window_targets

    b = len(wins)
    y = np.zeros((b, length, outputs), dtype=np.float32)
    w = np.zeros((b, length), dtype=np.float32)
    for i, (j, a, e, strand) in enumerate(wins):
        lab, wt = window_targets(data[j].tracks, a, e, strand, data[j].seq[a:e], outputs=outputs)
        y[i, : e - a] = lab
        w[i, : e - a] = wt
    return torch.from_numpy(y), torch.from_numpy(w)


def class_prior(label_sum: np.ndarray, weight: float) -> list[float] | None:
    """Per-class base frequency of an epoch's training targets (both strands' columns pooled): the prior
    the network's probabilities are calibrated to, which the decoder divides out (genannot.euk.decode)."""
    if weight <= 0:
        return None
    freq = label_sum / weight
    return [round(float(v), 6) for v in freq.reshape(-1, 5).mean(axis=0)]


def masked_bce(logits, y, w):
    import torch.nn.functional as F

    loss = F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(-1)
    return (loss * w).sum() / w.sum().clamp_min(1.0)


def mlm_pretrain(model, data, regions, *, steps, batch, prob, lr, device, rng, log_every=20, time_limit_s=None):
    """Masked-LM pretraining of the encoder (single segments, no memory) on `regions`."""
    import torch
    import torch.nn.functional as F

    from genannot.euk.rmt import PredictionHeadTransform
    from genannot.euk.tokenizer import CLS_ID, MASK_ID, PAD_ID, SEP_ID, clean_sequence

    enc = model.encoder
    cfg = enc.config
    transform = PredictionHeadTransform(cfg).to(device)
    bias = torch.nn.Parameter(torch.zeros(cfg.vocab_size, device=device))
    params = list(enc.bert.parameters()) + list(transform.parameters()) + [bias]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    seg = min(enc.segment_tokens, cfg.max_position_embeddings - 2)
    bp = seg * 6  # enough bases for `seg` tokens at ~5 bp/token
    lengths = np.array([r.end - r.start for r in regions], dtype=float)
    probs = lengths / lengths.sum()
    n_special = 6
    model.train()
    t0 = time.time()
    losses = []
    for step in range(steps):
        rows = []
        for _ in range(batch):
            r = regions[int(rng.choice(len(regions), p=probs))]
            a = int(rng.integers(r.start, max(r.start + 1, r.end - bp)))
            s = clean_sequence(data[r.idx].seq[a : a + bp])
            if rng.random() < 0.5:
                s = reverse_complement(s)
            ids = model.tokenizer.encode(s).ids[:seg]
            rows.append(ids)
        t = max(len(r) for r in rows)
        x = np.full((batch, t + 2), PAD_ID, dtype=np.int64)
        att = np.zeros((batch, t + 2), dtype=bool)
        for i, r in enumerate(rows):
            x[i, 0], x[i, 1 : len(r) + 1], x[i, len(r) + 1] = CLS_ID, r, SEP_ID
            att[i, : len(r) + 2] = True
        x = torch.from_numpy(x)
        att = torch.from_numpy(att)
        cand = att & (x >= n_special)
        sel = cand & (torch.rand(x.shape) < prob)
        target = torch.where(sel, x, torch.full_like(x, -100))
        r = torch.rand(x.shape)
        inp = x.clone()
        inp[sel & (r < 0.8)] = MASK_ID
        rand_ids = torch.randint(n_special, cfg.vocab_size, x.shape)
        swap = sel & (r >= 0.8) & (r < 0.9)
        inp[swap] = rand_ids[swap]
        inp, att, target = inp.to(device), att.to(device), target.to(device)
        h = enc.bert(inp, att)
        logits = transform(h) @ enc.bert.embeddings.word_embeddings.weight.T + bias
        loss = F.cross_entropy(logits.view(-1, cfg.vocab_size), target.view(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(loss.item())
        if (step + 1) % log_every == 0 or step == steps - 1:
            log.info("mlm step %d/%d loss %.4f (%.1f s)", step + 1, steps, float(np.mean(losses[-log_every:])), time.time() - t0)
        if time_limit_s and time.time() - t0 > time_limit_s:
            break
    return {"mlm_steps": len(losses), "mlm_loss_first": float(np.mean(losses[:log_every])), "mlm_loss_last": float(np.mean(losses[-log_every:]))}


# ----------------------------------------------------------------------------- model construction


def build_model(settings: dict[str, Any], train_seqs: Iterable[str], softmask_on: bool, signal_params=None):
    """A new model (or one from `init_model`); a head that reads signal tracks (`signals`, or a fine-tuned
    model's) reads them from `signal_params`, the genemodel fitted into the output directory."""
    model = _new_model(settings, train_seqs, softmask_on)
    if model.config.head.signal_dim:
        if signal_params is None:
            raise InputError("signals: the head reads the decoder's signal tracks, but no gene-structure model could be fitted")
        model.signal_params = signal_params
    return model


def _new_model(settings: dict[str, Any], train_seqs: Iterable[str], softmask_on: bool):
    from genannot.euk.model import SIGNAL_TRACKS, EukSegModel, SegConfig
    from genannot.euk.rmt import EncoderConfig, RmtConfig
    from genannot.euk.tokenizer import DnaTokenizer
    from genannot.euk.unet import HeadConfig

    head = HeadConfig(
        token_dim=settings["token_dim"],
        nuc_dim=settings["nuc_dim"],
        softmask=softmask_on,
        channels=tuple(settings["channels"]),
        kernel_size=settings["kernel_size"],
        dropout=settings["head_dropout"],
        n_cycles=settings["n_cycles"],
        n_classes=settings.get("n_outputs", 10),
        signal_dim=SIGNAL_TRACKS if settings.get("signals") else 0,
    )
    rmt = RmtConfig(settings["num_mem_tokens"], settings["bptt_depth"], settings["segment_tokens"])
    init = settings.get("init_model")
    if init:
        p = Path(init)
        cfg = json.loads((p / "config.json").read_text()) if (p / "config.json").is_file() else {}
        if cfg.get("kind") == "euk-seg":
            log.info("fine-tuning the euk-seg model in %s", p)
            return EukSegModel.from_pretrained(p)
        log.info("initialising the encoder and tokenizer from the GENA-LM checkpoint %s", p)
        return EukSegModel.from_gena(p, rmt=rmt, head=head)
    t0 = time.time()
    tok = DnaTokenizer.train(train_seqs, vocab_size=settings["vocab_size"])
    log.info("BPE tokenizer: %d tokens (%.1f s)", tok.vocab_size, time.time() - t0)
    enc = EncoderConfig(
        vocab_size=tok.vocab_size,
        hidden_size=settings["hidden_size"],
        num_hidden_layers=settings["num_hidden_layers"],
        num_attention_heads=settings["num_attention_heads"],
        intermediate_size=settings["intermediate_size"],
        hidden_dropout_prob=settings["dropout"],
        attention_probs_dropout_prob=settings["attention_dropout"],
    )
    return EukSegModel(SegConfig(enc, rmt, head), tok)


# ----------------------------------------------------------------------------- checkpoints


STATE_FILE = "trainer_state.pt"
LOG_FILE = "train_log.jsonl"


def _save_state(out: Path, state: dict[str, Any]) -> None:
    import torch

    tmp = out / (STATE_FILE + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, out / STATE_FILE)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    return x


# ----------------------------------------------------------------------------- entry point


# Settings given by the user (`--set`) are checked by the type of the setting's default (DEFAULTS) and
# these ranges: a wrong type or range would fail deep in training (TypeError, ZeroDivisionError, negative sizes)
_ZERO_OK = {"segment_tokens", "num_mem_tokens", "warmup_steps", "mlm_steps"}
_FRACTIONS = {"dropout", "attention_dropout", "head_dropout", "rc_prob", "intergenic_keep", "max_n_fraction", "mlm_prob"}
_CHOICES = {"n_outputs": (5, 10), "softmask": (True, False, "auto")}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _setting_rule(key: str, default) -> tuple[Callable[[object], bool], str]:
    """(test, what it expects) for one training setting."""
    if key in _CHOICES:
        return (lambda v: v in _CHOICES[key]), " or ".join(json.dumps(c) for c in _CHOICES[key])
    if key == "init_model":
        return (lambda v: v is None or (isinstance(v, str) and v != "")), "a model directory or null"
    if key == "time_limit_s":
        return (lambda v: v is None or (_is_number(v) and v > 0)), "a number of seconds > 0 or null"
    if default is None:  # batch_bp, max_steps_per_epoch, val_max_windows
        return (lambda v: v is None or (_is_int(v) and v >= 1)), "an integer >= 1 or null"
    if isinstance(default, bool):
        return (lambda v: isinstance(v, bool)), "true or false"
    if isinstance(default, int):
        low = 0 if key in _ZERO_OK else 1
        return (lambda v: _is_int(v) and v >= low), f"an integer >= {low}"
    if key in _FRACTIONS:
        return (lambda v: _is_number(v) and 0 <= v <= 1), "a number from 0 to 1"
    if key == "lr":
        return (lambda v: _is_number(v) and v > 0), "a number > 0"
    if isinstance(default, float):
        return (lambda v: _is_number(v) and v >= 0), "a number >= 0"
    return (lambda v: isinstance(v, list) and bool(v) and all(_is_int(x) and x >= 1 for x in v)), \
        "a non-empty list of integers >= 1, e.g. [2048,4096]"


def check_settings(extra: dict, defaults: dict = DEFAULTS) -> None:
    """Refuse settings of the wrong type or range before any work; unknown keys are `run_train_euk`'s to refuse."""
    for key, value in extra.items():
        if key in defaults:
            test, want = _setting_rule(key, defaults[key])
            if not test(value):
                raise InputError(f"--set {key}={json.dumps(value)}: expected {want}")
    merged = {**defaults, **extra}
    if merged["hidden_size"] % merged["num_attention_heads"]:
        raise InputError(f"--set: hidden_size {merged['hidden_size']} is not a multiple of num_attention_heads {merged['num_attention_heads']}")


def run_train_euk(
    *,
    genomes: Sequence[str],
    annotations: Sequence[str],
    output_dir: str,
    epochs: int | None = None,
    resume: bool = False,
    holdout: str | None = None,
    device: str = "auto",
    batch_size: int | str = "auto",
    seed: int = 0,
    **options: Any,
) -> dict[str, Any]:
    """Train (or resume) a euk-seg model; returns a summary (history, final validation metrics)."""
    import torch

    from genannot.euk.model import EukSegModel
    from genannot.runtime.device import select_device

    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise InputError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    out = Path(output_dir)
    state_path = out / STATE_FILE
    prev = None
    if resume:
        if not state_path.is_file():
            raise InputError(f"--resume: no training checkpoint ({STATE_FILE}) in {out}")
        prev = torch.load(state_path, map_location="cpu", weights_only=True)
        settings = dict(prev["settings"])
        if epochs is not None:
            settings["epochs"] = epochs
    else:
        if state_path.exists():
            raise InputError(f"{out} already holds a training run: use --resume to continue it, or another -o directory")
        settings = dict(DEFAULTS)
        settings.update(options)
        if epochs is not None:
            settings["epochs"] = epochs
        settings.update(seed=seed, holdout=holdout, genomes=[str(g) for g in genomes], annotations=[str(a) for a in annotations])
    dev = select_device(device)
    torch.manual_seed(seed)

    data = load_data(genomes, annotations)
    train_regions, val_regions, unsup_regions = split_regions(data, settings.get("holdout"))
    if not train_regions:
        raise InputError("no annotated sequence left for training (check the annotation's seqids and --holdout)")
    out.mkdir(parents=True, exist_ok=True)  # only now: a bad input leaves no empty directory behind
    fit_gene_model(genomes, annotations, settings.get("holdout"), out)
    train_bp = sum(r.end - r.start for r in train_regions)
    log.info("training on %.2f Mb of annotated sequence (%d regions); validation %.2f Mb", train_bp / 1e6, len(train_regions), sum(r.end - r.start for r in val_regions) / 1e6)

    if prev is not None:
        model = EukSegModel.from_pretrained(out)
        model.load_state_dict(prev["model"], strict=True)
    else:
        sm = settings["softmask"]
        if sm == "auto":
            masked = sum(int(data[r.idx].softmask[r.start : r.end].sum()) for r in train_regions)
            sm = masked / max(1, train_bp) >= 0.05
            log.info("soft-mask feature %s (%.1f%% of training bases soft-masked)", "on" if sm else "off", 100 * masked / max(1, train_bp))
        seqs = (data[r.idx].seq[r.start : r.end] for r in unsup_regions)
        model = build_model(settings, seqs, bool(sm), _gene_model(out))
    model.to(dev)
    npar = model.num_parameters()
    log.info("model: %s parameters (encoder %s, head %s)", f"{npar['total']:,}", f"{npar['encoder']:,}", f"{npar['head']:,}")

    history: list[dict[str, Any]] = list(prev["history"]) if prev else []
    step = int(prev["step"]) if prev else 0
    start_epoch = int(prev["epoch"]) if prev else 0
    mlm_info = prev.get("mlm") if prev else None

    if prev is None and settings["mlm_steps"] > 0:
        rng = np.random.default_rng([seed, 10_000])
        mlm_info = mlm_pretrain(
            model, data, unsup_regions, steps=settings["mlm_steps"], batch=settings["mlm_batch"], prob=settings["mlm_prob"],
            lr=settings["lr"], device=dev, rng=rng, log_every=settings["log_every"], time_limit_s=settings["time_limit_s"],
        )

    if batch_size == "auto":
        batch_size = 16 if dev.type == "cuda" else 4
    sched = list(settings["window_schedule"])
    w_max = max(sched)
    batch_bp = settings["batch_bp"] or int(batch_size) * w_max
    total_epochs = int(settings["epochs"])
    steps_per_epoch = [math.ceil(sum(math.ceil((r.end - r.start) / sched[min(e, len(sched) - 1)]) for r in train_regions) / max(1, batch_bp // sched[min(e, len(sched) - 1)])) for e in range(total_epochs)]
    if settings["max_steps_per_epoch"]:
        steps_per_epoch = [min(s, settings["max_steps_per_epoch"]) for s in steps_per_epoch]
    total_steps = sum(steps_per_epoch)

    decay, no_decay = [], []
    for n_, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "LayerNorm" in n_ or "_ln" in n_ or n_.endswith("memory") else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": settings["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}], lr=settings["lr"])
    if prev is not None:
        opt.load_state_dict(prev["optimizer"])

    with open(out / LOG_FILE, "a", encoding="utf-8") as lf:
        if prev is None:
            lf.write(json.dumps(_jsonable({"event": "start", "settings": settings, "parameters": npar, "train_bp": train_bp, "mlm": mlm_info})) + "\n")
    val_m: dict[str, Any] = {}
    for epoch in range(start_epoch, total_epochs):
        w = sched[min(epoch, len(sched) - 1)]
        bsz = max(1, batch_bp // w)
        rng = np.random.default_rng([seed, epoch])
        torch.manual_seed(seed * 100_003 + epoch)
        wins = sample_windows(train_regions, w, rng)
        chosen = []
        for j, a, b in wins:
            strand = "-" if rng.random() < settings["rc_prob"] else "+"
            d = data[j]
            n_frac = d.seq.count("N", a, b) / (b - a)
            if n_frac > settings["max_n_fraction"]:
                continue
            if settings["intergenic_keep"] < 1.0 and not d.tracks[strand].labels[a:b].any() and rng.random() > settings["intergenic_keep"]:
                continue
            chosen.append((j, a, b, strand))
        order = rng.permutation(len(chosen))
        chosen = [chosen[i] for i in order]
        model.train()
        t0 = time.time()
        losses, bp_done = [], 0
        label_sum, label_weight = np.zeros(model.n_outputs), 0.0
        n_steps = min(steps_per_epoch[epoch], math.ceil(len(chosen) / bsz))
        for k in range(n_steps):
            batch_w = chosen[k * bsz : (k + 1) * bsz]
            if not batch_w:
                break
            inputs = [window_input(data[j], a, b, s) for j, a, b, s in batch_w]
            batch = model.prepare([s for s, _ in inputs], [m for _, m in inputs])
            y, wt = _targets_batch(data, batch_w, batch.nuc_ids.shape[1], model.n_outputs)
            label_sum += (y * wt.unsqueeze(-1)).sum(dim=(0, 1)).double().numpy()
            label_weight += float(wt.sum())
            batch, y, wt = batch.to(dev), y.to(dev), wt.to(dev)
            for g in opt.param_groups:
                g["lr"] = _lr_at(step, total_steps, settings["lr"], settings["warmup_steps"])
            if dev.type == "cuda":
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    logits = model(batch)
            else:
                logits = model(batch)
            loss = masked_bce(logits.float(), y, wt)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings["grad_clip"])
            opt.step()
            step += 1
            losses.append(loss.item())
            bp_done += int(sum(b - a for _, a, b, _ in batch_w))
            if (k + 1) % settings["log_every"] == 0:
                el = time.time() - t0
                log.info("epoch %d step %d/%d loss %.4f  %.0f bp/s", epoch + 1, k + 1, n_steps, float(np.mean(losses[-settings['log_every']:])), bp_done / max(el, 1e-9))
            if settings["time_limit_s"] and time.time() - t0 > settings["time_limit_s"]:
                log.info("epoch %d: time limit reached after %d steps", epoch + 1, k + 1)
                break
        train_s = time.time() - t0
        rec: dict[str, Any] = {
            "event": "epoch", "epoch": epoch + 1, "window": w, "batch": bsz, "steps": len(losses), "global_step": step,
            "loss_first": float(np.mean(losses[: settings["log_every"]])) if losses else None,
            "loss_last": float(np.mean(losses[-settings["log_every"] :])) if losses else None,
            "loss_mean": float(np.mean(losses)) if losses else None,
            "train_seconds": train_s, "bp_per_s": bp_done / max(train_s, 1e-9),
            "class_prior": class_prior(label_sum, label_weight),
        }
        if val_regions:
            t1 = time.time()
            val_m = evaluate(model, data, val_regions, window=settings["val_window"], max_windows=settings["val_max_windows"], batch_size=max(1, batch_bp // settings["val_window"]))
            rec["val"] = val_m
            rec["val_seconds"] = time.time() - t1
            log.info("epoch %d validation: %s", epoch + 1, summary_line(val_m))
        log.info("epoch %d: loss %.4f -> %.4f, %d steps, %.0f bp/s", epoch + 1, rec["loss_first"] or float("nan"), rec["loss_last"] or float("nan"), len(losses), rec["bp_per_s"])
        history.append(rec)
        model.metadata = _jsonable({
            "training": {"genomes": settings["genomes"], "annotations": settings["annotations"], "holdout": settings["holdout"], "epochs_done": epoch + 1, "seed": seed,
                         "class_prior": rec["class_prior"]},
            "validation": val_m,
        })
        model.save_pretrained(out)
        _save_state(out, {
            "epoch": epoch + 1, "step": step, "settings": settings, "history": history, "mlm": mlm_info,
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict(),
        })
        with open(out / LOG_FILE, "a", encoding="utf-8") as lf:
            lf.write(json.dumps(_jsonable(rec)) + "\n")
    if prev is None and total_epochs == 0:
        model.save_pretrained(out)
    return {"output_dir": str(out), "history": history, "parameters": npar, "validation": val_m, "mlm": mlm_info}
