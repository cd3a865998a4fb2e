"""DNA encoder: a BERT in GENA-LM's pre-layer-norm layout, wrapped with recurrent memory (RMT).

Layout (parameter names exactly as in GENA-LM's modeling_bert.py, so that the published
`AIRI-Institute/gena-lm-bert-*` checkpoints load with strict=True):

    bert.embeddings.{word_embeddings, position_embeddings, token_type_embeddings, LayerNorm}
        (+ the persistent buffer bert.embeddings.position_ids that transformers 4.x saved)
    bert.encoder.layer.N.pre_attention_ln          x = x + Wo(attn(LN(x)))
    bert.encoder.layer.N.attention.self.{query,key,value}
    bert.encoder.layer.N.attention.output.dense    (no LayerNorm inside: pre-LN)
    bert.encoder.layer.N.post_attention_ln         x = x + W2(act(W1(LN(x))))
    bert.encoder.layer.N.intermediate.dense / output.dense
    bert.encoder.last_layer_ln                     when config.last_layer_norm (default: = pre_layer_norm)
    bert.pooler.dense                              BertForPreTraining checkpoints only
    cls.predictions.{transform.dense, transform.LayerNorm, decoder, bias}   masked-LM head
    cls.seq_relationship                           BertForPreTraining checkpoints only

The code is written here from that description; nothing of GENA-LM's implementation is copied.

Recurrent memory (Bulatov et al. 2022, as GENATATOR uses it): the content tokens of a sequence are
cut into segments; each segment is run as

    [mem_read x n] [CLS] tok ... tok [SEP] [mem_write x n] [PAD ...]

where both memory blocks are the current memory state (the learned initial memory for the first
segment), and the encoder's outputs at the write positions become the memory of the next segment.
`bptt_depth` = k truncates back-propagation through time: the memory is detached at every k-th
segment boundary (segments 0..k-1 form one gradient chunk, k..2k-1 the next, ...), so no gradient
crosses more than k-1 boundaries; k <= 0 keeps the whole graph.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from genannot.errors import ModelError

# ----------------------------------------------------------------------------- config


@dataclass
class EncoderConfig:
    """BERT hyper-parameters; `to_dict()` is a GENA-LM-style config.json."""

    vocab_size: int = 4096
    hidden_size: int = 192
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 768
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 3
    pre_layer_norm: bool = True
    last_layer_norm: bool = True
    position_embedding_type: str = "absolute"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EncoderConfig":
        """Read a BERT/GENA-LM config.json dict (unknown keys ignored, unsupported variants refused)."""
        if not d.get("pre_layer_norm", False):
            raise ModelError("only pre-layer-norm BERT encoders (GENA-LM layout, pre_layer_norm: true) are supported")
        if d.get("position_embedding_type", "absolute") != "absolute":
            raise ModelError(f"position_embedding_type {d.get('position_embedding_type')!r} is not supported (absolute only)")
        if d.get("sparse_config_cls") or d.get("sparse_attention"):
            raise ModelError("sparse-attention GENA-LM checkpoints are not supported")
        if d.get("add_cross_attention") or d.get("is_decoder"):
            raise ModelError("decoder / cross-attention BERT checkpoints are not supported")
        names = {f.name for f in fields(cls)}
        kw = {k: d[k] for k in names if k in d}
        # GENA-LM: last_layer_norm absent from config.json means "same as pre_layer_norm"
        kw.setdefault("last_layer_norm", bool(d.get("pre_layer_norm", False)))
        cfg = cls(**kw)
        if cfg.hidden_size % cfg.num_attention_heads:
            raise ModelError("hidden_size is not a multiple of num_attention_heads")
        if cfg.hidden_act not in _ACTS:
            raise ModelError(f"hidden_act {cfg.hidden_act!r} is not supported")
        return cfg

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model_type"] = "bert"
        return d


_ACTS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


# ----------------------------------------------------------------------------- BERT (pre-LN)


class Embeddings(nn.Module):
    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)
        # persistent, as transformers 4.x saved it: part of GENA-LM's state dict
        self.register_buffer("position_ids", torch.arange(cfg.max_position_embeddings).unsqueeze(0), persistent=True)

    def forward(self, input_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        x = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        n = x.shape[1]
        if n > self.position_embeddings.num_embeddings:
            raise ValueError(f"{n} positions exceed max_position_embeddings={self.position_embeddings.num_embeddings}")
        x = x + self.position_embeddings(self.position_ids[:, :n]) + self.token_type_embeddings.weight[0]
        return self.dropout(self.LayerNorm(x))


class SelfAttention(nn.Module):
    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.p_drop = cfg.attention_probs_dropout_prob

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, n, _ = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.p_drop if self.training else 0.0)
        return out.transpose(1, 2).reshape(b, n, self.heads * self.head_dim)


class Output(nn.Module):
    """Projection back to the hidden size, then dropout: after attention and after the feed-forward block
    (GENA-LM's `attention.output` and `output`; the parameter names come from the attributes that hold it)."""

    def __init__(self, cfg: EncoderConfig, in_features: int) -> None:
        super().__init__()
        self.dense = nn.Linear(in_features, cfg.hidden_size)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(x))


