"""Classifier loading and scoring: GeneLM's checkpoint format (tiny random models written with
save_pretrained), DNABERT k-mer tokenization, input windows, registry pair and train-output resolution."""

from __future__ import annotations

import random

import numpy as np
import pytest

from genannot.errors import ModelError
from genannot.models import registry
from genannot.prok.classifiers import (
    KmerTokenizer,
    cds_input,
    dnabert_vocab,
    kmer_sentence,
    load_classifier,
    load_prok_models,
    reverse_complement,
    tis_input,
)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def random_dna(n: int, rng: random.Random, alphabet: str = "ACGT") -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def write_genelm_like(path, *, seed=0, vocab=None, bin_format=False, hidden=16):
    """A tiny randomly initialised BertForSequenceClassification + DNABERT vocab.txt, in the layout
    of GeneLM's published checkpoints (no genannot entry in config.json)."""
    from transformers import BertConfig, BertForSequenceClassification

    vocab = vocab or dnabert_vocab(6)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=512, num_labels=2)
    torch.manual_seed(seed)
    model = BertForSequenceClassification(cfg).eval()
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path))
    if bin_format:  # the older PyTorch pickle format (read with weights_only)
        (path / "model.safetensors").unlink()
        torch.save(model.state_dict(), path / "pytorch_model.bin")
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return model


def reference_probs(model, vocab_file, windows, stride):
    """P(label 1) the way GeneLM computes it: BertTokenizer on the space-separated k-mer sentence."""
    from transformers import BertTokenizer

    tok = BertTokenizer(str(vocab_file), do_lower_case=False)
    out = []
    with torch.inference_mode():
        for w in windows:
            enc = tok(kmer_sentence(w, 6, stride), return_tensors="pt")
            out.append(torch.softmax(model(**enc).logits, -1)[0, 1].item())
    return np.array(out)


# ---------------------------------------------------------------- tokenizer and windows


def test_dnabert_vocab_order():
    v = dnabert_vocab(6)
    assert len(v) == 4101
    assert v[:10] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "AAAAAA", "AAAAAT", "AAAAAC", "AAAAAG", "AAAATA"]
    assert v[-1] == "GGGGGG"


@pytest.mark.parametrize("stride,length", [(3, 510), (1, 60), (3, 93), (1, 6), (1, 5), (3, 8)])
def test_tokenizer_matches_bert_tokenizer(tmp_path, stride, length):
    from transformers import BertTokenizer

    rng = random.Random(length)
    vf = tmp_path / "vocab.txt"
    vf.write_text("\n".join(dnabert_vocab(6)) + "\n")
    bert = BertTokenizer(str(vf), do_lower_case=False)
    ours = KmerTokenizer.from_file(vf)
    for alphabet in ("ACGT", "ACGTN"):
        s = random_dna(length, rng, alphabet)
        want = bert(kmer_sentence(s, 6, stride))["input_ids"]
        assert ours.encode(s, stride).tolist() == want
        assert ours.encode(kmer_sentence(s, 6, stride), stride).tolist() == want


def test_kmer_with_n_is_unk():
    tok = KmerTokenizer(dnabert_vocab(6))
    ids = tok.encode("AAAAAANAAAAAA", 1).tolist()
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id
    assert ids[1] == 5 and ids[-2] == 5 and all(i == tok.unk_id for i in ids[2:-2])


def test_windows():
    rng = random.Random(1)
    g = random_dna(200, rng)
    assert tis_input(g, "+", 100) == g[70:130]
    assert tis_input(g, "-", 100) == reverse_complement(g[71:131])  # codon g[98:101] read on '-'
    assert tis_input(g, "-", 100)[30:33] == reverse_complement(g[98:101])
    assert tis_input(g, "+", 5) == "N" * 25 + g[:35]
    assert tis_input(g, "-", 195) == reverse_complement(g[166:] + "N" * 26)
    assert tis_input(g, "+", 190) == g[160:] + "N" * 20
    assert len(tis_input("ACG", "+", 0)) == 60
    orf = random_dna(900, rng)
    assert cds_input(orf) == orf[-510:] and cds_input(orf[:99]) == orf[:99]


# ---------------------------------------------------------------- GeneLM checkpoint format


def test_genelm_format_loads_and_scores_like_bert_tokenizer(tmp_path):
    model = write_genelm_like(tmp_path / "cds")
    clf = load_classifier(tmp_path / "cds", "cpu", "auto", task="cds")
    assert clf.stride == 3 and clf.tokenizer.k == 6 and len(clf.tokenizer.vocab) == 4101
    rng = random.Random(2)
    windows = [cds_input(random_dna(n, rng)) for n in (900, 510, 96, 300, 1500)]
    p = clf.predict(windows)
    assert p.dtype == np.float32 and p.shape == (5,)
    np.testing.assert_allclose(p, reference_probs(model, tmp_path / "cds" / "vocab.txt", windows, 3), atol=1e-5)
    assert len(clf.sha256) == 64


def test_vocab_order_comes_from_the_checkpoint(tmp_path):
    vocab = dnabert_vocab(6)
    shuffled = vocab[:5] + random.Random(3).sample(vocab[5:], len(vocab) - 5)
    model = write_genelm_like(tmp_path / "tis", vocab=shuffled)
    clf = load_classifier(tmp_path / "tis", "cpu", 7, task="tis")
    rng = random.Random(4)
    windows = [random_dna(60, rng) for _ in range(9)] + ["N" * 10 + random_dna(50, rng)]
    np.testing.assert_allclose(clf.predict(windows), reference_probs(model, tmp_path / "tis" / "vocab.txt", windows, 1), atol=1e-5)


