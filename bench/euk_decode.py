#!/usr/bin/env python3
"""The eukaryotic decoders on held-out human sequence, without a segmentation network.

    python bench/euk_decode.py [--data ../shared/data/euk] [--rows signal,mammals,nofilter,softmask,simulated]
                               [--out DIR] [--json FILE]

Gene-structure signal models (genannot.euk.genemodel) are fitted on the human, mouse and chimp
pairs in ../shared/data/euk except GRCh38_chr9_1-1000000 (the slice every genannot euk model keeps
out of training), then human chr9:1-1,000,000 is decoded and scored with genannot.eval.metrics.eval_euk
against its Ensembl 91 GTF. Rows:
- signal: the structured decoder with the signal models alone (a GENSCAN-like gene finder: no
  network, so no UTRs and no lncRNAs);
- mammals: the same, the signal models fitted with the 12 other mammals' regions added;
- nofilter: signal models, `splice_filter=False` (any dinucleotide may splice, at its PWM score);
- softmask: signal models, a 0.05 nat per base penalty for exon states on soft-masked (repeat)
  bases (the slice is soft-masked; the training data is not, so the value is a guess, not fitted);
- simulated: stand-ins for network tracks, to compare the structured and the heuristic decoder
  (and the splice filter, and one path for both strands instead of one per strand) on tracks of
  known quality: the reference labels (representative
  transcript per gene) blurred over +-B bases and given smooth logit noise of s.d. SIGMA;
  `clean` (B=5, SIGMA=0.5) and `noisy` (B=30, SIGMA=1.5).
Columns: exon / CDS-exon / intron F1 (exact ends), genes found (any transcript's intron chain or
single exon), coding genes with the whole CDS chain right, base-level CDS F1, decoding seconds
per Mb on one core. AUGUSTUS 3.5 (--species=human --UTR=on) on the same slice, from the issue:
CDS-exon F1 0.75, exon F1 0.34, 18.6 s per Mb.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genannot.eval.metrics import eval_euk  # noqa: E402
from genannot.euk.decode import decode_heuristic, decode_record  # noqa: E402
from genannot.euk.genemodel import GeneModelParams  # noqa: E402
from genannot.euk.labels import strand_track  # noqa: E402
from genannot.io.annotation import read_annotation  # noqa: E402
from genannot.io.fasta import read_fasta  # noqa: E402

HELD_OUT = "GRCh38_chr9_1-1000000"
MAMMALS = ("cat", "cow", "dog", "elephant", "gorilla", "horse", "macaque", "marmoset", "orangutan", "pig", "rabbit", "rat")


def pairs(data: Path, species: tuple[str, ...]) -> list[tuple[Path, Path]]:
    out = []
    for sp in species:
        for fa in sorted((data / sp).glob("*.fa.gz")):
            if HELD_OUT in fa.name:
                continue
            stem = fa.name.split(".")[0]
            ann = [a for a in sorted((data / sp).glob(stem + "*")) if a.name.endswith((".gff3.gz", ".gtf.gz"))]
            if ann:
                out.append((fa, ann[0]))
    return out


def simulated_tracks(genes, length: int, blur: int, sigma: float, seed: int = 0) -> np.ndarray:
    """Reference labels, blurred (moving average over 2*blur+1 bases), as logits +-2.5 with smooth noise."""
    rng = np.random.default_rng(seed)
    lab = np.stack([strand_track(genes, length, s).labels for s in "+-"], axis=1).astype(np.float32)
    if blur:
        c = np.concatenate([np.zeros((1, 2, 5), np.float32), np.cumsum(lab, axis=0)])
        idx = np.arange(length)
        lo, hi = np.clip(idx - blur, 0, length), np.clip(idx + blur + 1, 0, length)
        lab = (c[hi] - c[lo]) / (hi - lo)[:, None, None]
    noise = np.repeat(rng.normal(0, sigma, (length // 25 + 1, 2, 5)), 25, axis=0)[:length]
    logit = 2.5 * (2 * lab - 1) + noise
    return (1 / (1 + np.exp(-logit))).astype(np.float32)


def score(pred, ref) -> dict:
    m = eval_euk(pred, ref)
    return {
        "exon F1": m["exon"]["f1"], "CDS-exon F1": m["cds"]["f1"], "CDS-exon P": m["cds"]["precision"], "CDS-exon R": m["cds"]["recall"],
        "intron F1": m["intron"]["f1"], "genes found": f"{m['gene']['found']}/{m['gene']['n_ref_genes']}",
        "CDS chains": f"{m['gene_cds']['found']}/{m['gene_cds']['n_ref_genes']}", "base CDS F1": m["base_cds"]["f1"],
        "lncRNA exon F1": m["by_biotype"].get("lnc_RNA", {}).get("exon", {}).get("f1", 0.0),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "euk"))
    ap.add_argument("--rows", default="signal,mammals,nofilter,softmask,simulated")
    ap.add_argument("--out", default=None, help="keep the fitted genemodel.npz files and the GFF3 predictions here")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows_wanted = set(args.rows.split(","))

    import torch

    torch.set_num_threads(1)
    data = Path(args.data)
    rec = next(read_fasta(data / "human" / f"{HELD_OUT}.dna_sm.fa.gz"))
    ref = read_annotation(data / "human" / f"{HELD_OUT}.Ensembl91.gtf.gz")
    mb = len(rec.seq) / 1e6
    out = Path(args.out) if args.out else None

    fitted: dict[str, GeneModelParams] = {}

    def params(name: str) -> GeneModelParams:
        if name not in fitted:
            species = ("human", "mouse", "chimp") + (MAMMALS if name == "mammals" else ())
            t = time.time()
            fitted[name] = GeneModelParams.fit(pairs(data, species))
            st = fitted[name].stats
            print(f"# gene model '{name}': {len(st['files'])} files, {st['bp'] / 1e6:.1f} Mb, {st['coding_genes']} coding genes, "
                  f"{st['donor_sites']} splice sites, fitted in {time.time() - t:.1f} s", flush=True)
            if out:
                fitted[name].save(out / f"genemodel-{name}")
        return fitted[name]

    rows = []

    def run(label: str, fn) -> None:
        t = time.time()
        genes = fn()
        dt = time.time() - t
        r = {"row": label, **score({rec.id: genes}, ref), "s/Mb": round(dt / mb, 1), "genes": len(genes)}
        rows.append(r)
        print(json.dumps(r), flush=True)
        if out:
            from genannot.io.gff3 import Gff3Writer

            with open(out / (label.replace(" ", "_").replace("/", "-") + ".gff3"), "w") as fh:
                Gff3Writer(fh, [f"#bench/euk_decode.py {label}"]).write_record(rec.id, len(rec.seq), genes)

    if out:
        out.mkdir(parents=True, exist_ok=True)
    sm = rec.mask_array()
    if "signal" in rows_wanted:
        run("signal models", lambda: decode_record(rec.id, rec.seq, params("hmc")))
    if "mammals" in rows_wanted:
        run("signal models, +12 mammals", lambda: decode_record(rec.id, rec.seq, params("mammals")))
    if "nofilter" in rows_wanted:
        run("signal models, splice filter off", lambda: decode_record(rec.id, rec.seq, params("hmc"), splice_filter=False))
    if "softmask" in rows_wanted:
        run("signal models, soft-mask penalty", lambda: decode_record(rec.id, rec.seq, params("hmc"), softmask=sm, softmask_penalty=0.05))
    if "simulated" in rows_wanted:
        for name, blur, sigma in (("clean", 5, 0.5), ("noisy", 30, 1.5)):
            tracks = simulated_tracks(ref[rec.id], len(rec.seq), blur, sigma)
            run(f"{name} tracks: structured", lambda: decode_record(rec.id, rec.seq, params("hmc"), tracks))
            run(f"{name} tracks: structured, strands joint", lambda: decode_record(rec.id, rec.seq, params("hmc"), tracks, joint_strands=True))
            run(f"{name} tracks: structured, splice filter off", lambda: decode_record(rec.id, rec.seq, params("hmc"), tracks, splice_filter=False))
            run(f"{name} tracks: heuristic", lambda: decode_heuristic(rec.id, rec.seq, tracks, params("hmc")))
            run(f"{name} tracks: heuristic, splice filter off", lambda: decode_heuristic(rec.id, rec.seq, tracks, params("hmc"), splice_filter=False))

    cols = ["row", "exon F1", "CDS-exon F1", "CDS-exon P", "CDS-exon R", "intron F1", "lncRNA exon F1", "genes found", "CDS chains", "base CDS F1", "s/Mb"]
    print("\n| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:.3f}" if isinstance(r[c], float) and c != "s/Mb" else str(r[c]) for c in cols) + " |")
    print("| AUGUSTUS 3.5 human, --UTR=on (issue 6) | 0.34 | 0.75 | | | | 0 | | 3/8 | | 18.6 |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