class Attention(nn.Module):
    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.self = SelfAttention(cfg)
        self.output = Output(cfg, cfg.hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(x, mask))


class Intermediate(nn.Module):
    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.act = _ACTS[cfg.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(x))


class Layer(nn.Module):
    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.pre_attention_ln = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.post_attention_ln = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.attention = Attention(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = Output(cfg, cfg.intermediate_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attention(self.pre_attention_ln(x), mask)
        return x + self.output(self.intermediate(self.post_attention_ln(x)))


class Encoder(nn.Module):
    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([Layer(cfg) for _ in range(cfg.num_hidden_layers)])
        if cfg.last_layer_norm:
            self.last_layer_ln = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, mask)
        if hasattr(self, "last_layer_ln"):
            x = self.last_layer_ln(x)
        return x


class Pooler(nn.Module):
    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(x[:, 0]))


def _attn_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """(B, N) 1/0 -> (B, 1, 1, N) bool for scaled_dot_product_attention (True = attend)."""
    if attention_mask is None:
        return None
    return attention_mask.bool()[:, None, None, :]


class GenaBertModel(nn.Module):
    """The bare encoder (`bert.` in GENA-LM checkpoints)."""

    def __init__(self, cfg: EncoderConfig, add_pooling_layer: bool = False) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = Embeddings(cfg)
        self.encoder = Encoder(cfg)
        if add_pooling_layer:
            self.pooler = Pooler(cfg)
        init_weights(self, cfg)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = self.embeddings(input_ids=input_ids, inputs_embeds=inputs_embeds)
        return self.encoder(x, _attn_mask(attention_mask))


class PredictionHeadTransform(nn.Module):
    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.act = _ACTS[cfg.hidden_act]
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.act(self.dense(x)))


class LMPredictionHead(nn.Module):
    """Masked-LM head; `decoder.weight` is tied to the word embeddings, `decoder.bias` to `bias`."""

    def __init__(self, cfg: EncoderConfig, word_embeddings: nn.Embedding) -> None:
        super().__init__()
        self.transform = PredictionHeadTransform(cfg)
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.decoder.weight = word_embeddings.weight
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.decoder.bias = self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(x))


class MLMHeads(nn.Module):
    def __init__(self, cfg: EncoderConfig, word_embeddings: nn.Embedding, nsp: bool = False) -> None:
        super().__init__()
        self.predictions = LMPredictionHead(cfg, word_embeddings)
        if nsp:
            self.seq_relationship = nn.Linear(cfg.hidden_size, 2)


class GenaBertForMaskedLM(nn.Module):
    """GENA-LM's BertForMaskedLM (nsp=False) or BertForPreTraining (nsp=True) parameter layout."""

    def __init__(self, cfg: EncoderConfig, nsp: bool = False) -> None:
        super().__init__()
        self.config = cfg
        self.bert = GenaBertModel(cfg, add_pooling_layer=nsp)
        self.cls = MLMHeads(cfg, self.bert.embeddings.word_embeddings, nsp=nsp)
        # the decoder weight is the (already initialised) word-embedding matrix: leave it alone
        init_weights(self.cls.predictions.transform, cfg)
        if nsp:
            init_weights(self.cls.seq_relationship, cfg)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.cls.predictions(self.bert(input_ids, attention_mask))


def init_weights(module: nn.Module, cfg: EncoderConfig) -> None:
    """GENA-LM's initialisation: N(0, 0.02); residual output projections / sqrt(2 L) (pre-LN)."""
    std = cfg.initializer_range
    for name, m in module.named_modules():
        if isinstance(m, nn.Linear):
            s = std
            if cfg.pre_layer_norm and name.endswith("output.dense"):  # attention.output.dense, output.dense
                s = std / math.sqrt(2.0 * cfg.num_hidden_layers)
            nn.init.normal_(m.weight, 0.0, s)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, std)
            if m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------- GENA-LM checkpoints


