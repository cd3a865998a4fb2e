#!/usr/bin/env python3
"""`genannot euk` beside AUGUSTUS on sequence its model never trained on, scored with `genannot eval euk`.

Not part of the test run. Needs `augustus` and `gt` on PATH and genannot installed (console script).

    python bench/euk_bench.py --model DIR                       # chr9, Arabidopsis (whole and as a draft), yeast; ablations
    python bench/euk_bench.py --model DIR --reuse-peers --genomes chr9,athaliana --skip-ablation
    python bench/euk_bench.py --model DIR --smoke               # also every training genome: runs + gt

Per genome: `nice genannot euk FASTA --model DIR -o OUT --threads 1` and `nice augustus --species=S
--UTR=on --gff3=on FASTA` (without --UTR=on where the species has no UTR parameters), each timed with
its wall clock and peak RSS (os.wait4 rusage). `--reuse-peers` takes an AUGUSTUS output already in
bench/out/euk/ or bench/out/peers/ (bench/peers.py) with its recorded wall time. Every prediction is
scored with genannot.eval.metrics.eval_euk against the reference (all biotypes).

`athaliana_draft`: the Arabidopsis slice cut into contigs as a draft assembly would be (lengths drawn from an
exponential of mean 20 kb, at least 2 kb, seeded), scored against the reference genes lying wholly inside one
contig (genes cut by a contig end are left out, so both tools' partial genes there count as false).

Ablations on the chr9 slice: `genannot euk` with --no-splice-filter, with the network in the decoder
(--net-weight 1, with and without reverse-complement averaging, and 0.1; the shipped model's own weight
is chosen by bench/euk_net_weight.py on training sequence), each a timed run; and the heuristic decoder
over the network's tracks (in-process, seconds = network + decoding).

Writes bench/EUK.md (table, commands, date, machine, the model's training genomes) and
bench/out/euk/euk_bench.json; tool outputs go to bench/out/euk/.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from peers import DATA, _f, gunzip_to  # noqa: E402  (peers puts the repo on sys.path)

from genannot.eval.metrics import eval_euk  # noqa: E402
from genannot.io.annotation import read_annotation  # noqa: E402
from genannot.io.fasta import read_fasta  # noqa: E402

OUT = HERE / "out" / "euk"
PEERS_OUT = HERE / "out" / "peers"
GENOMES = {  # key: (label, FASTA, reference, AUGUSTUS species); run in this order (yeast, 12 Mb, last)
    "chr9": ("human GRCh38 chr9:1-1,000,000", "euk/human/GRCh38_chr9_1-1000000.dna_sm.fa.gz",
             "euk/human/GRCh38_chr9_1-1000000.Ensembl91.gtf.gz", "human"),
    "athaliana": ("A. thaliana TAIR10 1% slice", "euk/athaliana/Athaliana_TAIR10_1pct.fa.gz",
                  "euk/athaliana/Athaliana_TAIR10_1pct.gff3.gz", "arabidopsis"),
    "athaliana_draft": ("A. thaliana 1% slice as a draft (contigs of mean 20 kb)", "euk/athaliana/Athaliana_TAIR10_1pct.fa.gz",
                        "euk/athaliana/Athaliana_TAIR10_1pct.gff3.gz", "arabidopsis"),
    "yeast": ("S. cerevisiae S288C (12 Mb)", "euk/yeast/Scer_S288C_Yue2017.genome.fa.gz",
              "euk/yeast/Scer_S288C_Yue2017.all_feature.gff.gz", "saccharomyces_cerevisiae_S288C"),
}
DRAFTS = {"athaliana_draft": (20_000, 2_000, 1)}  # key: (mean contig length, shortest, seed)
COLUMNS = ["exon F1", "CDS F1", "intron F1", "transcript F1", "gene rec.", "gene_cds rec.", "base exon F1",
           "base CDS F1", "lncRNA exon rec.", "s/Mb", "peak RSS MiB"]


def stem(fa: str | Path) -> str:
    return Path(fa).name.split(".")[0]


def out_stem(key: str) -> str:
    """Name stem of a bench genome's files in OUT: its FASTA's, with the key after it for a draft."""
    return stem(GENOMES[key][1]) + (f".{key}" if key in DRAFTS else "")


def inputs(key: str) -> tuple[Path, dict]:
    """FASTA and reference annotation of a bench genome (a draft is cut from its source into OUT)."""
    _, fa, ref_path, _ = GENOMES[key]
    ref = read_annotation(DATA / ref_path)
    if key not in DRAFTS:
        return DATA / fa, ref
    return make_draft(DATA / fa, ref, OUT / f"{out_stem(key)}.fa", *DRAFTS[key])


def make_draft(fasta: Path, ref: dict, out: Path, mean: int, shortest: int, seed: int) -> tuple[Path, dict]:
    """Cut every record into contigs (`{record}_c{k}`) of exponential lengths; the reference genes that lie wholly
    inside a contig, moved onto it."""
    rng = random.Random(seed)
    cuts: dict[str, list[tuple[int, int, str]]] = {}
    with open(out, "w") as fh:
        for rec in read_fasta(str(fasta)):
            pos = 0
            while pos < len(rec.seq):
                n = max(shortest, int(rng.expovariate(1 / mean)))
                cid = f"{rec.id}_c{len(cuts.get(rec.id, []))}"
                piece = rec.seq[pos : pos + n]
                fh.write(f">{cid}\n" + "".join(piece[i : i + 80] + "\n" for i in range(0, len(piece), 80)))
                cuts.setdefault(rec.id, []).append((pos + 1, pos + len(piece), cid))
                pos += n
    moved: dict = {}
    for seqid, genes in ref.items():
        for g in genes:
            inside = [(a, cid) for a, b, cid in cuts.get(seqid, []) if a <= g.start and g.end <= b]
            if not inside:
                continue
            (a, cid), = inside
            g = copy.deepcopy(g)
            g.seqid = cid
            for t in g.transcripts:
                t.exons = [(x - a + 1, y - a + 1) for x, y in t.exons]
                t.cds = [(x - a + 1, y - a + 1) for x, y in t.cds]
            moved.setdefault(cid, []).append(g)
    print(f"[draft] {out.name}: {sum(len(v) for v in cuts.values())} contigs, {sum(len(v) for v in moved.values())} of "
          f"{sum(len(v) for v in ref.values())} reference genes inside one", file=sys.stderr)
    return out, moved


def measured(cmd: list[str], stdout: Path | None, log: Path) -> tuple[int, float, float]:
    """Run cmd; (exit code, wall seconds, peak RSS MiB) of that child alone."""
    t0 = time.perf_counter()
    with open(stdout or os.devnull, "w") as fo, open(log, "w") as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe)
        _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, time.perf_counter() - t0, ru.ru_maxrss / 1024


def record(out: Path, wall: float, rss: float | None, cmd: str) -> dict:
    for suffix, text in ((".time", f"{wall:.3f}"), (".rss", "" if rss is None else f"{rss:.1f}"), (".cmd", cmd)):
        out.with_suffix(out.suffix + suffix).write_text(text + "\n")
    return {"wall_s": wall, "rss_mib": rss, "command": cmd}


def recorded(out: Path, default_cmd: str) -> dict:
    def read(suffix: str) -> str:
        p = out.with_suffix(out.suffix + suffix)
        return p.read_text().strip() if p.exists() else ""

    rss = read(".rss")
    return {"wall_s": float(read(".time")), "rss_mib": float(rss) if rss else None, "command": read(".cmd") or default_cmd}


def run_augustus(key: str, fasta: Path, reuse: bool) -> tuple[Path, dict]:
    species = GENOMES[key][3]
    name = out_stem(key) + ".augustus.gff3"
    utr_cmd = f"nice augustus --species={species} --UTR=on --gff3=on GENOME.fa > OUT.gff3"
    if reuse:
        for d in (OUT, PEERS_OUT):
            if (d / name).exists() and (d / (name + ".time")).exists():
                print(f"[reuse] {d / name}", file=sys.stderr)
                return d / name, {**recorded(d / name, utr_cmd), "reused": str((d / name).relative_to(HERE))}
    if fasta.suffix == ".gz":
        fasta = gunzip_to(fasta, OUT / fasta.name[: -len(".gz")])
    out = OUT / name
    for utr in (["--UTR=on"], []):  # species without UTR parameters: AUGUSTUS refuses --UTR=on
        cmd = ["nice", "augustus", f"--species={species}", *utr, "--gff3=on", str(fasta)]
        print("$ " + shlex.join(cmd), file=sys.stderr)
        code, wall, rss = measured(cmd, out, out.with_suffix(".log"))
        if code == 0:
            return out, record(out, wall, rss, shlex.join(cmd[:-1] + ["GENOME.fa"]) + " > OUT.gff3")
        print(f"augustus exited {code} (see {out.with_suffix('.log')})", file=sys.stderr)
    raise SystemExit(f"augustus failed on {fasta}")


def augustus_version() -> str:
    v = subprocess.run(["augustus", "--version"], capture_output=True, text=True)
    return (v.stdout + v.stderr).strip().splitlines()[0].split(" is ")[0]  # "AUGUSTUS (3.5.0)"


def run_genannot(fasta: Path, model: str, out: Path, device: str, extra: list[str] = ()) -> dict:
    exe = shutil.which("genannot") or str(Path(sys.executable).parent / "genannot")
    cmd = ["nice", exe, "euk", str(fasta), "--model", model, "-o", str(out), "--threads", "1", "--device", device, *extra]
    print("$ " + shlex.join(cmd), file=sys.stderr)
    code, wall, rss = measured(cmd, None, out.with_suffix(".log"))
    if code != 0:
        raise SystemExit(f"genannot euk exited {code}: {out.with_suffix('.log').read_text()[-2000:]}")
    res = record(out, wall, rss, f"nice genannot euk GENOME.fa --model MODEL -o OUT.gff3 --threads 1 --device {device} {shlex.join(extra)}".rstrip())
    res["valid"] = subprocess.run(["gt", "gff3validator", str(out)], capture_output=True).returncode == 0
    return res


def genome_mb(fasta: Path) -> float:
    return sum(len(r) for r in read_fasta(str(fasta))) / 1e6


def score(pred, ref) -> dict:
    """The columns from eval_euk (all reference biotypes)."""
    a = eval_euk(pred, ref)
    lnc = a["by_biotype"].get("lnc_RNA", {}).get("exon", {})
    return {"exon F1": a["exon"]["f1"], "CDS F1": a["cds"]["f1"], "intron F1": a["intron"]["f1"],
            "transcript F1": a["transcript"]["f1"], "gene rec.": a["gene"]["recall"],
            "gene_cds rec.": a["gene_cds"]["recall"], "base exon F1": a["base_exon"]["f1"],
            "base CDS F1": a["base_cds"]["f1"], "lncRNA exon rec.": lnc.get("recall")}


def row(genome: str, tool: str, metrics: dict, seconds: float | None, mb: float, rss: float | None, **extra) -> dict:
    r = {"genome": genome, "tool": tool, **metrics, "s/Mb": None if seconds is None else seconds / mb,
         "peak RSS MiB": rss, **extra}
    print(f"{genome:30} {tool:42} " + " ".join(f"{c.replace(' ', '_')}={_f(r[c], 1 if c in ('s/Mb', 'peak RSS MiB') else 3)}"
                                                 for c in COLUMNS))
    return r


# ----------------------------------------------------------------------------- ablations


VARIANTS = {  # ablation label: extra `genannot euk` options
    "--no-splice-filter": ["--no-splice-filter"],
    "network in the decoder (--net-weight 1)": ["--net-weight", "1"],
    "network, no RC averaging (--net-weight 1 --no-rc)": ["--net-weight", "1", "--no-rc"],
    "network at --net-weight 0.1": ["--net-weight", "0.1"],
}


def ablations(key: str, model: str, device: str) -> list[dict]:
    """`genannot euk` variants (each its own timed run), and the heuristic decoder over the network's tracks."""
    from genannot.euk.decode import decode_heuristic
    from genannot.euk.genemodel import GeneModelParams
    from genannot.euk.model import EukSegModel
    from genannot.euk.pipeline import CPU_WINDOWS, OVERLAP, WINDOW
    from genannot.euk.windows import model_fn, predict_record
    from genannot.runtime.device import select_device, set_threads

    label, fa, ref_path, _ = GENOMES[key]
    ref, mb = read_annotation(DATA / ref_path), genome_mb(DATA / fa)
    rows = []
    for name, extra in VARIANTS.items():
        out = OUT / (stem(fa) + ".genannot" + "".join(x.strip("-").replace(".", "") for x in extra) + ".gff3")
        res = run_genannot(DATA / fa, model, out, device, extra)
        rows.append(row(label, f"genannot {name}", score(read_annotation(out), ref), res["wall_s"], mb, res["rss_mib"],
                        command=res["command"], valid=res["valid"]))
    set_threads(1)
    dev = select_device(device)
    params = GeneModelParams.load(model)
    net = EukSegModel.from_pretrained(model).to(dev).eval()
    genes, t0 = {}, time.perf_counter()
    for rec in read_fasta(str(DATA / fa)):
        tracks = predict_record(model_fn(net), rec.seq, WINDOW, OVERLAP, CPU_WINDOWS, outputs=net.n_outputs, device=dev)
        genes[rec.id] = decode_heuristic(rec.id, rec.seq, tracks, params)
    rows.append(row(label, "genannot heuristic decoder on the network's tracks (in-process)", score(genes, ref),
                    time.perf_counter() - t0, mb, None))
    return rows


