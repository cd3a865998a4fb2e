#!/usr/bin/env python3
"""Peers' baseline on the shared data: Prodigal, pyrodigal and AUGUSTUS, scored with genannot eval.

Not part of the test run. Needs `prodigal` and `augustus` on PATH (apt-get install prodigal
augustus augustus-data) and `pip install pyrodigal`. Writes bench/PEERS.md (markdown table,
with the command lines) and bench/out/peers/peers.json (every metric); tool outputs go to bench/out/peers/.

    python bench/peers.py                 # everything (AUGUSTUS takes a few minutes)
    python bench/peers.py --skip-euk      # prokaryotes only
    python bench/peers.py --reuse         # keep tool outputs already in bench/out (and their times)

Prokaryotic references: the StartLink/PTT CDS GFF where the genome has one (the reference
StartLink and MetaGeneMark-2 compared starts against), otherwise the RefSeq/Ensembl/GenBank
annotation; genomes with both are also scored against the latter. Verified starts: the raw
StartLink GFFs in verified_tis/raw. Pseudo CDS stay in the reference (see genannot.eval.metrics).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from genannot.eval.metrics import eval_euk, eval_prok  # noqa: E402
from genannot.io.annotation import read_annotation  # noqa: E402

DATA = Path(os.environ.get("GENANNOT_SHARED_DATA", REPO.parent / "shared" / "data"))
OUT = HERE / "out" / "peers"  # own folder: other bench scripts write to bench/out too
TABLE = {"mgenitalium_g37": 4}  # genetic code other than 11


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(DATA))
    except ValueError:
        return str(p)


def prok_references(tag: str) -> list[Path]:
    d = DATA / "prok" / "genomes" / tag
    primary = sorted(d.glob("*.startlink_ncbi_cds.gff.gz"))
    other = sorted(d.glob(f"{tag}.gff3.gz")) + sorted(d.glob(f"{tag}.gbk.gz")) + sorted(d.glob("*.refseq_latest_cds.gff.gz"))
    return primary + other


def gunzip_to(src: Path, dst: Path) -> Path:
    if not dst.exists():
        with gzip.open(src, "rb") as fi, open(dst, "wb") as fo:
            shutil.copyfileobj(fi, fo)
    return dst


def fasta_from_genbank(src: Path, dst: Path) -> Path:
    if not dst.exists():
        from Bio import SeqIO

        with gzip.open(src, "rt") as fi, open(dst, "w") as fo:
            for rec in SeqIO.parse(fi, "genbank"):
                fo.write(f">{rec.id}\n{str(rec.seq)}\n")
    return dst


def timed_run(cmd: list[str], stdout: Path | None, reuse: bool, out: Path) -> float:
    tfile = out.with_suffix(out.suffix + ".time")
    if reuse and out.exists() and tfile.exists():
        return float(tfile.read_text())
    t0 = time.perf_counter()
    if stdout is None:
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    else:
        with open(stdout, "w") as fh:
            subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.DEVNULL)
    dt = time.perf_counter() - t0
    tfile.write_text(f"{dt:.3f}\n")
    return dt


def run_pyrodigal(fasta: Path, out: Path, table: int, reuse: bool) -> float:
    tfile = out.with_suffix(out.suffix + ".time")
    if reuse and out.exists() and tfile.exists():
        return float(tfile.read_text())
    import pyrodigal
    from Bio import SeqIO

    t0 = time.perf_counter()
    recs = [(r.id, bytes(r.seq)) for r in SeqIO.parse(str(fasta), "fasta")]
    finder = pyrodigal.GeneFinder()
    finder.train(*(s for _, s in recs), translation_table=table)
    with open(out, "w") as fh:
        for i, (rid, seq) in enumerate(recs):
            genes = finder.find_genes(seq)
            genes.write_gff(fh, sequence_id=rid, header=(i == 0))
    dt = time.perf_counter() - t0
    tfile.write_text(f"{dt:.3f}\n")
    return dt


def prok(reuse: bool) -> list[dict]:
    import pyrodigal

    rows = []
    verified_dir = DATA / "prok" / "verified_tis" / "raw"
    pyrodigal_version = pyrodigal.__version__
    prodigal_version = subprocess.run(["prodigal", "-v"], capture_output=True, text=True).stderr.strip().split(":")[0]
    for gdir in sorted((DATA / "prok" / "genomes").iterdir()):
        tag = gdir.name
        fna = gdir / f"{tag}.fna.gz"
        gbk = gdir / f"{tag}.gbk.gz"
        if fna.exists():
            fasta = gunzip_to(fna, OUT / f"{tag}.fna")
        elif gbk.exists():
            fasta = fasta_from_genbank(gbk, OUT / f"{tag}.fna")  # the flatfile carries the sequence
        else:
            print(f"[skip] {tag}: no FASTA staged", file=sys.stderr)
            continue
        refs = prok_references(tag)
        ver_path = verified_dir / f"{tag}.verified.gff.gz"
        ver = read_annotation(ver_path) if ver_path.exists() else None
        table = TABLE.get(tag, 11)
        runs = []
        out = OUT / f"{tag}.prodigal.gff"
        cmd = ["prodigal", "-i", str(fasta), "-f", "gff", "-o", str(out), "-q"] + (["-g", str(table)] if table != 11 else [])
        dt = timed_run(cmd, None, reuse, out)
        runs.append((prodigal_version, out, dt, "prodigal -i GENOME.fna -f gff -o OUT.gff -q" + (f" -g {table}" if table != 11 else "")))
        out = OUT / f"{tag}.pyrodigal.gff"
        dt = run_pyrodigal(fasta, out, table, reuse)
        runs.append((f"pyrodigal {pyrodigal_version}", out, dt,
                     f"GeneFinder().train(*records, translation_table={table}); find_genes(record)"))
        # peers' published outputs staged with the data (no wall time)
        for pred in sorted((DATA / "prok" / "predictions").glob(f"*/{tag}.*")):
            if pred.name.endswith(".genes.gz"):
                continue  # same calls as the .tsv.gz beside it
            runs.append((f"{pred.parent.name} (staged)", pred, None, _rel(pred)))
        for tool, pred_path, dt, how in runs:
            pred = read_annotation(pred_path)
            for i, ref_path in enumerate(refs):
                res = eval_prok(pred, read_annotation(ref_path), ver)
                res.pop("per_seqid")
                rows.append({"genome": tag, "tool": tool, "reference": _rel(ref_path), "primary": i == 0,
                             "wall_s": dt, "how": how, **res})
                v = res.get("verified")
                print(f"{tag:24} {tool:28} {Path(ref_path).name:48} sens3={res['sens_3']:.3f} spec3={res['spec_3']:.3f}"
                      + (f" verified={v['matched_5_3']}/{v['n']}" if v else "") + (f" {dt:.1f}s" if dt else ""))
    return rows


EUK_RUNS = [
    # (name, fasta, reference, species)
    ("human GRCh38 chr9:1-1,000,000", "euk/human/GRCh38_chr9_1-1000000.dna_sm.fa.gz",
     "euk/human/GRCh38_chr9_1-1000000.Ensembl91.gtf.gz", "human"),
    ("A. thaliana TAIR10 1% slice", "euk/athaliana/Athaliana_TAIR10_1pct.fa.gz",
     "euk/athaliana/Athaliana_TAIR10_1pct.gff3.gz", "arabidopsis"),
]


def euk(reuse: bool) -> list[dict]:
    rows = []
    version = subprocess.run(["augustus", "--version"], capture_output=True, text=True)
    version = (version.stdout + version.stderr).strip().splitlines()[0].split(" is ")[0]
    for name, fa, ref, species in EUK_RUNS:
        fasta = gunzip_to(DATA / fa, OUT / Path(fa).name[: -len(".gz")])
        out = OUT / f"{Path(fa).name.split('.')[0]}.augustus.gff3"
        cmd = ["nice", "augustus", f"--species={species}", "--UTR=on", "--gff3=on", str(fasta)]
        dt = timed_run(cmd, out, reuse, out)
        pred = read_annotation(out)
        res = eval_euk(pred, read_annotation(DATA / ref))
        res_mrna = eval_euk(pred, read_annotation(DATA / ref), biotypes=["mRNA"])
        res_unstr = eval_euk(pred, read_annotation(DATA / ref), stranded=False)
        rows.append({"genome": name, "tool": version, "reference": ref, "wall_s": dt,
                     "how": f"augustus --species={species} --UTR=on --gff3=on GENOME.fa > OUT.gff3",
                     "all": res, "mRNA_only": res_mrna, "unstranded": res_unstr})
        print(f"{name}: exon F1 {res['exon']['f1']:.3f} cds F1 {res['cds']['f1']:.3f} "
              f"base_cds F1 {res['base_cds']['f1']:.3f} {dt:.1f}s")
    return rows


def _f(x, nd=3):
    return "" if x is None else f"{x:.{nd}f}"


def write_markdown(prok_rows: list[dict], euk_rows: list[dict], path: Path, argv: list[str]) -> None:
    L = ["# Peers' baseline on ../shared/data", "",
         f"Made by `python bench/{Path(__file__).name}{(' ' + ' '.join(map(shlex.quote, argv))) if argv else ''}` "
         f"on {time.strftime('%Y-%m-%d')} ({os.cpu_count()} CPU cores, shared machine: wall times are indicative). "
         "Scored with `genannot.eval.metrics` (the code behind `genannot eval`). Pseudo CDS stay in "
         "the prokaryotic references; verified = 5'+3' matches of experimentally verified starts.", ""]
    if prok_rows:
        L += ["## Prokaryotes: predicted CDS vs reference CDS", "",
              "| genome | tool | reference | n_pred | n_ref | 3' sens | 3' spec | start acc. | verified 5'+3' | wall s |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in prok_rows:
            v = r.get("verified")
            ref = Path(r["reference"]).name + ("" if r["primary"] else " (alt.)")
            vtxt = f"{v['matched_5_3']}/{v['n']}" if v else ""
            L.append(f"| {r['genome']} | {r['tool']} | {ref} | {r['n_pred']} | {r['n_ref']} | {_f(r['sens_3'])} | "
                     f"{_f(r['spec_3'])} | {_f(r['start_accuracy'])} | {vtxt} | "
                     f"{_f(r['wall_s'], 1)} |")
        L += ["", "Commands: " + "; ".join(sorted({f"`{r['how']}`" for r in prok_rows if r['wall_s'] is not None})), ""]
    if euk_rows:
        L += ["## Eukaryotes: AUGUSTUS gene models vs reference", "",
              "All reference transcripts (mRNA, lncRNA and other), exact-match F1 per level; gene = recall of "
              "reference genes with a transcript predicted exactly (intron chain), gene_cds by CDS chain.", "",
              "| region | tool | exon F1 | CDS F1 | intron F1 | transcript F1 | gene rec. | gene_cds rec. | base exon F1 (unstranded) | base CDS F1 | mRNA-only exon F1 | lncRNA exon rec. | wall s |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in euk_rows:
            a, m, u = r["all"], r["mRNA_only"], r["unstranded"]
            lnc = a["by_biotype"].get("lnc_RNA", {}).get("exon", {})
            L.append(f"| {r['genome']} | {r['tool']} | {_f(a['exon']['f1'])} | {_f(a['cds']['f1'])} | {_f(a['intron']['f1'])} | "
                     f"{_f(a['transcript']['f1'])} | {_f(a['gene']['recall'])} | {_f(a['gene_cds']['recall'])} | "
                     f"{_f(a['base_exon']['f1'])} ({_f(u['base_exon']['f1'])}) | {_f(a['base_cds']['f1'])} | {_f(m['exon']['f1'])} | "
                     f"{_f(lnc.get('recall'))} | {_f(r['wall_s'], 1)} |")
        L += ["", "Commands: " + "; ".join(f"`nice {r['how']}`" for r in euk_rows), ""]
    path.write_text("\n".join(L))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reuse", action="store_true", help="reuse tool outputs (and their times) in bench/out")
    ap.add_argument("--skip-prok", action="store_true")
    ap.add_argument("--skip-euk", action="store_true")
    args = ap.parse_args(argv)
    for exe in ([] if args.skip_prok else ["prodigal"]) + ([] if args.skip_euk else ["augustus"]):
        if shutil.which(exe) is None:
            print(f"peers: `{exe}` not on PATH (apt-get install {exe})", file=sys.stderr)
            return 1
    OUT.mkdir(parents=True, exist_ok=True)
    prok_rows = [] if args.skip_prok else prok(args.reuse)
    euk_rows = [] if args.skip_euk else euk(args.reuse)
    (OUT / "peers.json").write_text(json.dumps({"prok": prok_rows, "euk": euk_rows}, indent=1))
    write_markdown(prok_rows, euk_rows, HERE / "PEERS.md", sys.argv[1:] if argv is None else argv)
    print(f"wrote {HERE / 'PEERS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
