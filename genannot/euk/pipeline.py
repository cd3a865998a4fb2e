"""`genannot euk`: whole-genome eukaryotic annotation.

Per record: the segmentation network scores overlapping windows on both strands (reverse-complement
averaging unless `no_rc`), and the structured decoder turns those per-base probabilities plus the
model directory's signal models (genemodel.npz, written by `genannot train euk`) into gene models,
written to GFF3 as each record finishes. No default model ships yet, so without `--model` the
registry's "no default euk-seg model" error is what the user sees.
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from genannot.io.atomic import atomic_outputs, check_writable
from genannot.io.bedgraph import BedGraphTracks, track_paths
from genannot.io.fasta import FastaRecord, read_fasta
from genannot.io.gff3 import Gff3Writer, provenance_lines
from genannot.io.seqout import protein_sequence, write_fasta

log = logging.getLogger(__name__)

WINDOW = 8192  # the longest window of the training curriculum
OVERLAP = 2048  # window edges discarded when stitching
TRANSLATION_TABLE = 1  # standard code for nuclear genes


def _masked_sequence(record: FastaRecord) -> str:
    """The record with its soft-masked runs lowercased again, as the network reads them."""
    if not record.soft_mask:
        return record.seq
    parts, pos = [], 0
    for s, e in record.soft_mask:
        parts += [record.seq[pos:s], record.seq[s:e].lower()]
        pos = e
    parts.append(record.seq[pos:])
    return "".join(parts)


def run_euk(
    *,
    input: str,
    output: str | None,
    model: str | None,
    no_rc: bool,
    no_splice_filter: bool,
    proteins: str | None,
    bedgraph: str | None,
    device: str,
    batch_size: int | str,
    seed: int,
    command_line: str,
) -> None:
    from genannot.euk.decode import decode_record
    from genannot.euk.genemodel import GeneModelParams
    from genannot.euk.model import EukSegModel
    from genannot.euk.windows import model_fn, predict_record
    from genannot.models.registry import resolve_model
    from genannot.runtime.device import select_device

    bedgraph_paths = track_paths(bedgraph) if bedgraph else {}
    for path in (output, proteins, *bedgraph_paths.values()):
        check_writable(path)
    resolved = resolve_model(model, "euk-seg")
    dev = select_device(device)
    params = GeneModelParams.load(resolved.path)
    net = EukSegModel.from_pretrained(resolved.path).to(dev).eval()
    predict = model_fn(net)
    log.info("model %s on %s", resolved.name, dev)

    paths = {"gff3": output, "proteins": proteins, **bedgraph_paths}
    with atomic_outputs(paths, {k: "wb" for k in bedgraph_paths}) as out:
        writer = Gff3Writer(out["gff3"], provenance_lines(command_line, [(resolved.name, resolved.sha256)]))
        bedgraph_tracks = BedGraphTracks(out) if bedgraph_paths else None
        reads_softmask = net.config.head.softmask
        net_prior = net.metadata.get("training", {}).get("class_prior")
        for record in read_fasta(input):
            seq = _masked_sequence(record) if reads_softmask else record.seq  # no per-base copy unless read

            def tracks(a: int, b: int, seq: str = seq) -> np.ndarray:
                return predict_record(predict, seq[a:b], WINDOW, OVERLAP, batch_size, rc=not no_rc,
                                      outputs=net.n_outputs, device=dev)

            sink = functools.partial(bedgraph_tracks.write, record.id) if bedgraph_tracks else None
            genes = decode_record(record.id, record.seq, params, tracks, softmask=record.mask_array(),
                                  splice_filter=not no_splice_filter, track_sink=sink, net_prior=net_prior)
            log.info("%s: %d genes", record.id, len(genes))
            writer.write_record(record.id, len(record), genes)
            if "proteins" in out:
                write_fasta(out["proteins"], (
                    (t.id, protein_sequence(record.seq, g, t, TRANSLATION_TABLE))
                    for g in genes for t in g.transcripts if t.is_coding
                ))
        if bedgraph_tracks:
            bedgraph_tracks.close()
