#!/usr/bin/env python3
"""genannot on a CUDA GPU beside the same machine's CPU and the peer, in one invocation (needs a CUDA GPU).

    python bench/gpu_throughput.py --prok ECOLI.fna[.gz] --euk CHR9.fa[.gz] [--euk-model DIR] [--threads N] [--out DIR]

Rows: wall seconds (the whole command: start-up, model loading, writing) and input bases per second.
- prok, the embedded classifiers: `--device cuda` against `--device cpu`, and pyrodigal (one thread, in process);
- prok, a GeneLM-sized pair (BERT 768 x 12 layers, 86M parameters each, the published checkpoints' shape, randomly
  initialised: a timing, its genes mean nothing) on the GPU only; GeneLM's paper: 21 minutes for E. coli on an
  A100;
- euk with the network in the decoder (`--net-weight 1`): `--device cuda` against `--device cpu`, and whether the
  two GFF3s hold the same features (the GPU runs the network in bf16);
- euk by default (signal models alone: the network is not run, so no GPU is used): the CPU row for reference;
- the euk network alone (per-base tracks, both strands, reverse-complement averaged, as `genannot euk` computes
  them), in process after a warm-up: GPU ('auto' batch) against CPU (8 windows a batch), for the shipped network
  and each `--euk-model DIR`.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from genannot.io.fasta import read_fasta  # noqa: E402
from genannot.prok.classifiers import dnabert_vocab  # noqa: E402


def fasta_bases(path: Path) -> int:
    return sum(len(r) for r in read_fasta(path))


def genelm_sized_pair(root: Path) -> Path:
    """ROOT/cds and ROOT/tis as `genannot train prok -o ROOT` lays them out, in GeneLM's checkpoint shape."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    vocab = dnabert_vocab(6)
    for i, task in enumerate(("cds", "tis")):
        cfg = BertConfig(vocab_size=len(vocab), hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072, max_position_embeddings=512, num_labels=2)
        cfg.genannot = {"task": task, "kmer": 6, "stride": 3 if task == "cds" else 1}
        torch.manual_seed(i)
        d = root / task
        BertForSequenceClassification(cfg).save_pretrained(str(d))
        (d / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return root


def genannot_wall(out: Path, name: str, command: str, fasta: Path, device: str, *options: str) -> float:
    """Wall seconds of `genannot COMMAND FASTA --device DEVICE OPTIONS`, written to OUT/NAME.gff3 (log: NAME.log)."""
    cmd = [sys.executable, "-m", "genannot", command, "-v", str(fasta), "-o", str(out / f"{name}.gff3"), "--device", device,
           *options]
    log = out / f"{name}.log"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=fh).returncode
    wall = time.perf_counter() - t0
    if rc != 0:
        sys.exit(f"failed ({rc}): {' '.join(cmd)}; see {log}")
    return wall


def compare(what: str, a: Path, b: Path) -> None:
    """Lines in both GFF3s, and features placed alike (type, seqid, start, end, strand; scores aside)."""
    body = lambda p: [ln for ln in p.read_text().splitlines() if ln and not ln.startswith("#")]  # noqa: E731
    la, lb = body(a), body(b)
    place = lambda lines: {tuple(ln.split("\t")[i] for i in (0, 2, 3, 4, 6)) for ln in lines}  # noqa: E731
    print(f"  {what} GFF3 lines: CPU {len(la)}, GPU {len(lb)}, identical {len(set(la) & set(lb))}; "
          f"features CPU {len(place(la))}, GPU {len(place(lb))}, placed alike {len(place(la) & place(lb))}", flush=True)


