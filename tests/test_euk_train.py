"""Per-base labels from gene models (strand-aware), per-base metrics, and `genannot train euk` end to end."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from genannot.errors import InputError
from genannot.euk.labels import CDS, EXON, INTRON, UTR3, UTR5, representative_transcript, strand_track, window_targets
from genannot.features import Gene, Transcript


def rows(*ranges: tuple[int, int]) -> set[int]:
    """1-based closed base ranges -> 0-based row indices."""
    out: set[int] = set()
    for a, b in ranges:
        out |= set(range(a - 1, b))
    return out


def col(labels: np.ndarray, c: int) -> set[int]:
    return set(np.nonzero(labels[:, c])[0].tolist())


def two_exon_gene(strand: str) -> Gene:
    t = Transcript("t1", "mRNA", exons=[(5, 12), (20, 30)], cds=[(8, 12), (20, 25)])
    return Gene("s", strand, "g1", [t])


def test_two_exon_gene_plus_strand():
    tr = strand_track([two_exon_gene("+")], 40, "+")
    lab = tr.labels
    assert col(lab, EXON) == rows((5, 12), (20, 30))
    assert col(lab, INTRON) == rows((13, 19))
    assert col(lab, CDS) == rows((8, 12), (20, 25))
    assert col(lab, UTR5) == rows((5, 7))
    assert col(lab, UTR3) == rows((26, 30))
    assert not tr.ignore.any()
    # the minus-strand track of a plus-strand gene is empty
    assert not strand_track([two_exon_gene("+")], 40, "-").labels.any()


def test_two_exon_gene_minus_strand_and_reverse_complement_reading():
    tr = strand_track([two_exon_gene("-")], 40, "-")
    lab = tr.labels
    assert col(lab, CDS) == rows((8, 12), (20, 25))
    assert col(lab, UTR5) == rows((26, 30))  # 5' end of a minus-strand gene is on the right
    assert col(lab, UTR3) == rows((5, 7))
    assert not strand_track([two_exon_gene("-")], 40, "+").labels.any()
    # the window read reverse-complemented: reading row r is forward base 40 - r (1-based)
    y, w = window_targets({"+": strand_track([], 40, "+"), "-": tr}, 0, 40, "-")
    assert col(y, UTR5) == {40 - b for b in range(26, 31)}
    assert min(col(y, UTR5)) < min(col(y, CDS)) < min(col(y, UTR3)), "5'UTR, CDS, 3'UTR must come in reading order"
    assert w.all()
    # a sub-window [10, 30) read on '-'
    y2, _ = window_targets({"-": tr}, 10, 30, "-")
    assert np.array_equal(y2, y[10:30])


def test_both_strand_targets():
    plus, minus = two_exon_gene("+"), Gene("s", "-", "g9", [Transcript("t9", "lnc_RNA", exons=[(30, 34)])], kind="ncRNA_gene")
    pseudo = Gene("s", "-", "g8", [Transcript("t8", "transcript", exons=[(2, 3)])], kind="pseudogene", pseudo=True)
    tracks = {s: strand_track([plus, minus, pseudo], 40, s) for s in "+-"}
    y, w = window_targets(tracks, 0, 40, "+", outputs=10)
    assert y.shape == (40, 10)
    assert np.array_equal(y[:, :5], tracks["+"].labels) and np.array_equal(y[:, 5:], tracks["-"].labels)
    assert set(np.nonzero(w == 0)[0].tolist()) == rows((2, 3))  # ignored on the opposite strand
    # read reverse-complemented: the minus track first, everything reversed
    yr, wr = window_targets(tracks, 0, 40, "-", outputs=10)
    assert np.array_equal(yr[::-1, :5], y[:, 5:]) and np.array_equal(yr[::-1, 5:], y[:, :5])
    assert np.array_equal(wr[::-1], w)
    with pytest.raises(ValueError):
        window_targets(tracks, 0, 40, "+", outputs=3)


def test_lncrna_pseudogene_and_n_bases():
    lnc = Gene("s", "+", "g2", [Transcript("t2", "lnc_RNA", exons=[(3, 6), (10, 15)])], kind="ncRNA_gene")
    pseudo = Gene("s", "+", "g3", [Transcript("t3", "transcript", exons=[(20, 24)])], kind="pseudogene", pseudo=True)
    mirna = Gene("s", "+", "g4", [Transcript("t4", "miRNA", exons=[(27, 29)])], kind="ncRNA_gene")
    tr = strand_track([lnc, pseudo, mirna], 32, "+")
    assert col(tr.labels, EXON) == rows((3, 6), (10, 15))
    assert col(tr.labels, INTRON) == rows((7, 9))
    for c in (CDS, UTR5, UTR3):
        assert not tr.labels[:, c].any()
    assert set(np.nonzero(tr.ignore)[0].tolist()) == rows((20, 24), (27, 29))
    seq = "ACGTN" + "A" * 25 + "nN"
    y, w = window_targets({"+": tr}, 0, 32, "+", seq)
    assert set(np.nonzero(w == 0)[0].tolist()) == rows((5, 5), (20, 24), (27, 29), (31, 32))


def test_representative_transcript_is_longest_coding():
    short = Transcript("short", "mRNA", exons=[(1, 50)], cds=[(10, 40)])
    long_ = Transcript("long", "mRNA", exons=[(1, 50), (100, 180)], cds=[(10, 50), (100, 120)])
    nc = Transcript("nc", "lnc_RNA", exons=[(1, 400)])
    g = Gene("s", "+", "g", [short, nc, long_])
    assert representative_transcript(g).id == "long"
    assert representative_transcript(Gene("s", "+", "g", [nc])).id == "nc"
    assert representative_transcript(Gene("s", "+", "g", [Transcript("x", "snoRNA", exons=[(1, 9)])])) is None


def test_offset_track_matches_full_track():
    genes = [two_exon_gene("+"), Gene("s", "+", "g5", [Transcript("t5", "mRNA", exons=[(33, 60)], cds=[(36, 57)])])]
    full = strand_track(genes, 70, "+")
    part = strand_track(genes, 30, "+", offset=15)
    assert np.array_equal(part.labels, full.labels[15:45])


def test_metrics():
    from genannot.euk.train import average_precision, base_metrics

    y = np.array([1, 0, 1, 0, 0], dtype=bool)
    s = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    # precision at the two positives: 1/1 and 2/3 -> AP = (1 + 2/3) / 2
    assert average_precision(s, y) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision(np.full(5, 0.5), y) == pytest.approx(0.4)  # constant score = prevalence
    probs = np.zeros((5, 5))
    probs[:, 1] = s
    labels = np.zeros((5, 5))
    labels[:, 1] = y
    m = base_metrics(probs, labels, np.array([1, 1, 1, 1, 0.0]))
    assert m["bases"] == 4
    assert m["exon"]["f1"] == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert m["exon"]["prevalence"] == pytest.approx(0.5)
    # the constant predictor at each class's prevalence scores exactly the constant baseline
    lab = np.array([[1, 0, 0, 0, 1], [0, 1, 0, 0, 1], [0, 0, 0, 0, 0], [1, 1, 1, 0, 0]], dtype=float)
    const = np.tile(np.clip(lab.mean(0), 1e-6, 1 - 1e-6), (4, 1))
    mc = base_metrics(const, lab, np.ones(4))
    assert mc["bce"] == pytest.approx(mc["bce_constant"], rel=1e-4)


# ----------------------------------------------------------------------------- training end to end


def write_synthetic(tmp_path, n_seq: int = 2, length: int = 9000, seed: int = 5):
    rng = random.Random(seed)
    fa, gff = tmp_path / "g.fa", tmp_path / "g.gff3"
    lines = ["##gff-version 3"]
    with open(fa, "w") as f:
        for k in range(n_seq):
            sid = f"c{k + 1}"
            s = "".join(rng.choice("ACGT") for _ in range(length))
            s = s[:500] + "N" * 30 + s[530:1000] + s[1000:1500].lower() + s[1500:]
            f.write(f">{sid}\n")
            for i in range(0, length, 70):
                f.write(s[i : i + 70] + "\n")
            for j, start in enumerate(range(2000, length - 3000, 3500)):
                strand = "+-"[j % 2]
                g, t = f"{sid}.g{j}", f"{sid}.t{j}"
                ex = [(start, start + 250), (start + 600, start + 900), (start + 1300, start + 1700)]
                lines.append(f"{sid}\tt\tgene\t{start}\t{start + 1700}\t.\t{strand}\t.\tID={g}")
                lines.append(f"{sid}\tt\tmRNA\t{start}\t{start + 1700}\t.\t{strand}\t.\tID={t};Parent={g}")
                for a, b in ex:
                    lines.append(f"{sid}\tt\texon\t{a}\t{b}\t.\t{strand}\t.\tParent={t}")
                for a, b in [(start + 60, start + 250), (start + 600, start + 900), (start + 1300, start + 1500)]:
                    lines.append(f"{sid}\tt\tCDS\t{a}\t{b}\t.\t{strand}\t0\tParent={t}")
    gff.write_text("\n".join(lines) + "\n")
    return fa, gff


TINY = dict(
    vocab_size=120, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
    num_mem_tokens=2, channels=(8, 8), token_dim=4, nuc_dim=4, window_schedule=(1500, 3000), log_every=2,
    mlm_steps=2, mlm_batch=2, val_window=3000,
)


def test_train_one_epoch_writes_loadable_model_and_resumes_exactly(tmp_path):
    import torch

    from genannot.euk.model import EukSegModel
    from genannot.euk.train import run_train_euk

    torch.set_num_threads(1)
    fa, gff = write_synthetic(tmp_path)
    common = dict(genomes=[str(fa)], annotations=[str(gff)], holdout="c2:1-4500", device="cpu", batch_size=2, seed=3)

    a = run_train_euk(output_dir=str(tmp_path / "a"), epochs=2, **common, **TINY)
    run_train_euk(output_dir=str(tmp_path / "b"), epochs=1, **common, **TINY)
    model = EukSegModel.from_pretrained(tmp_path / "b")
    assert model.predict("ACGT" * 301).shape == (1204, 10)
    cfg = json.loads((tmp_path / "b" / "config.json").read_text())
    assert cfg["kind"] == "euk-seg" and cfg["metadata"]["training"]["epochs_done"] == 1
    prior = cfg["metadata"]["training"]["class_prior"]  # what the decoder divides out
    assert len(prior) == 5 and all(0 <= v < 1 for v in prior) and prior[1] > 0  # exon bases were seen
    b = run_train_euk(output_dir=str(tmp_path / "b"), epochs=2, resume=True, **common)
    assert [h["epoch"] for h in b["history"]] == [1, 2]
    assert b["history"][1]["window"] == 3000  # curriculum: second epoch uses the longer windows
    sa = torch.load(tmp_path / "a" / "trainer_state.pt", weights_only=True)["model"]
    sb = torch.load(tmp_path / "b" / "trainer_state.pt", weights_only=True)["model"]
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"resumed run differs from an uninterrupted one at {k}"
    assert a["validation"]["exon"]["pr_auc"] == pytest.approx(b["validation"]["exon"]["pr_auc"])
    log = [json.loads(x) for x in (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()]
    assert [r["event"] for r in log] == ["start", "epoch", "epoch"]
    assert "mlm_loss_last" in log[0]["mlm"]


def test_train_cli_settings_and_errors(tmp_path):
    from genannot.cli import main

    fa, gff = write_synthetic(tmp_path, n_seq=1, length=7000)
    out = tmp_path / "m"
    args = ["train", "euk", "--genome", str(fa), "--annotation", str(gff), "-o", str(out), "--epochs", "1", "--device", "cpu", "--threads", "1", "--batch-size", "2"]
    tiny = [f"--set={k}={json.dumps(v)}" for k, v in {**TINY, "mlm_steps": 0, "max_steps_per_epoch": 3}.items()]
    assert main(args + tiny) == 0
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["encoder"]["hidden_size"] == TINY["hidden_size"] and cfg["head"]["channels"] == list(TINY["channels"])
    assert main(args + tiny) == 2  # refuses to overwrite a run without --resume
    assert main(args[:6] + ["-o", str(tmp_path / "empty"), "--resume"]) == 2
    assert main(args[:6] + ["-o", str(tmp_path / "h"), "--holdout", "nope:1-10"] + tiny) == 2
    for bad in ("hidden_size", "no_such_setting=1", "epochs=3", "seed=1"):
        assert main(args[:6] + ["-o", str(tmp_path / "s"), "--set", bad]) == 2, bad
    assert not (tmp_path / "s").exists()


def test_train_with_signal_tracks_reads_the_fitted_gene_model(tmp_path):
    import torch

    from genannot.euk.model import SIGNAL_TRACKS, EukSegModel
    from genannot.euk.train import run_train_euk
    from test_euk_decode import training_genome, write_pair

    torch.set_num_threads(1)
    fa, gff = write_pair(tmp_path, training_genome(n=12))
    settings = {**TINY, "mlm_steps": 0, "max_steps_per_epoch": 3, "signals": True}
    run_train_euk(genomes=[str(fa)], annotations=[str(gff)], output_dir=str(tmp_path / "m"), epochs=1, device="cpu", batch_size=2, **settings)
    model = EukSegModel.from_pretrained(tmp_path / "m")
    assert model.config.head.signal_dim == SIGNAL_TRACKS and model.predict("ACGT" * 100).shape == (400, 10)
    # random sequence holds no complete coding transcript: no gene model, so no signal tracks to read
    fa2, gff2 = write_synthetic(tmp_path, n_seq=1, length=7000)
    with pytest.raises(InputError, match="signals"):
        run_train_euk(genomes=[str(fa2)], annotations=[str(gff2)], output_dir=str(tmp_path / "r"), epochs=1, device="cpu", batch_size=2, **settings)
