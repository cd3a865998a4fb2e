"""Training-set construction (exact counts on a designed genome), training, output format, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genannot.errors import InputError
from genannot.prok import train as train_mod
from genannot.prok.classifiers import load_prok_models
from genannot.prok.datasets import (
    LENGTH_BINS,
    RefCDS,
    build_datasets,
    detect_table,
    genome_tag,
    length_balanced,
)
from genannot.prok.orfs import find_stop_groups

# A 12-nt coding unit without stop or start codons in frame 0 whose repeats put a stop codon at
# least every 8 codons in the five other frames, and a background with stops every 12 nt in all
# six frames and no start codon: the only stop groups are the ORFs planted below.
UNIT = "GCTAGTCATCTA"
BG = "TAAT" * 15
COMP = str.maketrans("ACGT", "TGCA")


def rc(s: str) -> str:
    return s.translate(COMP)[::-1]


def orf(units: int, extra_start_at: int | None = None) -> str:
    body = UNIT * units
    if extra_start_at is not None:  # a second in-frame start codon
        body = UNIT * extra_start_at + "ATG" + UNIT * (units - extra_start_at)
    return "ATG" + body + "TAA"


# (sequence, strand, annotated?) ; lengths 126, 249 (2 starts), 366, 126, 126, 246, 966, 186
PLAN = [
    (orf(10), "+", "gene"),
    (orf(20, extra_start_at=5), "+", "gene"),
    (rc(orf(30)), "-", "gene"),
    (orf(10), "+", None),
    (rc(orf(10)), "-", None),
    (orf(20), "+", None),
    (orf(80), "+", None),
    (orf(15), "+", "pseudo"),
]


def synthetic(tmp_path, name="synth"):
    seq, rows, pos = BG, [], len(BG)
    for i, (part, strand, kind) in enumerate(PLAN):
        if kind:
            attrs = f"ID=g{i}" + (";pseudo=true" if kind == "pseudo" else "")
            rows.append(f"chr1\ttest\tgene\t{pos + 1}\t{pos + len(part)}\t.\t{strand}\t.\t{attrs}")
            rows.append(f"chr1\ttest\tCDS\t{pos + 1}\t{pos + len(part)}\t.\t{strand}\t0\tID=c{i};Parent=g{i}")
        seq += part + BG
        pos += len(part) + len(BG)
    fa = tmp_path / f"{name}.fna"
    fa.write_text(">chr1\n" + "\n".join(seq[i : i + 70] for i in range(0, len(seq), 70)) + "\n")
    gff = tmp_path / f"{name}.gff3"
    gff.write_text("##gff-version 3\n" + "\n".join(rows) + "\n")
    return fa, gff, seq


def test_design_has_only_the_planted_orfs(tmp_path):
    _, _, seq = synthetic(tmp_path)
    groups = find_stop_groups(seq, closed=True)
    assert sorted(g.length(g.starts[0]) for g in groups) == [126, 126, 126, 186, 246, 249, 366, 966]
    assert sum(len(g.starts) for g in groups) == 9


def test_dataset_exact_counts(tmp_path):
    fa, gff, seq = synthetic(tmp_path)
    ds = build_datasets([fa], [gff], seed=0)
    (g,) = ds.genomes
    assert g.tag == "synth"
    assert g.stats == {
        "genome": "synth", "table": 11, "annotated_cds": 3, "stop_groups": 7, "cds_positive": 3,
        "cds_negative": 3, "cds_negative_pool": 4, "tis_positive": 3, "tis_negative": 2,
        "annotated_stop_matched": 3, "annotated_start_found": 3,
    }
    pos = [e for e in g.cds if e.label]
    neg = [e for e in g.cds if not e.label]
    # windows are the ORFs themselves (all shorter than 510 nt), 5'->3', stop codon included
    assert sorted(e.window for e in pos) == sorted([PLAN[0][0], PLAN[1][0], orf(30)])
    # negatives follow the positives' lengths: both 126-nt decoys (weight 1/2 each: 1 positive in
    # that bin), the 246-nt one (weight 1); the 966-nt decoy has no positive of its length
    assert sorted((e.length, e.weight) for e in neg) == [(126, 0.5), (126, 0.5), (246, 1.0)]
    assert all(e.window.startswith("ATG") and e.window.endswith("TAA") for e in g.cds)
    tis_pos = [e for e in g.tis if e.label]
    assert len(tis_pos) == 3 and all(len(e.window) == 60 and e.window[30:33] == "ATG" for e in g.tis)
    assert all(e.window[:30] == seq[e.start - 30 : e.start] for e in tis_pos if e.strand == "+")
    alt = [e for e in g.tis if not e.label and e.length == 249]
    assert len(alt) == 1 and alt[0].start == seq.index(PLAN[1][0]) + 3 + 12 * 5


def test_dataset_is_seeded(tmp_path):
    fa, gff, _ = synthetic(tmp_path)
    a = build_datasets([fa], [gff], seed=3).genomes[0]
    b = build_datasets([fa], [gff], seed=3).genomes[0]
    assert [(e.window, e.label) for e in a.cds + a.tis] == [(e.window, e.label) for e in b.cds + b.tis]


def test_length_balanced_follows_positive_lengths():
    rng = np.random.default_rng(0)
    pos = [1000] * 10 + [150] * 5
    neg = [150] * 100 + [1000] * 3 + [5000] * 7
    keep, w = length_balanced(pos, neg, rng, ratio=2.0)
    kept = [neg[i] for i in keep]
    assert kept.count(150) == 10 and kept.count(1000) == 3 and kept.count(5000) == 0
    assert {neg[i]: x for i, x in zip(keep, w)} == {150: 0.5, 1000: 1.0}
    assert np.digitize(150, LENGTH_BINS) != np.digitize(1000, LENGTH_BINS)


def test_detect_table_switches_for_tga_read_through():
    # one ORF with in-frame TGA codons (Trp in code 4) ending in TAA
    body = "ATG" + "GCTTGAGCT" * 10 + "TAA"
    seqs = {"c": "TAAT" * 5 + body + "TAAT" * 5}
    refs = [RefCDS("c", "+", 20, 20 + len(body) - 1, True)]
    assert detect_table(seqs, refs, 11) == 4
    clean = {"c": "TAAT" * 5 + orf(10) + "TAAT" * 5}
    assert detect_table(clean, [RefCDS("c", "+", 20, 20 + 125, True)], 11) == 11


def test_genome_tag():
    assert genome_tag("/x/ecoli_k12.fna.gz") == "ecoli_k12"
    assert genome_tag("ctr.gbk.gz") == "ctr"
    assert genome_tag("a.b.fasta") == "a.b"


def test_roc_auc():
    assert train_mod.roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert train_mod.roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert np.isnan(train_mod.roc_auc(np.array([1, 1]), np.array([0.5, 0.2])))


@pytest.fixture()
def two_genomes(tmp_path):
    a = synthetic(tmp_path, "g1")
    b = synthetic(tmp_path, "g2")
    return [str(a[0]), str(b[0])], [str(a[1]), str(b[1])]


def _train(genomes, annotations, out, **kw):
    args = dict(genomes=genomes, annotations=annotations, output_dir=str(out), epochs=1, resume=False,
                translation_table=11, device="cpu", batch_size=4, seed=0)
    args.update(kw)
    return train_mod.run_train_prok(**args)


def test_one_epoch_writes_loadable_models(tmp_path, two_genomes):
    out = _train(*two_genomes, tmp_path / "model")
    for task in ("cds", "tis"):
        d = out / task
        assert {p.name for p in d.iterdir()} >= {"config.json", "model.safetensors", "vocab.txt", "training_args.json"}
        cfg = json.loads((d / "config.json").read_text())
        assert cfg["architectures"] == ["BertForSequenceClassification"] and cfg["vocab_size"] == 4101
        assert cfg["genannot"]["task"] == task and cfg["genannot"]["stride"] == (3 if task == "cds" else 1)
        assert cfg.get("dtype", cfg.get("torch_dtype")) == "float16"
        info = json.loads((d / "training_args.json").read_text())
        assert info["training_genomes"] == ["g1"] and info["validation_genomes"] == ["g2"]
        assert info["arguments"]["seed"] == 0 and len(info["metrics"]) == 1 and "valid" in info["metrics"][0]
        assert (d / "vocab.txt").read_text().split("\n")[:6] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "AAAAAA"]
    assert not (out / "checkpoint").exists()
    models = load_prok_models(str(out), device="cpu")
    p = models.cds.predict([orf(10), orf(40)])
    assert p.dtype == np.float32 and p.shape == (2,) and ((p >= 0) & (p <= 1)).all()
    assert models.tis.predict([BG[:30] + orf(10)[:30]]).shape == (1,)
    # the directory is refused a second time without --resume
    with pytest.raises(InputError, match="--resume"):
        _train(*two_genomes, out)


def test_resume_continues_and_matches_an_uninterrupted_run(tmp_path, two_genomes, monkeypatch):
    ref = _train(*two_genomes, tmp_path / "ref", epochs=2)

    class Stop(Exception):
        pass

    def stop_after_first_tis_epoch(task, epoch):
        if task == "tis" and epoch == 0:
            raise Stop

    monkeypatch.setattr(train_mod, "_after_epoch", stop_after_first_tis_epoch)
    with pytest.raises(Stop):
        _train(*two_genomes, tmp_path / "run", epochs=2)
    assert (tmp_path / "run" / "cds").is_dir() and (tmp_path / "run" / "checkpoint" / "tis.pt").is_file()
    assert not (tmp_path / "run" / "tis").exists()
    monkeypatch.setattr(train_mod, "_after_epoch", lambda task, epoch: None)
    with pytest.raises(InputError, match="epochs"):
        _train(*two_genomes, tmp_path / "run", epochs=3, resume=True)
    out = _train(*two_genomes, tmp_path / "run", epochs=2, resume=True)
    from safetensors.numpy import load_file

    for task in ("cds", "tis"):
        a = load_file(str(ref / task / "model.safetensors"))
        b = load_file(str(out / task / "model.safetensors"))
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_allclose(a[k].astype(np.float32), b[k].astype(np.float32), atol=2e-3, err_msg=f"{task} {k}")
    info = json.loads((out / "tis" / "training_args.json").read_text())
    assert [m["epoch"] for m in info["metrics"]] == [1, 2]


def test_resume_without_checkpoint_and_unpaired_inputs(tmp_path, two_genomes):
    with pytest.raises(InputError, match="no training checkpoint"):
        _train(*two_genomes, tmp_path / "none", resume=True)
    with pytest.raises(InputError, match="pairs"):
        _train(two_genomes[0], two_genomes[1][:1], tmp_path / "x")
