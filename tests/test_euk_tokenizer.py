"""BPE tokenizer: GENA-LM special ids, GENA-LM tokenizer.json format, exact token -> nucleotide spans."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from genannot.errors import ModelError
from genannot.euk.tokenizer import (
    CLS_ID,
    MASK_ID,
    NRUN_ID,
    PAD_ID,
    SEP_ID,
    UNK_ID,
    DnaTokenizer,
    clean_sequence,
    softmask_of,
)


def _random_dna(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


@pytest.fixture(scope="module")
def trained() -> DnaTokenizer:
    rng = random.Random(7)
    # a little structure (repeats) so that BPE has something to merge
    unit = _random_dna(rng, 37)
    seqs = [_random_dna(rng, 3000) + unit * 20 + _random_dna(rng, 2000) for _ in range(4)]
    return DnaTokenizer.train(seqs, vocab_size=300, chunk=500)


def gena_format_tokenizer_json(words: list[str]) -> str:
    """A tiny tokenizer.json in the exact layout of GENA-LM's (AIRI-Institute/gena-lm-bert-*-t2t).

    Written here by hand from that file's structure: six special added tokens ([UNK] [CLS] [SEP]
    [PAD] [MASK] '-', ids 0-5), a Sequence normalizer (Strip, then Replace regex N{10,} -> '-'),
    Split('-', Isolated) pre-tokenizer, BertProcessing post-processor, BPEDecoder(' ') and a BPE
    model whose merges are "A B" strings (the older tokenizers serialisation GENA-LM's file uses).
    """
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "-"]
    vocab = {t: i for i, t in enumerate(specials + list("ABCGKMNRSTWY"))}
    merges = []
    for w in words:
        for k in range(2, len(w) + 1):
            if w[:k] not in vocab:
                merges.append(f"{w[:k-1]} {w[k-1]}")
                vocab[w[:k]] = len(vocab)
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
            for i, t in enumerate(specials)
        ],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Strip", "strip_left": True, "strip_right": True},
                {"type": "Replace", "pattern": {"Regex": "N{10,}"}, "content": "-"},
            ],
        },
        "pre_tokenizer": {"type": "Split", "pattern": {"String": "-"}, "behavior": "Isolated", "invert": False},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1]},
        "decoder": {"type": "BPEDecoder", "suffix": " "},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "[UNK]",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "vocab": vocab,
            "merges": merges,
        },
    }
    return json.dumps(doc, indent=2)


def check_tiling(tok: DnaTokenizer, seq: str) -> None:
    """Spans tile [0, len) exactly and each token's text is the cleaned bases it covers."""
    enc = tok.encode(seq)
    n = len(seq)
    assert enc.spans.shape == (len(enc.ids), 2)
    assert enc.spans[0, 0] == 0 and enc.spans[-1, 1] == n
    assert np.all(enc.spans[1:, 0] == enc.spans[:-1, 1])
    assert np.all(enc.spans[:, 1] > enc.spans[:, 0])
    assert enc.base_to_token.shape == (n,)
    for t, (a, b) in enumerate(enc.spans):
        assert np.all(enc.base_to_token[a:b] == t)
    clean = clean_sequence(seq)
    for i, (a, b) in zip(enc.ids, enc.spans):
        text = tok.token(i)
        piece = clean[a:b]
        if i == NRUN_ID:
            assert text == "-" and set(piece) == {"N"} and len(piece) >= 10
        else:
            assert text == piece


def test_trained_specials_have_gena_ids(trained):
    backend = trained.backend
    assert [backend.token_to_id(t) for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "-")] == [0, 1, 2, 3, 4, 5]
    assert (UNK_ID, CLS_ID, SEP_ID, PAD_ID, MASK_ID, NRUN_ID) == (0, 1, 2, 3, 4, 5)
    assert trained.vocab_size <= 300
    assert any(len(trained.token(i) or "") >= 3 for i in range(trained.vocab_size)), "BPE learned no merge"
    # the post-processor frames a sequence as [CLS] ... [SEP]
    ids = backend.encode("ACGTACGT").ids
    assert ids[0] == CLS_ID and ids[-1] == SEP_ID


def test_spans_exact_with_n_runs_softmask_and_iupac(trained):
    rng = random.Random(3)
    for n_run in (1, 9, 10, 11, 25):
        seq = _random_dna(rng, 40) + "N" * n_run + _random_dna(rng, 33)
        check_tiling(trained, seq)
    check_tiling(trained, "N" * 12)  # a window that is one N run
    check_tiling(trained, "NNNNNNNNNNNNNACGT" + "N" * 10)  # leading and trailing runs
    mixed = "acgtRYKMacgtACGTNNNNNNNNNNNNssACGT"
    check_tiling(trained, mixed)
    assert softmask_of(mixed)[:4].all() and not softmask_of(mixed)[12:16].any()
    assert clean_sequence(mixed)[4:8] == "NNNN"


def test_every_prefix_tiles(trained):
    rng = random.Random(11)
    seq = _random_dna(rng, 30) + "N" * 12 + _random_dna(rng, 30)
    for k in range(1, len(seq) + 1):
        check_tiling(trained, seq[:k])
    assert len(trained.encode("")) == 0


def test_gena_format_tokenizer_json_loads(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(gena_format_tokenizer_json(["ACG", "AA", "TT", "GC"]))
    tok = DnaTokenizer.from_file(tmp_path)  # a directory holding tokenizer.json
    assert tok.vocab_size == len(json.loads(path.read_text())["model"]["vocab"])
    enc = tok.encode("ACGTNNNNNNNNNN")  # GENA-LM's own example: ACG, T, '-'
    assert [tok.token(i) for i in enc.ids] == ["ACG", "T", "-"]
    assert enc.ids[-1] == NRUN_ID
    assert enc.spans.tolist() == [[0, 3], [3, 4], [4, 14]]
    # with specials: [CLS] ... [SEP] = ids 1 ... 2, as GENA-LM's tokenizer gives
    assert tok.backend.encode("ACGTNNNNNNNNNN").ids == [1, tok.backend.token_to_id("ACG"), tok.backend.token_to_id("T"), 5, 2]
    check_tiling(tok, "ACGTNACGTNACGTN")
    check_tiling(tok, "ACGRYTNNNNNNNNNNNNGC")


def test_wrong_special_ids_refused(tmp_path):
    doc = json.loads(gena_format_tokenizer_json(["AC"]))
    # swap [PAD] and [MASK]
    v = doc["model"]["vocab"]
    v["[PAD]"], v["[MASK]"] = 4, 3
    for t in doc["added_tokens"]:
        if t["content"] == "[PAD]":
            t["id"] = 4
        elif t["content"] == "[MASK]":
            t["id"] = 3
    (tmp_path / "tokenizer.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="PAD"):
        DnaTokenizer.from_file(tmp_path / "tokenizer.json")
    with pytest.raises(ModelError):
        DnaTokenizer.from_file(tmp_path / "absent.json")


def test_save_load_roundtrip(trained, tmp_path):
    trained.save(tmp_path)
    assert (tmp_path / "tokenizer_config.json").is_file()
    again = DnaTokenizer.from_file(tmp_path / "tokenizer.json")
    seq = "ACGTTGCA" * 50 + "N" * 15 + "GATTACA" * 20
    assert np.array_equal(trained.encode(seq).ids, again.encode(seq).ids)
