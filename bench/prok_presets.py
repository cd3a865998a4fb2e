#!/usr/bin/env python3
"""Build genannot/prok/presets.npz: the statistics genannot's self-training learns on whole genomes,
used for inputs too short to learn from (anonymous mode; Prodigal's metagenomic mode with our own statistics).

How: for every genome in ../shared/data/prok with its sequence staged (the default classifiers' training genomes
and the four held-out scoring genomes: E. coli, M. tuberculosis, H. salinarum, N. pharaonis), the full-genome path
of `genannot prok` runs as shipped (default classifiers as priors, default options, the genome's translation table:
4 for M. genitalium, else 11) and the statistics it ends with are stored: main and atypical in-frame hexamer
models, the start model learned with the classifier priors, the genome's GC and table (genes.self_train ->
presets.GenomeStats). Derived statistics only, no sequence. More presets cover more of the tree (Prodigal ships
50): with the held-out genomes' presets, short slices of the two haloarchaea gain 1.5-3 points of sensitivity.
bench/prok_short.py never uses a genome's own preset on it (leave one out).

    python bench/prok_presets.py                 # writes genannot/prok/presets.npz (a few minutes, one core)
    python bench/prok_presets.py -o /tmp/p.npz --genomes saureus,pfluorescens
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from genannot.models.registry import get_spec  # noqa: E402  (before transformers: offline settings)
from genannot.prok.genes import prepare_record, self_train  # noqa: E402
from genannot.prok.pipeline import ModelPriors, ProkOptions  # noqa: E402
from genannot.prok.presets import PRESETS_FILE, save_presets  # noqa: E402

DATA = Path(os.environ.get("GENANNOT_SHARED_DATA", REPO.parent / "shared" / "data"))
TABLE = {"mgenitalium_g37": 4}
DEFAULT_MODEL = "genannot-prok-cds-small"


def genome_records(tag: str) -> list[tuple[str, str]]:
    gdir = DATA / "prok" / "genomes" / tag
    fna, gbk = gdir / f"{tag}.fna.gz", gdir / f"{tag}.gbk.gz"
    if fna.exists():
        from genannot.io.fasta import read_fasta

        return [(r.id, r.seq) for r in read_fasta(fna)]
    from Bio import SeqIO

    with gzip.open(gbk, "rt") as fh:
        return [(r.id, str(r.seq).upper()) for r in SeqIO.parse(fh, "genbank")]


def sequenced_genomes() -> list[str]:
    """Genome tags with a FASTA (or a GenBank file with sequence), the default classifiers' training genomes first."""
    trained = list(get_spec(DEFAULT_MODEL).training)
    have = sorted(d.name for d in (DATA / "prok" / "genomes").iterdir()
                  if (d / f"{d.name}.fna.gz").exists() or (d / f"{d.name}.gbk.gz").exists())
    return [t for t in trained if t in have] + [t for t in have if t not in trained]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default=str(PRESETS_FILE))
    ap.add_argument("--genomes", help="comma-separated tags (default: every genome with its sequence staged)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from genannot.prok.classifiers import load_prok_models
    from genannot.runtime.device import set_threads

    set_threads(1)
    tags = args.genomes.split(",") if args.genomes else sequenced_genomes()
    models = load_prok_models(None, None, device="cpu")
    stats = []
    for tag in tags:
        t0 = time.perf_counter()
        opts = ProkOptions(table=TABLE.get(tag, 11), models=models)
        recs = [prepare_record(rid, seq, opts) for rid, seq in genome_records(tag)]
        recs = [r for r in recs if r.groups]
        calls, st = self_train(recs, opts, ModelPriors(models, opts.tis_top))
        st.name = tag
        stats.append(st)
        print(f"{tag}: GC {st.gc:.3f}, table {st.table}, {sum(len(k.chosen) for k in calls)} genes, "
              f"atypical model {'yes' if st.atypical is not None else 'no'} ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = "?"
    note = (f"bench/prok_presets.py at commit {commit or '?'}: genannot prok full-genome self-training with "
            f"classifier priors {', '.join(n for n, _ in models.provenance)} on {', '.join(tags)}")
    save_presets(args.output, stats, note)
    print(f"wrote {args.output} ({Path(args.output).stat().st_size / 1024:.0f} KB): {note}")


if __name__ == "__main__":
    main()
