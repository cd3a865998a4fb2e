#!/usr/bin/env python3
"""Short inputs: genannot prok on fixed slices of the held-out genomes beside `prodigal -p meta`, same run.

For each genome (E. coli, M. tuberculosis, H. salinarum, N. pharaonis: the default classifiers never saw them, and
their own presets are left out) and each slice length, `--slices` slices of the chromosome at evenly spaced,
fixed offsets (the first at 0, the last ending at the chromosome's end). Each slice is annotated on its own:
  anon-old    anonymous mode with the classifiers only (genannot before presets; `presets=[]`);
  presets     anonymous mode with the packaged presets (genannot/prok/presets.npz; `--presets` another file),
              forced at every length; the scored genome's own preset is always left out (leave one out);
  self-train  the full-genome path (self-trained statistics + classifiers), forced at every length >= 20 kb
              (Prodigal's own minimum for training);
  prodigal    `prodigal -p meta` on all slices of the genome in one multi-record FASTA (each record annotated on
              its own in meta mode).
`genannot prok` itself runs presets below pipeline.MIN_TRAIN and self-train from there on (anon-old only when
no preset has the input's translation table).
With --model/--presets-without the same runs score genomes outside the held-out four: B. subtilis and
C. crescentus with the fold-B classifiers and presets built without them (where thresholds may be chosen).
Scoring (genannot.eval.metrics.eval_prok, as bench/prok_bench.py scores its 200-contig draft): reference CDS
(StartLink/NCBI) moved onto the slice holding their stop codon, 5' end clipped; predictions whose 3' end runs off
the slice are not scored. 3' sens/spec and start accuracy are pooled over slices (one eval over all slices).
genannot runs in-process with one torch thread, the classifiers loaded once (not timed); wall time is summed
over slices. Writes bench/out/prok_short.json (--json).

    python bench/prok_short.py                                  # 15 and 50 kb, 20 slices per genome
    python bench/prok_short.py --sizes 100000 --slices 10 --modes presets,self-train,prodigal
    python bench/prok_short.py --genomes bsubtilis_best7003,ccrescentus_cb15 --model runs/fold_b \
        --presets-without bsubtilis_best7003,ccrescentus_cb15       # validation genomes (nothing saw them)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402
import prok_bench  # noqa: E402  (genome FASTA staging, draft-style reference mapping)

from genannot.eval.metrics import eval_prok, reconcile_seqids  # noqa: E402
from genannot.io.annotation import read_annotation  # noqa: E402

GENOMES = ["ecoli_k12_mg1655", "mtuberculosis_h37rv", "hsalinarum_r1", "npharaonis_dsm2160"]
MODES = ["anon-old", "presets", "self-train", "prodigal"]
OUT = prok_bench.OUT
SELF_TRAIN_MIN = 20000  # nt: shortest slices the self-trained path is measured on


def slices_of(seq: str, size: int, n: int) -> list[tuple[int, int]]:
    """(offset, length) of n evenly spaced, non-overlapping slices."""
    span = len(seq) - size
    if n * size > len(seq):
        raise SystemExit(f"{n} slices of {size} nt do not fit in {len(seq)} nt")
    return [(round(i * span / max(n - 1, 1)), size) for i in range(n)]


def run_genannot(slices: list[tuple[str, str]], mode: str, models, presets: list | None) -> tuple[dict, float]:
    import genannot.prok.pipeline as pipeline
    from genannot.io.fasta import FastaRecord

    saved = pipeline.MIN_TRAIN
    pipeline.MIN_TRAIN = 0 if mode == "self-train" else 10**12  # force the path being measured
    try:
        opts = pipeline.ProkOptions(models=models, presets=[] if mode == "anon-old" else presets)
        pred, dt = {}, 0.0
        for name, seq in slices:
            t0 = time.perf_counter()
            ((_rec, genes),) = pipeline.annotate([FastaRecord(name, "", seq)], opts)
            dt += time.perf_counter() - t0
            pred[name] = genes
    finally:
        pipeline.MIN_TRAIN = saved
    return pred, dt


def run_prodigal(slices: list[tuple[str, str]], path: Path) -> tuple[dict, float]:
    fa = path.with_suffix(".fna")
    with open(fa, "w") as fh:
        for name, seq in slices:
            fh.write(f">{name}\n{seq}\n")
    out = path.with_suffix(".prodigal_meta.gff")
    t0 = time.perf_counter()
    subprocess.run(["prodigal", "-p", "meta", "-i", str(fa), "-f", "gff", "-o", str(out), "-q"], check=True)
    return read_annotation(out), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genomes", default=",".join(GENOMES))
    ap.add_argument("--sizes", default="15000,50000", help="slice lengths (nt), comma-separated")
    ap.add_argument("--slices", type=int, default=20, help="slices per genome and length")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--model", help="classifiers (default: the embedded ones); e.g. runs/fold_b to score B. subtilis "
                    "and C. crescentus with models that never saw them")
    ap.add_argument("--presets-without", default="", help="comma-separated preset genomes left out besides the scored "
                    "genome's own (e.g. both fold-B genomes)")
    ap.add_argument("--presets", help="presets file (default: the packaged genannot/prok/presets.npz)")
    ap.add_argument("--json", default=str(OUT / "prok_short.json"))
    args = ap.parse_args(argv)
    from genannot.prok.classifiers import load_prok_models
    from genannot.prok.presets import load_presets, read_presets
    from genannot.runtime.device import set_threads

    set_threads(1)
    OUT.mkdir(exist_ok=True)
    models = load_prok_models(args.model, None, device="cpu")
    without = set(filter(None, args.presets_without.split(",")))
    presets = [p for p in (read_presets(args.presets) if args.presets else load_presets()) if p.name not in without]
    modes = args.modes.split(",")
    rows = []
    for size in map(int, args.sizes.split(",")):
        for tag in args.genomes.split(","):
            (rid, seq), *_ = prok_bench.read_records(prok_bench.genome_fasta(tag))
            ref_all = read_annotation(peers.prok_references(tag)[0])
            ref_chrom = {rid: reconcile_seqids([rid], ref_all).get(rid, [])}
            layout = [(f"{tag}_{size // 1000}k_{i + 1:02d}", a, n) for i, (a, n) in enumerate(slices_of(seq, size, args.slices))]
            ref = prok_bench.map_to_draft(ref_chrom, layout)
            slices = [(name, seq[a : a + n]) for name, a, n in layout]
            for mode in modes:
                if mode == "self-train" and size < SELF_TRAIN_MIN:
                    continue
                if mode == "prodigal":
                    pred, dt = run_prodigal(slices, OUT / f"short_{tag}_{size}")
                else:
                    pred, dt = run_genannot(slices, mode, models, [p for p in presets if p.name != tag])
                res = eval_prok(prok_bench.drop_3prime_partial(pred), ref)
                row = {"size": size, "genome": tag, "mode": mode, "n_ref": res["n_ref"], "n_pred": res["n_pred"],
                       "matched_3": res["matched_3"], "matched_5_3": res["matched_5_3"], "wall_s": round(dt, 2)}
                rows.append(row)
                print(f"{size // 1000:4d} kb {tag:22} {mode:10} sens3={res['sens_3']:.4f} spec3={res['spec_3']:.4f} "
                      f"starts={res.get('start_accuracy') or 0:.4f} {dt:6.1f}s", flush=True)
        for mode in modes:
            rs = [r for r in rows if r["size"] == size and r["mode"] == mode]
            if rs:
                m, nr, npred, m53 = (sum(r[k] for r in rs) for k in ("matched_3", "n_ref", "n_pred", "matched_5_3"))
                print(f"{size // 1000:4d} kb {'pooled':22} {mode:10} sens3={m / nr:.4f} spec3={m / npred:.4f} "
                      f"starts={m53 / max(m, 1):.4f} {sum(r['wall_s'] for r in rs):6.1f}s", flush=True)
    Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1) + "\n")
    print_markdown(rows)
    return 0


def print_markdown(rows: list[dict]) -> None:
    order = {r["genome"]: i for i, r in enumerate(rows)}.get
    print("\n| slice | genome | " + " | ".join(f"{m} sens / spec" for m in MODES) + " | wall s " + " / ".join(MODES) + " |")
    print("|---|---|" + "---:|" * (len(MODES) + 1))
    for size in sorted({r["size"] for r in rows}):
        groups = sorted({r["genome"] for r in rows if r["size"] == size}, key=order) + ["pooled"]
        for g in groups:
            cells, times = [], []
            for m in MODES:
                rs = [r for r in rows if r["size"] == size and r["mode"] == m and g in ("pooled", r["genome"])]
                if not rs:
                    cells.append("-")
                    times.append("-")
                    continue
                mt, nr, npred = (sum(r[k] for r in rs) for k in ("matched_3", "n_ref", "n_pred"))
                cells.append(f"{mt / nr:.3f} / {mt / npred:.3f}")
                times.append(f"{sum(r['wall_s'] for r in rs):.0f}")
            print(f"| {size // 1000} kb | {g} | " + " | ".join(cells) + " | " + " / ".join(times) + " |")


if __name__ == "__main__":
    sys.exit(main())
