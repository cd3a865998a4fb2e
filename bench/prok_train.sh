#!/usr/bin/env bash
# The exact commands that trained genannot's embedded prokaryotic classifiers and the bench's fold-B
# models (not part of the test run). CPU only, one thread (the machine was shared with other jobs):
#   default  genannot/models/weights/prok-{cds,tis}-small   trained on 7 genomes, C. trachomatis held out for
#            validation (model selection); never saw E. coli, M. tuberculosis, H. salinarum, N. pharaonis,
#            whose held-out metrics (bench/prok_heldout.py) go into models.toml
#   fold_b   runs/fold_b (git-ignored)   every genome with FASTA except B. subtilis and C. crescentus, so
#            that the bench scores those two with a model that never saw them
#
#   bash bench/prok_train.sh default|fold_b|register|all       (RESUME=--resume continues an interrupted run)
#
# Run on 2026-11-21 with EPOCHS=3 on a 2-core machine shared with other jobs (load 3-7): default 1,129 s
# (38,240 CDS + 85,540 TIS training examples), fold_b 1,300 s (51,532 + 108,428); best epoch (validation
# ROC-AUC on C. trachomatis) 2 of 3 for the default pair, 3 (CDS) and 2 (TIS) for fold_b.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${GENANNOT_SHARED_DATA:-$(cd .. && pwd)/shared/data}/prok/genomes
EPOCHS=${EPOCHS:-3}
GENANNOT=${GENANNOT:-genannot}
TRAIN=("$GENANNOT" train prok -v --threads 1 --device cpu --seed 0 --epochs "$EPOCHS")

pair() { echo --genome "$D/$1/$2" --annotation "$D/$1/$3"; }
MGE=$(pair mgenitalium_g37 mgenitalium_g37.fna.gz mgenitalium_g37.gff3.gz)   # genetic code 4: detected from the annotation
SAU=$(pair saureus saureus.fna.gz saureus.gff3.gz)
PFU=$(pair pfuriosus_dsm3638 pfuriosus_dsm3638.fna.gz pfuriosus_dsm3638.gff3.gz)
BSU=$(pair bsubtilis_best7003 bsubtilis_best7003.fna.gz bsubtilis_best7003.gff3.gz)
SYN=$(pair synechocystis_pcc6803 synechocystis_pcc6803.fna.gz synechocystis_pcc6803.startlink_ncbi_cds.gff.gz)
PFL=$(pair pfluorescens pfluorescens.fna.gz pfluorescens.gff3.gz)
CCR=$(pair ccrescentus_cb15 ccrescentus_cb15.fna.gz ccrescentus_cb15.gff3.gz)
CTR=$(pair ctrachomatis_d_uw3 ctrachomatis_d_uw3.gbk.gz ctrachomatis_d_uw3.gbk.gz)  # GenBank carries the sequence
ECO=$(pair ecoli_k12_mg1655 ecoli_k12_mg1655.fna.gz ecoli_k12_mg1655.gff3.gz)
MTB=$(pair mtuberculosis_h37rv mtuberculosis_h37rv.fna.gz mtuberculosis_h37rv.gbk.gz)
HSA=$(pair hsalinarum_r1 hsalinarum_r1.fna.gz hsalinarum_r1.refseq_latest_cds.gff.gz)
NPH=$(pair npharaonis_dsm2160 npharaonis_dsm2160.fna.gz npharaonis_dsm2160.refseq_latest_cds.gff.gz)

default() {  # the last genome given (C. trachomatis) is the validation genome
  # shellcheck disable=SC2086
  "${TRAIN[@]}" $MGE $SAU $PFU $BSU $SYN $PFL $CCR $CTR -o runs/prok_default $RESUME
  rm -rf genannot/models/weights/prok-cds-small genannot/models/weights/prok-tis-small
  mkdir -p genannot/models/weights
  cp -r runs/prok_default/cds genannot/models/weights/prok-cds-small
  cp -r runs/prok_default/tis genannot/models/weights/prok-tis-small
  python bench/prok_heldout.py --model runs/prok_default --json runs/prok_default/heldout.json
}

fold_b() {
  # shellcheck disable=SC2086
  "${TRAIN[@]}" $MGE $SAU $PFU $SYN $PFL $ECO $MTB $HSA $NPH $CTR -o runs/fold_b $RESUME
  python bench/prok_heldout.py --model runs/fold_b --genomes bsubtilis_best7003,ccrescentus_cb15 --json runs/fold_b/heldout.json
}

register() {  # (re)write the two [models.*] entries of the default pair in models.toml
  python - <<'EOF'
import json, os, re
from pathlib import Path
from genannot.models.registry import entry_toml

toml = Path("genannot/models/models.toml")
held = json.loads(Path(os.environ.get("HELDOUT", "runs/prok_default/heldout.json")).read_text())
names = {"cds": "genannot-prok-cds-small", "tis": "genannot-prok-tis-small"}
kept, drop = [], False
for line in toml.read_text().splitlines():  # drop older versions of these entries
    m = re.match(r"\[models\.([^\].]+)", line)
    if m:
        drop = m.group(1) in names.values()
    if not drop:
        kept.append(line)
text = "\n".join(kept).rstrip("\n") + "\n"
for task, name in names.items():
    d = Path(f"genannot/models/weights/prok-{task}-small")
    info = json.loads((d / "training_args.json").read_text())
    arch = info["architecture"]
    metrics = {"validation_genome": info["validation_genomes"][0], "best_epoch": info["best_epoch"],
               "validation": {k: v for k, v in info["metrics"][info["best_epoch"] - 1]["valid"].items() if k != "loss"}}
    for tag, row in held["genomes"].items():
        m = {f"{k}": v for k, v in row[task].items() if k in ("n", "accuracy", "roc_auc")}
        if task == "tis" and row.get("verified"):
            v = row["verified"]
            m["verified_top1"] = f"{v['tis_top1']}/{v['in_a_stop_group']}"
        metrics[tag] = m
    window = "last 510 nt of the stop group's longest ORF as 6-mers, stride 3" if task == "cds" else "60 nt around the start (30 up, 30 down) as 6-mers, stride 1"
    text += "\n" + entry_toml(
        name, f"prok-{task}", f"package:prok-{task}-small", d,
        default=True, pair=names["tis"] if task == "cds" else None, tokenizer="dnabert-6mer",
        architecture=f"BertForSequenceClassification, hidden {arch['hidden_size']}, {arch['num_hidden_layers']} layers, "
                     f"{arch['num_attention_heads']} heads, FFN {arch['intermediate_size']} ({arch['parameters']:,} parameters, fp16)",
        description=f"genannot's {'coding' if task == 'cds' else 'start-site'} classifier (GeneLM recipe: {window}); "
                    f"trained by bench/prok_train.sh. Metrics: held-out genomes it never saw (length-balanced sets built as for training).",
        training=info["training_genomes"] + info["validation_genomes"],
        metrics=metrics,
    )
toml.write_text(text)
print(text[text.index("[models.genannot-prok-cds-small]"):])
EOF
}

RESUME=${RESUME:-}
case "${1:-all}" in
  default) default ;;
  fold_b) fold_b ;;
  register) register ;;
  all) default; register; fold_b ;;
  *) echo "usage: $0 default|fold_b|register|all" >&2; exit 2 ;;
esac