def test_pytorch_bin_checkpoint(tmp_path):
    model = write_genelm_like(tmp_path / "m", bin_format=True)
    assert not (tmp_path / "m" / "model.safetensors").exists()
    clf = load_classifier(tmp_path / "m", "cpu", task="tis")
    w = [random_dna(60, random.Random(5))]
    np.testing.assert_allclose(clf.predict(w), reference_probs(model, tmp_path / "m" / "vocab.txt", w, 1), atol=1e-5)


def test_other_architectures_load_through_the_auto_class(tmp_path):
    """BERT checkpoints load through BertForSequenceClassification itself; any other sequence classifier over the same
    k-mer vocabulary (here a DistilBERT) through the Auto class, scored as its own forward pass scores it."""
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    vocab = dnabert_vocab(6)
    cfg = DistilBertConfig(vocab_size=len(vocab), dim=16, n_layers=1, n_heads=2, hidden_dim=32, max_position_embeddings=256)
    torch.manual_seed(3)
    model = DistilBertForSequenceClassification(cfg).eval()
    model.save_pretrained(str(tmp_path / "m"))
    (tmp_path / "m" / "vocab.txt").write_text("\n".join(vocab) + "\n")
    clf = load_classifier(tmp_path / "m", "cpu", task="tis")
    assert type(clf.model).__name__ == "DistilBertForSequenceClassification"
    w = random_dna(60, random.Random(7))
    ids, _ = clf.tokenizer.batch(clf.encode([w]))
    with torch.inference_mode():
        want = torch.softmax(model(input_ids=torch.from_numpy(ids)).logits, -1)[0, 1].item()
    np.testing.assert_allclose(clf.predict([w]), [want], atol=1e-5)


def test_padding_and_batch_size_do_not_change_scores(tmp_path):
    write_genelm_like(tmp_path / "m")
    rng = random.Random(6)
    windows = [cds_input(random_dna(rng.choice([90, 150, 300, 510, 900]), rng)) for _ in range(23)]
    clf = load_classifier(tmp_path / "m", "cpu", 1, task="cds")
    alone = np.array([clf.predict([w])[0] for w in windows])
    for bs in (1, 4, "auto"):
        clf.batch_size = bs
        np.testing.assert_allclose(clf.predict(windows), alone, atol=1e-5)
    assert clf.predict([]).shape == (0,)


def test_load_errors(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_classifier(tmp_path / "nope", "cpu", task="cds")
    write_genelm_like(tmp_path / "m")
    with pytest.raises(ModelError, match="CDS or a TIS"):
        load_classifier(tmp_path / "m", "cpu")  # GeneLM's config says nothing about the task
    (tmp_path / "m" / "vocab.txt").unlink()
    with pytest.raises(ModelError, match="vocab.txt"):
        load_classifier(tmp_path / "m", "cpu", task="cds")
    write_genelm_like(tmp_path / "w")
    (tmp_path / "w" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="cannot load"):
        load_classifier(tmp_path / "w", "cpu", task="cds")


# ---------------------------------------------------------------- pair resolution


def test_train_output_directory_gives_both_models(tmp_path):
    write_genelm_like(tmp_path / "out" / "cds", seed=1)
    write_genelm_like(tmp_path / "out" / "tis", seed=2)
    m = load_prok_models(str(tmp_path / "out"), None, "cpu", "auto")
    assert (m.cds.task, m.tis.task) == ("cds", "tis")
    assert m.cds.path == (tmp_path / "out" / "cds").resolve() and m.tis.path == (tmp_path / "out" / "tis").resolve()
    assert [x[1] for x in m.provenance] == [m.cds.sha256, m.tis.sha256] and m.cds.sha256 != m.tis.sha256
    # an explicit TIS model wins over the directory's own
    write_genelm_like(tmp_path / "other_tis", seed=3)
    m2 = load_prok_models(str(tmp_path / "out"), str(tmp_path / "other_tis"), "cpu", "auto")
    assert m2.tis.path == (tmp_path / "other_tis").resolve()


def test_registry_pair_gives_the_tis_model(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    write_genelm_like(weights / "c", seed=1)
    write_genelm_like(weights / "t", seed=2)
    write_genelm_like(weights / "t2", seed=4)
    toml = (
        registry.entry_toml("tiny-cds", "prok-cds", "package:c", weights / "c", default=True, pair="tiny-tis", tokenizer="dnabert-6mer")
        + "\n" + registry.entry_toml("tiny-tis", "prok-tis", "package:t", weights / "t", tokenizer="dnabert-6mer")
        + "\n" + registry.entry_toml("tiny-tis2", "prok-tis", "package:t2", weights / "t2", default=True)
    )
    (tmp_path / "models.toml").write_text(toml)
    monkeypatch.setenv("GENANNOT_MODELS_TOML", str(tmp_path / "models.toml"))
    m = load_prok_models("tiny-cds", None, "cpu", "auto")
    assert [n for n, _ in m.provenance] == ["tiny-cds", "tiny-tis"]  # the pair, not the default TIS
    d = load_prok_models(None, None, "cpu", "auto")  # registry defaults; the default CDS entry's pair
    assert [n for n, _ in d.provenance] == ["tiny-cds", "tiny-tis"]
    assert load_prok_models("tiny-cds", "tiny-tis2", "cpu").tis.name == "tiny-tis2"
    # a file changed after registration is refused
    with open(weights / "t" / "vocab.txt", "a") as fh:
        fh.write("\n")
    with pytest.raises(ModelError, match="sha256 mismatch"):
        load_prok_models("tiny-cds", None, "cpu")
