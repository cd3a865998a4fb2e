"""`genannot prok`: FASTA -> stop groups -> self-trained statistics + learned priors -> gene set -> outputs.

`annotate(records, options)` is the library entry point (plain data in, `Gene` lists out); `run_prok` is what
the CLI calls: preflight (outputs writable, translation table known, models resolved and loaded) before any
compute, then annotation, then every requested output committed together (nothing written on error).

Statistics are learned from all records of the input together (Prodigal does the same), so a draft assembly
of many contigs is annotated with one genome-wide model. Inputs shorter than `MIN_TRAIN` nt in total (assembly
gaps, the runs of N that hold no ORF, not counted) are too small to learn from: they are annotated in anonymous
mode, with the packaged preset statistics of whole genomes near the input's GC (prok/presets.py; Prodigal's
metagenomic mode) plus the learned classifiers, or with the classifiers alone where no preset fits (without
classifiers, a development path, they are self-trained).
MIN_TRAIN was set where presets and self-training tie on slices of B. subtilis and C. crescentus scored with the
fold-B classifiers and presets built without them (bench/prok_short.py, 10 slices each): summed 3' sensitivity +
specificity, presets against self-training, 1.912 / 1.903 at 75 kb, 1.918 / 1.920 at 100 kb, 1.926 / 1.933 at
150 kb.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np

from genannot.errors import InputError
from genannot.features import Gene, Transcript
from genannot.io.fasta import FastaRecord
from genannot.prok.genes import (
    Candidates,
    FinderOptions,
    RecordCalls,
    RecordSeq,
    find_genes,
    prepare_record,
)
from genannot.prok.orfs import codon_sets, n_runs, orf_sequence
from genannot.prok.signals import START_TYPES

log = logging.getLogger(__name__)

CSV_COLUMNS = ["seq_id", "start", "end", "strand", "orf_group", "prob_cds", "prob_tis", "start_type", "partial"]
CANDIDATE_COLUMNS = [
    "seq_id", "orf_group", "strand", "start", "end", "start_type", "length", "prob_cds", "prob_tis",
    "coding_score", "start_score", "score", "prediction_max_likelihood", "predicted",
]
MIN_TRAIN = 100000  # nt: below this the genome's own statistics are not learned (anonymous mode, presets)
TABLE_SAMPLE = 1_000_000  # nt of the input (its first records) on which `-g auto` compares genetic codes
TABLE_MARGIN = 0.08  # ... code 4 needs this much more of the sample covered by genes than code 11
TABLE_MIN_DENSITY = 0.70  # ... and at least this much in all


@dataclass
class ProkOptions(FinderOptions):
    """The gene finder's options plus what the pipeline adds: the classifiers and how many starts they see."""

    seed: int = 0
    models: object | None = None  # classifiers.ProkModels; None = statistics only (development)
    tis_top: int = 3  # candidate starts per likely group sent to the TIS classifier (98-100% hold the true one)
    gc_bins: bool = True  # records in GC clusters of their own learn their own statistics (prok/composition.py)


@dataclass
class ProkResult:
    """Per record: the FASTA record, its genes, and the finder's calls (candidates and scores)."""

    records: list
    genes: list[list[Gene]]
    calls: list[RecordCalls | None]
    bins_note: str | None = None  # how the records were split into GC bins, where they were


# ---------------------------------------------------------------- genetic code


def sequence_bases(seq: str) -> int:
    """Bases outside assembly gaps (orfs.n_runs): where genes can lie and statistics be learned."""
    return len(seq) - sum(b - a for a, b in n_runs(seq))


