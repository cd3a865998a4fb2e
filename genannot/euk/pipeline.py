"""`genannot euk`: whole-genome eukaryotic annotation.

Per record: the segmentation network scores overlapping windows on both strands (reverse-complement
averaging unless `no_rc`), and the structured decoder turns those per-base probabilities plus the
model directory's signal models (genemodel.npz, written by `genannot train euk`) into gene models,
written to GFF3 as each record finishes. How much the decoder trusts the network (`net_weight`) is a
property of the model (config.json metadata "decoder"), overridable with --net-weight; at 0 the
gene models come from the signal models alone and the network is not run unless --bedgraph asks
for its tracks. `fmt` picks the writer: GFF3, GTF (genannot.io.gtf) or a table of transcripts
(genannot.io.tables.TranscriptTable); all three take the records as they finish.

Unless `no_self_train`, the signal models are first re-fitted on the input's first records
(genannot.euk.selftrain: long ORFs, then rounds of decoding and re-fitting), where those hold enough
long ORFs to support it; the GFF3 header says whether they were. Then, unless the input carries a soft-mask
of its own (or `mask_repeats` says otherwise), what recurs in it is soft-masked before decoding
(genannot.euk.repeats: exons pay `softmask_penalty` per masked base). Self-training sees the input as
it is: masked there too, the C. elegans slice with signal models fitted without it was refused (a round
found 56 complete genes; CDS-exon F1 0.206 against 0.605), and yeast's first four chromosomes lost
(0.859, masking 5-copy k-mers, against 0.884 with the mask in the final decoding alone).

Without network tracks, consecutive records adding up to at most `GROUP_BP` / workers are decoded
together (genannot.euk.decode.decode_records: the genes each gives alone, in one pass of the Viterbi
loop instead of one per record: a draft assembly's thousands of contigs, a yeast's chromosomes), and
the groups, like self-training's sample, are spread over `--threads` worker processes
(genannot.runtime.workers; fewer where memory is short), written in input order: the output does not
depend on the number of threads. A record longer than a group reaches its worker as a file.

Memory does not grow with chromosome length: each record is spooled to a temporary file as it is
read (genannot.io.fasta.SpooledSequence: disk, one byte per base of the longest record) and the
decoder, the network and the protein output read slices of it.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import tempfile
from typing import Iterable, Iterator, Sequence

import numpy as np

from genannot.euk.genemodel import GC_WINDOW
from genannot.io.atomic import atomic_outputs, check_writable
from genannot.io.bedgraph import BedGraphTracks, track_paths
from genannot.io.fasta import FastaChunk, FileSequence, SpooledSequence, stream_fasta
from genannot.io.gff3 import Gff3Writer, provenance_lines
from genannot.io.gtf import GtfWriter
from genannot.io.seqout import cds_sequence, protein_sequence, write_fasta
from genannot.io.tables import TranscriptTable
from genannot.runtime.workers import OrderedPool, worker_count

log = logging.getLogger(__name__)

WINDOW = 8192  # the longest window of the training curriculum
OVERLAP = 2048  # window edges discarded when stitching
TRANSLATION_TABLE = 1  # standard code for nuclear genes
CPU_WINDOWS = 8  # 'auto' batch on CPU: throughput is flat beyond a few windows, memory is not (U-Net activations)
SIGNAL_ONLY = {"utr": False, "lnc": False, "joint_strands": True}  # decoding without network tracks
# self-training's decoding on top of that: a gene cut by a contig edge is coding sequence to learn from, however
# little of it the contig holds (the partial-gene floor is for the genes reported)
SELF_TRAINING = {"min_partial_cds": 0}
GROUP_BP = 2_000_000  # without network tracks, consecutive records up to this many bases (/ workers) are decoded together
GROUP_SPACER = GC_WINDOW // 2  # ... each counted this much longer (decode_records' longest N spacer)
OWN_SOFTMASK = 0.005  # an input with this share of lowercase bases (and not all of them) is soft-masked already


def decoder_net_weight(metadata: dict) -> float:
    """The network's weight in the decoder that the model was shipped with (chosen on training sequence by
    bench/euk_register.py); 1 for a model without one."""
    return float(metadata.get("decoder", {}).get("net_weight", 1.0))


def _groups(records: Iterable[tuple[str, SpooledSequence]], limit: int, spacer: int = 0) -> Iterator[list[tuple[str, SpooledSequence]]]:
    """Consecutive records in groups of at most `limit` bases, each record counted `spacer` bases longer
    (a longer record on its own)."""
    group: list[tuple[str, SpooledSequence]] = []
    bp = 0
    for rec in records:
        if group and bp + len(rec[1]) + spacer > limit:
            yield group
            group, bp = [], 0
        group.append(rec)
        bp += len(rec[1]) + spacer
    if group:
        yield group


def _spooled(input: str) -> Iterator[tuple[str, SpooledSequence]]:
    for record in stream_fasta(input):
        yield record.id, SpooledSequence(record.chunks())


def _shares(records: Sequence[tuple[str, str]], k: int) -> list[list[tuple[str, str]]]:
    """`records` in at most `k` shares of similar total length (longest first, into the lightest share),
    each share in input order."""
    n = max(1, min(k, len(records)))
    shares: list[list[int]] = [[] for _ in range(n)]
    load = [0] * n
    for i in sorted(range(len(records)), key=lambda i: -len(records[i][1])):
        j = load.index(min(load))
        shares[j].append(i)
        load[j] += len(records[i][1])
    return [[records[i] for i in sorted(share)] for share in shares if share]


def _decode_signal_only(task: tuple) -> dict[str, list]:
    """Runs in a worker process (or inline): ('records', [(seqid, text), ...], params, options) decoded
    together, or ('file', (seqid, path or spooled sequence), params, options) streamed from disk;
    {seqid: genes}."""
    from genannot.euk.decode import decode_record, decode_records

    kind, payload, params, opts = task
    if kind == "records":
        return decode_records(payload, params, **opts)
    seqid, source = payload
    if isinstance(source, str):  # a file the parent wrote for this worker
        with FileSequence(source) as seq:
            return {seqid: decode_record(seqid, seq, params, None, **opts)}
    return {seqid: decode_record(seqid, source, params, None, **opts)}


def decode_in_shares(pool: OrderedPool, params, sample: Sequence[tuple[str, str]], opts: dict) -> dict[str, list]:
    """{seqid: genes} of `sample` ((seqid, text) pairs) decoded with the signal models alone, in shares of similar
    length across the pool's workers (each record's genes are what it gives alone); `opts`: DecodeOptions fields."""
    found: dict[str, list] = {}
    tasks = ((("records", share, params, opts), None) for share in _shares(sample, pool.workers))
    for _, part in pool.imap(_decode_signal_only, tasks):
        found.update(part)
    return found


def _signal_only_tasks(records: Iterable[tuple[str, SpooledSequence]], params, opts: dict, workers: int, tmp: str):
    """(task, (records to write, file to remove)) per group of consecutive records: groups of at most
    GROUP_BP / workers bases go as text; a longer record goes as a file the worker streams from (as text
    nowhere, so memory stays flat in its length), or, with one worker, as the spooled record itself."""
    limit = GROUP_BP // workers
    for i, group in enumerate(_groups(records, limit, GROUP_SPACER)):
        if len(group) > 1 or len(group[0][1]) <= limit:
            texts = []
            for rec_id, spooled in group:
                with spooled as seq:
                    texts.append((rec_id, seq[0 : len(seq)]))
            yield ("records", texts, params, opts), (texts, None)
            continue
        rec_id, spooled = group[0]
        path = None
        if workers > 1:
            path = os.path.join(tmp, f"{i}.seq")
            spooled.write_to(path)
        yield ("file", (rec_id, path or spooled), params, opts), (group, path)


def _first(records: Iterator[tuple[str, SpooledSequence]], bp: int) -> list[tuple[str, SpooledSequence]]:
    """The first records of `records` up to `bp` bases (the last one whole), read off the iterator."""
    held, total = [], 0
    for rec in records:
        held.append(rec)
        total += len(rec[1])
        if total >= bp:
            break
    return held


def _repeat_masked(records: Iterator[tuple[str, SpooledSequence]], mode: str) -> tuple[Iterator[tuple[str, SpooledSequence]], str, bool]:
    """(`records`, each soft-masked where repeated k-mers cover it, a header note, whether they were) where
    `mode` ('auto', 'always', 'never') asks for it; 'auto' keeps an input's own soft-mask (genannot.euk.repeats)."""
    from genannot.euk.decode import MOSTLY_LOWERCASE
    from genannot.euk.repeats import K, MIN_COPIES, SAMPLE_BP, repeated_kmers

    held = _first(records, SAMPLE_BP)
    sample = [seq[0 : min(len(seq), SAMPLE_BP)] for _, seq in held]
    bp = sum(map(len, sample))
    lower = _soft_masked_share(sample, bp)
    if mode == "never" or (mode == "auto" and OWN_SOFTMASK <= lower < MOSTLY_LOWERCASE):
        why = "--mask-repeats never" if mode == "never" else f"the input's own soft-mask: {lower:.1%} of its first {bp:,} bp"
        return itertools.chain(held, records), f"not used ({why})", False
    repeats = repeated_kmers(sample)
    held = [(rec_id, _masked_record(seq, repeats)) for rec_id, seq in held]
    share = _soft_masked_share([seq[0 : min(len(seq), SAMPLE_BP)] for _, seq in held], bp)
    note = f"used ({len(repeats):,} {K}-mers seen >= {MIN_COPIES} times in the first {bp:,} bp; {share:.1%} of them masked)"
    return itertools.chain(held, ((rec_id, _masked_record(seq, repeats)) for rec_id, seq in records)), note, True


