#!/usr/bin/env python3
"""Metagenome-sized inputs: wall time and peak memory of `genannot prok` beside `prodigal -p meta` as the input
grows, same run.

The code-11 genomes of the shared data are cut into contigs of --min-len..--max-len nt and shuffled
(bench/prok_mixed.py's mix); the input of size k holds k copies of that mix, each copy's contigs renamed. Each
tool runs on each input as a subprocess; its peak resident memory is its own (read by a small launcher). genannot's
memory should stay flat as the input grows: GC bins larger than pipeline.SAMPLE_BP learn their statistics on a
sample and the rest is annotated chunk by chunk into the outputs; what grows is the input's sequence (1 byte a
base) and the calls of the samples held until written. Each run's genes on the first copy are scored as
bench/prok_mixed.py scores its mix (mean over the genomes of 3' sensitivity + specificity): on k copies the GC
bins are k times larger, so this shows what learning on a sample costs.

    python bench/prok_scale.py                       # copies 1, 2, 4 of the 11-genome mix of 1-10 kb contigs
    python bench/prok_scale.py --copies 1,2 --threads 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from prok_bench import drop_3prime_partial  # noqa: E402
from prok_mixed import RUNS, build_mix, sequenced  # noqa: E402

from genannot.eval.metrics import eval_prok  # noqa: E402
from genannot.io.annotation import read_annotation  # noqa: E402

OUT = HERE / "out" / "scale"


def copies_of(fasta: Path, k: int) -> tuple[Path, int, int]:
    """A FASTA of k copies of `fasta` (contig names suffixed _c1.._ck); its path, contigs and bases."""
    path = OUT / f"{fasta.stem}_x{k}.fna"
    text = fasta.read_text()
    n_contigs, n_bases = 0, 0
    with open(path, "w") as fh:
        for j in range(1, k + 1):
            for line in text.splitlines():
                if line.startswith(">"):
                    fh.write(f"{line.split()[0]}_c{j}\n")
                    n_contigs += 1
                else:
                    fh.write(line + "\n")
                    n_bases += len(line)
    return path, n_contigs, n_bases


def first_copy_score(gff: Path, refs: dict, tags: list[str]) -> float:
    """Mean over the source genomes of 3' sensitivity + specificity of the genes on the first copy's contigs."""
    pred = {k[: -len("_c1")]: v for k, v in drop_3prime_partial(read_annotation(gff)).items() if k.endswith("_c1")}
    total = 0.0
    for tag in tags:
        res = eval_prok({k: v for k, v in pred.items() if k.startswith(tag + "__")},
                        {k: v for k, v in refs.items() if k.startswith(tag + "__")}, None)
        total += res["sens_3"] + res["spec_3"]
    return total / len(tags)


# a small launcher process, so that a child's peak memory is its own and not the bench's pages copied at fork
_LAUNCH = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and the command's peak resident memory (GB)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _LAUNCH, *cmd], cwd=str(HERE.parent), stdout=subprocess.PIPE,
                          text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, int(done.stdout.split()[-1]) / 1024**2  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-len", type=int, default=1000)
    ap.add_argument("--max-len", type=int, default=10000)
    ap.add_argument("--copies", default="1,2,4")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", default="genannot,prodigal-meta")
    ap.add_argument("--markdown", default=str(HERE / "PROK_SCALE.md"))
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    tags = sequenced()
    base, refs = build_mix(tags, args.min_len, args.max_len, args.seed)
    runs = args.runs.split(",")
    rows = []
    for k in (int(x) for x in args.copies.split(",")):
        fasta, n_contigs, n_bases = copies_of(base, k)
        row = {"copies": k, "contigs": n_contigs, "mb": n_bases / 1e6}
        for run in runs:
            gff = OUT / f"{fasta.stem}.{run}.gff"
            wall, rss = timed(RUNS[run](fasta, gff, args.threads))
            row[run] = (wall, rss, first_copy_score(gff, refs, tags))
            print(f"x{k} {n_bases / 1e6:6.1f} Mb {n_contigs:6d} contigs  {run:14} {wall:7.1f} s {rss:6.2f} GB  "
                  f"sens + spec {row[run][2]:.4f}", flush=True)
        rows.append(row)
        fasta.unlink()  # up to a few hundred MB each
    write_markdown(rows, runs, base, args, argv if argv is not None else sys.argv[1:])
    return 0


def write_markdown(rows: list[dict], runs: list[str], base: Path, args, argv: list[str]) -> None:
    head = ["input (Mb, contigs)"] + [f"{r} wall s / peak GB / sens + spec" for r in runs]
    if {"genannot", "prodigal-meta"} <= set(runs):
        head.append("wall ratio (genannot / prodigal-meta)")
    L = ["# genannot prok on metagenome-sized inputs", "",
         f"Made by `python bench/prok_scale.py {' '.join(argv)}` on {args.threads} CPU threads for genannot "
         f"(Prodigal uses one): k copies of {base.name}, contigs of {args.min_len}-{args.max_len} nt cut from the "
         f"{len(sequenced())} code-11 genomes of the shared data. Peak memory is each tool's own resident set; sens + "
         "spec: the mean over the genomes of 3' sensitivity + specificity on the first copy's contigs "
         "(bench/prok_mixed.py's scoring).", "",
         "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for row in rows:
        cells = [f"{row['mb']:.1f} ({row['contigs']:,})"]
        cells += [f"{row[r][0]:.1f} / {row[r][1]:.2f} / {row[r][2]:.4f}" for r in runs]
        if {"genannot", "prodigal-meta"} <= set(runs):
            cells.append(f"{row['genannot'][0] / row['prodigal-meta'][0]:.2f}x")
        L.append("| " + " | ".join(cells) + " |")
    with open(args.markdown, "w") as fh:
        fh.write("\n".join(L) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
