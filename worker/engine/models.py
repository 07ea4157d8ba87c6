"""Model registry: `build_model(spec.model, vocab_size=...)` -> nn.Module. Architectures are code we ship,
never code a submitter sends: a spec declares sizes only. Built from the global torch RNG (the trainer seeds it
with the job's seed first), in a fixed order, so the same spec and seed give the same weights. No dropout, so
training consumes no random numbers after initialization.

    model = build_model(MLPSpec(...))                                  # logits (B, num_classes)
    model = build_model(CharTransformerSpec(...), vocab_size=65)       # logits (B, T, vocab_size)
    model = build_model(GPTSpec(...))                                  # logits (B, T, spec.vocab_size)
    model = build_model(CNNSpec(...))                                  # logits (B, num_classes)

`pinpoint.resources.model_parameters(spec)` counts each one's parameters exactly, without torch (a test checks).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pinpoint.spec import CharTransformerSpec, CNNSpec, GPTSpec, MLPSpec, ModelSpec
from worker.engine.repops import LinearFunction


class ReproLinear(nn.Linear):
    """nn.Linear (same parameters, same initialization) whose products and sums run in the reproducible profile's
    fixed order (worker/engine/repops.py)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return LinearFunction.apply(x, self.weight, self.bias)


class MLP(nn.Module):
    """Classifier: `depth` Linear+ReLU hidden layers, then a Linear head."""

    def __init__(self, spec: MLPSpec, reproducible: bool = False):
        super().__init__()
        linear = ReproLinear if reproducible else nn.Linear
        dims = [spec.input_dim] + [spec.hidden_dim] * spec.depth
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [linear(a, b), nn.ReLU()]
        layers.append(linear(dims[-1], spec.num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, F) -> (B, num_classes)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees only positions <= t."""

    def __init__(self, spec: CharTransformerSpec | GPTSpec, mask_buffer: bool = True):
        super().__init__()
        self.heads = spec.heads
        self.qkv = nn.Linear(spec.embed_dim, 3 * spec.embed_dim)
        self.proj = nn.Linear(spec.embed_dim, spec.embed_dim)
        # GPT builds the mask per call instead: a (context, context) buffer in every layer is too much at size
        mask = torch.tril(torch.ones(spec.context, spec.context, dtype=torch.bool)) if mask_buffer else None
        self.register_buffer("causal_mask", mask, persistent=False)  # derived, not state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape  # (B, T, C)
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        q, k, v = (z.view(B, T, self.heads, C // self.heads).transpose(1, 2) for z in (q, k, v))  # (B, H, T, D)
        att = (q @ k.transpose(-2, -1)) * (1.0 / (k.size(-1) ** 0.5))  # (B, H, T, T)
        mask = self.causal_mask[:T, :T] if self.causal_mask is not None else torch.ones(
            T, T, dtype=torch.bool, device=x.device).tril()  # (T, T)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.proj(y)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, spec: CharTransformerSpec | GPTSpec, ratio: int = 4, mask_buffer: bool = True):
        super().__init__()
        self.ln1 = nn.LayerNorm(spec.embed_dim)
        self.attn = CausalSelfAttention(spec, mask_buffer)
        self.ln2 = nn.LayerNorm(spec.embed_dim)
        self.mlp = nn.Sequential(
            nn.Linear(spec.embed_dim, ratio * spec.embed_dim), nn.GELU(), nn.Linear(ratio * spec.embed_dim, spec.embed_dim)
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


class GPT(nn.Module):
    """GPT-2-style causal decoder over token ids in [0, spec.vocab_size) (pinpoint.spec.GPTSpec). With tied
    embeddings the head is the token embedding matrix itself (one tensor in the state, not two)."""

    def __init__(self, spec: GPTSpec):
        super().__init__()
        self.context, self.vocab_size = spec.context, spec.vocab_size
        self.token_embedding = nn.Embedding(spec.vocab_size, spec.embed_dim)
        self.position_embedding = nn.Embedding(spec.context, spec.embed_dim)
        self.blocks = nn.Sequential(*(Block(spec, spec.mlp_ratio, mask_buffer=False) for _ in range(spec.layers)))
        self.ln_f = nn.LayerNorm(spec.embed_dim)
        self.head = None if spec.tied_embeddings else nn.Linear(spec.embed_dim, spec.vocab_size, bias=False)
        self._initialize(spec.layers)

    @torch.no_grad()
    def _initialize(self, layers: int) -> None:
        """GPT-2's initialization, in module order: normal(0, 0.02) weights, zero biases, LayerNorms (1, 0),
        the two projections into the residual stream of each block at 0.02 / sqrt(2 * layers)."""
        residual = 0.02 / (2 * layers) ** 0.5
        for name, module in self.named_modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                std = residual if name.endswith(("attn.proj", "mlp.2")) else 0.02
                module.weight.normal_(0.0, std)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]  # idx: (B, T)
        if T > self.context:
            raise ValueError(f"sequence length {T} exceeds context {self.context}")
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.token_embedding(idx) + self.position_embedding(pos)  # (B, T, C)
        x = self.ln_f(self.blocks(x))  # (B, T, C)
        if self.head is None:
            return F.linear(x, self.token_embedding.weight)  # (B, T, vocab_size)
        return self.head(x)  # (B, T, vocab_size)


class CNN(nn.Module):
    """Image classifier (pinpoint.spec.CNNSpec): Conv2d + ReLU (+ 2x2 max pool) blocks, global average
    pooling, a linear head. Takes (B, C, H, W) or flat (B, C*H*W) images; uint8 pixels become [0, 1]."""

    def __init__(self, spec: CNNSpec):
        super().__init__()
        self.shape = (spec.channels, spec.height, spec.width)
        layers: list[nn.Module] = []
        inputs = spec.channels
        for width in spec.widths:
            layers += [nn.Conv2d(inputs, width, spec.kernel_size, padding=spec.kernel_size // 2), nn.ReLU()]
            if spec.pool:
                layers.append(nn.MaxPool2d(2))
            inputs = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(inputs, spec.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        x = x.reshape(x.shape[0], *self.shape)  # (B, C, H, W)
        x = self.features(x).mean(dim=(2, 3))  # (B, widths[-1])
        return self.head(x)  # (B, num_classes)


def build_model(spec: ModelSpec, vocab_size: int | None = None, reproducible: bool = False) -> nn.Module:
    """Instantiate the registered architecture; `vocab_size` is required for the char transformer (a GPT
    declares its own: a dataset's `vocab_size`, if given, must fit in it). `reproducible`: the reproducible
    profile's operations (the MLP so far)."""
    if isinstance(spec, MLPSpec):
        return MLP(spec, reproducible)
    if reproducible:
        raise ValueError(f"the reproducible profile runs model 'mlp' so far, not '{spec.name}'")
    if isinstance(spec, GPTSpec):
        if vocab_size is not None and vocab_size > spec.vocab_size:
            raise ValueError(f"the dataset has {vocab_size} tokens; gpt vocab_size is {spec.vocab_size}")
        return GPT(spec)
    if isinstance(spec, CNNSpec):
        return CNN(spec)
    if isinstance(spec, CharTransformerSpec):
        if vocab_size is None or vocab_size < 1:
            raise ValueError("char_transformer needs the dataset's vocab_size")
        return CharTransformer(spec, vocab_size)
    raise TypeError(f"no model registered for {type(spec).__name__}")
