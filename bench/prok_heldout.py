#!/usr/bin/env python3
"""Held-out metrics of a pair of prokaryotic classifiers (the numbers models.toml quotes).

For each genome (by default the four with verified starts, which no shipped model trains on):
  cds: accuracy and ROC-AUC on the length-balanced CDS set built as for training (prok.datasets),
  tis: accuracy and ROC-AUC on the TIS set built likewise,
  verified: of the experimentally verified starts whose stop group exists, how many are the group's
       highest-scoring candidate start (TIS model alone, no gene-set decoding), beside the share
       that is the longest ORF's start.
Scoring throughput (windows/s) is measured on the same run.

    python bench/prok_heldout.py --model DIR_OR_NAME [--tis-model ...] [--genomes ecoli,mtb,...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genannot.io.annotation import read_annotation  # noqa: E402
from genannot.prok.classifiers import load_prok_models, tis_input  # noqa: E402
from genannot.prok.datasets import build_datasets, read_genome, reference_cds  # noqa: E402
from genannot.prok.orfs import find_stop_groups  # noqa: E402
from genannot.prok.train import binary_metrics  # noqa: E402

DATA = Path(os.environ.get("GENANNOT_SHARED_DATA", REPO.parent / "shared" / "data")) / "prok"
G = DATA / "genomes"
GENOMES = {
    "ecoli_k12_mg1655": (G / "ecoli_k12_mg1655/ecoli_k12_mg1655.fna.gz", G / "ecoli_k12_mg1655/ecoli_k12_mg1655.gff3.gz"),
    "mtuberculosis_h37rv": (G / "mtuberculosis_h37rv/mtuberculosis_h37rv.fna.gz", G / "mtuberculosis_h37rv/mtuberculosis_h37rv.gbk.gz"),
    "hsalinarum_r1": (G / "hsalinarum_r1/hsalinarum_r1.fna.gz", G / "hsalinarum_r1/hsalinarum_r1.refseq_latest_cds.gff.gz"),
    "npharaonis_dsm2160": (G / "npharaonis_dsm2160/npharaonis_dsm2160.fna.gz", G / "npharaonis_dsm2160/npharaonis_dsm2160.refseq_latest_cds.gff.gz"),
    "bsubtilis_best7003": (G / "bsubtilis_best7003/bsubtilis_best7003.fna.gz", G / "bsubtilis_best7003/bsubtilis_best7003.gff3.gz"),
    "ccrescentus_cb15": (G / "ccrescentus_cb15/ccrescentus_cb15.fna.gz", G / "ccrescentus_cb15/ccrescentus_cb15.gff3.gz"),
}
VERIFIED = DATA / "verified_tis" / "verified_tis.tsv.gz"


def verified_top1(models, tag: str, fasta: Path, table: int) -> dict:
    if not VERIFIED.is_file():
        return {}
    ann = read_annotation(VERIFIED)
    seqs = read_genome(fasta)
    refs = [r for r in reference_cds({k: v for k, v in ann.items() if k in seqs}) if r.seqid in seqs]
    if not refs:
        return {}
    by_stop = {}
    for seqid, seq in seqs.items():
        for g in find_stop_groups(seq, table=table, closed=True):
            by_stop[(seqid, g.strand, g.stop)] = (seq, g)
    windows, owners, truth, longest = [], [], [], 0
    found = 0
    for i, r in enumerate(refs):
        hit = by_stop.get((r.seqid, r.strand, r.stop))
        if hit is None or r.start not in hit[1].starts:
            continue
        seq, g = hit
        found += 1
        longest += g.starts[0] == r.start
        for s in g.starts:
            windows.append(tis_input(seq, g.strand, s))
            owners.append(found - 1)
            truth.append(s == r.start)
    p = models.tis.predict(windows)
    owners_a, truth_a = np.array(owners), np.array(truth)
    correct = 0
    for k in range(found):
        idx = np.flatnonzero(owners_a == k)
        correct += bool(truth_a[idx[np.argmax(p[idx])]])
    return {"verified_genes": len(refs), "in_a_stop_group": found, "tis_top1": correct, "longest_orf": longest}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="prok-cds model, registry name or directory (train output dir: both)")
    ap.add_argument("--tis-model", default=None)
    ap.add_argument("--genomes", default="ecoli_k12_mg1655,mtuberculosis_h37rv,hsalinarum_r1,npharaonis_dsm2160")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the metrics here")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    import torch

    torch.set_num_threads(a.threads)
    models = load_prok_models(a.model, a.tis_model, "cpu", "auto")
    out = {"cds_model": models.provenance[0], "tis_model": models.provenance[1], "genomes": {}}
    for tag in a.genomes.split(","):
        fasta, annot = GENOMES[tag]
        ds = build_datasets([fasta], [annot], seed=a.seed, tags=[tag])
        gs = ds.genomes[0]
        row = {}
        for task, clf, ex in (("cds", models.cds, gs.cds), ("tis", models.tis, gs.tis)):
            t = time.perf_counter()
            p = clf.predict([e.window for e in ex], progress=False)
            dt = time.perf_counter() - t
            row[task] = binary_metrics(np.array([e.label for e in ex]), p, np.array([e.weight for e in ex]))
            row[task]["windows_per_s"] = round(len(ex) / dt)
        row["verified"] = verified_top1(models, tag, fasta, gs.table)
        out["genomes"][tag] = row
        print(tag, json.dumps(row), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
