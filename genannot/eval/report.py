"""`genannot eval prok|euk`: read prediction and reference, score, write JSON or a table.

Called by cli.py with its parsed options; raises GenannotError subclasses, never exits.
"""

from __future__ import annotations

import json
import re
from typing import IO, Iterable

from genannot.errors import InputError
from genannot.eval.metrics import BIOTYPE_GROUPS, eval_euk, eval_prok, reconcile_seqids
from genannot.io.annotation import read_annotation
from genannot.io.atomic import atomic_output, check_writable

_REGION = re.compile(r"^(?P<seqid>\S+?):(?P<start>[\d,_]+)-(?P<end>[\d,_]+)$")


def parse_region(text: str) -> tuple[str, int, int]:
    """'SEQID:START-END' (1-based, closed; thousands separators allowed) -> (seqid, start, end)."""
    m = _REGION.match(text.strip())
    if not m:
        raise InputError(f"--region {text!r}: expected SEQID:START-END, e.g. chr9:1-1000000")
    start = int(re.sub(r"[,_]", "", m["start"]))
    end = int(re.sub(r"[,_]", "", m["end"]))
    if start < 1 or end < start:
        raise InputError(f"--region {text!r}: need 1 <= START <= END")
    return m["seqid"], start, end


def _one_stdin(**paths: str | None) -> None:
    """Refuse more than one input read from stdin ('-'): the first would take all of it."""
    names = [name for name, path in paths.items() if path == "-"]
    if len(names) > 1:
        raise InputError(f"{' and '.join(names)} are both '-': only one input can be read from stdin")


def _read(path: str, what: str):
    ann = read_annotation(path)
    if not any(ann.values()):
        raise InputError(f"{path}: the {what} annotation has no gene models")
    return ann


def _check_overlap(pred, ref, pred_path: str, ref_path: str) -> None:
    """Every figure would be 0 when no predicted sequence is in the reference (a wrong file, or other
    sequence IDs): an error, not a score. An empty prediction is still scored (a valid, bad one)."""
    have = [k for k, genes in pred.items() if genes]
    if have and not set(have) & set(reconcile_seqids(have, ref)):
        def some(ids) -> str:
            ids = sorted(ids)
            return ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        raise InputError(f"no sequence ID in common: {pred_path} has {some(have)}, "
                         f"{ref_path} has {some(k for k, genes in ref.items() if genes)}")


def run_eval_prok(pred: str, ref: str, verified: str | None = None, as_json: bool = False, output: str = "-",
                  **_ignored) -> dict:
    """Score predicted CDS against reference CDS (and verified starts); write the report."""
    check_writable(output)
    _one_stdin(PRED=pred, REF=ref, **{"--verified": verified})
    p = read_annotation(pred)  # an empty prediction is a valid (bad) one
    r = _read(ref, "reference")
    v = read_annotation(verified) if verified else None
    _check_overlap(p, r, pred, ref)
    result = eval_prok(p, r, v)
    with atomic_output(output) as fh:
        if as_json:
            json.dump(result, fh, indent=2)
            fh.write("\n")
        else:
            write_prok_table(result, fh, pred=pred, ref=ref, verified=verified)
    return result


def run_eval_euk(pred: str, ref: str, biotypes: Iterable[str] | None = None, region: str | None = None,
                 as_json: bool = False, output: str = "-", **_ignored) -> dict:
    """Score predicted gene models against reference ones; write the report."""
    check_writable(output)
    _one_stdin(PRED=pred, REF=ref)
    unknown = sorted(set(biotypes or ()) - set(BIOTYPE_GROUPS))
    if unknown:
        raise InputError(f"--biotype {unknown[0]!r}: expected {' or '.join(BIOTYPE_GROUPS)}")
    reg = parse_region(region) if region else None
    p = read_annotation(pred)
    r = _read(ref, "reference")
    if reg is not None and reg[0] not in r and reg[0] not in p:
        raise InputError(f"--region: sequence {reg[0]!r} is in neither annotation")
    _check_overlap(p, r, pred, ref)
    result = eval_euk(p, r, biotypes=list(biotypes) if biotypes else None, region=reg)
    with atomic_output(output) as fh:
        if as_json:
            json.dump(result, fh, indent=2)
            fh.write("\n")
        else:
            write_euk_table(result, fh, pred=pred, ref=ref)
    return result


# ----------------------------------------------------------------------------- tables


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def write_prok_table(res: dict, fh: IO[str], *, pred: str = "", ref: str = "", verified: str | None = None) -> None:
    fh.write(f"# prediction: {pred}\n# reference:  {ref}\n")
    if verified:
        fh.write(f"# verified:   {verified}\n")
    head = ["seqid", "n_pred", "n_ref", "matched_3", "sens_3%", "spec_3%", "matched_5_3", "start_acc%"]
    if "verified" in res:
        head += ["verified_n", "verified_3", "verified_5_3"]
    rows = [head]

    def row(name: str, d: dict) -> list[str]:
        r = [name, str(d["n_pred"]), str(d["n_ref"]), str(d["matched_3"]), _pct(d["sens_3"]), _pct(d["spec_3"]),
             str(d["matched_5_3"]), _pct(d["start_accuracy"])]
        if "verified" in d:
            v = d["verified"]
            r += [str(v["n"]), str(v["matched_3"]), str(v["matched_5_3"])]
        return r

    per = res.get("per_seqid", {})
    if len(per) > 1:
        rows += [row(s, d) for s, d in per.items()]
    rows.append(row("total", res))
    _write_rows(rows, fh)
    if res.get("n_ref_pseudo"):
        fh.write(f"# {res['n_ref_pseudo']} reference 3' ends belong to pseudo CDS only (kept in n_ref)\n")


def write_euk_table(res: dict, fh: IO[str], *, pred: str = "", ref: str = "") -> None:
    fh.write(f"# prediction: {pred}\n# reference:  {ref}\n")
    blocks = [("all", res)] + [(b, d) for b, d in res.get("by_biotype", {}).items()]
    rows = [["biotype", "level", "n_pred", "n_ref", "matched", "precision%", "recall%", "f1%"]]
    for name, d in blocks:
        for level in ("exon", "cds", "intron", "transcript", "base_exon", "base_cds"):
            x = d[level]
            rows.append([name, level, str(x["n_pred"]), str(x["n_ref"]), str(x["matched"]),
                         _pct(x["precision"]), _pct(x["recall"]), _pct(x["f1"])])
        for level in ("gene", "gene_cds"):
            x = d[level]
            rows.append([name, level, "", str(x["n_ref_genes"]), str(x["found"]), "", _pct(x["recall"]), ""])
    _write_rows(rows, fh)


def _write_rows(rows: list[list[str]], fh: IO[str]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        fh.write("  ".join(c.ljust(w) if i == 0 or (i == 1 and not c[:1].isdigit()) else c.rjust(w)
                           for i, (c, w) in enumerate(zip(r, widths))).rstrip() + "\n")