# ----------------------------------------------------------------------------- smoke run


def smoke(model: str, device: str, skip: set[str]) -> list[dict]:
    """`genannot euk` on every other genome in the data (the training genomes): runs, gt-valid, genes, s/Mb."""
    rows = []
    for fa in sorted((DATA / "euk").glob("*/*.fa.gz")):
        if str(fa.relative_to(DATA)) in skip:
            continue
        out = OUT / (fa.name[: -len(".fa.gz")] + ".genannot.gff3")
        res = run_genannot(fa, model, out, device)
        n_genes = sum(1 for line in open(out) if "\tgene\t" in line or "\tncRNA_gene\t" in line)
        rows.append({"genome": str(fa.relative_to(DATA / "euk")), "genes": n_genes, "valid": res["valid"],
                     "s/Mb": res["wall_s"] / genome_mb(fa), "peak RSS MiB": res["rss_mib"]})
        print(f"[smoke] {rows[-1]}", file=sys.stderr)
    return rows


# ----------------------------------------------------------------------------- report


def model_note(model: str, labels: set[str]) -> list[str]:
    """What the model trained on: config.json metadata, else train_log.jsonl settings."""
    d = Path(model)
    meta = json.loads((d / "config.json").read_text()).get("metadata", {}).get("training", {})
    if not meta.get("genomes") and (d / "train_log.jsonl").exists():
        meta = json.loads((d / "train_log.jsonl").read_text().splitlines()[0]).get("settings", {})
    genomes = [str(Path(g)).split("/euk/")[-1] for g in meta.get("genomes", [])]
    hold = f"holdout `{meta['holdout']}` (validation only)" if meta.get("holdout") else "no holdout"
    lines = [f"Model: `{model}`, {meta.get('epochs_done', '?')} epoch(s) done; {hold}; trained on {len(genomes)} "
             "genome files:", "",
             ", ".join(f"`{g}`" for g in genomes) or "(not recorded)", ""]
    for label, fa, _, _ in (g for g in GENOMES.values() if g[0] in labels):
        seen = fa.split("/", 1)[1] in genomes
        lines.append(f"- {label}: " + ("in the training list, region held out by `--holdout`" if seen and meta.get("holdout")
                                         else "TRAINING DATA" if seen else "never seen"))
    return lines + [""]


