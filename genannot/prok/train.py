"""`genannot train prok`: train the coding (CDS) and start-site (TIS) classifiers on annotated genomes.

Data: prok.datasets builds the length-balanced CDS set and the TIS set of every (genome, annotation)
pair. With two or more genomes the last one given is held out for validation (metrics per epoch, and
the epoch with the best validation ROC-AUC is the one kept); with one genome a seeded tenth of its
examples is.

Model: a small BertForSequenceClassification over the DNABERT 6-mer vocabulary (GeneLM's checkpoint
format, so the same loader reads both); its size was chosen by CPU throughput (see ARCH).

Output (`-o DIR`):
    DIR/cds/, DIR/tis/   Hugging Face directories: config.json, model.safetensors (fp16), vocab.txt,
                         tokenizer_config.json, training_args.json (data, seed, arguments, metrics)
    DIR/checkpoint/      state after every epoch (model, optimiser, schedule, history): `--resume`
                         continues from the last finished epoch; removed when training ends.
Deterministic for a given seed (data sampling, initialisation and batch order are all seeded, and
resumed runs reproduce the same batch order), CPU by default ('auto' uses a GPU when there is one).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from genannot.errors import InputError
from genannot.prok.classifiers import CONFIG_KEY, KMER, STRIDES, KmerTokenizer, SequenceClassifier, dnabert_vocab, quiet_transformers
from genannot.prok.datasets import Datasets, Example, build_datasets

log = logging.getLogger(__name__)

# Chosen by measured CPU throughput (2 threads): 15k CDS windows (171 tokens) + 40k TIS windows
# (57 tokens) must score in about 20 s; hidden 64 / 2 layers / 4 heads / FFN 128 is the largest
# BERT that does (~1,200 CDS and ~5,300 TIS windows/s on an idle 2-core Xeon).
ARCH = dict(
    hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, max_position_embeddings=512,
    attention_probs_dropout_prob=0.0, hidden_dropout_prob=0.0,  # drawing dropout masks costs more than the rest of a CPU step
)
DEFAULT_EPOCHS = 4
TRAIN_BATCH = 64
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 0.01
WARMUP = 0.05
TASKS = ("cds", "tis")
CHECKPOINT = "checkpoint"


# ---------------------------------------------------------------- metrics


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); NaN when a class is missing."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if not n_pos or not n_neg:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    s = scores[order]
    # average ranks of ties
    edges = np.flatnonzero(np.diff(s)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(s)]])
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_metrics(labels: np.ndarray, probs: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """n, positives, accuracy at 0.5, ROC-AUC, (weighted) log loss."""
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-7, 1 - 1e-7)
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    loss = -(w * (labels * np.log(probs) + (1 - labels) * np.log(1 - probs))).sum() / max(w.sum(), 1e-12)
    return {
        "n": int(len(labels)),
        "positives": int(labels.sum()),
        "accuracy": round(float(((probs >= 0.5) == labels.astype(bool)).mean()) if len(labels) else float("nan"), 4),
        "roc_auc": round(roc_auc(labels, probs), 4),
        "loss": round(float(loss), 4),
    }


def evaluate(clf: SequenceClassifier, examples: Sequence[Example]) -> dict[str, float]:
    """Metrics of a classifier on a list of examples."""
    if not examples:
        return {"n": 0}
    probs = clf.predict([e.window for e in examples], progress=False)
    return binary_metrics(np.array([e.label for e in examples]), probs, np.array([e.weight for e in examples]))


# ---------------------------------------------------------------- model


def new_model(vocab_size: int, task: str, seed: int):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    cfg = BertConfig(vocab_size=vocab_size, num_labels=2, pad_token_id=0, **ARCH)

    cfg.id2label = {0: "negative", 1: "coding" if task == "cds" else "start"}
    cfg.label2id = {v: k for k, v in cfg.id2label.items()}
    setattr(cfg, CONFIG_KEY, {"task": task, "kmer": KMER, "stride": STRIDES[task]})
    torch.manual_seed(seed)
    return BertForSequenceClassification(cfg)


def _batches(lengths: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar-length items (sorted within pools of 50 batches)."""
    perm = rng.permutation(len(lengths))
    pool = batch * 50
    out = []
    for i in range(0, len(perm), pool):
        chunk = perm[i : i + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out.extend(chunk[j : j + batch] for j in range(0, len(chunk), batch))
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def _wrap(model, tokenizer: KmerTokenizer, task: str, device, batch_size) -> SequenceClassifier:
    return SequenceClassifier(
        name=f"training {task}", sha256="", model=model, tokenizer=tokenizer, task=task, stride=STRIDES[task],
        device=device, batch_size=batch_size,
    )


def _rng_state() -> dict:
    import torch

    return {"torch": torch.get_rng_state()}


def train_task(
    task: str,
    train: Sequence[Example],
    valid: Sequence[Example],
    *,
    tokenizer: KmerTokenizer,
    epochs: int,
    seed: int,
    device,
    batch_size: int,
    checkpoint_dir: Path,
    resume_state: dict | None = None,
    meta: dict,
):
    """Train one classifier; a checkpoint after every epoch; returns (best model, history)."""
    import torch

    stride = STRIDES[task]
    ids = tokenizer.kmer_ids([e.window for e in train], stride)
    lengths = np.array([len(x) for x in ids])
    labels = torch.tensor([e.label for e in train], dtype=torch.long)
    weights = torch.tensor([e.weight for e in train], dtype=torch.float32)
    model = new_model(len(tokenizer.vocab), task, seed).to(device)
    steps_per_epoch = math.ceil(len(train) / batch_size)
    total = steps_per_epoch * epochs
    warm = max(1, int(WARMUP * total))
    opt = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    history: list[dict] = []
    best: dict | None = None
    first_epoch = 0
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        opt.load_state_dict(resume_state["optimizer"])
        sched.load_state_dict(resume_state["scheduler"])
        torch.set_rng_state(resume_state["rng"]["torch"])
        history = resume_state["history"]
        best = resume_state.get("best")
        first_epoch = resume_state["epoch"] + 1
        log.info("%s: resuming after epoch %d of %d", task.upper(), first_epoch, epochs)
    lossf = torch.nn.CrossEntropyLoss(reduction="none")
    clf = _wrap(model, tokenizer, task, device, 256)
    for epoch in range(first_epoch, epochs):
        model.train()
        rng = np.random.default_rng([seed, epoch, TASKS.index(task)])
        batches = _batches(lengths, batch_size, rng)
        t0 = time.perf_counter()
        run_loss = run_w = 0.0
        report = max(1, len(batches) // 10)
        for bi, idx in enumerate(batches):
            inp, mask = tokenizer.batch([ids[i] for i in idx])
            inp_t = torch.from_numpy(inp).to(device)
            mask_t = None if mask.all() else torch.from_numpy(mask).to(device)
            y = labels[idx].to(device)
            w = weights[idx].to(device)
            logits = model(input_ids=inp_t, attention_mask=mask_t).logits
            loss = (lossf(logits.float(), y) * w).sum() / w.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            run_loss += float(loss.detach()) * float(w.sum())
            run_w += float(w.sum())
            if (bi + 1) % report == 0 or bi + 1 == len(batches):
                el = time.perf_counter() - t0
                done = sum(len(b) for b in batches[: bi + 1])
                log.info(
                    "%s epoch %d/%d: %d/%d examples, loss %.4f, %.0f examples/s, %.0f s left in the epoch",
                    task.upper(), epoch + 1, epochs, done, len(train), run_loss / max(run_w, 1e-9), done / el,
                    el / done * (len(train) - done),
                )
        model.eval()
        row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": round(run_loss / max(run_w, 1e-9), 4), "seconds": round(time.perf_counter() - t0, 1)}
        if valid:
            row["valid"] = evaluate(clf, valid)
            log.info("%s epoch %d/%d: validation %s", task.upper(), epoch + 1, epochs, row["valid"])
        history.append(row)
        score = row.get("valid", {}).get("roc_auc", -row["train_loss"])
        if best is None or not (score <= best["score"]):  # NaN-safe: a NaN never beats a number
            best = {"score": score, "epoch": epoch + 1, "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
        torch.save(
            {
                "task": task, "epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "rng": _rng_state(), "history": history, "best": best, "meta": meta,
            },
            checkpoint_dir / f"{task}.pt.tmp",
        )
        os.replace(checkpoint_dir / f"{task}.pt.tmp", checkpoint_dir / f"{task}.pt")
        _after_epoch(task, epoch)
    if best is not None:
        model.load_state_dict(best["model"])
    model.eval()
    return model, history, (best or {}).get("epoch")


def _after_epoch(task: str, epoch: int) -> None:
    """Hook called once an epoch's checkpoint is on disk (tests interrupt training here)."""


def save_model(model, tokenizer: KmerTokenizer, directory: Path, training_args: dict) -> None:
    """Write a Hugging Face directory: config.json, model.safetensors (fp16), vocab.txt, tokenizer_config.json,
    training_args.json (written to a temporary folder, then renamed)."""
    import copy

    import torch

    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    half = copy.deepcopy(model).to("cpu").to(torch.float16)
    with quiet_transformers():
        half.save_pretrained(str(tmp))
    (tmp / "vocab.txt").write_text("\n".join(tokenizer.vocab) + "\n", encoding="utf-8")
    (tmp / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": False, "model_max_length": 512}, indent=2) + "\n"
    )
    (tmp / "training_args.json").write_text(json.dumps(training_args, indent=2) + "\n")
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(tmp, directory)


# ---------------------------------------------------------------- the command


def _split(ds: Datasets) -> tuple[list[str], list[str], dict]:
    """(training tags, validation tags, description): the last genome held out when there are several."""
    tags = [g.tag for g in ds.genomes]
    if len(tags) >= 2:
        return tags[:-1], tags[-1:], {"validation": f"genome {tags[-1]} held out"}
    return tags, [], {"validation": "a seeded tenth of the examples"}


def _random_tenth(examples: list[Example], seed: int, salt: int) -> tuple[list[Example], list[Example]]:
    rng = np.random.default_rng([seed, 99, salt])
    mask = rng.random(len(examples)) < 0.1
    return [e for e, m in zip(examples, mask) if not m], [e for e, m in zip(examples, mask) if m]


def run_train_prok(
    *,
    genomes: Sequence[str],
    annotations: Sequence[str],
    output_dir: str,
    epochs: int | None = None,
    resume: bool = False,
    translation_table: int = 11,
    device: str = "cpu",
    batch_size: int | str = "auto",
    seed: int = 0,
    **_ignored: Any,
) -> Path:
    """Build the datasets, train the CDS then the TIS classifier, write DIR/cds and DIR/tis."""
    import torch

    from genannot.runtime.device import select_device

    if len(genomes) != len(annotations):
        raise InputError(f"--genome given {len(genomes)} times but --annotation {len(annotations)} times: give them in pairs")
    if not genomes:
        raise InputError("no training genome given (--genome FASTA --annotation GFF3)")
    out = Path(output_dir).expanduser()
    ckpt = out / CHECKPOINT
    epochs = epochs or DEFAULT_EPOCHS
    bs = TRAIN_BATCH if batch_size == "auto" else int(batch_size)
    args = {
        "genomes": [str(g) for g in genomes], "annotations": [str(a) for a in annotations], "epochs": epochs,
        "translation_table": translation_table, "seed": seed, "batch_size": bs,
    }
    state_file = ckpt / "state.json"
    if resume:
        if not state_file.is_file():
            raise InputError(f"--resume: {out} holds no training checkpoint ({state_file} is missing)")
        saved = json.loads(state_file.read_text())
        differ = [k for k in ("genomes", "annotations", "translation_table", "seed", "batch_size") if saved["args"].get(k) != args[k]]
        if differ:
            raise InputError(f"--resume: the checkpoint in {out} was made with other {', '.join(differ)}; use the same arguments")
        if saved["args"]["epochs"] != epochs:
            raise InputError(f"--resume: the checkpoint was made for {saved['args']['epochs']} epochs, not {epochs}")
    else:
        clash = [p.name for p in (out / "cds", out / "tis", ckpt) if p.exists()]
        if clash:
            raise InputError(f"{out} already holds {', '.join(clash)}: use --resume to continue, or another output directory")
    dev = select_device(device)
    t_start = time.perf_counter()
    log.info("building datasets from %d genome(s)", len(genomes))
    ds = build_datasets(genomes, annotations, table=translation_table, seed=seed)
    train_tags, valid_tags, split_info = _split(ds)
    examples = {}  # checked before anything is written: a failed run leaves no checkpoint to trip over
    for task in TASKS:
        get = ds.cds if task == "cds" else ds.tis
        train_ex, valid_ex = (get(train_tags), get(valid_tags)) if valid_tags else _random_tenth(get(), seed, TASKS.index(task))
        if not train_ex or len({e.label for e in train_ex}) < 2:
            raise InputError(f"the {task.upper()} training set needs positive and negative examples; check the annotation matches the genome")
        examples[task] = train_ex, valid_ex
    ckpt.mkdir(parents=True, exist_ok=True)
    if not resume:
        state_file.write_text(json.dumps({"args": args, "done": []}, indent=2))
    state = json.loads(state_file.read_text())
    tokenizer = KmerTokenizer(dnabert_vocab(KMER))
    results: dict[str, dict] = {}
    for task in TASKS:
        train_ex, valid_ex = examples[task]
        if task in state["done"] and (out / task).is_dir():
            log.info("%s: already trained (%s)", task.upper(), out / task)
            continue
        resume_state = None
        if resume and (ckpt / f"{task}.pt").is_file():
            resume_state = torch.load(ckpt / f"{task}.pt", map_location="cpu", weights_only=False)
        log.info("%s: %d training examples (%d positive), %d validation", task.upper(), len(train_ex), sum(e.label for e in train_ex), len(valid_ex))
        t0 = time.perf_counter()
        model, history, best_epoch = train_task(
            task, train_ex, valid_ex, tokenizer=tokenizer, epochs=epochs, seed=seed, device=dev, batch_size=bs,
            checkpoint_dir=ckpt, resume_state=resume_state, meta=args,
        )
        seconds = time.perf_counter() - t0
        results[task] = {"history": history, "best_epoch": best_epoch}
        training_args = {
            "task": task,
            "arguments": args,
            "architecture": {**ARCH, "vocab_size": len(tokenizer.vocab), "parameters": int(sum(p.numel() for p in model.parameters()))},
            "optimiser": {"name": "AdamW", "lr": LEARNING_RATE, "weight_decay": WEIGHT_DECAY, "warmup": WARMUP, "schedule": "linear"},
            "training_genomes": train_tags,
            "validation_genomes": valid_tags,
            "split": split_info,
            "data": ds.stats,
            "examples": {"train": len(train_ex), "train_positive": sum(e.label for e in train_ex), "valid": len(valid_ex)},
            "best_epoch": best_epoch,
            "metrics": history,
            "train_seconds_this_run": round(seconds, 1),
        }
        save_model(model, tokenizer, out / task, training_args)
        state["done"].append(task)
        state_file.write_text(json.dumps(state, indent=2))
        log.info("%s model written to %s (best epoch %s)", task.upper(), out / task, best_epoch)
    shutil.rmtree(ckpt, ignore_errors=True)
    log.info("training finished in %.0f s: %s", time.perf_counter() - t_start, out)
    return out
