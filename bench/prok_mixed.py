#!/usr/bin/env python3
"""Mixed-species input (a metagenome assembly): genannot prok beside `prodigal` and `prodigal -p meta`, same run.

Each genome's chromosome and any replicon of 100 kb or more is cut at seeded random points into contigs of
--min-len..--max-len nt; all contigs of all genomes are shuffled into one FASTA (bench/out/mixed/). Runs on it:
  prodigal          single mode (one training on the whole mix)
  prodigal-meta     `prodigal -p meta` (each contig with the best of Prodigal's 50 presets)
  genannot          `genannot prok` as shipped (GC bins: prok/composition.py)
  genannot-1bin     `genannot prok --no-gc-bins` (one self-training on the whole mix, genannot before GC bins)
Scoring (genannot.eval.metrics.eval_prok) per source genome, as bench/prok_bench.py scores its draft: reference CDS
moved onto the contig holding their stop (5' end clipped), predictions whose 3' end runs off a contig not scored.
The default classifiers never saw E. coli, M. tuberculosis or H. salinarum; they trained on S. aureus (the only
low-GC genome in the shared data apart from M. genitalium, whose genetic code differs), which is the same for
every genannot run here. Writes bench/PROK_MIXED.md (--markdown; --append adds a section).

    python bench/prok_mixed.py                          # E. coli, M. tuberculosis, H. salinarum, S. aureus; 5-40 kb
    python bench/prok_mixed.py --genomes all --min-len 2000 --max-len 20000 --append    # 11 genomes, 2-20 kb
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402
from prok_bench import drop_3prime_partial, genome_fasta, map_to_draft, read_records  # noqa: E402
from prok_presets import sequenced_genomes  # noqa: E402

from genannot.eval.metrics import eval_prok  # noqa: E402
from genannot.io.annotation import read_annotation  # noqa: E402

REPO = HERE.parent
OUT = HERE / "out" / "mixed"
DEFAULT = "ecoli_k12_mg1655,mtuberculosis_h37rv,hsalinarum_r1,saureus"
MIN_REPLICON = 100_000


def sequenced() -> list[str]:
    """Every genome of the shared data with a sequence and genetic code 11, by name."""
    return sorted(t for t in sequenced_genomes() if peers.TABLE.get(t, 11) == 11)


def build_mix(tags: list[str], lo: int, hi: int, seed: int) -> tuple[Path, dict]:
    """The shuffled contigs of all genomes in one FASTA, and the references moved onto them."""
    rng = random.Random(seed)
    contigs, refs = [], {}
    for tag in tags:
        ann = read_annotation(peers.prok_references(tag)[0])
        for sid, seq in read_records(genome_fasta(tag)):
            if len(seq) < MIN_REPLICON:
                continue
            layout, pos = [], 0
            while pos < len(seq):
                n = min(rng.randint(lo, hi), len(seq) - pos)
                layout.append((f"{tag}__{sid}_{pos + 1}", pos, n))
                pos += n
            genes = ann.get(sid, next(iter(ann.values())) if len(ann) == 1 else [])  # ids differ in a few GenBank files
            if not genes:
                print(f"[warn] {tag} {sid}: no reference genes under this id", file=sys.stderr)
            refs.update(map_to_draft({sid: genes}, layout))
            contigs += [(name, seq[a : a + n]) for name, a, n in layout]
    rng.shuffle(contigs)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"mix_{len(tags)}g_{lo}_{hi}_s{seed}.fna"
    with open(path, "w") as fh:
        for name, s in contigs:
            fh.write(f">{name}\n{s}\n")
    return path, refs


RUNS = {
    "prodigal": lambda fa, out, threads: ["prodigal", "-i", str(fa), "-f", "gff", "-o", str(out), "-q"],
    "prodigal-meta": lambda fa, out, threads: ["prodigal", "-p", "meta", "-i", str(fa), "-f", "gff", "-o", str(out), "-q"],
    "genannot": lambda fa, out, threads: [sys.executable, "-c", "from genannot.cli import entry; entry()", "prok",
                                          str(fa), "-o", str(out), "--threads", str(threads), "-q"],
}
RUNS["genannot-1bin"] = lambda fa, out, threads: RUNS["genannot"](fa, out, threads) + ["--no-gc-bins"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genomes", default=DEFAULT, help="comma-separated tags, or 'all' (every code-11 genome)")
    ap.add_argument("--min-len", type=int, default=5000)
    ap.add_argument("--max-len", type=int, default=40000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", default=",".join(RUNS))
    ap.add_argument("--markdown", default=str(HERE / "PROK_MIXED.md"))
    ap.add_argument("--append", action="store_true", help="add this mix's section to --markdown")
    args = ap.parse_args(argv)
    tags = sequenced() if args.genomes == "all" else args.genomes.split(",")
    fasta, refs = build_mix(tags, args.min_len, args.max_len, args.seed)
    n_contigs = sum(1 for line in open(fasta) if line.startswith(">"))
    print(f"{fasta.name}: {n_contigs} contigs from {len(tags)} genomes", flush=True)
    rows = []
    for run in args.runs.split(","):
        out = OUT / f"{fasta.stem}.{run}.gff"
        t0 = time.perf_counter()
        subprocess.run(RUNS[run](fasta, out, args.threads), check=True, cwd=str(REPO))
        wall = time.perf_counter() - t0
        pred = drop_3prime_partial(read_annotation(out))
        header = [line.strip() for line in open(out) if line.startswith("#gc_bins")]
        for tag in tags:
            mine = lambda d: {k: v for k, v in d.items() if k.startswith(tag + "__")}  # noqa: E731
            res = eval_prok(mine(pred), mine(refs), None)
            rows.append({"run": run, "genome": tag, "n_pred": res["n_pred"], "n_ref": res["n_ref"],
                         "sens_3": res["sens_3"], "spec_3": res["spec_3"], "start": res.get("start_accuracy"),
                         "wall": wall})
            print(f"{run:14} {tag:24} sens3={res['sens_3']:.4f} spec3={res['spec_3']:.4f} "
                  f"starts={res.get('start_accuracy', 0):.4f} {wall:6.1f}s", flush=True)
        if header:
            print(f"{run:14} {header[0]}", flush=True)
    write_markdown(rows, tags, fasta, n_contigs, args, argv if argv is not None else sys.argv[1:])
    return 0


def write_markdown(rows: list[dict], tags: list[str], fasta: Path, n_contigs: int, args, argv: list[str]) -> None:
    """One section per mix; --append adds it to the file, else the file starts afresh."""
    runs = list(dict.fromkeys(r["run"] for r in rows))
    wall = {r["run"]: r["wall"] for r in rows}
    base = wall.get("prodigal-meta")
    L = [] if args.append else ["# genannot prok on mixed-species inputs", "",
                                "Made by `bench/prok_mixed.py` on 2 CPU cores; see its docstring for the runs and the scoring.",
                                ""]
    L += [f"## {n_contigs} contigs of {args.min_len}-{args.max_len} nt from {len(tags)} genomes", "",
          f"`python bench/prok_mixed.py {' '.join(argv)}`: {fasta.name}, cut from {', '.join(tags)} (seed {args.seed}), "
          "shuffled. 3' sensitivity / specificity per source genome; genes running off a contig's 3' end are not "
          "scored.", "",
          "| genome | " + " | ".join(runs) + " |", "|---|" + "---:|" * len(runs)]
    for tag in tags:
        cells = []
        for run in runs:
            r = next(x for x in rows if x["run"] == run and x["genome"] == tag)
            cells.append(f"{r['sens_3']:.4f} / {r['spec_3']:.4f}")
        L.append(f"| {tag} | " + " | ".join(cells) + " |")
    mean = {run: sum(x["sens_3"] + x["spec_3"] for x in rows if x["run"] == run) / len(tags) for run in runs}
    L.append("| mean sens + spec | " + " | ".join(f"{mean[r]:.4f}" for r in runs) + " |")
    L.append("| wall s (x `prodigal -p meta`) | " + " | ".join(
        f"{wall[r]:.1f}" + (f" ({wall[r] / base:.2f}x)" if base else "") for r in runs) + " |")
    with open(args.markdown, "a" if args.append else "w") as fh:
        fh.write("\n".join(L) + "\n\n")


if __name__ == "__main__":
    raise SystemExit(main())