def read_gena_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read config.json + model.safetensors (else pytorch_model.bin) from a GENA-LM directory."""
    d = Path(path)
    cfg_path = d / "config.json"
    if not cfg_path.is_file():
        raise ModelError(f"no config.json in {d}")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelError(f"{cfg_path} is not valid JSON: {e}") from None
    EncoderConfig.from_dict(cfg)  # refuse unsupported variants before reading any weights
    st, binf = d / "model.safetensors", d / "pytorch_model.bin"
    if st.is_file():
        from safetensors.torch import load_file

        sd = load_file(str(st), device="cpu")
    elif binf.is_file():
        sd = torch.load(str(binf), map_location="cpu", weights_only=True)
    else:
        raise ModelError(f"no model.safetensors or pytorch_model.bin in {d}")
    return cfg, dict(sd)


def normalize_gena_state_dict(sd: Mapping[str, torch.Tensor], cfg: EncoderConfig) -> dict[str, torch.Tensor]:
    """Fill the entries GENA-LM files may legitimately omit, so that a strict load can follow.

    - `bert.embeddings.position_ids`: a buffer, absent from newer saves -> arange;
    - tied tensors that safetensors stores once: `cls.predictions.decoder.weight` (= the word
      embeddings) and `cls.predictions.decoder.bias` / `cls.predictions.bias` (one from the other);
    - a bare BertModel dump (keys without the `bert.` prefix) gets the prefix.
    Nothing else is renamed or dropped: any other difference fails the strict load.
    """
    out = dict(sd)
    if any(k.startswith("embeddings.") for k in out) and not any(k.startswith("bert.") for k in out):
        out = {("bert." + k if k.startswith(("embeddings.", "encoder.", "pooler.")) else k): v for k, v in out.items()}
    out.setdefault("bert.embeddings.position_ids", torch.arange(cfg.max_position_embeddings).unsqueeze(0))
    if any(k.startswith("cls.predictions.") for k in out):
        if "cls.predictions.decoder.weight" not in out and "bert.embeddings.word_embeddings.weight" in out:
            out["cls.predictions.decoder.weight"] = out["bert.embeddings.word_embeddings.weight"]
        if "cls.predictions.decoder.bias" not in out and "cls.predictions.bias" in out:
            out["cls.predictions.decoder.bias"] = out["cls.predictions.bias"]
        if "cls.predictions.bias" not in out and "cls.predictions.decoder.bias" in out:
            out["cls.predictions.bias"] = out["cls.predictions.decoder.bias"]
    return out


def load_gena_lm(path: str | Path) -> GenaBertForMaskedLM:
    """Load a GENA-LM checkpoint directory into GenaBertForMaskedLM with strict=True."""
    raw_cfg, sd = read_gena_checkpoint(path)
    cfg = EncoderConfig.from_dict(raw_cfg)
    nsp = "BertForPreTraining" in (raw_cfg.get("architectures") or []) or any(k.startswith("cls.seq_relationship.") for k in sd)
    model = GenaBertForMaskedLM(cfg, nsp=nsp)
    sd = normalize_gena_state_dict(sd, cfg)
    sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    strict_load(model, sd, f"{path}: not a GENA-LM BERT checkpoint this code can load")
    return model


def strict_load(module: nn.Module, sd: Mapping[str, torch.Tensor], what: str) -> None:
    """load_state_dict(strict=True), with a one-line ModelError naming the keys that differ."""
    want = set(module.state_dict())
    have = set(sd)
    missing, unexpected = sorted(want - have), sorted(have - want)
    if missing or unexpected:
        parts = []
        if unexpected:
            parts.append(f"unexpected keys {', '.join(unexpected[:4])}{' ...' if len(unexpected) > 4 else ''}")
        if missing:
            parts.append(f"missing keys {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        raise ModelError(f"{what}: {'; '.join(parts)}")
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as e:  # shape mismatch
        msg = " ".join(str(e).split())
        raise ModelError(f"{what}: {msg[:300]}") from None


# ----------------------------------------------------------------------------- recurrent memory


@dataclass
class RmtConfig:
    num_mem_tokens: int = 8
    bptt_depth: int = 2  # gradient chunk in segments; <= 0: no truncation
    segment_tokens: int = 0  # content tokens per segment; 0: fill max_position_embeddings

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RmtConfig":
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RecurrentMemoryEncoder(nn.Module):
    """GenaBertModel run segment by segment with memory tokens carried between segments."""

    def __init__(self, cfg: EncoderConfig, rmt: RmtConfig) -> None:
        super().__init__()
        self.config = cfg
        self.rmt = rmt
        self.bert = GenaBertModel(cfg)
        n = rmt.num_mem_tokens
        room = cfg.max_position_embeddings - 2 - 2 * n
        if room < 1:
            raise ModelError(f"{n} memory tokens leave no room in {cfg.max_position_embeddings} positions")
        self.segment_tokens = min(rmt.segment_tokens, room) if rmt.segment_tokens > 0 else room
        if n > 0:
            self.memory = nn.Parameter(torch.randn(n, cfg.hidden_size) * cfg.initializer_range)

    @property
    def num_mem(self) -> int:
        return self.rmt.num_mem_tokens

    def initial_memory(self, batch: int) -> torch.Tensor | None:
        if self.num_mem == 0:
            return None
        return self.memory.unsqueeze(0).expand(batch, -1, -1)

    def forward(
        self,
        input_ids: torch.Tensor,
        lengths: torch.Tensor,
        *,
        carry_memory: bool = True,
        memory: torch.Tensor | None = None,
        return_memory: bool = False,
        return_segment_memories: bool = False,
    ):
        """input_ids (B, T) content tokens (padded), lengths (B,) -> states (B, T, H).

        carry_memory=False resets the memory to its learned initial value at every segment
        (the "memory off" ablation: segments are encoded independently).
        """
        b, t = input_ids.shape
        device = input_ids.device
        n, s_max = self.num_mem, self.segment_tokens
        emb = self.bert.embeddings.word_embeddings
        mem = self.initial_memory(b) if memory is None else memory
        n_seg = max(1, math.ceil(t / s_max))
        outs = []
        seg_mems = []
        k = self.rmt.bptt_depth
        for s in range(n_seg):
            ids = input_ids[:, s * s_max : (s + 1) * s_max]
            w = ids.shape[1]
            seg_len = (lengths - s * s_max).clamp(0, w)  # (B,)
            if not carry_memory:
                mem = self.initial_memory(b)
            elif s > 0 and k > 0 and s % k == 0 and mem is not None:
                mem = mem.detach()
            # per item: [mem_read] [CLS] tok ... tok [SEP] [mem_write] [PAD ...]; the write block
            # follows each item's own [SEP], so positions never depend on what it is batched with
            body = torch.full((b, w + 2), 3, dtype=torch.long, device=device)  # PAD id
            body[:, 0] = 1  # CLS
            pos = torch.arange(w, device=device).unsqueeze(0)
            valid = pos < seg_len.unsqueeze(1)
            body[:, 1 : w + 1] = torch.where(valid, ids, body[:, 1 : w + 1])
            body.scatter_(1, (seg_len + 1).unsqueeze(1), 2)  # SEP
            x = emb(body)
            used = 2 * n + seg_len + 2  # (B,) positions in use
            if n > 0:
                x = torch.cat([mem.to(x.dtype), x, torch.zeros_like(mem, dtype=x.dtype)], dim=1)
                write_pos = (n + seg_len + 2).unsqueeze(1) + torch.arange(n, device=device).unsqueeze(0)  # (B, n)
                idx = write_pos.unsqueeze(-1).expand(-1, -1, x.shape[-1])
                x = x.scatter(1, idx, mem.to(x.dtype))
            mask = torch.arange(x.shape[1], device=device).unsqueeze(0) < used.unsqueeze(1)
            h = self.bert(inputs_embeds=x, attention_mask=mask)
            outs.append(h[:, n + 1 : n + 1 + w])
            if n > 0:
                new_mem = torch.gather(h, 1, idx)
                has = (seg_len > 0).view(b, 1, 1)
                mem = torch.where(has, new_mem, mem)
                if return_segment_memories:
                    seg_mems.append(mem)
        states = torch.cat(outs, dim=1) if len(outs) > 1 else outs[0]
        if return_segment_memories:
            return states, seg_mems
        if return_memory:
            return states, mem
        return states

    def load_gena_encoder(self, sd: Mapping[str, torch.Tensor]) -> None:
        """Initialise `bert` from a GENA-LM state dict (its `bert.` part, loaded strictly)."""
        sd = normalize_gena_state_dict(sd, self.config)
        enc = {k[len("bert.") :]: v.float() if v.is_floating_point() else v for k, v in sd.items() if k.startswith("bert.") and not k.startswith("bert.pooler.")}
        strict_load(self.bert, enc, "GENA-LM encoder weights do not fit")
