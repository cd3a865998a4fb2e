#!/usr/bin/env python3
"""How much should the decoder trust the network? A sweep of `net_weight` on training sequence.

    python bench/euk_net_weight.py MODEL_DIR GENOME.fa ANNOTATION [--weights 0,0.01,0.03,0.1,0.3,1]

The network's tracks are computed once (both strands, reverse-complement averaging) and decoded at each
weight; 0 is the signal models alone. Run it on sequence the model trained on, never on the held-out bench
sequence: the weight chosen here is recorded in the shipped model (bench/euk_register.py --net-weight), and
a network is no better on unseen sequence than on its training data, so a weight that does not pay here
does not pay there. Prints exact-match exon / CDS-exon / intron F1 and per-base exon / CDS F1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genannot.euk.decode import decode_record  # noqa: E402
from genannot.euk.genemodel import GeneModelParams  # noqa: E402
from genannot.euk.model import EukSegModel  # noqa: E402
from genannot.euk.pipeline import CPU_WINDOWS, OVERLAP, WINDOW  # noqa: E402
from genannot.euk.windows import model_fn, predict_record  # noqa: E402
from genannot.eval.metrics import eval_euk  # noqa: E402
from genannot.io.annotation import read_annotation  # noqa: E402
from genannot.io.fasta import read_fasta  # noqa: E402

KEYS = ("exon", "cds", "intron", "base_exon", "base_cds")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("genome")
    ap.add_argument("annotation")
    ap.add_argument("--weights", default="0,0.01,0.03,0.1,0.3,1")
    args = ap.parse_args()
    net = EukSegModel.from_pretrained(args.model).eval()
    params = GeneModelParams.load(args.model)
    prior = net.metadata.get("training", {}).get("class_prior")
    ref = read_annotation(args.annotation)
    recs = list(read_fasta(args.genome))
    t0 = time.time()
    tracks = {r.id: predict_record(model_fn(net), r.seq, WINDOW, OVERLAP, CPU_WINDOWS) for r in recs}
    print(f"# {args.model} on {args.genome}: tracks in {time.time() - t0:.0f} s", flush=True)
    print("| net_weight | " + " | ".join(f"{k} F1" for k in KEYS) + " |")
    print("|---:|" + "---:|" * len(KEYS))
    for w in (float(x) for x in args.weights.split(",")):
        pred = {}
        for r in recs:
            opts = {"net_prior": prior, "net_weight": w} if w else {}
            pred[r.id] = decode_record(r.id, r.seq, params, tracks[r.id] if w else None, **opts)
        m = eval_euk(pred, ref)
        print(f"| {w:g} | " + " | ".join(f"{m[k]['f1']:.3f}" for k in KEYS) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