def network_wall(model_dir: Path, seq: str, device: str, threads: int) -> float:
    """Seconds for the network's tracks over `seq` (after one warm-up window)."""
    import torch

    from genannot.euk.model import EukSegModel
    from genannot.euk.pipeline import CPU_WINDOWS, OVERLAP, WINDOW
    from genannot.euk.windows import model_fn, predict_record

    torch.set_num_threads(threads)
    net = EukSegModel.from_pretrained(model_dir, device=device).eval()
    batch = "auto" if device == "cuda" else CPU_WINDOWS
    predict_record(model_fn(net), seq[:WINDOW], WINDOW, OVERLAP, batch, device=device)
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    predict_record(model_fn(net), seq, WINDOW, OVERLAP, batch, device=device)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def pyrodigal_wall(fasta: Path) -> float:
    import pyrodigal

    seqs = [r.seq.encode() for r in read_fasta(fasta)]
    t0 = time.perf_counter()
    finder = pyrodigal.GeneFinder()
    finder.train(*seqs)
    for s in seqs:
        finder.find_genes(s)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prok", type=Path, required=True)
    ap.add_argument("--euk", type=Path, required=True)
    ap.add_argument("--euk-model", type=Path, action="append", default=[], help="another euk-seg model directory")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "gpu")
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        sys.exit("needs a CUDA GPU")
    args.out.mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.get_device_name(0)
    threads = ("--threads", str(args.threads))
    rows = []

    def row(what: str, wall: float, bases: int, ref: float | None = None) -> None:
        rows.append({"run": what, "wall_s": round(wall, 2), "bp_per_s": round(bases / wall),
                     "vs_cpu": round(wall / ref, 3) if ref else None})
        print(f"{what:<58} {wall:8.1f} s {bases / wall:12,.0f} bp/s" + (f"  {wall / ref:.3f}x CPU" if ref else ""),
              flush=True)

    import pyrodigal

    pb = fasta_bases(args.prok)
    o = args.out
    cpu = genannot_wall(o, "prok_cpu", "prok", args.prok, "cpu", *threads)
    row(f"prok, embedded classifiers, CPU ({args.threads} threads)", cpu, pb)
    row("prok, embedded classifiers, GPU", genannot_wall(o, "prok_cuda", "prok", args.prok, "cuda", *threads), pb, cpu)
    compare("prok", o / "prok_cpu.gff3", o / "prok_cuda.gff3")
    row(f"pyrodigal {pyrodigal.__version__} (one thread)", pyrodigal_wall(args.prok), pb)
    with tempfile.TemporaryDirectory() as tmp:
        big = genelm_sized_pair(Path(tmp))
        wall = genannot_wall(o, "prok_genelm_sized", "prok", args.prok, "cuda", "--model", str(big), *threads)
        row("prok, GeneLM-sized pair (86M x 2, random weights), GPU", wall, pb)

    seq = "".join(r.seq for r in read_fasta(args.euk))
    eb = len(seq)
    net = ("--net-weight", "1")
    cpu = genannot_wall(o, "euk_net_cpu", "euk", args.euk, "cpu", *net, *threads)
    row(f"euk --net-weight 1, CPU ({args.threads} threads)", cpu, eb)
    row("euk --net-weight 1, GPU", genannot_wall(o, "euk_net_cuda", "euk", args.euk, "cuda", *net, *threads), eb, cpu)
    compare("euk", o / "euk_net_cpu.gff3", o / "euk_net_cuda.gff3")
    wall = genannot_wall(o, "euk_default", "euk", args.euk, "cpu", *threads)
    row(f"euk default (signal models, no network), CPU ({args.threads} threads)", wall, eb)
    for model in [REPO / "genannot" / "models" / "weights" / "euk-seg-small", *args.euk_model]:
        cpu = network_wall(model, seq, "cpu", args.threads)
        row(f"euk network {model.name}, tracks alone, CPU ({args.threads} threads)", cpu, eb)
        row(f"euk network {model.name}, tracks alone, GPU", network_wall(model, seq, "cuda", args.threads), eb, cpu)

    (o / "gpu_throughput.json").write_text(json.dumps({"gpu": gpu, "cpu_threads": args.threads, "prok_bp": pb,
                                                       "euk_bp": eb, "rows": rows}, indent=1) + "\n")
    print(f"GPU: {gpu}; CPU threads: {args.threads}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