def write_markdown(rows: list[dict], smoke_rows: list[dict], model: str, argv: list[str], path: Path) -> None:
    def fmt(r: dict, c: str) -> str:
        return _f(r.get(c), 1 if c in ("s/Mb", "peak RSS MiB") else 3)

    load = os.getloadavg()[0]
    L = ["# genannot euk beside AUGUSTUS", "",
         f"Made by `python bench/{Path(__file__).name} {shlex.join(argv)}` on {time.strftime('%Y-%m-%d %H:%M')}: "
         f"{os.cpu_count()} CPU cores, shared (load average {load:.1f} at the end), so times are indicative; every "
         "tool on one thread under `nice`; AUGUSTUS rows marked `earlier run` reuse an output and its wall time. Scored with `genannot.eval.metrics.eval_euk` (the code behind "
         "`genannot eval euk`) against every reference transcript: exact-match F1 for exons, CDS exons, introns and "
         "transcripts; gene / gene_cds = recall of reference genes with a transcript whose intron / CDS chain is "
         "predicted exactly; base-level F1 per strand; lncRNA exon recall over reference lnc_RNA exons. "
         "Yeast gene models in the reference are CDS-only.", ""]
    L += model_note(model, {r["genome"] for r in rows})
    L += ["| genome | tool / variant | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---:|" * len(COLUMNS)]
    L += [f"| {r['genome']} | {r['tool']} | " + " | ".join(fmt(r, c) for c in COLUMNS) + " |" for r in rows]
    invalid = [r["genome"] for r in rows if r.get("valid") is False]
    L += ["", "Every `genannot euk` GFF3 output above passes `gt gff3validator`." if not invalid
          else f"genannot GFF3 failing `gt gff3validator`: {', '.join(invalid)}.", "", "Commands:", ""]
    L += sorted({f"- `{r['command']}`" for r in rows if r.get("command")})
    speed = [f"{r['genome']} {1e6 / r['s/Mb']:,.0f} bp/s" for r in rows if r["tool"] == "genannot" and r["s/Mb"]]
    if speed:
        L.append("- genannot throughput, end to end (model loading included): " + "; ".join(speed))
    if any("in-process" in r["tool"] for r in rows):
        L.append("- heuristic decoder (in-process, this script): genannot.euk.windows.predict_record with the pipeline's "
                 "window, overlap and reverse-complement averaging, decoded by genannot.euk.decode.decode_heuristic; "
                 "seconds = network + decoding, peak RSS not measured")
    L.append("")
    if smoke_rows:
        L += ["## Smoke run: every other genome (training data)", "", "| genome | genes | gt gff3validator | s/Mb | peak RSS MiB |",
              "|---|---:|---|---:|---:|"]
        L += [f"| {r['genome']} | {r['genes']} | {'ok' if r['valid'] else 'FAIL'} | {_f(r['s/Mb'], 1)} | {_f(r['peak RSS MiB'], 1)} |"
              for r in smoke_rows]
        L.append("")
    path.write_text("\n".join(L))
    print("\n".join(L))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="euk-seg model directory (config.json, weights, genemodel.npz)")
    ap.add_argument("--genomes", default=",".join(GENOMES), help=f"comma-separated subset of {','.join(GENOMES)}")
    ap.add_argument("--reuse-peers", action="store_true", help="reuse AUGUSTUS outputs (and their times) already there")
    ap.add_argument("--skip-ablation", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="also run genannot euk on every other genome in the data")
    ap.add_argument("--device", default="cpu", help="passed to genannot euk (cuda: GPU throughput)")
    args = ap.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    keys = [k for k in GENOMES if k in args.genomes.split(",")]
    unknown = set(args.genomes.split(",")) - set(GENOMES)
    if unknown or not keys:
        ap.error(f"unknown genome(s) {sorted(unknown)}; choose from {','.join(GENOMES)}")
    for exe in ("augustus", "gt"):
        if shutil.which(exe) is None:
            ap.error(f"`{exe}` not on PATH")
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for key in keys:
        label = GENOMES[key][0]
        fasta, ref = inputs(key)
        mb = genome_mb(fasta)
        aug, aug_res = run_augustus(key, fasta, args.reuse_peers)
        tool = augustus_version() + (f" (earlier run: bench/{aug_res['reused']})" if aug_res.get("reused") else "")
        rows.append(row(label, tool, score(read_annotation(aug), ref), aug_res["wall_s"], mb, aug_res["rss_mib"],
                        command=aug_res["command"]))
        out = OUT / (out_stem(key) + ".genannot.gff3")
        res = run_genannot(fasta, args.model, out, args.device)
        rows.append(row(label, "genannot", score(read_annotation(out), ref), res["wall_s"], mb, res["rss_mib"],
                        command=res["command"], valid=res["valid"]))
        if key == "chr9" and not args.skip_ablation:
            rows += ablations(key, args.model, args.device)
    smoke_rows = smoke(args.model, args.device, {GENOMES[k][1] for k in GENOMES}) if args.smoke else []
    (OUT / "euk_bench.json").write_text(json.dumps({"model": args.model, "rows": rows, "smoke": smoke_rows}, indent=1))
    write_markdown(rows, smoke_rows, args.model, argv, HERE / "EUK.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
