"""`genannot prok`: FASTA -> stop groups -> self-trained statistics + learned priors -> gene set -> outputs.

`annotate(records, options)` is the library entry point (plain data in, `Gene` lists out); `run_prok` is what
the CLI calls: preflight (outputs writable, translation table known, models resolved and loaded) before any
compute, then annotation streamed into the outputs record by record (`annotate_stream`), every requested output
committed together at the end (nothing written on error).

Statistics are learned from all records of the input together (Prodigal does the same), so a draft assembly
of many contigs is annotated with one genome-wide model; a mixed-species input is split into GC bins first
(prok/composition.py), and a bin larger than SAMPLE_BP (a metagenome assembly) learns on a sample of its
records, so that memory stays flat in the input's size (bench/prok_scale.py). Inputs shorter than `MIN_TRAIN` nt
in total (assembly gaps, the runs of N that hold no ORF, not counted) are too small to learn from: they are
annotated in anonymous mode, with the packaged preset statistics of whole genomes near the input's GC
(prok/presets.py; Prodigal's metagenomic mode) plus the learned classifiers, or with the classifiers alone where
no preset fits (without classifiers, a development path, they are self-trained).
MIN_TRAIN was set where presets and self-training tie on slices of B. subtilis and C. crescentus scored with the
fold-B classifiers and presets built without them (bench/prok_short.py, 10 slices each): summed 3' sensitivity +
specificity, presets against self-training, 1.912 / 1.903 at 75 kb, 1.918 / 1.920 at 100 kb, 1.926 / 1.933 at
150 kb.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, replace
from typing import Iterable, Iterator, Sequence

import numpy as np

from genannot.errors import InputError
from genannot.features import Gene, Transcript
from genannot.io.fasta import FastaRecord
from genannot.prok.genes import (
    PACK_SPACER,
    Candidates,
    FinderOptions,
    RecordCalls,
    RecordSeq,
    find_genes,
    pack_records,
    record_groups,
    self_train,
    split_calls,
    with_stats,
)
from genannot.prok.orfs import codon_sets, n_runs, orf_sequence
from genannot.prok.presets import GenomeStats
from genannot.prok.signals import START_TYPES

log = logging.getLogger(__name__)

CSV_COLUMNS = ["seq_id", "start", "end", "strand", "orf_group", "prob_cds", "prob_tis", "start_type", "partial"]
CANDIDATE_COLUMNS = [
    "seq_id", "orf_group", "strand", "start", "end", "start_type", "length", "prob_cds", "prob_tis",
    "coding_score", "start_score", "score", "prediction_max_likelihood", "predicted",
]
MIN_TRAIN = 100000  # nt: below this the genome's own statistics are not learned (anonymous mode, presets)
SAMPLE_BP = 16_000_000  # nt: a GC bin larger than this learns its statistics on a sample (annotate_stream)
CHUNK_BP = 4_000_000  # nt: ... and annotates its other records with them this many at a time
PACK_BP = 1_000_000  # nt: short records are packed into one of up to this many for gene finding (genes.pack_records)
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
    """`annotate_stream` collected: every record's genes and calls at once."""
    records = list(records)
    stream = annotate_stream(records, options)
    done = list(stream.annotated)
    return ProkResult(records=records, genes=[g for _, g, _ in done], calls=[k for _, _, k in done],
                      bins_note=stream.bins_note)


@dataclass
class ProkStream:
    """`annotate_stream`'s answer: how the records were split into GC bins (known before any gene is found, for the
    output header) and the annotated records in input order: (record, genes, calls; None for a record without
    ORFs), each found as late as it can be."""

    bins_note: str | None
    annotated: Iterator[tuple[object, list[Gene], RecordCalls | None]]


def annotate_stream(records: Sequence, options: ProkOptions | None = None) -> ProkStream:
    """Annotate records with memory bounded by SAMPLE_BP per GC bin, whatever the input's size.

    Each GC bin (composition.gc_bins) learns its statistics on its own. A bin of up to SAMPLE_BP nt is self-trained
    on all its records, and their calls are kept (a few bytes per base) until written. A larger bin (a metagenome
    assembly) self-trains on a seeded random sample of its records of about SAMPLE_BP nt, and the rest of its
    records are annotated with the statistics learned (`genes.with_stats`), CHUNK_BP nt at a time as their turn to
    be written comes."""
    opts = options or ProkOptions()
    codon_sets(opts.table, opts.allow_ctg)  # unknown table -> InputError before any work
    priors = ModelPriors(opts.models, opts.tis_top) if opts.models is not None else None
    bases = sum(sequence_bases(r.seq) for r in records)
    if bases < MIN_TRAIN:
        from genannot.prok.presets import load_presets

        opts = replace(opts, anonymous=True, presets=load_presets() if opts.presets is None else opts.presets)
    bins, note = _gc_bins(records, opts)
    held: dict[int, RecordCalls | None] = {}
    bin_of: dict[int, int] = {}  # records left to annotate with their bin's statistics
    stats: list[GenomeStats | None] = []
    for b, members in enumerate(bins):
        sample = _sample(records, members, opts.seed)
        packs = _prepared(records, sample, opts, held)
        recs = [pk.rec for pk in packs]
        if len(sample) == len(members):
            held.update(_by_record(packs, find_genes(recs, opts, priors=priors) if recs else []))
            stats.append(None)
            continue
        log.info("GC bin of %d records (%d nt): statistics learned on %d of them (%d nt)", len(members),
                 sum(len(records[i].seq) for i in members), len(sample), sum(len(records[i].seq) for i in sample))
        calls, learned = self_train(recs, opts, priors)
        held.update(_by_record(packs, calls))
        stats.append(learned)
        bin_of.update((i, b) for i in members if i not in held)
    return ProkStream(note, _in_order(records, held, bin_of, stats, opts, priors, bases))


