"""Every metric of `genannot eval` pinned to values computed by hand on tiny annotations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genannot.errors import InputError
from genannot.eval.metrics import eval_euk, eval_prok
from genannot.eval.report import parse_region, run_eval_euk, run_eval_prok
from genannot.features import Gene, Transcript


def cds_gene(seqid, strand, pieces, gid, pseudo=False):
    return Gene(seqid=seqid, strand=strand, id=gid, pseudo=pseudo,
                transcripts=[Transcript(id=gid + ".t", cds=list(pieces))], multipart=len(pieces) > 1)


def ann(*genes):
    out = {}
    for g in genes:
        out.setdefault(g.seqid, []).append(g)
    return out


# ----------------------------------------------------------------------------- prokaryotic

REF = ann(
    cds_gene("c", "+", [(100, 399)], "R1"),
    cds_gene("c", "-", [(500, 799)], "R2"),  # stop 500, start 799
    cds_gene("c", "+", [(1000, 1299)], "R3"),
    cds_gene("c", "-", [(2000, 2100), (2100, 2400)], "R4"),  # multi-part: outermost ends 2400 -> 2000
    cds_gene("c", "+", [(3000, 3299)], "R5", pseudo=True),
    cds_gene("d", "+", [(10, 309)], "R6"),
)
PRED = ann(
    cds_gene("c", "+", [(100, 399)], "P1"),  # 5'+3'
    cds_gene("c", "-", [(500, 760)], "P2"),  # 3' only
    cds_gene("c", "+", [(1030, 1299)], "P3"),  # 3' only
    cds_gene("c", "-", [(2000, 2400)], "P4"),  # 5'+3' of the multi-part CDS
    cds_gene("c", "+", [(3000, 3299)], "P5"),  # the pseudo one
    cds_gene("c", "+", [(5000, 5299)], "P6"),  # false positive
    cds_gene("c", "-", [(100, 399)], "P7"),  # other strand: stop 100, no match
)


def test_eval_prok_by_hand():
    r = eval_prok(PRED, REF)
    assert {k: r[k] for k in ("n_pred", "n_ref", "matched_3", "matched_5_3")} == {
        "n_pred": 7, "n_ref": 6, "matched_3": 5, "matched_5_3": 3}
    assert r["sens_3"] == pytest.approx(5 / 6, abs=1e-6)
    assert r["spec_3"] == pytest.approx(5 / 7, abs=1e-6)
    assert r["start_accuracy"] == pytest.approx(3 / 5, abs=1e-6)
    assert r["n_ref_pseudo"] == 1 and "verified" not in r
    assert r["per_seqid"]["c"]["n_ref"] == 5 and r["per_seqid"]["c"]["matched_3"] == 5
    assert r["per_seqid"]["d"] == {"n_pred": 0, "n_ref": 1, "matched_3": 0, "matched_5_3": 0,
                                   "sens_3": 0.0, "spec_3": 0.0, "start_accuracy": 0.0}


def test_eval_prok_drop_pseudo():
    r = eval_prok(PRED, REF, drop_pseudo=True)
    assert (r["n_ref"], r["matched_3"], r["matched_5_3"], r["n_ref_pseudo"]) == (5, 4, 2, 1)


def test_eval_prok_verified_and_seqid_versions():
    ver = ann(
        cds_gene("c.1", "+", [(100, 399)], "V1"),
        cds_gene("c.1", "-", [(500, 799)], "V2"),
        cds_gene("c.1", "+", [(1000, 1299)], "V3"),
        cds_gene("other_genome", "+", [(1, 99)], "V4"),  # not a replicon of this run: left out
    )
    r = eval_prok(PRED, REF, ver)
    assert r["verified"] == {"n": 3, "matched_3": 3, "matched_5_3": 1}
    assert r["per_seqid"]["c"]["verified"] == {"n": 3, "matched_3": 3, "matched_5_3": 1}
    # reference seqids without the version are matched to the prediction's too
    ref2 = {k + ".3": v for k, v in REF.items()}
    pred2 = {k + ".3": v for k, v in PRED.items()}
    assert eval_prok(pred2, REF)["matched_3"] == eval_prok(pred2, ref2)["matched_3"] == 5


def test_eval_prok_duplicate_stops_count_once():
    ref = ann(cds_gene("c", "+", [(100, 399)], "a"), cds_gene("c", "+", [(160, 399)], "b"))
    pred = ann(cds_gene("c", "+", [(160, 399)], "p"))
    r = eval_prok(pred, ref)
    assert (r["n_ref"], r["matched_3"], r["matched_5_3"]) == (1, 1, 1)


def test_origin_spanning_ends():
    g = Gene(seqid="c", strand="+", id="w", attributes={"origin_spanning": "true"},
             transcripts=[Transcript(id="w", cds=[(1, 120), (9500, 9999)])])
    ref = {"c": [g]}
    assert eval_prok(ann(cds_gene("c", "+", [(1, 120)], "p")), ref)["matched_3"] == 1  # stop 120
    g.strand = "-"
    r = eval_prok(ann(cds_gene("c", "-", [(9500, 9999)], "p")), ref)  # stop 9500 on -
    assert r["matched_3"] == 1 and r["matched_5_3"] == 0


# ----------------------------------------------------------------------------- eukaryotic


def tx(tid, exons, cds=(), biotype=None):
    return Transcript(id=tid, biotype=biotype or ("mRNA" if cds else "lnc_RNA"), exons=list(exons), cds=list(cds))


EUK_REF = {"chrA": [
    Gene("chrA", "+", "G1", [
        tx("T1", [(100, 200), (300, 400), (500, 600)], [(150, 200), (300, 400), (500, 550)]),
        tx("T2", [(100, 200), (500, 600)], [(150, 200), (500, 550)]),
    ]),
    Gene("chrA", "-", "G2", [tx("T3", [(1000, 1500)])]),
    Gene("chrA", "+", "G3", [tx("T4", [(2000, 2100), (2200, 2300)], [(2050, 2100), (2200, 2250)])]),
]}
EUK_PRED = {"chrA": [
    Gene("chrA", "+", "P1", [tx("p1", [(90, 200), (300, 400), (500, 620)], [(150, 200), (300, 400), (500, 550)])]),
    Gene("chrA", "-", "P2", [tx("p2", [(1000, 1500)])]),
    Gene("chrA", "+", "P3", [tx("p3", [(2000, 2100), (2210, 2300)], [(2050, 2100), (2210, 2250)])]),
    Gene("chrA", "+", "P4", [tx("p4", [(3000, 3100)], [(3000, 3100)])]),
]}


def prf(r, n_pred, n_ref, matched):
    p, rc = matched / n_pred if n_pred else 0.0, matched / n_ref if n_ref else 0.0
    f = 2 * p * rc / (p + rc) if p + rc else 0.0
    assert (r["n_pred"], r["n_ref"], r["matched"]) == (n_pred, n_ref, matched)
    assert (r["precision"], r["recall"], r["f1"]) == pytest.approx((p, rc, f), abs=1e-6)


def test_eval_euk_by_hand():
    r = eval_euk(EUK_PRED, EUK_REF)
    assert set(r) == {"exon", "cds", "intron", "transcript", "gene", "gene_cds", "base_exon", "base_cds", "by_biotype"}
    prf(r["exon"], 7, 6, 3)  # (300,400), (1000,1500)-, (2000,2100)
    prf(r["cds"], 6, 5, 4)
    prf(r["intron"], 3, 4, 2)  # T2's (201,499) and T4's (2101,2199) missed
    prf(r["transcript"], 4, 4, 2)  # T1 by intron chain despite other ends, T3 single exon
    assert r["gene"] == {"found": 2, "n_ref_genes": 3, "recall": pytest.approx(2 / 3, abs=1e-6)}
    assert r["gene_cds"] == {"found": 1, "n_ref_genes": 2, "recall": 0.5}
    prf(r["base_exon"], 1127, 1006, 996)
    prf(r["base_cds"], 396, 305, 295)
    m, lnc = r["by_biotype"]["mRNA"], r["by_biotype"]["lnc_RNA"]
    prf(m["exon"], 6, 5, 2)
    prf(m["transcript"], 3, 3, 1)
    assert m["gene"]["found"] == 1 and m["gene"]["n_ref_genes"] == 2
    prf(lnc["exon"], 1, 1, 1)
    prf(lnc["cds"], 0, 0, 0)
    assert lnc["gene"] == {"found": 1, "n_ref_genes": 1, "recall": 1.0}
    assert lnc["gene_cds"] == {"found": 0, "n_ref_genes": 0, "recall": 0.0}


def test_eval_euk_biotype_and_region():
    r = eval_euk(EUK_PRED, EUK_REF, biotypes=["lnc_RNA"])
    prf(r["exon"], 1, 1, 1)
    assert list(r["by_biotype"]) == ["lnc_RNA"]
    r = eval_euk(EUK_PRED, EUK_REF, region=("chrA", 150, 1600))
    prf(r["exon"], 4, 4, 2)
    prf(r["base_exon"], 774, 754, 754)
    r = eval_euk(EUK_PRED, EUK_REF, region=("chrB", 1, 100))
    prf(r["exon"], 0, 0, 0)


def test_identical_inputs_score_perfectly():
    r = eval_euk(EUK_REF, EUK_REF)
    for level in ("exon", "cds", "intron", "transcript", "base_exon", "base_cds"):
        assert r[level]["f1"] == 1.0
    assert r["gene"]["recall"] == r["gene_cds"]["recall"] == 1.0


def test_gtf_reference_stop_codon_joins_gff3_prediction(tmp_path):
    """Ensembl GTF CDS exclude the stop; our GFF3 includes it: after the join they agree."""
    gtf = tmp_path / "ref.gtf"
    gtf.write_text(
        'c\te\texon\t100\t300\t.\t+\t.\tgene_id "g"; transcript_id "t";\n'
        'c\te\texon\t400\t700\t.\t+\t.\tgene_id "g"; transcript_id "t";\n'
        'c\te\tCDS\t150\t300\t.\t+\t0\tgene_id "g"; transcript_id "t";\n'
        'c\te\tCDS\t400\t596\t.\t+\t2\tgene_id "g"; transcript_id "t";\n'
        'c\te\tstop_codon\t597\t599\t.\t+\t0\tgene_id "g"; transcript_id "t";\n'
    )
    gff = tmp_path / "pred.gff3"
    gff.write_text(
        "##gff-version 3\n"
        "c\tg\tgene\t100\t700\t.\t+\t.\tID=g1\n"
        "c\tg\tmRNA\t100\t700\t.\t+\t.\tID=m1;Parent=g1\n"
        "c\tg\texon\t100\t300\t.\t+\t.\tParent=m1\nc\tg\texon\t400\t700\t.\t+\t.\tParent=m1\n"
        "c\tg\tCDS\t150\t300\t.\t+\t0\tParent=m1\nc\tg\tCDS\t400\t599\t.\t+\t2\tParent=m1\n"
    )
    out = tmp_path / "r.json"
    r = run_eval_euk(str(gff), str(gtf), biotypes=(), region=None, as_json=True, output=str(out))
    assert json.loads(out.read_text()) == r
    assert r["cds"]["matched"] == r["cds"]["n_ref"] == 2 and r["gene_cds"]["found"] == 1


# ----------------------------------------------------------------------------- report / CLI


def _gff(path: Path, genes):
    lines = ["##gff-version 3"]
    for g in genes:
        (s, e), = g.transcripts[0].cds
        lines.append(f"{g.seqid}\tx\tCDS\t{s}\t{e}\t.\t{g.strand}\t0\tID={g.id}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_run_eval_prok_json_and_table(tmp_path, capsys):
    pred = _gff(tmp_path / "p.gff3", [g for gs in PRED.values() for g in gs])
    ref = _gff(tmp_path / "r.gff3", [g for gs in REF.values() for g in gs if len(g.transcripts[0].cds) == 1])
    out = tmp_path / "out.json"
    run_eval_prok(str(pred), str(ref), verified=str(ref), as_json=True, output=str(out))
    res = json.loads(out.read_text())
    assert {"n_pred", "n_ref", "matched_3", "matched_5_3", "sens_3", "spec_3", "verified", "per_seqid"} <= set(res)
    assert res["verified"]["n"] == res["n_ref"] == 5
    run_eval_prok(str(pred), str(ref), verified=None, as_json=False, output="-")
    text = capsys.readouterr().out
    assert "sens_3" in text and "total" in text


def test_cli_eval(tmp_path, capsys):
    from genannot.cli import main

    pred = _gff(tmp_path / "p.gff3", [g for gs in PRED.values() for g in gs])
    assert main(["eval", "prok", str(pred), str(pred), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sens_3"] == 1.0
    assert main(["eval", "euk", str(pred), str(pred), "--region", "c:1-x"]) == 2
    assert "SEQID:START-END" in capsys.readouterr().err
    assert main(["eval", "prok", str(tmp_path / "nope.gff3"), str(pred)]) == 2


def test_eval_refuses_prediction_and_reference_that_share_no_sequence(tmp_path):
    """Zeros alone would not tell a wrong reference file from a bad prediction: an error naming IDs of both
    sides; a version suffix (NC_1 / NC_1.2) is the same sequence."""
    pred = _gff(tmp_path / "p.gff3", [g for gs in PRED.values() for g in gs])
    other = _gff(tmp_path / "o.gff3", [cds_gene("chrX", "+", [(10, 309)], "X1")])
    run_eval_prok(str(pred), str(pred), output=str(tmp_path / "a.txt"))
    run_eval_euk(str(pred), str(pred), output=str(tmp_path / "b.txt"))
    for run in (run_eval_prok, run_eval_euk):
        with pytest.raises(InputError, match="no sequence ID in common") as info:
            run(str(pred), str(other), output=str(tmp_path / "c.txt"))
        assert "p.gff3 has c," in str(info.value) and "o.gff3 has chrX" in str(info.value)
    assert not (tmp_path / "c.txt").exists()
    versioned = _gff(tmp_path / "v.gff3", [cds_gene("c.2", "+", [(100, 399)], "V1")])
    run_eval_prok(str(pred), str(versioned), output=str(tmp_path / "e.txt"))


def test_cli_eval_disjoint_and_unknown_biotype_exit_2(tmp_path, capsys):
    from genannot.cli import main

    pred = _gff(tmp_path / "p.gff3", [g for gs in PRED.values() for g in gs])
    other = _gff(tmp_path / "o.gff3", [cds_gene("chrX", "+", [(10, 309)], "X1")])
    for argv in (["eval", "prok", str(pred), str(other)], ["eval", "euk", str(pred), str(other)],
                 ["eval", "euk", str(pred), str(pred), "--biotype", "mrna"],
                 ["eval", "euk", str(pred), str(pred), "--biotype", "mRNA", "--biotype", "foo"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("genannot: error:"), err
    assert main(["eval", "euk", str(pred), str(pred), "--biotype", "mRNA", "--biotype", "lnc_RNA", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["by_biotype"]) == {"mRNA", "lnc_RNA"}


def test_cli_eval_reversed_feature_exit_2(tmp_path, capsys):
    """start > end in a GFF3 prediction or reference is one error line naming the file and line."""
    from genannot.cli import main

    good = _gff(tmp_path / "p.gff3", [g for gs in PRED.values() for g in gs])
    bad = tmp_path / "rev.gff3"
    bad.write_text("##gff-version 3\nc\tx\tCDS\t399\t100\t.\t+\t0\tID=a\n")
    for kind in ("prok", "euk"):
        for argv in (["eval", kind, str(bad), str(good)], ["eval", kind, str(good), str(bad)]):
            assert main(argv) == 2, argv
            err = capsys.readouterr().err
            assert len(err.strip().splitlines()) == 1 and f"rev.gff3:2: invalid coordinates 399-100" in err, err


def test_parse_region():
    assert parse_region("chr9:1-1,000,000") == ("chr9", 1, 1000000)
    assert parse_region("HLA:A:5-10") == ("HLA:A", 5, 10)
    for bad in ("chr9", "chr9:10-5", "chr9:0-5", ":1-2", "chr9:1-"):
        with pytest.raises(InputError):
            parse_region(bad)


def test_base_level_unstranded():
    # P2 (-) and an extra + copy of the same exon: stranded, the + copy is a false positive
    pred = {"chrA": [Gene("chrA", "-", "a", [tx("a", [(1000, 1500)])]), Gene("chrA", "+", "b", [tx("b", [(1000, 1500)])])]}
    ref = {"chrA": [Gene("chrA", "-", "G2", [tx("T3", [(1000, 1500)])])]}
    prf(eval_euk(pred, ref)["base_exon"], 1002, 501, 501)
    prf(eval_euk(pred, ref, stranded=False)["base_exon"], 501, 501, 501)