def _soft_masked_share(texts: list[str], bp: int) -> float:
    """Share of soft-masked (lowercase a c g t n) bases in `texts`, which hold `bp` bases."""
    return sum(sum(map(text.count, "acgtn")) for text in texts) / max(1, bp)


def _masked_record(seq: SpooledSequence, repeats: np.ndarray) -> SpooledSequence:
    """`seq` soft-masked by `repeats` (genannot.euk.repeats.masked_blocks), spooled anew; `seq` is closed."""
    from genannot.euk.repeats import masked_blocks

    with seq:
        return SpooledSequence(FastaChunk(0, text) for text in masked_blocks(seq, repeats))


def _self_trained(params, records: Iterator[tuple[str, SpooledSequence]], splice_filter: bool, softmask_penalty: float,
                  pool: OrderedPool):
    """(signal models for the input, a header note, the records read for the sample): the sample is
    the first records up to genannot.euk.selftrain.MAX_BP, decoded with the signal models alone, its
    records in shares across the pool's workers (each record's genes are what it gives alone)."""
    from genannot.euk.selftrain import MAX_BP, self_train

    held = _first(records, MAX_BP)
    sample = [(rec_id, seq[0 : min(len(seq), MAX_BP)]) for rec_id, seq in held]

    opts = {"splice_filter": splice_filter, "softmask_penalty": softmask_penalty, **SIGNAL_ONLY, **SELF_TRAINING}
    trained, report = self_train(params, sample, functools.partial(decode_in_shares, pool, opts=opts))
    log.info("self-training: %s", report.reason)
    note = f"{'used' if trained else 'not used'} ({report.reason})"
    return trained or params, note, held


