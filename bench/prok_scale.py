#!/usr/bin/env python3
"""Metagenome-sized inputs: wall time and peak memory of `genannot prok` beside `prodigal -p meta` as the input
grows, same run.

The code-11 genomes of the shared data are cut into contigs of --min-len..--max-len nt and shuffled
(bench/prok_mixed.py's mix); the input of size k holds k copies of that mix, each copy's contigs renamed. Each
tool runs on each input as a subprocess; its peak resident memory is the child's own (os.wait4). genannot's
memory should stay flat as the input grows: GC bins larger than pipeline.SAMPLE_BP learn their statistics on a
sample and the rest is annotated chunk by chunk into the outputs; what grows is the input's sequence (1 byte a
base) and the calls of the samples held until written. Accuracy on mixed inputs: bench/prok_mixed.py.

    python bench/prok_scale.py                       # copies 1, 2, 4 of the 11-genome mix of 1-10 kb contigs
    python bench/prok_scale.py --copies 1,2 --threads 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from prok_mixed import RUNS, build_mix, sequenced  # noqa: E402

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


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and the child's peak resident memory (GB) of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=str(HERE.parent))
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024**2  # KiB on Linux


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
    base, _refs = build_mix(sequenced(), args.min_len, args.max_len, args.seed)
    runs = args.runs.split(",")
    rows = []
    for k in (int(x) for x in args.copies.split(",")):
        fasta, n_contigs, n_bases = copies_of(base, k)
        row = {"copies": k, "contigs": n_contigs, "mb": n_bases / 1e6}
        for run in runs:
            wall, rss = timed(RUNS[run](fasta, OUT / f"{fasta.stem}.{run}.gff", args.threads))
            row[run] = (wall, rss)
            print(f"x{k} {n_bases / 1e6:6.1f} Mb {n_contigs:6d} contigs  {run:14} {wall:7.1f} s {rss:6.2f} GB",
                  flush=True)
        rows.append(row)
        fasta.unlink()  # up to a few hundred MB each
    write_markdown(rows, runs, base, args, argv if argv is not None else sys.argv[1:])
    return 0


def write_markdown(rows: list[dict], runs: list[str], base: Path, args, argv: list[str]) -> None:
    head = ["input (Mb, contigs)"] + [f"{r} wall s / peak GB" for r in runs]
    if {"genannot", "prodigal-meta"} <= set(runs):
        head.append("wall ratio (genannot / prodigal-meta)")
    L = ["# genannot prok on metagenome-sized inputs", "",
         f"Made by `python bench/prok_scale.py {' '.join(argv)}` on {args.threads} CPU threads for genannot "
         f"(Prodigal uses one): k copies of {base.name}, contigs of {args.min_len}-{args.max_len} nt cut from the "
         f"{len(sequenced())} code-11 genomes of the shared data. Peak memory is each tool's own resident set.", "",
         "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for row in rows:
        cells = [f"{row['mb']:.1f} ({row['contigs']:,})"]
        cells += [f"{row[r][0]:.1f} / {row[r][1]:.2f}" for r in runs]
        if {"genannot", "prodigal-meta"} <= set(runs):
            cells.append(f"{row['genannot'][0] / row['prodigal-meta'][0]:.2f}x")
        L.append("| " + " | ".join(cells) + " |")
    with open(args.markdown, "w") as fh:
        fh.write("\n".join(L) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