def _gc_bins(records: Sequence, opts: ProkOptions) -> tuple[list[list[int]], str | None]:
    """Record indices per GC bin (composition.gc_bins) and a note on the bins; one bin unless the input holds
    clusters of distinct GC (mixed species) large enough to self-train."""
    from genannot.prok.composition import gc_bins
    from genannot.prok.signals import encode

    everything = [list(range(len(records)))]
    if not opts.gc_bins or opts.anonymous:
        return everything, None
    groups, cuts = gc_bins(encode(r.seq) for r in records)
    if len(groups) < 2:
        return everything, None
    sizes = " / ".join(str(sum(len(records[i].seq) for i in g)) for g in groups)
    note = (f"{len(groups)} (GC cut at {', '.join(f'{100 * c:.1f}%' for c in cuts)}; records "
            f"{' / '.join(str(len(g)) for g in groups)}; nt {sizes})")
    log.info("GC bins, each self-trained on its own: %s", note)
    return groups, note


def _sample(records: Sequence, members: list[int], seed: int) -> list[int]:
    """The records of a GC bin its statistics are learned on: all of them up to SAMPLE_BP nt, else a seeded random
    choice of whole records adding up to SAMPLE_BP nt (the last one whatever its size), in input order."""
    if sum(len(records[i].seq) for i in members) <= SAMPLE_BP:
        return members
    order = list(members)
    random.Random(seed).shuffle(order)
    chosen, bp = [], 0
    for i in order:
        if bp >= SAMPLE_BP:
            break
        chosen.append(i)
        bp += len(records[i].seq)
    return sorted(chosen)


@dataclass
class _Pack:
    """Records packed into one for gene finding (genes.pack_records), and their indices in the input."""

    rec: RecordSeq
    members: list[int]


def _prepared(records: Sequence, which: list[int], opts: ProkOptions,
              held: dict[int, RecordCalls | None]) -> list[_Pack]:
    """The records `which` prepared for gene finding, packed in input order up to PACK_BP nt a pack (in anonymous
    mode each on its own: its choices count the input's nt); those without ORFs go to `held` as None."""
    packs: list[_Pack] = []
    batch: list[tuple[int, str, list]] = []  # (index, uppercase sequence, stop groups) of the pack being filled
    bp = 0
    for i in which:
        seq = records[i].seq.upper()
        groups = record_groups(seq, opts)
        if not groups:
            held[i] = None
            continue
        if batch and (opts.anonymous or bp + len(seq) > PACK_BP):
            packs.append(_pack(records, batch))
            batch, bp = [], 0
        batch.append((i, seq, groups))
        bp += len(seq) + PACK_SPACER
    if batch:
        packs.append(_pack(records, batch))
    return packs


def _pack(records: Sequence, batch: list[tuple[int, str, list]]) -> _Pack:
    return _Pack(pack_records([(records[i].id, seq, groups) for i, seq, groups in batch]), [i for i, _, _ in batch])


def _by_record(packs: list[_Pack], calls: list[RecordCalls]) -> Iterator[tuple[int, RecordCalls | None]]:
    """(record index, its calls) from each pack's calls."""
    for pk, k in zip(packs, calls):
        if len(pk.members) == 1:
            yield pk.members[0], k
        else:
            yield from zip(pk.members, split_calls(k, pk.rec))