def _cds_upper(seq: str | SpooledSequence, gene, transcript) -> str:
    """--genes: the spliced CDS in capitals (the record may carry genannot's own repeat mask in lowercase)."""
    return cds_sequence(seq, gene, transcript).upper()


def run_euk(
    *,
    input: str,
    output: str | None,
    fmt: str,
    model: str | None,
    no_rc: bool,
    no_splice_filter: bool,
    proteins: str | None,
    genes_out: str | None,
    bedgraph: str | None,
    net_weight: float | None,
    device: str,
    batch_size: int | str,
    seed: int,
    no_self_train: bool,
    softmask_penalty: float,
    mask_repeats: str,
    command_line: str,
) -> None:
    from genannot.euk.decode import decode_record
    from genannot.euk.genemodel import GeneModelParams
    from genannot.euk.model import EukSegModel
    from genannot.euk.windows import model_fn, predict_record
    from genannot.models.registry import resolve_model
    from genannot.runtime.device import cpu_threads, select_device

    bedgraph_paths = track_paths(bedgraph) if bedgraph else {}
    for path in (output, proteins, genes_out, *bedgraph_paths.values()):
        check_writable(path)
    resolved = resolve_model(model, "euk-seg")
    dev = select_device(device)
    params = GeneModelParams.load(resolved.path)
    net = EukSegModel.from_pretrained(resolved.path).to(dev).eval()
    predict = model_fn(net)
    if batch_size == "auto" and dev.type == "cpu":
        batch_size = CPU_WINDOWS
    weight = decoder_net_weight(net.metadata) if net_weight is None else net_weight
    # weight 0: the gene models come from the signal models alone, and the network runs only for --bedgraph
    decoder = {"net_weight": weight, "net_prior": net.metadata.get("training", {}).get("class_prior"),
               "softmask_penalty": softmask_penalty}
    if weight == 0:
        decoder.update(SIGNAL_ONLY)
    log.info("model %s on %s; network weight in the decoder %g", resolved.name, dev, weight)

    paths = {"output": output, "proteins": proteins, "genes": genes_out, **bedgraph_paths}
    workers = worker_count(cpu_threads())
    with atomic_outputs(paths, {k: "wb" for k in bedgraph_paths}) as out, OrderedPool(workers) as pool, \
            tempfile.TemporaryDirectory(prefix="genannot-euk-") as tmp:
        records = _spooled(input)
        extra = {}
        if not no_self_train:
            params, extra["self-trained-signal-models"], held = _self_trained(params, records, not no_splice_filter, softmask_penalty, pool)
            records = itertools.chain(held, records)
        if softmask_penalty:
            # a record that is all repeat (a satellite contig) comes out lowercase throughout: still a mask
            records, extra["repeat-mask"], decoder["own_mask"] = _repeat_masked(records, mask_repeats)
        provenance = provenance_lines(command_line, [(resolved.name, resolved.sha256)], extra)
        writer = (TranscriptTable(out["output"]) if fmt == "csv" else
                  (GtfWriter if fmt == "gtf" else Gff3Writer)(out["output"], provenance))
        bedgraph_tracks = BedGraphTracks(out) if bedgraph_paths else None
        reads_softmask = net.config.head.softmask
        signal_only = not (weight or bedgraph_tracks)

        def write(rec_id: str, seq: str | SpooledSequence, genes: list) -> None:
            log.info("%s: %d genes", rec_id, len(genes))
            writer.write_record(rec_id, len(seq), genes)
            for key, sequence in (("proteins", functools.partial(protein_sequence, table=TRANSLATION_TABLE)),
                                  ("genes", _cds_upper)):
                if key in out:
                    write_fasta(out[key], ((t.id, sequence(seq, g, t)) for g in genes for t in g.transcripts if t.is_coding))

        if signal_only:  # the decoder alone: groups of records across the pool's workers, written in input order
            opts = {"splice_filter": not no_splice_filter, **decoder}
            tasks = _signal_only_tasks(records, params, opts, pool.workers, tmp)
            for (group, path), found in pool.imap(_decode_signal_only, tasks):
                for rec_id, seq in group:
                    write(rec_id, seq, found[rec_id])
                    if not isinstance(seq, str):
                        seq.close()
                if path:
                    os.unlink(path)
        else:  # the network in this process, one record at a time
            for rec_id, spooled in records:
                with spooled as seq:  # the chromosome on disk, read a window group at a time

                    def tracks(a: int, b: int, seq: SpooledSequence = seq) -> np.ndarray:
                        text = seq[a:b]  # soft-masked bases lowercase
                        return predict_record(predict, text if reads_softmask else text.upper(), WINDOW, OVERLAP,
                                              batch_size, rc=not no_rc, outputs=net.n_outputs, device=dev)

                    sink = functools.partial(bedgraph_tracks.write, rec_id) if bedgraph_tracks else None
                    write(rec_id, seq, decode_record(rec_id, seq, params, tracks, splice_filter=not no_splice_filter,
                                                     track_sink=sink, **decoder))
        if bedgraph_tracks:
            bedgraph_tracks.close()
