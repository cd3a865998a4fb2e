"""Preset statistics for short inputs (Prodigal's metagenomic mode, with genannot's own statistics).

A preset is what self-training learns on one whole genome (`GenomeStats`: in-frame hexamer coding
model, atypical coding model, start model learned together with the classifier priors, GC, translation
table). `bench/prok_presets.py` builds them; they ship as `presets.npz` beside this module (derived
statistics only, no sequence). An input too short to learn from is annotated with each preset whose GC is
near its own (`select_presets`) and the preset whose gene set scores highest is kept (genes.find_genes).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genannot.prok.signals import StartModel

PRESETS_FILE = Path(__file__).with_name("presets.npz")
MIN_PRESETS = 3  # fewer presets than this in the GC window: take the nearest ones by GC


@dataclass
class GenomeStats:
    """The statistics self-training learns on one genome."""

    name: str
    gc: float
    table: int
    coding: np.ndarray  # (4096,) in-frame hexamer log-odds (HexamerModel.lo)
    atypical: np.ndarray | None  # (4096,) second coding model from the least typical genes, if one was learned
    start: StartModel  # learned with the classifier priors when they were given


def save_presets(path: str | Path, stats: list[GenomeStats], note: str) -> None:
    """Write presets as compact arrays (float32, compressed) with a note on how they were made."""
    k = len(stats)
    atyp = np.zeros((k, 4096), dtype=np.float32)
    has = np.zeros(k, dtype=bool)
    for i, s in enumerate(stats):
        if s.atypical is not None:
            atyp[i], has[i] = s.atypical, True
    with open(path, "wb") as fh:
        np.savez_compressed(
            fh,
            name=np.array([s.name for s in stats]),
            gc=np.array([s.gc for s in stats], dtype=np.float64),
            table=np.array([s.table for s in stats], dtype=np.int16),
            coding=np.stack([s.coding for s in stats]).astype(np.float32),
            atypical=atyp,
            has_atypical=has,
            type_wt=np.stack([s.start.type_wt for s in stats]).astype(np.float32),
            sd_wt=np.stack([s.start.sd_wt for s in stats]).astype(np.float32),
            ups_wt=np.stack([s.start.ups_wt for s in stats]).astype(np.float32),
            start_trained=np.array([s.start.trained for s in stats]),
            note=np.array(note),
        )


def read_presets(path: str | Path) -> list[GenomeStats]:
    with np.load(path) as z:
        out = []
        for i in range(len(z["name"])):
            start = StartModel(type_wt=z["type_wt"][i].astype(np.float64), sd_wt=z["sd_wt"][i].astype(np.float64),
                               ups_wt=z["ups_wt"][i].astype(np.float64), trained=bool(z["start_trained"][i]))
            out.append(GenomeStats(
                name=str(z["name"][i]), gc=float(z["gc"][i]), table=int(z["table"][i]),
                coding=z["coding"][i].astype(np.float64),
                atypical=z["atypical"][i].astype(np.float64) if z["has_atypical"][i] else None,
                start=start,
            ))
        return out


@functools.lru_cache(maxsize=1)
def _packaged() -> tuple[GenomeStats, ...]:
    return tuple(read_presets(PRESETS_FILE)) if PRESETS_FILE.exists() else ()


def load_presets() -> list[GenomeStats]:
    """The packaged presets ([] when the file is missing: anonymous mode then uses the classifiers only)."""
    return list(_packaged())


def gc_window(gc: float) -> tuple[float, float]:
    """Prodigal's metagenomic-mode GC window: presets whose genome GC lies in it are tried."""
    lo = min(0.88495 * gc - 0.0102337, 0.65)
    hi = max(0.86596 * gc + 0.1131991, 0.35)
    return lo, hi


def select_presets(presets: list[GenomeStats], gc: float, table: int, min_n: int = MIN_PRESETS) -> list[GenomeStats]:
    """Presets of this translation table in the GC window of `gc`, topped up with the nearest by GC to `min_n`."""
    same = sorted((s for s in presets if s.table == table), key=lambda s: (abs(s.gc - gc), s.name))
    lo, hi = gc_window(gc)
    inside = [s for s in same if lo <= s.gc <= hi]
    return inside if len(inside) >= min_n else same[: min(min_n, len(same))]
