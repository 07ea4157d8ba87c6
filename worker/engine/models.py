"""Model registry: `build_model(spec.model, vocab_size=...)` -> nn.Module. Architectures are code we ship,
never code a submitter sends. No dropout, so training consumes no random numbers after initialization.

    model = build_model(MLPSpec(...))                                  # logits (B, num_classes)
    model = build_model(CharTransformerSpec(...), vocab_size=65)       # logits (B, T, vocab_size)
"""

from __future__ import annotations

import torch
from torch import nn

from pinpoint.spec import CharTransformerSpec, MLPSpec, ModelSpec


class MLP(nn.Module):
    """Classifier: `depth` Linear+ReLU hidden layers, then a Linear head."""

    def __init__(self, spec: MLPSpec):
        super().__init__()
        dims = [spec.input_dim] + [spec.hidden_dim] * spec.depth
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], spec.num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, F) -> (B, num_classes)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees only positions <= t."""

    def __init__(self, spec: CharTransformerSpec):
        super().__init__()
        self.heads = spec.heads
        self.qkv = nn.Linear(spec.embed_dim, 3 * spec.embed_dim)
        self.proj = nn.Linear(spec.embed_dim, spec.embed_dim)
        mask = torch.tril(torch.ones(spec.context, spec.context, dtype=torch.bool))
        self.register_buffer("causal_mask", mask, persistent=False)  # derived, not state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape  # (B, T, C)
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        q, k, v = (z.view(B, T, self.heads, C // self.heads).transpose(1, 2) for z in (q, k, v))  # (B, H, T, D)
        att = (q @ k.transpose(-2, -1)) * (1.0 / (k.size(-1) ** 0.5))  # (B, H, T, T)
        att = att.masked_fill(~self.causal_mask[:T, :T], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.proj(y)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, spec: CharTransformerSpec):
        super().__init__()
        self.ln1 = nn.LayerNorm(spec.embed_dim)
        self.attn = CausalSelfAttention(spec)
        self.ln2 = nn.LayerNorm(spec.embed_dim)
        self.mlp = nn.Sequential(
            nn.Linear(spec.embed_dim, 4 * spec.embed_dim), nn.GELU(), nn.Linear(4 * spec.embed_dim, spec.embed_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))  # (B, T, C)
        return x + self.mlp(self.ln2(x))  # (B, T, C)


class CharTransformer(nn.Module):
    """Character-level causal language model (nanoGPT-style)."""

    def __init__(self, spec: CharTransformerSpec, vocab_size: int):
        super().__init__()
        self.context = spec.context
        self.token_embedding = nn.Embedding(vocab_size, spec.embed_dim)
        self.position_embedding = nn.Embedding(spec.context, spec.embed_dim)
        self.blocks = nn.Sequential(*(Block(spec) for _ in range(spec.layers)))
        self.ln_f = nn.LayerNorm(spec.embed_dim)
        self.head = nn.Linear(spec.embed_dim, vocab_size, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape  # (B, T)
        if T > self.context:
            raise ValueError(f"sequence length {T} exceeds context {self.context}")
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.token_embedding(idx) + self.position_embedding(pos)  # (B, T, C)
        x = self.ln_f(self.blocks(x))  # (B, T, C)
        return self.head(x)  # (B, T, vocab_size)


def build_model(spec: ModelSpec, vocab_size: int | None = None) -> nn.Module:
    """Instantiate the registered architecture; `vocab_size` is required for text models."""
    if isinstance(spec, MLPSpec):
        return MLP(spec)
    if isinstance(spec, CharTransformerSpec):
        if vocab_size is None or vocab_size < 1:
            raise ValueError("char_transformer needs the dataset's vocab_size")
        return CharTransformer(spec, vocab_size)
    raise TypeError(f"no model registered for {type(spec).__name__}")
