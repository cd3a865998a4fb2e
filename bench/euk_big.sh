#!/usr/bin/env bash
# `genannot euk` on one synthetic 250 Mb chromosome (random sequence, 40% GC): wall time and peak RSS.
#   bash bench/euk_big.sh [LENGTH_BP] [OUT_DIR]        (defaults: 250000000, bench/out/big)
# Run on 2026-11-21 (2-core machine, one thread, default model): 250 Mb in 17 min 49 s (4.3 s/Mb), peak RSS
# 1.12 GB, 127 genes, valid GFF3; 50 Mb in 3 min 35 s, peak RSS 1.09 GB. Memory is flat in chromosome length:
# each record is spooled to a temporary file as it is read (disk: 1 byte per base) and decoded one group of
# 64 windows x 50 kb at a time, so what is held is the model plus one group's arrays (before streaming, the
# whole record was in memory: 2.07 GB at 250 Mb). Those two runs predate self-training (on by default since);
# its pass adds ~40 s and nothing to the peak (50 Mb: 4 min 15 s, 1.11 GB, "not used" on random sequence).
set -euo pipefail
cd "$(dirname "$0")/.."
LEN=${1:-250000000}
OUT=${2:-bench/out/big}
mkdir -p "$OUT"
python - "$LEN" "$OUT/synth.fa" <<'PY'
import sys
import numpy as np
n, path = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
lut = np.frombuffer(b"ACGT", dtype=np.uint8)
with open(path, "wb") as fh:
    fh.write(f">synth random 40% GC {n} bp\n".encode())
    for a in range(0, n, 10_000_000):
        x = lut[rng.choice(4, size=min(10_000_000, n - a), p=[0.3, 0.2, 0.2, 0.3])]
        for i in range(0, len(x), 100):
            fh.write(x[i : i + 100].tobytes() + b"\n")
PY
/usr/bin/time -v genannot euk "$OUT/synth.fa" --threads 1 -o "$OUT/synth.gff3" 2> "$OUT/time.txt"
grep -E "Elapsed|Maximum resident" "$OUT/time.txt"
gt gff3validator "$OUT/synth.gff3"
