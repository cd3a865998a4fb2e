#!/usr/bin/env python3
"""Leave-one-species-out accuracy of the decoder's signal models (genannot.euk.genemodel) on the
mammal regions of ../shared/data/euk: for each species, the models are fitted on every other training
genome (the other mammals, C. elegans and Drosophila; never human chr9:1-1,000,000, Arabidopsis or
yeast) and the species' own sequence is decoded with them alone (as `genannot euk` does with the shipped
network weight 0 and self-training not used) and scored against its annotation (coding transcripts).

    python bench/euk_loo.py                          # the embedded model's settings
    python bench/euk_loo.py --gc-edges ''            # one coding chain, no GC classes
    python bench/euk_loo.py --set exon_stages=3      # a genannot.euk.decode.DecodeOptions field
    python bench/euk_loo.py --peer                   # AUGUSTUS (--species=human) beside it, same sequences
    python bench/euk_loo.py --mask-repeats           # each species soft-masked by its own repeated 15-mers first

Not part of the test run (about 2 minutes on 2 cores; `--peer` adds AUGUSTUS, about 9 minutes the first time).
2026-11-21, pooled over the 15 species (all but chr9), CDS-exon / intron / base CDS F1: genannot 0.656 / 0.663 /
0.799, AUGUSTUS --species=human 0.630 / 0.617 / 0.771 (genannot ahead on 10 of the 15); chr9 (coding transcripts
only): genannot 0.250 / 0.140 / 0.589, AUGUSTUS 0.691 / 0.559 / 0.810. With `--mask-repeats` (what `genannot euk`
does to an unmasked input): pooled 0.663 / 0.671 / 0.811, ahead of AUGUSTUS on 12 of the 15; chr9 0.254.
2026-11-22, with the pairwise splice-site models (genannot.euk.genemodel.PairwiseSiteModel) blended in: pooled
0.680 / 0.690 / 0.813 (ahead of AUGUSTUS on 14 of the 15), chr9 0.291 / 0.211 / 0.642. Caveat: the mammal regions are mostly
gene-dense and several are orthologous to one another (Ensembl Compara test sets), so these figures
are optimistic for a whole mammalian genome; human chr9:1-1,000,000 (the last row) is the realistic one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from peers import timed_run  # noqa: E402

from genannot.euk.decode import decode_record  # noqa: E402
from genannot.euk.genemodel import GC_EDGES, GeneModelParams  # noqa: E402
from genannot.euk.repeats import masked, repeated_kmers  # noqa: E402
from genannot.eval.metrics import eval_euk  # noqa: E402
from genannot.io.annotation import read_annotation  # noqa: E402
from genannot.io.fasta import read_fasta  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "euk"
PEER_OUT = ROOT / "bench" / "out" / "euk" / "loo"
UNSEEN = ("yeast", "athaliana")  # the bench's unseen genomes: never fitted on
NOT_SCORED = ("celegans", "dmelanogaster")  # training only
LEVELS = ("cds", "intron", "base_cds")


def load() -> dict[str, list]:
    """{species: [(sequence, genes)]}; human chr9:1-1,000,000 is its own group 'chr9'."""
    data: dict[str, list] = {}
    for fa in sorted(DATA.glob("*/*.fa.gz")):
        species = fa.parent.name
        if species in UNSEEN:
            continue
        if "chr9_1-1000000" in fa.name:
            species, ann = "chr9", fa.with_name(fa.name.replace(".dna_sm.fa.gz", ".Ensembl91.gtf.gz"))
        elif "GRCh38_chr21" in fa.name:
            ann = fa.with_name("GRCh38_chr21_2regions.Ensembl84.gff3.gz")
        else:
            ann = fa.with_name(fa.name.replace(".fa.gz", ".gff3.gz"))
        genes = read_annotation(str(ann))
        data.setdefault(species, []).extend((r.seq, genes[r.id]) for r in read_fasta(str(fa)) if r.id in genes)
    return data


def fold(job: tuple) -> tuple[str, dict]:
    species, data, gc_edges, options, mask = job
    train = [pair for other, pairs in data.items() if other not in (species, "chr9") for pair in pairs]
    params = GeneModelParams.from_genes(train, gc_edges=gc_edges)
    counts: dict[str, list[int]] = {k: [0, 0, 0] for k in LEVELS}
    repeats = repeated_kmers([seq for seq, _ in data[species]]) if mask else None
    for i, (seq, genes) in enumerate(data[species]):
        key = genes[0].seqid if genes else f"r{i}"
        seq = seq if repeats is None else masked(seq, repeats)  # as `genannot euk` masks an unmasked input
        pred = decode_record(key, seq, params, utr=False, lnc=False, joint_strands=True, **options)
        m = eval_euk({key: pred}, {key: genes}, biotypes=["mRNA"])
        for k in LEVELS:
            counts[k] = [a + b for a, b in zip(counts[k], (m[k]["n_pred"], m[k]["n_ref"], m[k]["matched"]))]
    return species, counts


def peer(job: tuple) -> tuple[str, dict]:
    """AUGUSTUS (human parameters, as bench/euk_bench.py runs it) on the species' sequences, scored as `fold`
    scores genannot; its output is kept under bench/out/euk/loo and reused."""
    species, pairs = job
    PEER_OUT.mkdir(parents=True, exist_ok=True)
    fasta, out = PEER_OUT / f"{species}.fa", PEER_OUT / f"{species}.augustus.gff3"
    ref = {}
    with open(fasta, "w") as fh:
        for i, (seq, genes) in enumerate(pairs):
            key = genes[0].seqid if genes else f"r{i}"
            ref[key] = genes
            fh.write(f">{key}\n{seq}\n")
    timed_run(["nice", "augustus", "--species=human", "--UTR=on", "--gff3=on", str(fasta)], out, True, out)
    pred = read_annotation(str(out))
    m = eval_euk({k: pred.get(k, []) for k in ref}, ref, biotypes=["mRNA"])
    return species, {k: [m[k]["n_pred"], m[k]["n_ref"], m[k]["matched"]] for k in LEVELS}


def f1(c: list[int]) -> float:
    return 2 * c[2] / (c[0] + c[1]) if c[0] + c[1] else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gc-edges", default=",".join(map(str, GC_EDGES)), help="GC class edges ('' = one class)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=JSON", help="a DecodeOptions field")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--mask-repeats", action="store_true", help="soft-mask each species' repeated 15-mers (genannot.euk.repeats) first")
    ap.add_argument("--peer", action="store_true", help="AUGUSTUS --species=human beside genannot (needs `augustus`; slow once, then reused)")
    args = ap.parse_args()
    gc_edges = [float(x) for x in args.gc_edges.split(",") if x]
    options = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    if not DATA.is_dir():
        print(f"no data at {DATA}", file=sys.stderr)
        return 2
    t0 = time.time()
    data = load()
    scored = sorted(s for s in data if s not in NOT_SCORED and s != "chr9") + ["chr9"]
    with Pool(args.processes) as pool:
        out = dict(pool.map(fold, [(s, data, gc_edges, options, args.mask_repeats) for s in scored], chunksize=1))
        augustus = dict(pool.map(peer, [(s, data[s]) for s in scored], chunksize=1)) if args.peer else {}
    head = "| species | CDS-exon F1 | intron F1 | base CDS F1 | reference CDS exons |"
    print(head + (" AUGUSTUS CDS-exon F1 | intron F1 | base CDS F1 |" if augustus else "")
          + f"  (GC edges {gc_edges or 'none'}, options {options or 'default'}, repeats {'masked' if args.mask_repeats else 'as read'})")
    print("|---|---|---|---|---|" + ("---|---|---|" if augustus else ""))

    def row(name: str, c: dict, a: dict | None) -> str:
        cells = [f"{f1(c['cds']):.3f}", f"{f1(c['intron']):.3f}", f"{f1(c['base_cds']):.3f}", str(c["cds"][1])]
        cells += [f"{f1(a[k]):.3f}" for k in LEVELS] if a else []
        return f"| {name} | " + " | ".join(cells) + " |"

    pooled = {k: [0, 0, 0] for k in LEVELS}
    pooled_peer = {k: [0, 0, 0] for k in LEVELS}
    for s in scored:
        if s != "chr9":
            pooled = {k: [a + b for a, b in zip(pooled[k], out[s][k])] for k in LEVELS}
            if augustus:
                pooled_peer = {k: [a + b for a, b in zip(pooled_peer[k], augustus[s][k])] for k in LEVELS}
        else:
            print(row("pooled (all but chr9)", pooled, pooled_peer if augustus else None))
        print(row(s, out[s], augustus.get(s)))
    print(f"{time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
