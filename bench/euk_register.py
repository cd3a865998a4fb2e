#!/usr/bin/env python3
"""Ship a trained euk-seg run as genannot's embedded default eukaryotic model.

    python bench/euk_register.py runs/euk-seg-small [--bench bench/out/euk/bench.json] [--refit-genemodel]

Copies the loadable model files of the run (config.json, model.safetensors, tokenizer files and the
decoder's genemodel.npz; not the optimiser state) to genannot/models/weights/euk-seg-small and
(re)writes its [models.genannot-euk-seg-small] entry in models.toml: sha256 of every file, the genomes
it saw, the held-out per-base validation of its last epoch and, with --bench, gene-level figures on
sequence it never saw (a JSON object of {genome: {metric: value}}). --refit-genemodel first re-fits the
run's genemodel.npz from its training genomes (holdout left out), as `genannot train euk` does: for
when the signal models' code changes and the network does not.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genannot.models.registry import entry_toml  # noqa: E402

NAME = "genannot-euk-seg-small"
FOLDER = "euk-seg-small"
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "genemodel.npz")


def genome_tag(path: str) -> str:
    p = Path(path)
    name = p.name
    for suffix in (".gz", ".fa", ".fasta", ".fna"):
        name = name.removesuffix(suffix)
    return f"{p.parent.name}/{name}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--bench", help="JSON {genome: {metric: value}} measured on unseen sequence")
    ap.add_argument("--net-weight", type=float, required=True, help="the decoder's network weight (bench/euk_net_weight.py)")
    ap.add_argument("--net-weight-note", default="", help="how it was chosen")
    ap.add_argument("--refit-genemodel", action="store_true", help="re-fit the run's genemodel.npz first")
    args = ap.parse_args()
    run = Path(args.run)
    if args.refit_genemodel:
        from genannot.euk.train import fit_gene_model

        train = json.loads((run / "config.json").read_text())["metadata"]["training"]
        (run / "genemodel.npz").unlink(missing_ok=True)
        fit_gene_model(train["genomes"], train["annotations"], train["holdout"], run)
    dest = ROOT / "genannot" / "models" / "weights" / FOLDER
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for f in FILES:
        if (run / f).is_file():
            shutil.copy2(run / f, dest / f)
    cfg = json.loads((dest / "config.json").read_text())
    cfg["metadata"]["decoder"] = {"net_weight": args.net_weight, "chosen": args.net_weight_note}
    (dest / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    train = cfg["metadata"]["training"]
    val = cfg["metadata"].get("validation", {})
    enc, head = cfg["encoder"], cfg["head"]
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    n_params = next(r["parameters"]["total"] for r in log if r.get("event") == "start")
    metrics: dict = {"epochs": train["epochs_done"], "holdout": train["holdout"], "decoder_net_weight": args.net_weight}
    metrics["holdout_per_base"] = {
        c: {"pr_auc": round(v["pr_auc"], 4), "prevalence": round(v["prevalence"], 4), "f1": round(v["f1"], 4)}
        for c, v in val.items() if isinstance(v, dict) and "pr_auc" in v
    }
    if args.bench:
        metrics.update(json.loads(Path(args.bench).read_text()))
    entry = entry_toml(
        NAME, "euk-seg", f"package:{FOLDER}", dest, default=True, tokenizer=f"bpe-{enc['vocab_size']}",
        architecture=(f"pre-LN BERT {enc['num_hidden_layers']} layers x {enc['hidden_size']} with {cfg['rmt']['num_mem_tokens']} "
                      f"memory tokens (RMT), U-Net head {head['channels']}"
                      + (f" also reading {head['signal_dim']} signal tracks of the decoder's models" if head.get("signal_dim") else "")
                      + f", 10 outputs (both strands); {n_params:,} parameters, fp16"),
        description=("genannot's eukaryotic segmentation model and the decoder's signal models, trained by bench/euk_train.sh on "
                     "2 CPU cores. Metrics: per base on the held-out human chr9:1-1,000,000 (validation windows of the last "
                     "epoch) and, where given, gene-level figures of `genannot euk` on sequence it never saw (bench/euk_bench.py)."),
        training=[genome_tag(g) + (" (minus --holdout)" if "chr9" in g else "") for g in train["genomes"]],
        metrics=metrics,
    )
    toml = ROOT / "genannot" / "models" / "models.toml"
    kept, drop = [], False
    for line in toml.read_text().splitlines():  # drop an older version of this entry
        m = re.match(r"\[models\.([^\].]+)", line)
        if m:
            drop = m.group(1) == NAME
        if not drop:
            kept.append(line)
    toml.write_text("\n".join(kept).rstrip("\n") + "\n\n" + entry.rstrip("\n") + "\n")
    print(f"{NAME}: {dest} ({sum(f.stat().st_size for f in dest.iterdir()) / 1e6:.1f} MB), models.toml updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
