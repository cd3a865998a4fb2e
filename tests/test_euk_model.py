"""Encoder in GENA-LM's layout (strict loading of GENA-format checkpoints), recurrent memory, U-Net head,
and the euk-seg model directory."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from genannot.errors import ModelError
from genannot.euk.model import CLASSES, SIGNAL_TRACKS, EukSegModel, SegConfig, rc_to_forward, signal_tracks
from genannot.euk.rmt import EncoderConfig, RecurrentMemoryEncoder, RmtConfig, load_gena_lm
from genannot.euk.tokenizer import DnaTokenizer
from genannot.euk.unet import HeadConfig, NucleotideHead

from test_euk_decode import params  # noqa: F401  (fixture: signal models fitted on a planted genome)
from test_euk_tokenizer import gena_format_tokenizer_json

torch.set_num_threads(1)

H, LAYERS, HEADS, FF, VOCAB, POS = 16, 2, 2, 24, 40, 64


def gena_config(**over) -> dict:
    """config.json as AIRI-Institute/gena-lm-bert-large-t2t ships it, at toy size."""
    cfg = {
        "architectures": ["BertForMaskedLM"],
        "attention_probs_dropout_prob": 0.1,
        "auto_map": {"AutoModel": "modeling_bert.BertForMaskedLM"},
        "gradient_checkpointing": False,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": H,
        "initializer_range": 0.02,
        "intermediate_size": FF,
        "layer_norm_eps": 1e-5,
        "max_position_embeddings": POS,
        "model_type": "bert",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "pad_token_id": 3,
        "position_embedding_type": "absolute",
        "pre_layer_norm": True,
        "transformers_version": "4.6.0.dev0",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": VOCAB,
    }
    cfg.update(over)
    return cfg


def gena_state_dict(*, last_ln: bool = True, nsp: bool = False, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under GENA-LM's parameter names (listed here from its modeling code's layout)."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g) * 0.2

    def ln(prefix):
        return {prefix + ".weight": 1 + r(H), prefix + ".bias": r(H)}

    sd = {
        "bert.embeddings.position_ids": torch.arange(POS).unsqueeze(0),
        "bert.embeddings.word_embeddings.weight": r(VOCAB, H),
        "bert.embeddings.position_embeddings.weight": r(POS, H),
        "bert.embeddings.token_type_embeddings.weight": r(2, H),
        **ln("bert.embeddings.LayerNorm"),
    }
    for i in range(LAYERS):
        p = f"bert.encoder.layer.{i}."
        sd.update(ln(p + "pre_attention_ln"))
        sd.update(ln(p + "post_attention_ln"))
        for name in ("query", "key", "value"):
            sd[p + f"attention.self.{name}.weight"] = r(H, H)
            sd[p + f"attention.self.{name}.bias"] = r(H)
        sd[p + "attention.output.dense.weight"] = r(H, H)
        sd[p + "attention.output.dense.bias"] = r(H)
        sd[p + "intermediate.dense.weight"] = r(FF, H)
        sd[p + "intermediate.dense.bias"] = r(FF)
        sd[p + "output.dense.weight"] = r(H, FF)
        sd[p + "output.dense.bias"] = r(H)
    if last_ln:
        sd.update(ln("bert.encoder.last_layer_ln"))
    sd["cls.predictions.bias"] = r(VOCAB)
    sd["cls.predictions.transform.dense.weight"] = r(H, H)
    sd["cls.predictions.transform.dense.bias"] = r(H)
    sd.update(ln("cls.predictions.transform.LayerNorm"))
    # transformers' state_dict() lists the tied tensors under both names
    sd["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]
    sd["cls.predictions.decoder.bias"] = sd["cls.predictions.bias"]
    if nsp:
        sd["bert.pooler.dense.weight"] = r(H, H)
        sd["bert.pooler.dense.bias"] = r(H)
        sd["cls.seq_relationship.weight"] = r(2, H)
        sd["cls.seq_relationship.bias"] = r(2)
    return sd


def reference_forward(sd: dict[str, torch.Tensor], ids: list[int], last_ln: bool = True, eps: float = 1e-5) -> torch.Tensor:
    """Pre-LN BERT written out from the formulas (independent of genannot.euk.rmt)."""
    F = torch.nn.functional
    x = sd["bert.embeddings.word_embeddings.weight"][ids] + sd["bert.embeddings.position_embeddings.weight"][: len(ids)] + sd["bert.embeddings.token_type_embeddings.weight"][0]
    x = F.layer_norm(x, (H,), sd["bert.embeddings.LayerNorm.weight"], sd["bert.embeddings.LayerNorm.bias"], eps)
    d = H // HEADS
    for i in range(LAYERS):
        p = f"bert.encoder.layer.{i}."
        lin = lambda t, n: t @ sd[p + n + ".weight"].T + sd[p + n + ".bias"]  # noqa: E731
        h = F.layer_norm(x, (H,), sd[p + "pre_attention_ln.weight"], sd[p + "pre_attention_ln.bias"], eps)
        q, k, v = (lin(h, f"attention.self.{n}").view(-1, HEADS, d).transpose(0, 1) for n in ("query", "key", "value"))
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d), dim=-1) @ v
        x = x + lin(a.transpose(0, 1).reshape(-1, H), "attention.output.dense")
        h = F.layer_norm(x, (H,), sd[p + "post_attention_ln.weight"], sd[p + "post_attention_ln.bias"], eps)
        x = x + lin(F.gelu(lin(h, "intermediate.dense")), "output.dense")
    if last_ln:
        x = F.layer_norm(x, (H,), sd["bert.encoder.last_layer_ln.weight"], sd["bert.encoder.last_layer_ln.bias"], eps)
    return x


def write_gena_dir(path, *, fmt: str, last_ln: bool = True, nsp: bool = False, tokenizer: bool = True) -> dict[str, torch.Tensor]:
    path.mkdir(parents=True, exist_ok=True)
    over = {} if last_ln else {"last_layer_norm": False}
    if nsp:
        over["architectures"] = ["BertForPreTraining"]
    (path / "config.json").write_text(json.dumps(gena_config(**over), indent=2))
    sd = gena_state_dict(last_ln=last_ln, nsp=nsp)
    if fmt == "bin":
        torch.save(sd, path / "pytorch_model.bin")
    else:
        from safetensors.torch import save_file

        # safetensors keeps one copy of tied tensors and no buffers
        st = {k: v.contiguous() for k, v in sd.items() if k not in ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias", "bert.embeddings.position_ids")}
        save_file(st, str(path / "model.safetensors"))
    if tokenizer:
        (path / "tokenizer.json").write_text(gena_format_tokenizer_json(["ACG", "AA", "TT", "GC", "TG", "CA"]))
    return sd


# ----------------------------------------------------------------------------- GENA-LM format


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_gena_checkpoint_loads_strict_and_computes_the_same(tmp_path, fmt):
    sd = write_gena_dir(tmp_path / "gena", fmt=fmt)
    model = load_gena_lm(tmp_path / "gena").eval()
    got = model.state_dict()
    assert set(got) == set(sd), "key sets differ from GENA-LM's"
    for k, v in sd.items():
        assert torch.equal(got[k], v), k
    ids = [1, 7, 9, 12, 30, 2]
    with torch.no_grad():
        out = model.bert(torch.tensor([ids]))[0]
    assert torch.allclose(out, reference_forward(sd, ids), atol=1e-5)


def test_gena_variants_pretraining_heads_and_no_last_ln(tmp_path):
    sd = write_gena_dir(tmp_path / "pt", fmt="bin", nsp=True)
    m = load_gena_lm(tmp_path / "pt")
    assert hasattr(m.bert, "pooler") and hasattr(m.cls, "seq_relationship")
    sd = write_gena_dir(tmp_path / "noln", fmt="safetensors", last_ln=False)
    m = load_gena_lm(tmp_path / "noln").eval()
    assert not hasattr(m.bert.encoder, "last_layer_ln")
    with torch.no_grad():
        out = m.bert(torch.tensor([[1, 5, 6, 2]]))[0]
    assert torch.allclose(out, reference_forward(sd, [1, 5, 6, 2], last_ln=False), atol=1e-5)


def test_gena_mismatch_refused(tmp_path):
    sd = write_gena_dir(tmp_path / "x", fmt="bin")
    sd["bert.encoder.layer.0.attention.output.LayerNorm.weight"] = torch.ones(H)  # post-LN key: not GENA layout
    torch.save(sd, tmp_path / "x" / "pytorch_model.bin")
    with pytest.raises(ModelError, match="unexpected keys bert.encoder.layer.0.attention.output.LayerNorm"):
        load_gena_lm(tmp_path / "x")
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "config.json").write_text(json.dumps(gena_config(pre_layer_norm=False)))
    with pytest.raises(ModelError, match="pre-layer-norm"):
        load_gena_lm(tmp_path / "y")


def test_seg_model_from_gena_checkpoint(tmp_path):
    sd = write_gena_dir(tmp_path / "gena", fmt="safetensors")
    model = EukSegModel.from_gena(tmp_path / "gena", rmt=RmtConfig(num_mem_tokens=2), head=HeadConfig(channels=(8, 8), token_dim=4, nuc_dim=4))
    assert torch.equal(model.encoder.bert.embeddings.word_embeddings.weight, sd["bert.embeddings.word_embeddings.weight"])
    probs = model.predict("ACGTTGCA" * 40 + "N" * 20 + "acgt" * 11)
    assert probs.shape == (8 * 40 + 20 + 44, 10)
    assert np.all((probs >= 0) & (probs <= 1))


# ----------------------------------------------------------------------------- recurrent memory


def tiny_encoder(n_mem: int, bptt: int = 0, seg: int = 6) -> RecurrentMemoryEncoder:
    torch.manual_seed(0)
    cfg = EncoderConfig(vocab_size=VOCAB, hidden_size=H, num_hidden_layers=2, num_attention_heads=2, intermediate_size=FF, max_position_embeddings=POS)
    return RecurrentMemoryEncoder(cfg, RmtConfig(num_mem_tokens=n_mem, bptt_depth=bptt, segment_tokens=seg)).eval()


def test_memory_carries_segment_one_into_segment_two():
    enc = tiny_encoder(n_mem=3)
    a = torch.tensor([[10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25]])
    b = a.clone()
    b[0, :6] = torch.tensor([30, 31, 32, 33, 34, 35])  # change segment 1 only
    lengths = torch.tensor([12])
    with torch.no_grad():
        ha, hb = enc(a, lengths), enc(b, lengths)
        assert not torch.allclose(ha[:, 6:], hb[:, 6:]), "segment 2 ignores segment 1: memory not carried"
        ha0, hb0 = enc(a, lengths, carry_memory=False), enc(b, lengths, carry_memory=False)
        assert torch.allclose(ha0[:, 6:], hb0[:, 6:]), "memory off must make segments independent"
    no_mem = tiny_encoder(n_mem=0)
    with torch.no_grad():
        assert torch.allclose(no_mem(a, lengths)[:, 6:], no_mem(b, lengths)[:, 6:])


def test_memory_ignores_padding_and_empty_segments():
    enc = tiny_encoder(n_mem=2)
    x = torch.tensor([[10, 11, 12, 13, 14, 15, 20, 21], [10, 11, 12, 13, 3, 3, 3, 3]])
    with torch.no_grad():
        both, mem = enc(x, torch.tensor([8, 4]), return_memory=True)
        alone, mem1 = enc(x[1:, :4], torch.tensor([4]), return_memory=True)
    assert torch.allclose(both[1, :4], alone[0], atol=1e-6)
    assert torch.allclose(mem[1], mem1[0], atol=1e-6), "an empty segment must leave the memory unchanged"


def _grad_reaches(enc: RecurrentMemoryEncoder, src_seg: int, dst_seg: int, n_seg: int = 4, seg: int = 6) -> bool:
    """Does the output of segment dst_seg have a gradient with respect to the tokens of src_seg?"""
    ids = torch.tensor([[6 + s * seg + j for s in range(n_seg) for j in range(seg)]])  # distinct ids per segment
    enc.zero_grad()
    h = enc(ids, torch.tensor([ids.shape[1]]))
    h[:, dst_seg * seg : (dst_seg + 1) * seg].sum().backward()
    g = enc.bert.embeddings.word_embeddings.weight.grad
    rows = ids[0, src_seg * seg : (src_seg + 1) * seg]
    return bool(g[rows].abs().sum() > 0)


def test_bptt_depth_truncates_gradients():
    enc = tiny_encoder(n_mem=2, bptt=2)
    assert _grad_reaches(enc, 0, 1)  # same gradient chunk (segments 0-1)
    assert not _grad_reaches(enc, 1, 2)  # boundary 2 is a chunk boundary: detached
    assert _grad_reaches(enc, 2, 3)
    assert not _grad_reaches(enc, 0, 3)
    full = tiny_encoder(n_mem=2, bptt=0)
    assert _grad_reaches(full, 0, 3) and _grad_reaches(full, 1, 2)
    one = tiny_encoder(n_mem=2, bptt=1)
    assert not _grad_reaches(one, 0, 1) and _grad_reaches(one, 1, 1)


# ----------------------------------------------------------------------------- U-Net head and seg model


@pytest.mark.parametrize("cycles", [1, 3])
def test_unet_output_length_equals_input_length(cycles):
    torch.manual_seed(0)
    head = NucleotideHead(H, HeadConfig(token_dim=4, nuc_dim=4, channels=(8, 12, 16, 16), n_cycles=cycles, softmask=True)).eval()
    for length in (1, 2, 7, 13, 101, 1001):
        t = max(1, length // 5)
        states = torch.randn(2, t, H)
        b2t = torch.clamp(torch.arange(length) // 5, max=t - 1).expand(2, -1)
        nuc = torch.randint(0, 5, (2, length))
        sm = torch.rand(2, length) > 0.5
        with torch.no_grad():
            out = head(states, b2t, nuc, sm)
        assert out.shape == (2, length, 10)


def small_seg_model(**head_kw) -> EukSegModel:
    torch.manual_seed(0)
    seqs = ["ACGTTGCAAGGCTTAACG" * 40, "GATTACAGATTACA" * 50]
    tok = DnaTokenizer.train(seqs, vocab_size=60, chunk=200)
    enc = EncoderConfig(vocab_size=tok.vocab_size, hidden_size=H, num_hidden_layers=1, num_attention_heads=2, intermediate_size=FF, max_position_embeddings=POS)
    head = HeadConfig(token_dim=4, nuc_dim=4, channels=(8, 8, 8), **head_kw)
    return EukSegModel(SegConfig(enc, RmtConfig(num_mem_tokens=2, segment_tokens=10), head), tok).eval()


def test_seg_model_predict_shapes_and_batching():
    model = small_seg_model(softmask=True)
    seqs = ["ACGTA", "ACGTTGCAAGGCTTAACG" * 13 + "A", "N" * 33, "acgtACGTnnnnnnnnnnnnRYKM" * 9]
    probs = model.predict_batch(seqs, batch_size=2)
    for s, p in zip(seqs, probs):
        assert p.shape == (len(s), 2 * len(CLASSES)) and p.dtype == np.float32
    alone = [model.predict(s) for s in seqs]
    for p, q in zip(probs, alone):
        assert np.allclose(p, q, atol=1e-5), "padding in a batch changed a prediction"
    assert model.predict("").shape == (0, 10)
    n = model.num_parameters()
    assert n["total"] == sum(p.numel() for p in model.parameters())


def test_seg_model_save_load_roundtrip(tmp_path):
    model = small_seg_model(n_cycles=2)
    model.metadata = {"training": {"genomes": ["x.fa"]}}
    model.save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["kind"] == "euk-seg" and cfg["classes"] == list(CLASSES) and cfg["encoder"]["pre_layer_norm"] is True
    assert cfg["metadata"]["training"]["genomes"] == ["x.fa"]
    from safetensors import safe_open

    with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as f:
        assert f.get_tensor("head.out.weight").dtype == torch.float16
    loaded = EukSegModel.from_pretrained(tmp_path / "m")
    # the original with its weights rounded to fp16 must predict exactly what the loaded one does
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    seq = "ACGTTGCAAGGCTTAACG" * 30
    assert np.allclose(model.predict(seq), loaded.predict(seq), atol=1e-6)
    assert loaded.config.head.n_cycles == 2 and loaded.config.rmt.num_mem_tokens == 2
    (tmp_path / "m" / "config.json").write_text(json.dumps({**cfg, "kind": "prok-cds"}))
    with pytest.raises(ModelError, match="kind"):
        EukSegModel.from_pretrained(tmp_path / "m")


def test_five_output_configs_still_load(tmp_path):
    """Models saved before the both-strand head (5 outputs, no n_outputs key) load and predict 5 columns."""
    model = small_seg_model(n_classes=5)
    model.save_pretrained(tmp_path / "old")
    cfg = json.loads((tmp_path / "old" / "config.json").read_text())
    assert cfg["n_outputs"] == 5
    del cfg["n_outputs"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(cfg))
    loaded = EukSegModel.from_pretrained(tmp_path / "old")
    assert loaded.n_outputs == 5 and loaded.predict("ACGT" * 30).shape == (120, 5)
    cfg["n_outputs"] = 7
    (tmp_path / "old" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="output layout"):
        EukSegModel.from_pretrained(tmp_path / "old")


def test_rc_to_forward_swaps_strands_and_reverses():
    p = np.arange(3 * 10, dtype=np.float32).reshape(3, 10)
    f = rc_to_forward(p)
    assert np.array_equal(f[0, :5], p[2, 5:]) and np.array_equal(f[0, 5:], p[2, :5])
    assert np.array_equal(rc_to_forward(f), p)


def test_signal_tracks_mark_sites_and_swap_under_reverse_complement(params):
    from genannot.io.seqout import reverse_complement

    seq = "".join(np.random.default_rng(4).choice(list("ACGT"), 2000)) + "NNNN" + "CCATGGCGTAAGGTAAGT" * 5
    t = signal_tracks(params, seq)
    assert t.shape == (len(seq), SIGNAL_TRACKS) and t.dtype == np.float32 and np.abs(t).max() <= 2.0
    atg = {i for i in range(len(seq) - 2) if seq[i : i + 3] == "ATG"}
    assert set(np.flatnonzero(t[:, 4] > -2.0)) <= atg and len(atg & set(np.flatnonzero(t[:, 4] > -2.0))) > 10
    stops = {i for i in range(len(seq) - 2) if seq[i : i + 3] in ("TAA", "TAG", "TGA")}
    assert set(np.flatnonzero(t[:, 5] > -2.0)) == stops
    assert (t[2000:2004, 2:6] == -2.0).all()  # no site can hold an N
    # read reverse-complemented: the same tracks, positions reversed and the strand halves swapped
    r = signal_tracks(params, reverse_complement(seq))
    assert np.array_equal(r[::-1], np.concatenate([t[:, 6:], t[:, :6]], axis=1))


def test_head_with_signal_tracks_saves_loads_and_needs_its_gene_model(tmp_path, params):
    model = small_seg_model(signal_dim=SIGNAL_TRACKS)
    seq = "ACGTTGCAATGGCTTAACGGTAAGTTAG" * 20
    with pytest.raises(ModelError, match="genemodel"):
        model.predict(seq)
    model.signal_params = params
    batch = model.prepare([seq])
    assert batch.signals.shape == (1, len(seq), SIGNAL_TRACKS)
    with torch.no_grad():
        with_tracks = model(batch)
        batch.signals = torch.zeros_like(batch.signals)
        assert not torch.allclose(model(batch), with_tracks), "the head ignores its signal tracks"
    model.save_pretrained(tmp_path / "m")
    params.save(tmp_path / "m")
    loaded = EukSegModel.from_pretrained(tmp_path / "m")
    assert loaded.config.head.signal_dim == SIGNAL_TRACKS and loaded.signal_params is not None
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    assert np.allclose(model.predict(seq), loaded.predict(seq), atol=1e-6)
    (tmp_path / "m" / "genemodel.npz").unlink()
    with pytest.raises(ModelError, match="genemodel"):
        EukSegModel.from_pretrained(tmp_path / "m")
