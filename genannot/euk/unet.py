"""Nucleotide-level head: token states -> per-base logits for 5'UTR, exon, intron, 3'UTR, CDS.

1. Each token's encoder state (projected to `token_dim`) is repeated over the bases it covers
   (`base_to_token` from the tokenizer's span map).
2. Concatenated with a learned nucleotide embedding (A, C, G, T, N), plus a learned soft-mask
   vector on lowercase bases when `softmask` is on, and, when `signal_dim` > 0, that many per-base
   signal tracks of the decoder's own models (genannot.euk.model.signal_tracks: the coding chain's
   mean log-odds in the best reading frame, splice, start and stop scores, both strands), which a
   small model trained on little data does not learn from sequence alone.
3. A 1D convolutional U-Net (residual conv blocks with per-position channel LayerNorm, stride-2 down-sampling, nearest up-sampling,
   skip connections). Any length works: the input is padded to a multiple of 2^(levels-1) and the
   output cropped back, so the output has exactly one row per base.
4. Optional recycling: the U-Net runs `n_cycles` times with shared weights, its output features
   projected (zero-initialised 1x1 conv) and added back to its input before each further cycle.
5. A 1x1 conv to `n_classes` logits per base (sigmoid outside: multi-label, all low = intergenic):
   10 = five classes for the strand the window is read on, then five for the opposite strand, each
   in its own transcription direction (genannot.euk.model); 5 = reading strand only (older models).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

N_CLASSES = 10
NUC_INDEX = {c: i for i, c in enumerate("ACGTN")}


@dataclass
class HeadConfig:
    token_dim: int = 64
    nuc_dim: int = 16
    softmask: bool = False
    channels: tuple[int, ...] = (48, 64, 96, 128)
    kernel_size: int = 9
    dropout: float = 0.0
    n_cycles: int = 1
    n_classes: int = N_CLASSES
    signal_dim: int = 0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "HeadConfig":
        kw = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        if "channels" in kw:
            kw["channels"] = tuple(int(c) for c in kw["channels"])
        return cls(**kw)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d


class ChannelNorm(nn.Module):
    """LayerNorm over channels at each position: independent of length and padding."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, k, padding=k // 2)
        self.norm1 = ChannelNorm(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, k, padding=(k // 2) * 2, dilation=2)
        self.norm2 = ChannelNorm(c_out)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()  # bernoulli is costly on CPU
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.norm1(self.conv1(x))) * mask
        h = self.norm2(self.conv2(self.drop(h)))
        return F.gelu(h + self.skip(x)) * mask


class UNet1d(nn.Module):
    """Positions beyond each sequence's end are zeroed after every layer (`mask`), so a prediction
    never depends on the padding it was batched with."""

    def __init__(self, channels: tuple[int, ...], k: int, dropout: float) -> None:
        super().__init__()
        self.channels = channels
        self.down_blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i, c in enumerate(channels):
            self.down_blocks.append(ResBlock(channels[i - 1] if i else c, c, k, dropout))
            if i < len(channels) - 1:
                self.downs.append(nn.Conv1d(c, c, 2, stride=2))
        self.ups = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for i in range(len(channels) - 2, -1, -1):
            self.ups.append(nn.Conv1d(channels[i + 1], channels[i], 1))
            self.up_blocks.append(ResBlock(2 * channels[i], channels[i], k, dropout))

    @property
    def multiple(self) -> int:
        return 2 ** (len(self.channels) - 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, C0, L), mask (B, 1, L) with L a multiple of `multiple` -> (B, C0, L)."""
        skips = []
        masks = [mask]
        for i, block in enumerate(self.down_blocks):
            x = block(x, masks[-1])
            if i < len(self.downs):
                skips.append(x)
                masks.append(masks[-1][:, :, ::2])
                x = self.downs[i](x) * masks[-1]
        masks.pop()
        for up, block in zip(self.ups, self.up_blocks):
            m = masks.pop()
            x = up(F.interpolate(x, scale_factor=2, mode="nearest")) * m
            x = block(torch.cat([x, skips.pop()], dim=1), m)
        return x


class NucleotideHead(nn.Module):
    def __init__(self, hidden_size: int, cfg: HeadConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c0 = cfg.channels[0]
        self.token_proj = nn.Linear(hidden_size, cfg.token_dim)
        self.nuc_emb = nn.Embedding(5, cfg.nuc_dim)
        if cfg.softmask:
            self.softmask_emb = nn.Parameter(torch.zeros(cfg.nuc_dim))
        self.in_proj = nn.Conv1d(cfg.token_dim + cfg.nuc_dim + cfg.signal_dim, c0, 1)
        self.unet = UNet1d(tuple(cfg.channels), cfg.kernel_size, cfg.dropout)
        self.recycle = nn.Conv1d(c0, c0, 1)
        nn.init.zeros_(self.recycle.weight)
        nn.init.zeros_(self.recycle.bias)
        self.out = nn.Conv1d(c0, cfg.n_classes, 1)
        nn.init.constant_(self.out.bias, -2.0)  # start near the classes' low prevalence, not at p = 0.5

    def forward(
        self,
        token_states: torch.Tensor,
        base_to_token: torch.Tensor,
        nuc_ids: torch.Tensor,
        softmask: torch.Tensor | None = None,
        n_cycles: int | None = None,
        lengths: torch.Tensor | None = None,
        signals: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """token_states (B, T, H), base_to_token (B, L), nuc_ids (B, L), softmask (B, L),
        lengths (B,) bases per item (default: all L), signals (B, L, signal_dim) -> logits (B, L, n_classes)."""
        b, length = nuc_ids.shape
        tok = self.token_proj(token_states)  # (B, T, D)
        idx = base_to_token.clamp(0, tok.shape[1] - 1).unsqueeze(-1).expand(-1, -1, tok.shape[-1])
        per_base = torch.gather(tok, 1, idx)  # (B, L, D)
        nuc = self.nuc_emb(nuc_ids)
        if self.cfg.softmask and softmask is not None:
            nuc = nuc + softmask.unsqueeze(-1).to(nuc.dtype) * self.softmask_emb
        parts = [per_base, nuc]
        if self.cfg.signal_dim:
            if signals is None or signals.shape[-1] != self.cfg.signal_dim:
                raise ValueError(f"this head reads {self.cfg.signal_dim} signal tracks per base")
            parts.append(signals.to(nuc.dtype))
        x = self.in_proj(torch.cat(parts, dim=-1).transpose(1, 2))  # (B, C0, L)
        m = self.unet.multiple
        padded = length + (-length) % m
        if lengths is None:
            lengths = torch.full((b,), length, dtype=torch.long, device=x.device)
        mask = (torch.arange(padded, device=x.device).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(1).to(x.dtype)
        if padded > length:
            x = F.pad(x, (0, padded - length))
        x = x * mask
        cycles = self.cfg.n_cycles if n_cycles is None else n_cycles
        y = self.unet(x, mask)
        for _ in range(max(1, cycles) - 1):
            y = self.unet(x + self.recycle(y) * mask, mask)
        logits = self.out(y)[:, :, :length]
        return logits.transpose(1, 2)
