"""Accuracy of predicted gene models against a reference: prokaryotic CDS/start and eukaryotic
interval, chain and nucleotide metrics. Pure functions over ``{seqid: [Gene]}``; no I/O.

Prokaryotic (`eval_prok`), the GeneLM/StartLink/Prodigal-paper convention:
- every transcript with CDS is one CDS; its ends are the outermost ends of its pieces (a
  multi-part CDS counts once), its 3' end is the stop (CDS end on +, start on -);
- a 3' match = same seqid, strand and stop coordinate; a 5'+3' match = both ends equal;
- ``n_ref`` and ``n_pred`` count unique 3' ends (seqid, strand, stop);
- pseudo CDS (RefSeq ``pseudo=true``, GenBank ``/pseudo``) **stay in the reference** by default:
  that reproduces the published Prodigal 2.6.3 figures on E. coli RefSeq (3' sens/spec
  0.959/0.956; leaving the 17 pseudo 3' ends out gives 0.961/0.954). ``drop_pseudo=True`` leaves
  them out; ``n_ref_pseudo`` always says how many reference 3' ends are pseudo-only;
- ``sens_3 = matched_3 / n_ref``, ``spec_3 = matched_3 / n_pred``,
  ``start_accuracy = matched_5_3 / matched_3``;
- ``verified`` (genes with experimentally verified starts): ``n``, ``matched_3``, ``matched_5_3``.
- Seqids that differ only by a version suffix (``NC_000913`` vs ``NC_000913.3``) are matched up
  when that is unambiguous (the StartLink verified GFFs are unversioned).

Eukaryotic (`eval_euk`), the GENATATOR-table convention:
- exon / cds / intron: unique intervals (seqid, strand, start, end), a match needs both ends equal;
  precision, recall, F1 with n_pred, n_ref, matched. Transcripts without exon lines use their CDS;
- transcript: a match is an identical intron chain (multi-exon) or an identical single exon;
- gene: a reference gene is found when any of its transcripts matches a predicted transcript
  (``gene``: intron chain / single exon as above; ``gene_cds``: identical CDS chain, both ends
  of every CDS piece, over coding genes) -> found, n_ref_genes, recall;
- base_exon / base_cds: nucleotide level, strand-aware (seqid, strand, position) by default;
- by_biotype: everything above for mRNA and lnc_RNA separately (both prediction and reference
  restricted to the biotype);
- ``biotypes`` restricts both sides before scoring; ``region=(seqid, start, end)`` keeps
  transcripts overlapping the region and clips the nucleotide counts to it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from typing import Iterable, Iterator

from genannot.features import Gene, Interval, Transcript

Annotation = dict[str, list[Gene]]
Key3 = tuple[str, str, int]
Key53 = tuple[str, str, int, int]


# ----------------------------------------------------------------------------- shared helpers


def _ratio(a: int, b: int) -> float:
    return round(a / b, 6) if b else 0.0


def _f1(p: float, r: float) -> float:
    return round(2 * p * r / (p + r), 6) if p + r else 0.0


def _prf(n_pred: int, n_ref: int, matched: int) -> dict:
    p, r = _ratio(matched, n_pred), _ratio(matched, n_ref)
    return {"n_pred": n_pred, "n_ref": n_ref, "matched": matched, "precision": p, "recall": r, "f1": _f1(p, r)}


def _strip_version(seqid: str) -> str:
    return re.sub(r"\.\d+$", "", seqid)


def reconcile_seqids(target: Iterable[str], ann: Annotation) -> Annotation:
    """Rename seqids of `ann` that are absent from `target` but equal to exactly one target seqid
    once a trailing version (``.3``) is dropped on both sides."""
    target = set(target)
    by_base: dict[str, list[str]] = defaultdict(list)
    for t in target:
        by_base[_strip_version(t)].append(t)
    out: Annotation = {}
    for seqid, genes in ann.items():
        new = seqid
        if seqid not in target:
            cands = by_base.get(_strip_version(seqid), [])
            if len(cands) == 1:
                new = cands[0]
        if new != seqid:
            genes = [replace(g, seqid=new) for g in genes]
        out.setdefault(new, []).extend(genes)
    return out


# ----------------------------------------------------------------------------- prokaryotic


def cds_ends(gene: Gene, tx: Transcript) -> tuple[int, int]:
    """(5' end, 3' end) of a CDS: start-codon first base and stop-codon last base, outermost ends
    of all pieces; origin-spanning CDS (pieces (1, a) and (b, L)) use a and b."""
    pieces = sorted(tx.cds)
    if gene.attributes.get("origin_spanning") == "true" and len(pieces) > 1:
        low_end = pieces[0][1]
        high_start = pieces[-1][0]
        return (high_start, low_end) if gene.strand == "+" else (low_end, high_start)
    lo, hi = pieces[0][0], max(e for _, e in pieces)
    return (lo, hi) if gene.strand == "+" else (hi, lo)


def prok_cds(ann: Annotation, *, drop_pseudo: bool = False) -> tuple[dict[Key3, set[int]], int]:
    """Map (seqid, strand, stop) -> set of start coordinates, and the number of 3' ends that only
    pseudo CDS have (left out of the map when `drop_pseudo`)."""
    out: dict[Key3, set[int]] = defaultdict(set)
    pseudo: dict[Key3, set[int]] = defaultdict(set)
    for seqid, genes in ann.items():
        for g in genes:
            for t in g.transcripts:
                if not t.cds:
                    continue
                five, three = cds_ends(g, t)
                key = (seqid, g.strand, three)
                (pseudo if g.pseudo else out)[key].add(five)
    n_pseudo = len(pseudo.keys() - out.keys())
    if not drop_pseudo:
        for k, starts in pseudo.items():
            out[k] |= starts
    return dict(out), n_pseudo


def _prok_counts(pred: dict[Key3, set[int]], ref: dict[Key3, set[int]]) -> tuple[int, int]:
    m3 = m53 = 0
    for k, starts in ref.items():
        p = pred.get(k)
        if p is not None:
            m3 += 1
            if p & starts:
                m53 += 1
    return m3, m53


def _prok_block(pred: dict[Key3, set[int]], ref: dict[Key3, set[int]], ver: dict[Key3, set[int]] | None) -> dict:
    m3, m53 = _prok_counts(pred, ref)
    out = {
        "n_pred": len(pred),
        "n_ref": len(ref),
        "matched_3": m3,
        "matched_5_3": m53,
        "sens_3": _ratio(m3, len(ref)),
        "spec_3": _ratio(m3, len(pred)),
        "start_accuracy": _ratio(m53, m3),
    }
    if ver is not None:
        v3, v53 = _prok_counts(pred, ver)
        out["verified"] = {"n": len(ver), "matched_3": v3, "matched_5_3": v53}
    return out


def eval_prok(pred: Annotation, ref: Annotation, verified: Annotation | None = None, *,
              drop_pseudo: bool = False) -> dict:
    """Predicted CDS against reference CDS (and verified starts): totals plus per_seqid.

    Pseudo CDS stay in the reference unless `drop_pseudo` (``n_ref_pseudo`` counts their 3' ends):
    that is the convention behind the published Prodigal figures on E. coli RefSeq (3' sens/spec
    0.959/0.956 with pseudo CDS kept, 0.961/0.954 without)."""
    ref = reconcile_seqids(pred.keys(), ref)
    if verified is not None:
        verified = reconcile_seqids(set(pred) | set(ref), verified)
    p, _ = prok_cds(pred)
    r, n_pseudo = prok_cds(ref, drop_pseudo=drop_pseudo)
    v = None
    if verified is not None:
        v, _ = prok_cds(verified, drop_pseudo=drop_pseudo)
        # verified genes on replicons the run knows nothing about (a multi-genome table) are left out
        known = set(pred) | set(ref)
        v = {k: s for k, s in v.items() if k[0] in known}
    out = _prok_block(p, r, v)
    out["n_ref_pseudo"] = n_pseudo
    per: dict[str, dict] = {}
    for seqid in sorted(set(pred) | set(ref)):
        sub = lambda d: {k: s for k, s in d.items() if k[0] == seqid}  # noqa: E731
        per[seqid] = _prok_block(sub(p), sub(r), sub(v) if v is not None else None)
    out["per_seqid"] = per
    return out


# ----------------------------------------------------------------------------- eukaryotic


def _txs(ann: Annotation, biotypes: set[str] | None, region: tuple[str, int, int] | None) -> Iterator[tuple[Gene, Transcript]]:
    for seqid, genes in ann.items():
        if region is not None and seqid != region[0]:
            continue
        for g in genes:
            for t in g.transcripts:
                if biotypes is not None and t.biotype not in biotypes:
                    continue
                exons = t.exons or t.cds
                if not exons:
                    continue
                if region is not None:
                    lo = min(s for s, _ in exons)
                    hi = max(e for _, e in exons)
                    if hi < region[1] or lo > region[2]:
                        continue
                yield g, t


def _merge(ivs: list[Interval]) -> list[Interval]:
    out: list[list[int]] = []
    for s, e in sorted(ivs):
        if out and s <= out[-1][1] + 1:
            if e > out[-1][1]:
                out[-1][1] = e
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _overlap_len(a: list[Interval], b: list[Interval]) -> int:
    """Total overlap of two sorted, merged interval lists (two-pointer sweep)."""
    i = j = total = 0
    while i < len(a) and j < len(b):
        s = max(a[i][0], b[j][0])
        e = min(a[i][1], b[j][1])
        if s <= e:
            total += e - s + 1
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _clip(ivs: list[Interval], region: tuple[str, int, int] | None) -> list[Interval]:
    if region is None:
        return ivs
    out = []
    for s, e in ivs:
        s, e = max(s, region[1]), min(e, region[2])
        if s <= e:
            out.append((s, e))
    return out


def _base(pred: dict[tuple[str, str], list[Interval]], ref: dict[tuple[str, str], list[Interval]],
          region: tuple[str, int, int] | None) -> dict:
    n_pred = n_ref = tp = 0
    pm = {k: _merge(_clip(v, region)) for k, v in pred.items()}
    rm = {k: _merge(_clip(v, region)) for k, v in ref.items()}
    for v in pm.values():
        n_pred += sum(e - s + 1 for s, e in v)
    for v in rm.values():
        n_ref += sum(e - s + 1 for s, e in v)
    for k in pm.keys() & rm.keys():
        tp += _overlap_len(pm[k], rm[k])
    p, r = _ratio(tp, n_pred), _ratio(tp, n_ref)
    return {"n_pred": n_pred, "n_ref": n_ref, "matched": tp, "precision": p, "recall": r, "f1": _f1(p, r)}


def _tx_key(seqid: str, strand: str, t: Transcript) -> tuple:
    exons = sorted(t.exons or t.cds)
    if len(exons) == 1:
        return (seqid, strand, "single", exons[0][0], exons[0][1])
    ex = _merge(exons)
    if len(ex) == 1:
        return (seqid, strand, "single", ex[0][0], ex[0][1])
    return (seqid, strand, "chain", tuple((a[1] + 1, b[0] - 1) for a, b in zip(ex, ex[1:])))


def _cds_key(seqid: str, strand: str, t: Transcript) -> tuple | None:
    if not t.cds:
        return None
    return (seqid, strand, tuple(sorted(t.cds)))


class _Side:
    """Everything one side (prediction or reference) contributes to the euk metrics."""

    def __init__(self, ann: Annotation, biotypes: set[str] | None, region: tuple[str, int, int] | None,
                 stranded: bool = True):
        self.exons: set[tuple] = set()
        self.cds: set[tuple] = set()
        self.introns: set[tuple] = set()
        self.tx: set[tuple] = set()
        self.cds_chains: set[tuple] = set()
        self.gene_tx: dict[tuple, set[tuple]] = defaultdict(set)
        self.gene_cds: dict[tuple, set[tuple]] = defaultdict(set)
        self.base_exon: dict[tuple[str, str], list[Interval]] = defaultdict(list)
        self.base_cds: dict[tuple[str, str], list[Interval]] = defaultdict(list)
        for g, t in _txs(ann, biotypes, region):
            sid, st = g.seqid, g.strand
            exons = sorted(t.exons or t.cds)
            for s, e in exons:
                self.exons.add((sid, st, s, e))
            bk = (sid, st if stranded else ".")
            self.base_exon[bk].extend(exons)
            for s, e in t.cds:
                self.cds.add((sid, st, s, e))
            self.base_cds[bk].extend(t.cds)
            ex = _merge(exons)
            for a, b in zip(ex, ex[1:]):
                self.introns.add((sid, st, a[1] + 1, b[0] - 1))
            k = _tx_key(sid, st, t)
            self.tx.add(k)
            gk = (sid, st, g.id)
            self.gene_tx[gk].add(k)
            ck = _cds_key(sid, st, t)
            if ck is not None:
                self.cds_chains.add(ck)
                self.gene_cds[gk].add(ck)


def _euk_block(p: _Side, r: _Side, region: tuple[str, int, int] | None) -> dict:
    def genes(ref_map: dict[tuple, set[tuple]], pred_keys: set[tuple]) -> dict:
        n = len(ref_map)
        found = sum(1 for keys in ref_map.values() if keys & pred_keys)
        return {"found": found, "n_ref_genes": n, "recall": _ratio(found, n)}

    return {
        "exon": _prf(len(p.exons), len(r.exons), len(p.exons & r.exons)),
        "cds": _prf(len(p.cds), len(r.cds), len(p.cds & r.cds)),
        "intron": _prf(len(p.introns), len(r.introns), len(p.introns & r.introns)),
        "transcript": _prf(len(p.tx), len(r.tx), len(p.tx & r.tx)),
        "gene": genes(r.gene_tx, p.tx),
        "gene_cds": genes(r.gene_cds, p.cds_chains),
        "base_exon": _base(p.base_exon, r.base_exon, region),
        "base_cds": _base(p.base_cds, r.base_cds, region),
    }


BIOTYPE_GROUPS = ("mRNA", "lnc_RNA")


def eval_euk(pred: Annotation, ref: Annotation, biotypes: Iterable[str] | None = None,
             region: tuple[str, int, int] | None = None, *, stranded: bool = True) -> dict:
    """Eukaryotic gene models: exon, cds, intron, transcript, gene, gene_cds, base_exon, base_cds
    and the same per biotype (mRNA, lnc_RNA) under by_biotype.

    Nucleotide counts are per strand unless `stranded=False` (a base annotated on both strands
    then counts once: AUGUSTUS on human chr9:1-1,000,000 has base-exon F1 0.448 stranded, 0.456
    not)."""
    ref = reconcile_seqids(pred.keys(), ref)
    bt = set(biotypes) if biotypes else None
    out = _euk_block(_Side(pred, bt, region, stranded), _Side(ref, bt, region, stranded), region)
    by: dict[str, dict] = {}
    for b in BIOTYPE_GROUPS:
        if bt is not None and b not in bt:
            continue
        by[b] = _euk_block(_Side(pred, {b}, region, stranded), _Side(ref, {b}, region, stranded), region)
    out["by_biotype"] = by
    return out
