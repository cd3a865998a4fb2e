#!/usr/bin/env python3
"""Per-base metrics of a euk-seg model on held-out sequence, and what each design element buys.

    python bench/euk_ablation.py --model DIR --genome FASTA --annotation GFF3|GTF \
        [--region SEQID:START-END] [--window 8192] [--max-windows N] [--cycles 1,2,3] [--json OUT]

Example (the human chr9 slice every genannot euk model keeps out of training):

    python bench/euk_ablation.py --model genannot/models/weights/euk-seg-small \
        --genome ../shared/data/euk/human/GRCh38_chr9_1-1000000.dna_sm.fa.gz \
        --annotation ../shared/data/euk/human/GRCh38_chr9_1-1000000.Ensembl91.gtf.gz

Rows
- stranded metrics (as in training validation: windows read forward are scored against '+' genes,
  windows read reverse-complemented against '-' genes):
    * full model (memory carried between 512-token segments, the model's own recycling count);
    * RMT memory off (memory reset at every segment: segments encoded independently);
    * recycling 1, 2, 3 cycles (a model trained with 1 cycle only shows the cost of mismatch).
- both-pass metrics, where reverse-complement averaging applies:
    * 10-output (both-strand) models: each pass predicts both strands; the rows score both strands'
      tracks (a base counted once per strand) from the forward pass only, the mean of the forward
      pass and the RC pass mapped back (genannot.euk.model.rc_to_forward: exact averaging), and
      their element-wise maximum;
    * 5-output models: the target is the union of both strands' genes in forward orientation (a
      minus-strand gene's 5'UTR sits right of its CDS, so it counts as the forward frame's 3'UTR
      column); forward pass only, RC mean, RC max (such a model predicts each strand's genes on its
      own reading, so the mean halves every single-strand signal; max keeps it).
Columns: PR-AUC per class (prevalence = a constant predictor's PR-AUC) and exon / CDS base F1 at 0.5.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genannot.euk.labels import window_targets  # noqa: E402
from genannot.euk.model import CLASSES, RC_PERMUTATION, EukSegModel, rc_to_forward  # noqa: E402
from genannot.euk.train import Region, base_metrics, evaluate, load_data, parse_region, window_input  # noqa: E402


def regions_for(data, region: str | None) -> list[Region]:
    if region:
        sid, a, b = parse_region(region)
        out = [Region(i, a, min(b, len(d))) for i, d in enumerate(data) if d.name == sid and d.tracks is not None]
        if not out:
            sys.exit(f"region {region}: no annotated sequence {sid!r}")
        return out
    return [Region(i, 0, len(d)) for i, d in enumerate(data) if d.tracks is not None]


def windows(regions: list[Region], window: int, max_windows: int | None) -> list[tuple[int, int, int]]:
    wins = [(r.idx, a, min(a + window, r.end)) for r in regions for a in range(r.start, r.end, window)]
    if max_windows and len(wins) > max_windows:
        pick = sorted(set(np.linspace(0, len(wins) - 1, max_windows).round().astype(int)))
        wins = [wins[i] for i in pick]
    return wins


def unstranded(model, data, wins, batch_size: int) -> dict[str, dict]:
    swap = list(RC_PERMUTATION)
    acc = {"forward only": [], "RC mean": [], "RC max": []}
    labs, ws = [], []
    for i in range(0, len(wins), batch_size):
        chunk = wins[i : i + batch_size]
        fwd_in = [window_input(data[j], a, b, "+") for j, a, b in chunk]
        rc_in = [window_input(data[j], a, b, "-") for j, a, b in chunk]
        pf = model.predict_batch([s for s, _ in fwd_in], softmasks=[m for _, m in fwd_in], batch_size=batch_size)
        pr = model.predict_batch([s for s, _ in rc_in], softmasks=[m for _, m in rc_in], batch_size=batch_size)
        for (j, a, b), f, r in zip(chunk, pf, pr):
            yp, wp = window_targets(data[j].tracks, a, b, "+", data[j].seq[a:b])
            ym, wm = window_targets(data[j].tracks, a, b, "-", data[j].seq[a:b])
            if model.n_outputs == 10:  # stack the two strands' tracks as rows
                r_fwd = rc_to_forward(r)
                for k, v in (("forward only", f), ("RC mean", (f + r_fwd) / 2), ("RC max", np.maximum(f, r_fwd))):
                    acc[k].append(np.concatenate([v[:, :5], v[:, 5:]]))
                labs.append(np.concatenate([yp, ym[::-1]]))
                ws.append(np.concatenate([wp, wm[::-1]]))
                continue
            r_fwd = r[::-1][:, swap]
            acc["forward only"].append(f)
            acc["RC mean"].append((f + r_fwd) / 2)
            acc["RC max"].append(np.maximum(f, r_fwd))
            ym_fwd = ym[::-1][:, swap]
            labs.append(np.maximum(yp, ym_fwd))
            ws.append(np.minimum(wp, wm[::-1]))
    y, w = np.concatenate(labs), np.concatenate(ws)
    return {k: base_metrics(np.concatenate(v), y, w) for k, v in acc.items()}


def row(name: str, m: dict, seconds: float) -> dict:
    r = {"config": name, "seconds": round(seconds, 1), "bases": m["bases"], "BCE": m["bce"], "BCE const": m["bce_constant"]}
    for c in CLASSES:
        r[f"{c} AP"] = m[c]["pr_auc"]
        r[f"{c} prev"] = m[c]["prevalence"]
    r["exon F1"] = m["exon"]["f1"]
    r["CDS F1"] = m["CDS"]["f1"]
    return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--genome", required=True)
    ap.add_argument("--annotation", required=True)
    ap.add_argument("--region", default=None, help="SEQID:START-END (default: every annotated sequence)")
    ap.add_argument("--window", type=int, default=8192)
    ap.add_argument("--max-windows", type=int, default=None, help="evenly spaced subset of the windows (quick runs)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--cycles", default="1,2,3")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--skip-unstranded", action="store_true")
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    model = EukSegModel.from_pretrained(args.model, device=args.device)
    data = load_data([args.genome], [args.annotation])
    regs = regions_for(data, args.region)
    wins = windows(regs, args.window, args.max_windows)
    print(f"# model {args.model}: {model.num_parameters()['total']:,} parameters, trained cycles {model.config.head.n_cycles}, memory tokens {model.config.rmt.num_mem_tokens}")
    print(f"# {len(wins)} windows of <= {args.window} bp, {sum(b - a for _, a, b in wins):,} bp per strand")

    rows = []
    kw = dict(window=args.window, max_windows=args.max_windows, batch_size=args.batch_size)

    def run(name, **extra):
        t = time.time()
        m = evaluate(model, data, regs, **kw, **extra)
        rows.append(row(name, m, time.time() - t))

    run("stranded: full model")
    if model.config.rmt.num_mem_tokens:
        run("stranded: RMT memory off", carry_memory=False)
    for c in (int(x) for x in args.cycles.split(",") if x):
        if c != model.config.head.n_cycles:
            run(f"stranded: recycling {c}", n_cycles=c)
    if not args.skip_unstranded:
        t = time.time()
        res = unstranded(model, data, wins, args.batch_size)
        dt = time.time() - t
        for k, m in res.items():
            rows.append(row(f"unstranded: {k}", m, dt))

    cols = ["config", "BCE"] + [f"{c} AP" for c in CLASSES] + ["exon F1", "CDS F1", "seconds"]
    short = {f"{c} AP": f"{c.replace('five_prime_', '5').replace('three_prime_', '3')} AP" for c in CLASSES}
    print("| " + " | ".join(short.get(c, c) for c in cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(r[c] if isinstance(r[c], str) else f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    prev = rows[0]
    print(f"| constant predictor (AP = prevalence) | {prev['BCE const']:.4f} | " + " | ".join(f"{prev[f'{c} prev']:.3f}" for c in CLASSES) + " | 0 | 0 | |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
