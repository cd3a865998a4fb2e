#!/usr/bin/env python3
"""genannot prok beside Prodigal 2.6.3 (binary) and pyrodigal, same machine, same run; writes bench/PROK.md.

For each genome: experimentally verified starts (5'+3' matches of n), 3' sensitivity and specificity against the
reference (the StartLink/PTT CDS GFF where present, RefSeq/Ensembl otherwise, as bench/peers.py), wall time, and
genannot's wall time over Prodigal's. Not part of the test run.

Genomes and the models that score them (a model never scores a genome it trained on):
  E. coli, H. salinarum, M. tuberculosis, N. pharaonis: the default embedded models (trained without them);
  B. subtilis, C. crescentus: the fold-B models (runs/fold_b, `bash bench/prok_train.sh fold_b`), which never saw
    those two (the default models did train on them); without runs/fold_b they are skipped unless --allow-seen;
  E. coli draft: E. coli cut into ~200 contigs (seeded), annotated as one multi-record genome.

    python bench/prok_bench.py                     # everything
    python bench/prok_bench.py --genomes ecoli_k12_mg1655,ecoli_draft --reuse-peers
    python bench/prok_bench.py --stats-only        # development: genannot without the classifiers (not shipped)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

import peers  # noqa: E402  (bench/peers.py: references, FASTA staging, Prodigal/pyrodigal runners)

from genannot.eval.metrics import eval_prok  # noqa: E402
from genannot.features import Gene, Transcript  # noqa: E402
from genannot.io.annotation import read_annotation  # noqa: E402

DATA = peers.DATA
OUT = HERE / "out"
DEFAULT_GENOMES = ["ecoli_k12_mg1655", "hsalinarum_r1", "mtuberculosis_h37rv", "npharaonis_dsm2160",
                   "bsubtilis_best7003", "ccrescentus_cb15", "ecoli_draft"]
FOLD_B = {"bsubtilis_best7003", "ccrescentus_cb15"}
DRAFT_PIECES = 200


# ---------------------------------------------------------------- inputs


def genome_fasta(tag: str) -> Path:
    gdir = DATA / "prok" / "genomes" / tag
    fna, gbk = gdir / f"{tag}.fna.gz", gdir / f"{tag}.gbk.gz"
    if fna.exists():
        return peers.gunzip_to(fna, OUT / f"{tag}.fna")
    return peers.fasta_from_genbank(gbk, OUT / f"{tag}.fna")


def read_records(path: Path) -> list[tuple[str, str]]:
    from genannot.io.fasta import read_fasta

    return [(r.id, r.seq) for r in read_fasta(path)]


def make_draft(seed: int = 0, pieces: int = DRAFT_PIECES) -> tuple[Path, list[tuple[str, int, int]]]:
    """E. coli cut at seeded random points into `pieces` contigs: (path, [(contig, offset, length)])."""
    src = read_records(genome_fasta("ecoli_k12_mg1655"))
    (seqid, seq), = src
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1000, len(seq) - 1000), pieces - 1))
    bounds = [0, *cuts, len(seq)]
    layout = [(f"ecoli_ctg{i + 1:03d}", a, b - a) for i, (a, b) in enumerate(zip(bounds, bounds[1:]))]
    path = OUT / f"ecoli_draft{pieces}.fna"
    if not path.exists():
        with open(path, "w") as fh:
            for name, a, n in layout:
                fh.write(f">{name}\n")
                for i in range(a, a + n, 80):
                    fh.write(seq[i : min(i + 80, a + n)] + "\n")
    return path, layout


def map_to_draft(ann: dict[str, list[Gene]], layout) -> dict[str, list[Gene]]:
    """Reference genes moved onto the contigs holding their 3' end (5' end clipped to the contig)."""
    out: dict[str, list[Gene]] = {name: [] for name, _, _ in layout}
    starts = [a for _, a, _ in layout]
    import bisect

    for genes in ann.values():
        for g in genes:
            for t in g.transcripts:
                if not t.cds:
                    continue
                lo, hi = min(s for s, _ in t.cds), max(e for _, e in t.cds)
                three = hi if g.strand == "+" else lo
                k = bisect.bisect_right(starts, three - 1) - 1
                name, a, n = layout[k]
                nlo, nhi = max(lo - a, 1), min(hi - a, n)
                if not (1 <= three - a <= n):
                    continue
                t2 = Transcript(id=t.id, cds=[(nlo, nhi)])
                out[name].append(Gene(seqid=name, strand=g.strand, id=f"{name}:{g.id}", transcripts=[t2], pseudo=g.pseudo))
    return out


def drop_3prime_partial(pred: dict[str, list[Gene]]) -> dict[str, list[Gene]]:
    """Predictions whose 3' end runs off a contig cannot be scored on their 3' end."""
    def open3(g: Gene) -> bool:
        p = g.partial or "00"
        return p[1] == "1" if g.strand == "+" else p[0] == "1"

    return {k: [g for g in v if not open3(g)] for k, v in pred.items()}


# ---------------------------------------------------------------- runs


def model_for(tag: str, args) -> str | None:
    if tag in FOLD_B:
        fold = REPO / "runs" / "fold_b"
        if (fold / "cds").is_dir() and (fold / "tis").is_dir():
            return str(fold)
        return None if not args.allow_seen else "default"
    return "default"


def run_genannot(fasta: Path, out: Path, model: str | None, table: int, args) -> float:
    """`genannot prok` as a user runs it (a subprocess, model loading included); with --stats-only the library
    is called in-process without classifiers (a development path the CLI does not offer)."""
    t0 = time.perf_counter()
    if args.stats_only:
        from genannot.io.fasta import read_fasta
        from genannot.prok.pipeline import ProkOptions, annotate_stream, write_outputs

        stream = annotate_stream(list(read_fasta(fasta)), ProkOptions(table=table))
        write_outputs(stream.annotated, output=str(out), fmt="gff3", proteins=None, genes_out=None, candidates=None,
                      provenance=["#genannot statistics only (development)"], table=table)
        return time.perf_counter() - t0
    cmd = [sys.executable, "-c", "from genannot.cli import entry; entry()", "prok", str(fasta), "-o", str(out), "--threads", str(args.threads),
           "--device", args.device]
    if model and model != "default":
        cmd += ["--model", model]
    if table != 11:
        cmd += ["-g", str(table)]
    subprocess.run(cmd, check=True, cwd=str(REPO))
    return time.perf_counter() - t0


def score(pred_path: Path, ref: dict, ver: dict | None, draft: bool) -> dict:
    pred = read_annotation(pred_path)
    if draft:
        pred = drop_3prime_partial(pred)
    res = eval_prok(pred, ref, ver)
    res.pop("per_seqid", None)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genomes", default=",".join(DEFAULT_GENOMES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reuse-peers", action="store_true", help="keep Prodigal/pyrodigal outputs already in bench/out")
    ap.add_argument("--allow-seen", action="store_true", help="score fold-B genomes with the default model if no fold-B model")
    ap.add_argument("--stats-only", action="store_true", help="development: genannot without classifiers")
    ap.add_argument("--ablation", action="store_true", help="also score variants in-process (statistics only, no atypical "
                    "model, no classifiers) on the genomes scored by the default model")
    ap.add_argument("--markdown", default=str(HERE / "PROK.md"))
    args = ap.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    import pyrodigal

    prodigal_version = subprocess.run(["prodigal", "-v"], capture_output=True, text=True).stderr.strip().split(":")[0]
    rows = []
    for tag in args.genomes.split(","):
        draft = tag == "ecoli_draft"
        base = "ecoli_k12_mg1655" if draft else tag
        table = peers.TABLE.get(base, 11)
        refs = peers.prok_references(base)
        ref_path = refs[0]
        ver_path = DATA / "prok" / "verified_tis" / "raw" / f"{base}.verified.gff.gz"
        ref = read_annotation(ref_path)
        ver = read_annotation(ver_path) if ver_path.exists() else None
        if draft:
            fasta, layout = make_draft()
            ref = map_to_draft(ref, layout)
            ver = map_to_draft(ver, layout) if ver else None
            if ver:  # only verified genes whole inside one contig
                lens = {n: k for n, _, k in layout}
                whole = {k: [g for g in v if not (g.start == 1 or g.end == lens[k])] for k, v in ver.items()}
                ver = whole
        else:
            fasta = genome_fasta(tag)
        model = model_for(tag, args)
        if model is None and not args.stats_only:
            print(f"[skip] {tag}: no fold-B model (runs/fold_b) and --allow-seen not given", file=sys.stderr)
            continue
        name = "ecoli_draft" if draft else tag
        results = []
        out = OUT / f"{name}.prodigal.gff"
        cmd = ["prodigal", "-i", str(fasta), "-f", "gff", "-o", str(out), "-q"] + (["-g", str(table)] if table != 11 else [])
        dt = peers.timed_run(cmd, None, args.reuse_peers, out)
        results.append((prodigal_version, "", out, dt))
        out = OUT / f"{name}.pyrodigal.gff"
        dt = peers.run_pyrodigal(fasta, out, table, args.reuse_peers)
        results.append((f"pyrodigal {pyrodigal.__version__}", "", out, dt))
        out = OUT / f"{name}.genannot.gff3"
        dt = run_genannot(fasta, out, None if args.stats_only else model, table, args)
        label = "stats-only (dev)" if args.stats_only else ("fold-B" if model not in (None, "default") else "default")
        results.append(("genannot", label, out, dt))
        t_prodigal = results[0][3]
        for tool, mlabel, path, dt in results:
            res = score(path, ref, ver, draft)
            v = res.get("verified") or {}
            row = {"genome": name, "tool": tool, "model": mlabel, "reference": Path(ref_path).name,
                   "n_pred": res["n_pred"], "n_ref": res["n_ref"], "sens_3": res["sens_3"], "spec_3": res["spec_3"],
                   "start_accuracy": res.get("start_accuracy"), "verified": f"{v['matched_5_3']}/{v['n']}" if v else "",
                   "wall_s": round(dt, 1), "ratio": round(dt / t_prodigal, 2) if t_prodigal else None}
            rows.append(row)
            print(f"{name:22} {tool:18} {mlabel:16} sens3={row['sens_3']:.4f} spec3={row['spec_3']:.4f} "
                  f"starts={row['start_accuracy']:.4f} verified={row['verified']:9} {dt:6.1f}s x{row['ratio']}", flush=True)
    abl = ablation([t for t in args.genomes.split(",") if t not in FOLD_B and t != "ecoli_draft"]) if args.ablation else []
    (OUT / "prok_bench.json").write_text(json.dumps({"runs": rows, "ablation": abl}, indent=1) + "\n")
    write_markdown(rows, abl, Path(args.markdown), argv if argv is not None else sys.argv[1:])
    return 0


ABLATION = [
    ("statistics only, no atypical model, no overlap cost (Prodigal's method)", False,
     {"atypical_fraction": 0.0, "overlap_cost": 0.0}),
    ("statistics only", False, {}),
    ("classifiers, no atypical model", True, {"atypical_fraction": 0.0}),
    ("classifiers, atypical penalty 20", True, {"atypical_penalty": 20.0}),
    ("classifiers, no overlap cost (shipped until 2026-11-22)", True, {"overlap_cost": 0.0}),
    ("shipped defaults", True, {}),
]


def ablation(tags: list[str]) -> list[dict]:
    """Variants of genannot on the same genomes, in-process (the default models loaded once)."""
    from genannot.io.fasta import FastaRecord
    from genannot.prok.classifiers import load_prok_models
    from genannot.prok.genes import Params
    from genannot.prok.pipeline import ProkOptions, annotate

    models = load_prok_models(None, device="cpu")
    out = []
    for tag in tags:
        recs = [FastaRecord(i, "", sq) for i, sq in read_records(genome_fasta(tag))]
        ref = read_annotation(peers.prok_references(tag)[0])
        vp = DATA / "prok" / "verified_tis" / "raw" / f"{tag}.verified.gff.gz"
        ver = read_annotation(vp) if vp.exists() else None
        for name, use_models, kw in ABLATION:
            opts = ProkOptions(table=peers.TABLE.get(tag, 11), models=models if use_models else None,
                               params=Params(**kw))
            pred = {r.id: g for r, g in annotate(recs, opts)}
            res = eval_prok(pred, ref, ver)
            v = res.get("verified") or {}
            out.append({"genome": tag, "variant": name, "n_pred": res["n_pred"], "sens_3": res["sens_3"],
                        "spec_3": res["spec_3"], "start_accuracy": res.get("start_accuracy"),
                        "verified": f"{v['matched_5_3']}/{v['n']}" if v else ""})
            print(f"{tag:22} {name:56} sens3={res['sens_3']:.4f} spec3={res['spec_3']:.4f} verified={out[-1]['verified']}",
                  flush=True)
    return out


def write_markdown(rows: list[dict], abl: list[dict], path: Path, argv: list[str]) -> None:
    L = ["# genannot prok beside Prodigal and pyrodigal", "",
         f"Made by `python bench/prok_bench.py{(' ' + ' '.join(map(shlex.quote, argv))) if argv else ''}` on "
         f"{time.strftime('%Y-%m-%d')} ({os.cpu_count()} CPU cores; genannot with --threads 2; the machine was shared "
         "with other jobs, so wall times are indicative and the ratio column compares runs made minutes apart). "
         "Scored with `genannot.eval.metrics`: 3' sens/spec against the StartLink/PTT CDS GFF where the genome has one, "
         "RefSeq/Ensembl otherwise (pseudo CDS kept); verified = experimentally verified starts matched 5'+3'. "
         "ecoli_draft: E. coli cut into 200 contigs (seeded), reference genes moved onto the contig holding their stop "
         "(5' end clipped), predictions whose 3' end runs off a contig not scored; verified genes cut by a contig end "
         "left out. Model `default`: the embedded genannot-prok-cds/tis-small, which never saw E. coli, H. salinarum, "
         "M. tuberculosis or N. pharaonis; `fold-B`: runs/fold_b, which never saw B. subtilis or C. crescentus.", "",
         "| genome | tool | model | n_pred | n_ref | 3' sens | 3' spec | start acc. | verified 5'+3' | wall s | x Prodigal |",
         "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        L.append(f"| {r['genome']} | {r['tool']} | {r['model']} | {r['n_pred']} | {r['n_ref']} | {r['sens_3']:.4f} | "
                 f"{r['spec_3']:.4f} | {r['start_accuracy']:.4f} | {r['verified']} | {r['wall_s']} | {r['ratio']} |")
    L += ["", "## How genannot prok decides", "",
          "Prodigal's method, re-implemented in numpy, with the learned classifiers as priors "
          "(genannot/prok/genes.py, signals.py): stop groups with every in-frame start (orfs.py); a bootstrap gene set "
          "from a DP over the longest ORFs scored by GC-frame bias; in-frame hexamer log-odds learned from the "
          "genome's own genes (two rounds; from the second, an atypical-gene hexamer model learned from the fifth of the "
          "called genes the main model fits least, a candidate taking the better of the two at a handicap of 15); a "
          "start model (start codon, Shine-Dalgarno class x spacer, upstream composition) learned from strongly coding "
          "ORFs; then the CDS classifier's log-odds added to the coding score (weight ramping up with ORF length "
          "from 90 to 400 nt) and the TIS classifier's log-odds added to the start score for the 3 best starts of every "
          "likely group, the start model re-learned with them, and a final dynamic programme choosing genes, starts "
          "and overlaps together (Prodigal's overlap rules, and a cost of 0.1 per overlapping base). Weights were set "
          "on genomes outside the four held-out ones (atypical model: the seven other genomes, statistics only; "
          "classifier weights: B. subtilis and C. crescentus with the fold-B models; overlap cost: six genomes the "
          "classifiers trained on, see genannot/prok/genes.py)."]
    if abl:
        L += ["", "## Ablation (in-process, same genomes, default models)", "",
              "| genome | variant | n_pred | 3' sens | 3' spec | start acc. | verified 5'+3' |", "|---|---|---:|---:|---:|---:|---:|"]
        for r in abl:
            L.append(f"| {r['genome']} | {r['variant']} | {r['n_pred']} | {r['sens_3']:.4f} | {r['spec_3']:.4f} | "
                     f"{r['start_accuracy']:.4f} | {r['verified']} |")
    path.write_text("\n".join(L) + "\n")


if __name__ == "__main__":
    sys.exit(main())