def _in_order(records: Sequence, held: dict[int, RecordCalls | None], bin_of: dict[int, int],
              stats: list[GenomeStats | None], opts: ProkOptions, priors, bases: int):
    """(record, genes, calls) in input order: calls from `held`, or found with the record's bin's statistics, the
    records up to CHUNK_BP nt at a time. `bases`: the input's, outside assembly gaps (for the log)."""
    n_genes, i = 0, 0
    while i < len(records):
        j, bp = i, 0
        while j < len(records) and bp < CHUNK_BP:
            bp += len(records[j].seq) if j in bin_of else 0
            j += 1
        todo: dict[int, list[int]] = {}
        for k in range(i, j):
            if k in bin_of:
                todo.setdefault(bin_of.pop(k), []).append(k)
        p = opts.params
        for b, which in todo.items():
            packs = _prepared(records, which, opts, held)
            if packs:
                found = with_stats([pk.rec for pk in packs], opts, priors, [stats[b]], p.cds_weight, p.plausible_min)[1]
                held.update(_by_record(packs, found))
        for k in range(i, j):
            calls = held.pop(k)
            genes = to_genes(records[k].id, calls, opts.table) if calls is not None else []
            n_genes += len(genes)
            yield records[k], genes, calls
        i = j
    log.info("%d genes on %d records (%d nt)", n_genes, len(records), bases)


def orf_group_id(seqid: str, strand: int, stop: int) -> str:
    """Stable name of a stop group: seqid, strand and the 1-based coordinate of the stop's outermost base."""
    return f"{seqid}:{'+' if strand == 1 else '-'}{stop + 1}"


def _stop(c: Candidates, i: int) -> int:
    """The stop group's `stop` (orfs.StopGroup): the outermost base of the candidate's 3' end."""
    return int(c.right[i] if c.strand[i] == 1 else c.left[i])


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
        attrs["_orf_group"] = orf_group_id(seqid, int(c.strand[i]), _stop(c, i))
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
        yield {
            "seq_id": seqid,
            "orf_group": orf_group_id(seqid, int(c.strand[i]), _stop(c, i)),
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


def write_outputs(annotated: Iterable[tuple[object, list[Gene], RecordCalls | None]], *, output: str | None, fmt: str,
                  proteins: str | None, genes_out: str | None, candidates: str | None, provenance: list[str],
                  table: int) -> None:
    """Every requested output, written record by record as `annotated` (record, genes, calls) yields them, and
    committed together at the end (nothing written on error)."""
    from genannot.io.atomic import atomic_outputs
    from genannot.io.gff3 import Gff3Writer
    from genannot.io.gtf import GtfWriter
    from genannot.io.seqout import cds_sequence, protein_sequence, write_fasta
    from genannot.io.tables import TableWriter

    paths = {"main": output or "-", "proteins": proteins, "genes": genes_out, "candidates": candidates}
    with atomic_outputs(paths) as out:
        if fmt in ("gff3", "gtf"):
            main = (Gff3Writer if fmt == "gff3" else GtfWriter)(out["main"], provenance)
        else:
            main = TableWriter(out["main"], CSV_COLUMNS)
        cand = TableWriter(out["candidates"], CANDIDATE_COLUMNS) if "candidates" in out else None
        for rec, genes, calls in annotated:
            if fmt in ("gff3", "gtf"):
                main.write_record(rec.id, len(rec.seq), genes)
            else:
                main.write_rows({
                    "seq_id": rec.id, "start": g.start, "end": g.end, "strand": g.strand,
                    "orf_group": g.attributes.get("_orf_group"), "prob_cds": g.attributes.get("prob_cds"),
                    "prob_tis": g.attributes.get("prob_tis"), "start_type": g.attributes.get("start_type"),
                    "partial": g.partial,
                } for g in genes)
            desc = {g.id: f"{rec.id}:{g.start}-{g.end}({g.strand}) partial={g.partial} "
                          f"start_type={g.attributes.get('start_type')}" for g in genes}
            if "proteins" in out:
                write_fasta(out["proteins"], [(g.id, protein_sequence(rec.seq, g, g.transcripts[0], table), desc[g.id])
                                              for g in genes])
            if "genes" in out:
                write_fasta(out["genes"], [(g.id, cds_sequence(rec.seq, g, g.transcripts[0]), desc[g.id]) for g in genes])
            if cand is not None and calls is not None:
                cand.write_rows(_candidate_rows(rec.id, calls))


def run_prok(*, input, output="-", fmt="gff3", model=None, tis_model=None, translation_table="auto", closed=False,
             min_length=90, min_edge_length=60, ctg=False, no_gc_bins=False, proteins=None, genes_out=None,
             candidates=None,
             device="auto", batch_size="auto", seed=0, command_line=None, models=None) -> None:
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
    stream = annotate_stream(records, opts)
    prov = provenance_lines(command_line, getattr(models, "provenance", []) if models is not None else [],
                            extra={"translation_table": table_note,
                                   **({"gc_bins": stream.bins_note} if stream.bins_note else {})})
    write_outputs(stream.annotated, output=output, fmt=fmt, proteins=proteins, genes_out=genes_out,
                  candidates=candidates, provenance=prov, table=opts.table)