def infer_table(records: Iterable, options: ProkOptions | None = None) -> tuple[int, dict[int, float]]:
    """The genetic code for `-g auto`: 4 (UGA = Trp: Mycoplasma, Spiroplasma, ...) or 11; and the coding density
    (share of the sample inside called genes) under each. The statistics alone are self-trained and run on the
    input's first TABLE_SAMPLE nt under both codes; 4 is chosen where its genes cover TABLE_MARGIN more of the sample
    than code 11's and TABLE_MIN_DENSITY in all (CheckM's rule on Prodigal's coding density, whose margin is 0.05):
    read as a stop, UGA cuts a code-4 genome's genes into fragments, while reading it as Trp in a code-11 genome only
    lengthens ORFs that the statistics reject. Measured (code 4 minus code 11): whole M. genitalium +0.18 (0.953
    against 0.773), the ten code-11 genomes of the shared data -0.070 to +0.001; on 80 and 150 kb slices, 10 each,
    M. genitalium +0.14 to +0.28, E. coli, M. tuberculosis, H. salinarum and C. crescentus -0.13 to +0.04: hence
    0.08, between the two. Code 25 (UGA = Gly) has code 4's stops and would be called 4. About 3 s on E. coli. An
    input under MIN_TRAIN nt in all keeps code 11 (densities NaN): on 3-15 kb slices of code-11 genomes the rule
    picked code 4 for 1 to 3 slices in 8."""
    base = replace(options or ProkOptions(), models=None)
    sample, n, bases = [], 0, 0
    for r in records:
        if n >= TABLE_SAMPLE:
            break
        sample.append(FastaRecord(r.id, "", r.seq[: TABLE_SAMPLE - n]))
        n += len(sample[-1].seq)
        bases += sequence_bases(sample[-1].seq)
    if bases < MIN_TRAIN:
        return 11, {11: math.nan, 4: math.nan}
    density = {}
    for table in (11, 4):
        res = annotate_full(sample, replace(base, table=table))
        covered = sum(b - a + 1 for genes in res.genes for g in genes for a, b in g.transcripts[0].cds)
        density[table] = covered / max(1, bases)  # assembly gaps hold no genes
    four = density[4] - density[11] > TABLE_MARGIN and density[4] >= TABLE_MIN_DENSITY
    return (4 if four else 11), density


# ---------------------------------------------------------------- classifier priors


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


