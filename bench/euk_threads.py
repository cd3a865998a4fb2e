#!/usr/bin/env python3
"""`genannot euk` on one thread and on N, same run: wall time, their ratio, peak memory of the whole process tree
(the main process and its decoding workers, sampled from /proc every 0.2 s), and whether the two GFF3s agree
line for line (they must: the output does not depend on the number of threads). Not part of the test run.

    python bench/euk_threads.py                       # Arabidopsis slice and yeast, 1 vs all cores
    python bench/euk_threads.py --threads 2 --genomes athaliana/Athaliana_TAIR10_1pct.fa.gz
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

import peers  # noqa: E402  (bench/peers.py: FASTA staging)

OUT = HERE / "out" / "threads"
GENOMES = ["athaliana/Athaliana_TAIR10_1pct.fa.gz", "yeast/Scer_S288C_Yue2017.genome.fa.gz"]


def tree_rss_kib(pid: int) -> int:
    """Resident memory of `pid` and its direct children (KiB)."""
    total = 0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            pids += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total


def run(fasta: Path, threads: int, out: Path) -> tuple[float, float]:
    """(wall seconds, peak tree RSS MiB) of `genannot euk FASTA --threads N`."""
    cmd = [sys.executable, "-m", "genannot", "euk", str(fasta), "-o", str(out), "--threads", str(threads), "--device", "cpu"]
    t0 = time.perf_counter()
    with open(out.with_suffix(".log"), "w") as log:
        p = subprocess.Popen(cmd, stderr=log)
        peak = 0
        while p.poll() is None:
            peak = max(peak, tree_rss_kib(p.pid))
            time.sleep(0.2)
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}); see {out.with_suffix('.log')}")
    return time.perf_counter() - t0, peak / 1024


def body(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads of the second run (default: all cores)")
    ap.add_argument("--genomes", default=",".join(GENOMES), help="FASTA files under ../shared/data/euk, comma-separated")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"| genome | Mb | 1 thread s | {args.threads} threads s | ratio | peak MiB 1 / {args.threads} | GFF3 identical |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for rel in args.genomes.split(","):
        fasta = peers.gunzip_to(peers.DATA / "euk" / rel, OUT / Path(rel).name.removesuffix(".gz"))
        mb = fasta.stat().st_size / 1e6
        runs = {n: run(fasta, n, OUT / f"{fasta.stem}.t{n}.gff3") for n in (1, args.threads)}
        (w1, m1), (wn, mn) = runs[1], runs[args.threads]
        same = body(OUT / f"{fasta.stem}.t1.gff3") == body(OUT / f"{fasta.stem}.t{args.threads}.gff3")
        print(f"| {fasta.stem} | {mb:.1f} | {w1:.1f} | {wn:.1f} | {wn / w1:.2f}x | {m1:.0f} / {mn:.0f} | {'yes' if same else 'NO'} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