class ModelPriors:
    """Scores plausible stop groups with the CDS classifier and their best few starts with the TIS classifier."""

    def __init__(self, models, tis_top: int = 3, tis_min: float = -5.0):
        self.models = models
        self.tis_top = tis_top
        self.tis_min = tis_min

    def __call__(self, recs: Sequence[RecordSeq], cands: Sequence[Candidates], totals: Sequence[np.ndarray],
                 plausible: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        from genannot.prok.classifiers import cds_input, tis_input

        cds_windows: list[str] = []
        tis_windows: list[str] = []
        cds_where: list[tuple[int, np.ndarray]] = []
        tis_where: list[tuple[int, np.ndarray]] = []
        for k, (r, c, tot, plaus) in enumerate(zip(recs, cands, totals, plausible)):
            groups = np.flatnonzero(plaus)
            if len(groups) == 0:
                continue
            first = c.group_first[groups]
            for gi, i in zip(groups, first):
                g = r.groups[gi]
                cds_windows.append(cds_input(orf_sequence(r.seq, g, g.starts[0])))
            cds_where.append((k, groups))
            # top starts of each group likely to be called, by the statistics' total score
            best = np.full(c.n_groups, -np.inf)
            np.maximum.at(best, c.group, tot)
            sel = []
            for gi in groups[best[groups] > self.tis_min]:
                a, b = c.group_first[gi], c.group_first[gi + 1]
                idx = np.arange(a, b)
                idx = idx[~c.edge5[idx]]
                if len(idx) > self.tis_top:
                    idx = idx[np.argsort(-tot[idx], kind="stable")[: self.tis_top]]
                sel.append(idx)
            sel_a = np.concatenate(sel) if sel else np.zeros(0, dtype=np.int64)
            for i in sel_a:
                tis_windows.append(tis_input(r.seq, "+" if c.strand[i] == 1 else "-", int(c.start[i])))
            tis_where.append((k, sel_a))
        log.info("classifiers: %d stop groups (CDS), %d candidate starts (TIS)", len(cds_windows), len(tis_windows))
        p_cds = self.models.cds.predict(cds_windows) if cds_windows else np.zeros(0)
        p_tis = self.models.tis.predict(tis_windows) if tis_windows else np.zeros(0)
        cds_out = [np.full(len(c), np.nan) for c in cands]
        tis_out = [np.full(len(c), np.nan) for c in cands]
        pos = 0
        for k, groups in cds_where:
            c = cands[k]
            per_group = np.full(c.n_groups, np.nan)
            per_group[groups] = p_cds[pos : pos + len(groups)]
            pos += len(groups)
            cds_out[k] = per_group[c.group]
        pos = 0
        for k, sel_a in tis_where:
            tis_out[k][sel_a] = p_tis[pos : pos + len(sel_a)]
            pos += len(sel_a)
        return cds_out, tis_out


# ---------------------------------------------------------------- annotation


def annotate(records: Iterable, options: ProkOptions | None = None) -> list[tuple[object, list[Gene]]]:
    """Annotate FASTA records (objects with .id and .seq, e.g. io.fasta.FastaRecord) of one genome."""
    res = annotate_full(records, options)
    return list(zip(res.records, res.genes))


def annotate_full(records: Iterable, options: ProkOptions | None = None) -> ProkResult:
    opts = options or ProkOptions()
    codon_sets(opts.table, opts.allow_ctg)  # unknown table -> InputError before any work
    records = list(records)
    total_len = sum(sequence_bases(r.seq) for r in records)
    recs: list[RecordSeq] = []
    index: list[int | None] = []
    for r in records:
        rs = prepare_record(r.id, r.seq, opts)
        if rs.groups:
            index.append(len(recs))
            recs.append(rs)
        else:
            index.append(None)
    priors = ModelPriors(opts.models, opts.tis_top) if opts.models is not None else None
    if total_len < MIN_TRAIN:
        from genannot.prok.presets import load_presets

        opts = replace(opts, anonymous=True, presets=load_presets() if opts.presets is None else opts.presets)
    calls, bins_note = _find_in_bins(recs, opts, priors)
    out_calls: list[RecordCalls | None] = [calls[i] if i is not None else None for i in index]
    genes = [to_genes(r.id, k, opts.table) if k is not None else [] for r, k in zip(records, out_calls)]
    log.info("%d genes on %d records (%d nt)", sum(len(g) for g in genes), len(records), total_len)
    return ProkResult(records=records, genes=genes, calls=out_calls, bins_note=bins_note)


def _find_in_bins(recs: list[RecordSeq], opts: ProkOptions, priors) -> tuple[list[RecordCalls], str | None]:
    """find_genes on each GC bin of the records (composition.gc_bins) on its own; one bin unless the input holds
    clusters of distinct GC (mixed species) large enough to self-train."""
    from genannot.prok.composition import gc_bins

    if not recs:
        return [], None
    groups, cuts = [list(range(len(recs)))], []
    if opts.gc_bins and not opts.anonymous:
        groups, cuts = gc_bins([r.fwd.codes for r in recs])
    note = None
    if len(groups) > 1:
        sizes = " / ".join(str(sum(recs[i].n for i in g)) for g in groups)
        note = (f"{len(groups)} (GC cut at {', '.join(f'{100 * c:.1f}%' for c in cuts)}; records "
                f"{' / '.join(str(len(g)) for g in groups)}; nt {sizes})")
        log.info("GC bins, each self-trained on its own: %s", note)
    found: dict[int, RecordCalls] = {}
    for g in groups:
        found.update(zip(g, find_genes([recs[i] for i in g], opts, priors=priors)))
    return [found[i] for i in range(len(recs))], note


def orf_group_id(seqid: str, strand: int, stop: int) -> str:
    """Stable name of a stop group: seqid, strand and the 1-based coordinate of the stop's outermost base."""
    return f"{seqid}:{'+' if strand == 1 else '-'}{stop + 1}"


def _fmt(x: float | None, nd: int = 4) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(float(x), nd)


def to_genes(seqid: str, k: RecordCalls, table: int = 11) -> list[Gene]:
    c = k.cands
    out = []
    for n, i in enumerate(k.chosen, start=1):
        strand = "+" if c.strand[i] == 1 else "-"
        left, right = int(c.left[i]) + 1, int(c.right[i]) + 1
        five, three = bool(c.edge5[i]), bool(c.p3[i])
        partial = (f"{int(five)}{int(three)}" if strand == "+" else f"{int(three)}{int(five)}")
        gid = f"{seqid}_{n}"
        g = k.rec.groups[c.group[i]]
        attrs: dict[str, object] = {"score": round(float(k.score[i]), 2)}
        pc = _fmt(k.prob_cds[i]) if k.prob_cds is not None else None
        pt = _fmt(k.prob_tis[i]) if k.prob_tis is not None else None
        if pc is not None:
            attrs["prob_cds"] = pc
        if pt is not None:
            attrs["prob_tis"] = pt
        attrs["start_type"] = START_TYPES[c.ctype[i]]
        attrs["coding_score"] = round(float(k.cscore[i]), 2)
        attrs["start_score"] = round(float(k.sscore[i]), 2)
        if k.rbs_bin is not None and not five:
            from genannot.prok.signals import sd_bin_name

            attrs["rbs_motif"] = sd_bin_name(int(k.rbs_bin[i]))
        attrs["_orf_group"] = orf_group_id(seqid, int(c.strand[i]), int(g.stop))
        t = Transcript(id=gid, biotype="mRNA", cds=[(left, right)], attributes=dict(attrs))
        out.append(Gene(seqid=seqid, strand=strand, id=gid, transcripts=[t], attributes=dict(attrs), partial=partial))
    return out


# ---------------------------------------------------------------- command


def _candidate_rows(seqid: str, k: RecordCalls):
    c = k.cands
    if len(c) == 0:
        return
    scored = ~np.isnan(k.prob_cds) if k.prob_cds is not None else (k.score > -20.0)
    if not scored.any():
        return
    chosen = np.zeros(len(c), dtype=bool)
    chosen[k.chosen] = True
    from genannot.prok.genes import group_argmax

    best = group_argmax(np.where(scored, k.score, -np.inf), c)
    is_best = np.zeros(len(c), dtype=bool)
    is_best[best[best >= 0]] = True
    for i in np.flatnonzero(scored):
        g = k.rec.groups[c.group[i]]
        yield {
            "seq_id": seqid,
            "orf_group": orf_group_id(seqid, int(c.strand[i]), int(g.stop)),
            "strand": "+" if c.strand[i] == 1 else "-",
            "start": int(c.left[i]) + 1,
            "end": int(c.right[i]) + 1,
            "start_type": START_TYPES[c.ctype[i]],
            "length": int(c.length[i]),
            "prob_cds": _fmt(k.prob_cds[i]) if k.prob_cds is not None else None,
            "prob_tis": _fmt(k.prob_tis[i]) if k.prob_tis is not None else None,
            "coding_score": round(float(k.cscore[i]), 3),
            "start_score": round(float(k.sscore[i]), 3),
            "score": round(float(k.score[i]), 3),
            "prediction_max_likelihood": bool(is_best[i]),
            "predicted": bool(chosen[i]),
        }


def write_outputs(res: ProkResult, *, output: str | None, fmt: str, proteins: str | None, genes_out: str | None,
                  candidates: str | None, provenance: list[str], table: int) -> None:
    from genannot.io.atomic import atomic_outputs
    from genannot.io.gff3 import Gff3Writer
    from genannot.io.gtf import GtfWriter
    from genannot.io.seqout import cds_sequence, protein_sequence, write_fasta
    from genannot.io.tables import write_table

    paths = {"main": output or "-", "proteins": proteins, "genes": genes_out, "candidates": candidates}
    with atomic_outputs(paths) as out:
        fh = out["main"]
        if fmt in ("gff3", "gtf"):
            w = (Gff3Writer if fmt == "gff3" else GtfWriter)(fh, provenance)
            for rec, genes in zip(res.records, res.genes):
                w.write_record(rec.id, len(rec.seq), genes)
        else:
            rows = []
            for rec, genes in zip(res.records, res.genes):
                for g in genes:
                    a = g.attributes
                    rows.append({
                        "seq_id": rec.id, "start": g.start, "end": g.end, "strand": g.strand,
                        "orf_group": a.get("_orf_group"), "prob_cds": a.get("prob_cds"), "prob_tis": a.get("prob_tis"),
                        "start_type": a.get("start_type"), "partial": g.partial,
                    })
            write_table(fh, rows, CSV_COLUMNS)
        if "proteins" in out or "genes" in out:
            prot, nuc = [], []
            for rec, genes in zip(res.records, res.genes):
                for g in genes:
                    t = g.transcripts[0]
                    desc = f"{rec.id}:{g.start}-{g.end}({g.strand}) partial={g.partial} start_type={g.attributes.get('start_type')}"
                    if "proteins" in out:
                        prot.append((g.id, protein_sequence(rec.seq, g, t, table), desc))
                    if "genes" in out:
                        nuc.append((g.id, cds_sequence(rec.seq, g, t), desc))
            if "proteins" in out:
                write_fasta(out["proteins"], prot)
            if "genes" in out:
                write_fasta(out["genes"], nuc)
        if "candidates" in out:
            def rows_iter():
                for rec, k in zip(res.records, res.calls):
                    if k is not None:
                        yield from _candidate_rows(rec.id, k)
            write_table(out["candidates"], rows_iter(), CANDIDATE_COLUMNS)


def run_prok(*, input, output="-", fmt="gff3", model=None, tis_model=None, translation_table="auto", closed=False,
             min_length=90, min_edge_length=60, ctg=False, no_gc_bins=False, proteins=None, genes_out=None,
             candidates=None,
             device="auto", batch_size="auto", seed=0, command_line=None, models=None) -> ProkResult:
    """The `genannot prok` command. `models` (already loaded ProkModels) skips loading; tests and benches
    pass it to reuse one load."""
    from genannot.io.atomic import check_writable
    from genannot.io.fasta import read_fasta
    from genannot.io.gff3 import provenance_lines

    if fmt not in ("gff3", "gtf", "csv"):
        raise InputError(f"unknown output format {fmt!r} (gff3, gtf or csv)")
    if min_length < 30 or min_edge_length < 30:
        raise InputError("minimum lengths must be at least 30 nt")
    if translation_table != "auto":
        codon_sets(translation_table, ctg)  # unknown table -> InputError
    for path, what in ((output, "output"), (proteins, "--proteins"), (genes_out, "--genes"), (candidates, "--candidates")):
        if path is not None:
            check_writable(path, what)
    if models is None:
        from genannot.prok.classifiers import load_prok_models

        models = load_prok_models(model, tis_model, device=device, batch_size=batch_size)
    opts = ProkOptions(table=11 if translation_table == "auto" else translation_table, closed=closed, min_length=min_length,
                       min_edge_length=min_edge_length, allow_ctg=ctg, seed=seed, models=models, gc_bins=not no_gc_bins)
    records = list(read_fasta(input, iupac=True))  # TAR, TRA... are certain stops (genannot.prok.orfs)
    table_note = str(opts.table)
    if translation_table == "auto":
        table, density = infer_table(records, opts)
        opts = replace(opts, table=table)
        table_note = (f"{table} (auto: coding density {density[11]:.3f} under code 11, {density[4]:.3f} under code 4)"
                      if not math.isnan(density[11]) else f"{table} (auto: under {MIN_TRAIN:,} nt, too short to tell)")
        log.info("translation table %s", table_note)
    res = annotate_full(records, opts)
    prov = provenance_lines(command_line, getattr(models, "provenance", []) if models is not None else [],
                            extra={"translation_table": table_note, **({"gc_bins": res.bins_note} if res.bins_note else {})})
    write_outputs(res, output=output, fmt=fmt, proteins=proteins, genes_out=genes_out, candidates=candidates,
                  provenance=prov, table=opts.table)
    return res
