"""The versioned job spec (`pinpoint.job/1`): what a submitter asks for, hashed and posted on chain.

A job is declarative. A training job (`kind: "train"`, `JobSpec`): a model from the registry, a dataset by
content hash, an optimizer, a schedule and an execution profile. An inference job (`kind: "inference"`,
`InferenceSpec`): a model from the registry, its weights and a batch of inputs, both artifacts named by
content hash, and an execution profile. Nothing in a spec is code. The spec's identity is `spec_hash()`: "0x" + sha256 of
its canonical JSON (sorted keys, no whitespace, UTF-8, defaults included), the bytes32 on chain.

    from pinpoint.spec import parse_spec, example_mlp_spec
    spec = parse_spec(raw_json)          # JobSpec or InferenceSpec; raises SpecError listing "field.path: why"
    spec.spec_hash()                     # "0x..." (64 hex digits)

This module must not import torch: the coordinator uses it too.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SPEC_VERSION = "pinpoint.job/1"

DEFAULT_TORCH_VERSION = "2.13.0+cpu"
"""The torch build the example specs pin (the CPU build used in CI). Override for other hosts."""

TORCH_VERSION = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?:\+(?P<local>cpu|cu\d{2,3}|rocm\d+(?:\.\d+)*))?$")
TORCH_RELEASES = [(2, minor) for minor in range(0, 15)]
"""PyTorch minor releases a spec may pin (2.0 to 2.14, as of 2026-11); a host must run the exact version."""

EXAMPLE_BLOBS_SHA256 = "7d1f61fcf5d2a05773897a81f6167da15e48f2a241ff6173a771ad362a48f803"
"""Content hash of the example Gaussian-blobs dataset (samples=512, features=16, classes=4, seed=7).

Computed by `worker.engine.datasets.dataset_sha256`; a test checks the two agree."""

TINY_POEMS_SHA256 = "6e74deb51d6659b4387cede9589508aee637e70d62cfd07df81548047b659243"
"""sha256 of `worker/engine/data/tiny_poems.txt` (the raw file bytes); a test checks it."""
TEXT_CORPORA = {"tiny_poems": (60, 4009)}
"""Each shipped corpus' (distinct characters = vocabulary size, length in tokens), for checking a model against
it without reading the file; a test checks them against the engine's tokenization."""

MAX_SEED = 2**63 - 1
MAX_INPUTS = 4096
"""Most inputs one inference job may have: one Merkle leaf, one report and one artifact per input."""
Sha256Hex = Annotated[
    str,
    Field(pattern=r"^[0-9a-f]{64}$", description="sha256 as 64 lowercase hex digits, no 0x prefix"),
]


class _Frozen(BaseModel):
    """Base of every spec model: unknown fields are errors, instances are immutable, no type coercion."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# ---------------------------------------------------------------- models

Shapes = list[tuple[str, tuple[int, ...]]]
"""A model's parameters by name (its state_dict keys), in the order torch registers them, with their shapes.
Each architecture lists its own next to its spec; worker/engine/models.py builds exactly these (a test checks)."""


def _linear(prefix: str, inputs: int, outputs: int, bias: bool = True) -> Shapes:
    return [(f"{prefix}.weight", (outputs, inputs))] + ([(f"{prefix}.bias", (outputs,))] if bias else [])


def _layer_norm(prefix: str, d: int) -> Shapes:
    return [(f"{prefix}.weight", (d,)), (f"{prefix}.bias", (d,))]


def _decoder_shapes(d: int, context: int, layers: int, ratio: int, vocab: int, head: bool) -> Shapes:
    """Token and position embeddings, `layers` pre-LayerNorm blocks, the final LayerNorm, the head if untied."""
    shapes = [("token_embedding.weight", (vocab, d)), ("position_embedding.weight", (context, d))]
    for i in range(layers):
        b = f"blocks.{i}"
        shapes += (_layer_norm(f"{b}.ln1", d) + _linear(f"{b}.attn.qkv", d, 3 * d) + _linear(f"{b}.attn.proj", d, d)
                   + _layer_norm(f"{b}.ln2", d) + _linear(f"{b}.mlp.0", d, ratio * d) + _linear(f"{b}.mlp.2", ratio * d, d))
    return shapes + _layer_norm("ln_f", d) + (_linear("head", d, vocab, bias=False) if head else [])


class MLPSpec(_Frozen):
    """A multilayer perceptron classifier: `depth` hidden layers of `hidden_dim` units with ReLU."""

    name: Literal["mlp"] = Field(description="registry name of the architecture")
    input_dim: int = Field(ge=1, le=65536, description="number of input features")
    hidden_dim: int = Field(ge=1, le=65536, description="width of every hidden layer")
    depth: int = Field(ge=1, le=64, description="number of hidden layers")
    num_classes: int = Field(ge=2, le=65536, description="number of output classes")

    def parameter_shapes(self, vocab_size: int | None = None) -> Shapes:
        dims = [self.input_dim] + [self.hidden_dim] * self.depth + [self.num_classes]
        return [shape for i, (a, b) in enumerate(zip(dims, dims[1:])) for shape in _linear(f"net.{2 * i}", a, b)]


class CharTransformerSpec(_Frozen):
    """A small character-level causal transformer language model (nanoGPT-style, pre-LayerNorm)."""

    name: Literal["char_transformer"] = Field(description="registry name of the architecture")
    context: int = Field(ge=1, le=4096, description="context length in characters (block size)")
    embed_dim: int = Field(ge=1, le=65536, description="embedding width; must be divisible by heads")
    heads: int = Field(ge=1, le=256, description="attention heads per layer")
    layers: int = Field(ge=1, le=128, description="number of transformer blocks")

    @model_validator(mode="after")
    def _heads_divide_embedding(self) -> CharTransformerSpec:
        if self.embed_dim % self.heads:
            raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by heads ({self.heads})")
        return self

    def parameter_shapes(self, vocab_size: int | None = None) -> Shapes:
        """`vocab_size` is the corpus' (at most CHAR_VOCAB_BOUND, the default)."""
        vocab = CHAR_VOCAB_BOUND if vocab_size is None else vocab_size
        return _decoder_shapes(self.embed_dim, self.context, self.layers, 4, vocab, head=True)


class GPTSpec(_Frozen):
    """A GPT-2-style causal decoder over any token stream: learned token and position embeddings, `layers`
    pre-LayerNorm blocks (causal self-attention, then a GELU MLP `mlp_ratio` times wider), a final LayerNorm
    and a linear head without bias, tied to the token embedding unless `tied_embeddings` is false.
    Initialized as GPT-2 (normal(0, 0.02), residual projections scaled by 1/sqrt(2 * layers), zero biases)
    from the job's seed. GPT-2 small is `GPT2_SMALL` (124,439,808 parameters)."""

    name: Literal["gpt"] = Field(description="registry name of the architecture")
    vocab_size: int = Field(ge=2, le=1 << 20, description="token ids are in [0, vocab_size); the dataset's must fit")
    context: int = Field(ge=1, le=8192, description="context length in tokens (block size)")
    embed_dim: int = Field(ge=1, le=65536, description="embedding width; must be divisible by heads")
    heads: int = Field(ge=1, le=256, description="attention heads per layer")
    layers: int = Field(ge=1, le=256, description="number of transformer blocks")
    mlp_ratio: int = Field(default=4, ge=1, le=16, description="hidden width of each block's MLP over embed_dim")
    tied_embeddings: bool = Field(default=True, description="the output head reuses the token embedding matrix")

    @model_validator(mode="after")
    def _heads_divide_embedding(self) -> GPTSpec:
        if self.embed_dim % self.heads:
            raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by heads ({self.heads})")
        return self

    def parameter_shapes(self, vocab_size: int | None = None) -> Shapes:
        return _decoder_shapes(self.embed_dim, self.context, self.layers, self.mlp_ratio, self.vocab_size,
                               head=not self.tied_embeddings)


GPT2_SMALL = {"name": "gpt", "vocab_size": 50257, "context": 1024, "embed_dim": 768, "heads": 12, "layers": 12}
"""GPT-2 small's shape (124,439,808 parameters with tied embeddings), e.g. `example_gpt_spec(model=GPT2_SMALL)`."""


class CNNSpec(_Frozen):
    """A convolutional image classifier on (channels, height, width) float images: one block per entry of
    `widths` (a `kernel_size` convolution with zero padding to keep the size, ReLU, then a 2x2 max pool if
    `pool`), global average pooling and a linear head. Images are given flat (channels * height * width
    features, row-major: e.g. `gaussian_blobs`) or shaped; uint8 pixels are scaled to [0, 1]."""

    name: Literal["cnn"] = Field(description="registry name of the architecture")
    channels: int = Field(ge=1, le=64, description="input channels (1 grey, 3 RGB)")
    height: int = Field(ge=1, le=4096, description="input height in pixels")
    width: int = Field(ge=1, le=4096, description="input width in pixels")
    widths: tuple[Annotated[int, Field(ge=1, le=4096)], ...] = Field(
        min_length=1, max_length=32, description="output channels of each convolution block, in order")
    kernel_size: int = Field(default=3, ge=1, le=15, description="odd side of every convolution kernel")
    pool: bool = Field(default=True, description="2x2 max pooling after every block (halves height and width)")
    num_classes: int = Field(ge=2, le=65536, description="number of output classes")

    @model_validator(mode="after")
    def _shapes_fit(self) -> CNNSpec:
        problems = []
        if self.kernel_size % 2 == 0:
            problems.append(f"kernel_size ({self.kernel_size}) must be odd")
        if self.pool and min(self.height, self.width) < 2 ** len(self.widths):
            problems.append(f"{len(self.widths)} pooled blocks halve the image {len(self.widths)} times: height and "
                            f"width must be at least {2 ** len(self.widths)}, got {self.height} x {self.width}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def input_dim(self) -> int:
        """Values per image: channels * height * width."""
        return self.channels * self.height * self.width

    def parameter_shapes(self, vocab_size: int | None = None) -> Shapes:
        shapes, inputs, index, k = [], self.channels, 0, self.kernel_size
        for width in self.widths:  # features: Conv2d, ReLU (, MaxPool2d) per block
            shapes += [(f"features.{index}.weight", (width, inputs, k, k)), (f"features.{index}.bias", (width,))]
            index, inputs = index + (3 if self.pool else 2), width
        return shapes + _linear("head", inputs, self.num_classes)


ModelSpec = Annotated[Union[MLPSpec, CharTransformerSpec, GPTSpec, CNNSpec], Field(discriminator="name")]


def _gpt_dataset_problems(model: GPTSpec, data: Any) -> list[str]:
    """A GPT trains on a token stream (a shipped corpus, or an artifact of layout 'tokens') whose ids fit its
    vocabulary and which is longer than its context."""
    if isinstance(data, TextCorpusSpec):
        what = f"corpus '{data.corpus}'"
        vocab, tokens = TEXT_CORPORA[data.corpus]
    elif isinstance(data, ArtifactDatasetSpec) and data.layout == "tokens":
        what, vocab, tokens = "the token artifact", data.vocab_size, data.shape[0]
    else:
        return [f"dataset.name: model 'gpt' needs a token stream ('text_corpus', or 'artifact' of layout 'tokens'), "
                f"not '{data.name}'" + (f" of layout '{data.layout}'" if isinstance(data, ArtifactDatasetSpec) else "")]
    problems = []
    if vocab > model.vocab_size:
        problems.append(f"model.vocab_size: {what} has a vocabulary of {vocab} tokens; "
                        f"vocab_size ({model.vocab_size}) must be at least that")
    if model.context >= tokens:
        problems.append(f"model.context: must be shorter than {what} ({tokens} tokens), got {model.context}")
    return problems


def _cnn_dataset_problems(model: CNNSpec, data: Any) -> list[str]:
    """A CNN trains on images: an artifact of layout 'images' of its (channels, height, width), or synthetic
    `gaussian_blobs` read as flat images (features = channels * height * width)."""
    problems = []
    if isinstance(data, ArtifactDatasetSpec) and data.layout == "images":
        image = tuple(data.shape[1:]) if len(data.shape) == 4 else (1, *data.shape[1:])
        if image != (model.channels, model.height, model.width):
            problems.append(f"model.channels: images of (channels, height, width) {image} need the same model "
                            f"shape, got {(model.channels, model.height, model.width)}")
        classes = data.classes
    elif isinstance(data, GaussianBlobsSpec):
        if model.input_dim != data.features:
            problems.append(f"model.channels: channels x height x width ({model.channels} x {model.height} x "
                            f"{model.width} = {model.input_dim}) must equal dataset.features ({data.features})")
        classes = data.classes
    else:
        return [f"dataset.name: model 'cnn' needs images ('artifact' of layout 'images', or 'gaussian_blobs' as "
                f"flat images), not '{data.name}'" + (f" of layout '{data.layout}'" if isinstance(data, ArtifactDatasetSpec) else "")]
    if model.num_classes != classes:
        problems.append(f"model.num_classes: must equal dataset.classes ({classes}), got {model.num_classes}")
    return problems


# ---------------------------------------------------------------- datasets


class GaussianBlobsSpec(_Frozen):
    """A synthetic classification set: one Gaussian-like blob per class, generated from `seed`."""

    name: Literal["gaussian_blobs"] = Field(description="registry name of the dataset")
    samples: int = Field(ge=1, le=1_000_000, description="number of examples")
    features: int = Field(ge=1, le=4096, description="features per example")
    classes: int = Field(ge=2, le=4096, description="number of classes (blobs)")
    seed: int = Field(ge=0, le=MAX_SEED, description="seed of the generator; same seed, same bytes")
    sha256: Sha256Hex = Field(description="content hash of the materialized dataset; training refuses a mismatch")

    @model_validator(mode="after")
    def _bounded_size(self) -> GaussianBlobsSpec:
        if self.samples * self.features > 2**26:
            raise ValueError(f"samples * features ({self.samples * self.features}) must be at most {2**26}")
        return self


class TextCorpusSpec(_Frozen):
    """A text corpus shipped with the engine, tokenized per character."""

    name: Literal["text_corpus"] = Field(description="registry name of the dataset")
    corpus: Literal["tiny_poems"] = Field(description="which shipped corpus")
    sha256: Sha256Hex = Field(description="sha256 of the corpus file bytes; training refuses a mismatch")


ARTIFACT_LAYOUTS = {
    # layout -> (main tensor, its allowed dtypes, allowed ranks); features and images also hold `labels` int64 (N,)
    "tokens": ("tokens", ("int64", "uint16"), (1,)),
    "features": ("features", ("float32",), (2,)),
    "images": ("images", ("uint8",), (3, 4)),
}
ARTIFACT_ITEMSIZE = {"int64": 8, "uint16": 2, "float32": 4, "uint8": 1}
MAX_ARTIFACT_VALUES = 1 << 40
"""Most values the main tensor of a dataset artifact may declare (the host memory limit is the real bound)."""


class ArtifactDatasetSpec(_Frozen):
    """Your data: an uploaded safetensors artifact (nothing executable), named by the sha256 of its file bytes.

    Layouts (exact tensor names, no others): `tokens`: `tokens` int64 or uint16 (L,), a token stream for
    language models, every id below `vocab_size`; `features`: `features` float32 (N, F) and `labels` int64
    (N,); `images`: `images` uint8 (N, H, W) or (N, C, H, W) and `labels` int64 (N,), every label below
    `classes`. The coordinator checks names, dtypes and shapes against the file's header before anyone bids
    (pinpoint/datasets.py); token ids and labels are values, not in the header: the engine checks them when it
    loads the data and refuses to train on ids or labels out of range."""

    name: Literal["artifact"] = Field(description="registry name of the dataset")
    sha256: Sha256Hex = Field(description="sha256 of the artifact's file bytes; training refuses a mismatch")
    layout: Literal["tokens", "features", "images"] = Field(description="which tensors the artifact holds")
    dtype: Literal["int64", "uint16", "float32", "uint8"] = Field(
        description="dtype of the main tensor: tokens int64 or uint16, features float32, images uint8")
    shape: tuple[Annotated[int, Field(ge=1, le=MAX_ARTIFACT_VALUES)], ...] = Field(
        min_length=1, max_length=4,
        description="shape of the main tensor: tokens (L,), features (N, F), images (N, H, W) or (N, C, H, W)")
    vocab_size: int | None = Field(default=None, ge=2, le=65536,
                                   description="tokens only: token ids are in [0, vocab_size)")
    classes: int | None = Field(default=None, ge=2, le=65536,
                                description="features and images only: labels are in [0, classes)")

    @model_validator(mode="after")
    def _layout_facts(self) -> ArtifactDatasetSpec:
        _, dtypes, ranks = ARTIFACT_LAYOUTS[self.layout]
        problems = []
        if self.dtype not in dtypes:
            problems.append(f"dataset.dtype: layout '{self.layout}' holds {' or '.join(dtypes)}, not {self.dtype}")
        if len(self.shape) not in ranks:
            problems.append(f"dataset.shape: layout '{self.layout}' has {' or '.join(map(str, ranks))} dimensions, "
                            f"got {len(self.shape)}")
        if self.layout == "tokens":
            if self.vocab_size is None or self.classes is not None:
                problems.append("dataset.vocab_size: layout 'tokens' needs vocab_size (and no classes)")
        elif self.classes is None or self.vocab_size is not None:
            problems.append(f"dataset.classes: layout '{self.layout}' needs classes (and no vocab_size)")
        if math.prod(self.shape) > MAX_ARTIFACT_VALUES:
            problems.append(f"dataset.shape: {math.prod(self.shape):,} values; at most {MAX_ARTIFACT_VALUES:,}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def example_dims(self) -> int:
        """Values per example: F for features, C*H*W for images (what an MLP takes, flattened)."""
        return math.prod(self.shape[1:])

    @property
    def host_bytes(self) -> int:
        """Memory a host needs for the data: the artifact's bytes and the tensors the engine makes of them
        (int64 tokens; float32 features, for images also their float32 flattening for an MLP; int64 labels)."""
        values, n = math.prod(self.shape), self.shape[0]
        loaded = {"tokens": 8 * values, "features": 4 * values + 8 * n, "images": 5 * values + 8 * n}[self.layout]
        return values * ARTIFACT_ITEMSIZE[self.dtype] + loaded


def _artifact_mlp_problems(model: MLPSpec, data: ArtifactDatasetSpec) -> list[str]:
    """An MLP trains on features, or on images flattened (uint8 scaled to [0, 1])."""
    if data.layout == "tokens":
        return ["dataset.layout: model 'mlp' needs layout 'features' or 'images', not 'tokens'"]
    problems = []
    if model.input_dim != data.example_dims:
        what = "F" if data.layout == "features" else "the product of an image's dimensions"
        problems.append(f"model.input_dim: must equal dataset.shape's {what} ({data.example_dims}), got {model.input_dim}")
    if model.num_classes != data.classes:
        problems.append(f"model.num_classes: must equal dataset.classes ({data.classes}), got {model.num_classes}")
    return problems


CHAR_VOCAB_BOUND = 256
"""Largest vocabulary a char_transformer takes from a token artifact (bytes; the resource estimate assumes it)."""


def _artifact_char_problems(model: CharTransformerSpec, data: ArtifactDatasetSpec) -> list[str]:
    """A character transformer trains on a token stream of at most 256 ids, longer than its context."""
    if data.layout != "tokens":
        return [f"dataset.layout: model 'char_transformer' needs layout 'tokens', not '{data.layout}'"]
    problems = []
    if data.vocab_size > CHAR_VOCAB_BOUND:
        problems.append(f"dataset.vocab_size: model 'char_transformer' takes at most {CHAR_VOCAB_BOUND} token ids, "
                        f"got {data.vocab_size}")
    if model.context >= data.shape[0]:
        problems.append(f"model.context: must be shorter than the token stream ({data.shape[0]}), got {model.context}")
    return problems


DatasetSpec = Annotated[Union[GaussianBlobsSpec, TextCorpusSpec, ArtifactDatasetSpec], Field(discriminator="name")]


# ---------------------------------------------------------------- optimizers


class AdamWSpec(_Frozen):
    """AdamW (decoupled weight decay), as `torch.optim.AdamW`."""

    name: Literal["adamw"] = Field(description="registry name of the optimizer")
    lr: float = Field(gt=0, le=10, description="learning rate, in (0, 10]")
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] = Field(
        description="coefficients of the running averages of the gradient and its square, each in [0, 1)"
    )
    weight_decay: float = Field(ge=0, le=10, description="decoupled weight decay, in [0, 10]")
    eps: float = Field(gt=0, le=1, description="term added to the denominator, in (0, 1]")


class SGDSpec(_Frozen):
    """Stochastic gradient descent with optional momentum, as `torch.optim.SGD`."""

    name: Literal["sgd"] = Field(description="registry name of the optimizer")
    lr: float = Field(gt=0, le=10, description="learning rate, in (0, 10]")
    momentum: float = Field(ge=0, lt=1, description="momentum factor, in [0, 1); 0 disables momentum")


OptimizerSpec = Annotated[Union[AdamWSpec, SGDSpec], Field(discriminator="name")]


# ---------------------------------------------------------------- execution profile


class ExecutionProfile(_Frozen):
    """How the job must be executed so that re-execution gives the same bytes (DESIGN.md, Determinism)."""

    torch_version: str = Field(
        min_length=1, max_length=64, pattern=r"^2\.[0-9]+\.[0-9](\+(cpu|cu[0-9]{2,3}|rocm[0-9]+(\.[0-9]+)*))?$",
        description="exact `torch.__version__` of the executing host, e.g. '2.13.0+cpu'",
    )
    device: Literal["cpu", "cuda"] = Field(description="device class the job runs on")
    dtype: Literal["float32"] = Field(description="floating-point type of parameters and activations")
    threads: int = Field(ge=1, le=1024, description="intra-op CPU threads; float results depend on it")
    deterministic: bool = Field(default=True, description="run with torch.use_deterministic_algorithms(True)")
    ops: Literal["native", "reproducible"] = Field(
        default="native", description="'native': torch's kernels, whose bits depend on the thread count and the "
        "BLAS; 'reproducible': every product and sum in a fixed documented order (worker/engine/repops.py), the "
        "same bits at any thread count, and disputes judged on chain down to one operation (mlp jobs so far)")

    @model_validator(mode="after")
    def _torch_exists(self) -> ExecutionProfile:
        match = TORCH_VERSION.match(self.torch_version)
        if match is None or (int(match["major"]), int(match["minor"])) not in TORCH_RELEASES or int(match["patch"]) > 9:
            raise ValueError(f"torch_version: {self.torch_version!r} is no PyTorch release: use `torch.__version__` of "
                             f"the host, e.g. '{DEFAULT_TORCH_VERSION}' (releases 2.0 to 2.{TORCH_RELEASES[-1][1]} known)")
        if self.device == "cpu" and match["local"] not in (None, "cpu"):
            raise ValueError(f"device: 'cpu' jobs run on a CPU build of torch, not {self.torch_version!r}")
        return self


# ---------------------------------------------------------------- the job


class _Spec(_Frozen):
    """What every job kind has: an identity that is the hash of its canonical JSON."""

    def canonical_json(self) -> bytes:
        """Canonical encoding: sorted keys, no whitespace, UTF-8, defaults included, floats as Python repr;
        an optional top-level section that is absent (None) is left out, so adding one to the format never
        changes the hash of the specs that do not use it."""
        absent: dict[str, Any] = {name: True for name, field in type(self).model_fields.items()
                                  if field.default is None and getattr(self, name) is None}
        if self.profile.ops == "native":
            absent["profile"] = {"ops"}  # the profile before `ops` existed: earlier specs keep their hashes
        return json.dumps(
            self.model_dump(mode="json", exclude=absent), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
            allow_nan=False,
        ).encode("utf-8")

    def spec_hash(self) -> str:
        """'0x' + sha256 hex of `canonical_json()`: the bytes32 posted on chain."""
        return "0x" + hashlib.sha256(self.canonical_json()).hexdigest()


class WeightsRef(_Frozen):
    """Weights by content hash: a safetensors artifact holding one float32 entry `model.<name>` for every
    parameter of the model, with its shape (pinpoint.resources.check_weights_header). A training job's
    checkpoint is one (its other entries, optimizer state and cursor, are ignored); `pinpoint job weights`
    makes one from a plain state dict."""

    sha256: Sha256Hex


ParameterPattern = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.*?\[\]!-]{1,200}$",
                                        description="a glob (fnmatch, case-sensitive) over parameter names, e.g. 'blocks.11.*'")]


MAX_REPLICAS = 16
"""Most replicas a swarm may train on (contracts/Swarm.sol enforces the same bound)."""
MAX_ROUNDS = 1024


class OuterOptimizerSpec(_Frozen):
    """The outer step that combines a round's replica updates (DiLoCo): Nesterov SGD on their mean. The defaults,
    lr 1 and no momentum, average the replicas' weights: over a few dozen rounds they gave the lowest loss
    (BENCHMARKS.md, "Final loss of K replicas in rounds"); DiLoCo's 0.7 and 0.9 suit runs of many more rounds."""

    name: Literal["nesterov"] = Field(default="nesterov", description="registry name of the outer optimizer")
    lr: float = Field(default=1.0, gt=0, le=10, description="outer learning rate, in (0, 10]")
    momentum: float = Field(default=0.0, ge=0, lt=1, description="Nesterov momentum, in [0, 1)")


class SwarmRoundSpec(_Frozen):
    """This job is one replica's share of one round of a model trained on K solvers (worker/engine/rounds.py).

    Every replica of round r starts from the same global weights G_r and trains `steps` steps on its own shard
    of the dataset (replica k of K draws only the k-th contiguous K-th of the examples, with batches seeded by
    (seed, round, replica, step)); its final checkpoint is its result. Round 0 starts from the job's usual
    start (`seed`, or `init`). Round r > 0 starts from the outer step of round r-1, a pure function of two
    kinds of artifacts named here by the sha256 of their bytes: `start`, checkpoint 0 of a replica of round
    r-1 (its weights are G_{r-1}, its `outer.momentum.*` entries the outer momentum), and `updates`, the K update
    artifacts of round r-1 in replica order: each the int8-compressed G_{r-1} - L_k of replica k's verified final
    weights L_k (worker/engine/rounds.py; the submitter makes them from the committed finals, pinpoint/swarm.py),
    a quarter of the weights' bytes. The outer step combines them in replica order. The inner optimizer goes on
    from `inner`, this replica's verified final checkpoint of round r-1 (its optimizer state, as in DiLoCo). So a
    round's start is checked like any job's initial state: every verifier recomputes it, and a wrong one is a
    genesis dispute (worker/genesis.py)."""

    replicas: int = Field(ge=2, le=MAX_REPLICAS, description="K: solvers training the model side by side")
    replica: int = Field(ge=0, lt=MAX_REPLICAS, description="this job's replica, 0..replicas-1: its data shard")
    round: int = Field(ge=0, lt=MAX_ROUNDS, description="this job's round, from 0")
    outer: OuterOptimizerSpec = Field(default_factory=OuterOptimizerSpec, description="the outer step")
    start: Sha256Hex | None = Field(default=None, description="round > 0: checkpoint 0 of a replica of the "
                                    "previous round (its global weights and outer momentum)")
    updates: list[Sha256Hex] | None = Field(default=None, description="round > 0: the previous round's int8 "
                                            "update artifacts, in replica order")
    inner: Sha256Hex | None = Field(default=None, description="round > 0: this replica's final checkpoint of the "
                                    "previous round, whose inner optimizer state goes on")

    @model_validator(mode="after")
    def _consistent(self) -> SwarmRoundSpec:
        problems = []
        if self.replica >= self.replicas:
            problems.append(f"replica: must be below replicas ({self.replicas}), got {self.replica}")
        named = (self.start, self.updates, self.inner)
        if self.round == 0 and any(x is not None for x in named):
            problems.append("start, updates, inner: round 0 starts from the job's own start; name none")
        if self.round > 0 and any(x is None for x in named):
            problems.append(f"start, updates, inner: round {self.round} starts from the previous round's "
                            "outer step: name its start checkpoint, its updates and this replica's final checkpoint")
        if self.updates is not None and len(self.updates) != self.replicas:
            problems.append(f"updates: one update per replica ({self.replicas}), got {len(self.updates)}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class JobSpec(_Spec):
    """A training job: everything a worker needs to execute it and a verifier to re-execute any interval.
    Fine-tuning: `init` names the starting weights (else they are drawn from `seed`), `trainable` which
    parameters train (else all); the others keep their initial values and take no optimizer state."""

    version: Literal["pinpoint.job/1"] = Field(description="spec format version")
    kind: Literal["train"] = Field(description="job kind: 'train' here, 'inference' for InferenceSpec")
    model: ModelSpec = Field(description="architecture from the registry, discriminated by `name`")
    dataset: DatasetSpec = Field(description="dataset by content hash, discriminated by `name`")
    optimizer: OptimizerSpec = Field(description="optimizer and hyperparameters, discriminated by `name`")
    steps: int = Field(ge=1, le=1_000_000, description="number of optimizer steps")
    batch_size: int = Field(ge=1, le=65536, description="examples (or sequences) per step")
    seed: int = Field(ge=0, le=MAX_SEED, description="seed of initialization and of the per-step batch draws")
    checkpoint_interval: int = Field(
        ge=1, le=1_000_000, description="steps between checkpoints; steps must be a multiple of it"
    )
    profile: ExecutionProfile = Field(description="execution profile pinned for reproducibility")
    init: WeightsRef | None = Field(default=None, description="start from these weights (fine-tuning), e.g. a "
                                    "previous job's final checkpoint; absent: initialize from `seed`")
    trainable: list[ParameterPattern] | None = Field(
        default=None, min_length=1, max_length=64,
        description="only parameters whose names match one of these globs train; absent: all of them")
    swarm: SwarmRoundSpec | None = Field(
        default=None, description="one replica's share of one round of a model trained on several solvers; "
                                  "absent: the whole job on one solver")

    @model_validator(mode="after")
    def _consistent(self) -> JobSpec:
        problems = []
        if self.trainable is not None:
            names = [name for name, _ in self.model.parameter_shapes()]
            problems += [f"trainable: {pattern!r} matches no parameter of model '{self.model.name}' (names look like "
                         f"{names[0]!r}, {names[-1]!r})" for pattern in self.trainable
                         if not any(fnmatchcase(name, pattern) for name in names)]
        if self.swarm is not None and self.swarm.round > 0 and self.init is not None:
            problems.append("init: a round after the first starts from the previous round's outer step, not `init`")
        if self.steps % self.checkpoint_interval:
            problems.append(
                f"checkpoint_interval: steps ({self.steps}) must be a positive multiple of "
                f"checkpoint_interval ({self.checkpoint_interval})"
            )
        model, data = self.model, self.dataset
        if isinstance(model, MLPSpec):
            if isinstance(data, ArtifactDatasetSpec):
                problems += _artifact_mlp_problems(model, data)
            elif not isinstance(data, GaussianBlobsSpec):
                problems.append(f"dataset.name: model 'mlp' needs dataset 'gaussian_blobs', not '{data.name}'")
            else:
                if model.input_dim != data.features:
                    problems.append(
                        f"model.input_dim: must equal dataset.features ({data.features}), got {model.input_dim}"
                    )
                if model.num_classes != data.classes:
                    problems.append(
                        f"model.num_classes: must equal dataset.classes ({data.classes}), got {model.num_classes}"
                    )
        elif isinstance(model, CharTransformerSpec) and isinstance(data, ArtifactDatasetSpec):
            problems += _artifact_char_problems(model, data)
        elif isinstance(model, CharTransformerSpec) and not isinstance(data, TextCorpusSpec):
            problems.append(
                f"dataset.name: model 'char_transformer' needs dataset 'text_corpus', not '{data.name}'"
            )
        elif isinstance(model, GPTSpec):
            problems += _gpt_dataset_problems(model, data)
        elif isinstance(model, CNNSpec):
            problems += _cnn_dataset_problems(model, data)
        problems += _reproducible_problems(self)
        if problems:
            # One line per problem; SpecError splits them back out.
            raise ValueError("\n".join(problems))
        return self

    @property
    def checkpoint_count(self) -> int:
        """Number of checkpoints after the initial one (the Merkle tree has checkpoint_count + 1 leaves)."""
        return self.steps // self.checkpoint_interval

    def trains(self, parameter: str) -> bool:
        """Whether `parameter` (a name of model.parameter_shapes()) is trained or stays as initialized."""
        return self.trainable is None or any(fnmatchcase(parameter, pattern) for pattern in self.trainable)


def _reproducible_problems(spec: JobSpec) -> list[str]:
    if spec.profile.ops != "reproducible" or isinstance(spec.model, MLPSpec):
        return []
    return [f"profile.ops: 'reproducible' runs model 'mlp' so far, not '{spec.model.name}' (use 'native')"]


# ---------------------------------------------------------------- inference jobs


class InputsRef(_Frozen):
    """The batch: a safetensors artifact holding one tensor `inputs` whose first dimension is `count`
    (MLP: float32 (count, input_dim); char transformer: int64 token ids (count, T), T <= context)."""

    sha256: Sha256Hex
    count: int = Field(ge=1, le=MAX_INPUTS, description=f"number of inputs (rows), 1..{MAX_INPUTS}: one leaf each")


class InferenceSpec(_Spec):
    """An inference job: run a model on every input, one at a time, and commit one Merkle leaf per input.

    On chain it is a job with `checkpoint_count` = number of inputs and `checkpoint_interval` = 1: leaf 0
    binds the model, leaf k (1..count) commits input k-1 and its output (pinpoint/inference.py)."""

    version: Literal["pinpoint.job/1"] = Field(description="spec format version")
    kind: Literal["inference"] = Field(description="job kind")
    model: ModelSpec = Field(description="architecture from the registry, discriminated by `name`")
    weights: WeightsRef = Field(description="the weights to run, by content hash")
    inputs: InputsRef = Field(description="the inputs, by content hash, and how many there are")
    profile: ExecutionProfile = Field(description="execution profile pinned for reproducibility")

    @model_validator(mode="after")
    def _distinct_artifacts(self) -> InferenceSpec:
        if self.weights.sha256 == self.inputs.sha256:
            raise ValueError("inputs.sha256: the inputs artifact cannot be the weights artifact")
        if self.profile.ops != "native":
            raise ValueError("profile.ops: inference runs with 'native' ops (a disputed output is one step, "
                             "settled by a referee)")
        return self

    @property
    def checkpoint_count(self) -> int:
        """One leaf per input after leaf 0 (the model)."""
        return self.inputs.count

    @property
    def checkpoint_interval(self) -> int:
        """Every input is one step: a disputed leaf is already a single step, settled by a referee."""
        return 1


AnySpec = Union[JobSpec, InferenceSpec]
KINDS = {"train": JobSpec, "inference": InferenceSpec}


def named_inputs(spec: AnySpec) -> list[tuple[str, str]]:
    """(kind, sha256) of every artifact the spec names as an input, in a fixed order: what a solver must fetch
    before it bids, and what the coordinator keeps while a job of this spec is live (backend/retention.py)."""
    if isinstance(spec, InferenceSpec):
        return [("weights", spec.weights.sha256), ("inputs", spec.inputs.sha256)]
    named = [("dataset", spec.dataset.sha256)] if isinstance(spec.dataset, ArtifactDatasetSpec) else []
    named += [("weights", spec.init.sha256)] if spec.init is not None else []
    if spec.swarm is not None and spec.swarm.round > 0:  # what its round starts from
        named += [("checkpoint", spec.swarm.start), ("checkpoint", spec.swarm.inner)]
        named += [("update", sha256) for sha256 in spec.swarm.updates]
    return named


# ---------------------------------------------------------------- parsing


class SpecError(ValueError):
    """A spec failed validation. `problems` holds one 'field.path: what is wrong' per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid job spec:\n" + "\n".join(f"  {p}" for p in problems))


_NAMED = re.compile(r"^[A-Za-z_][\w.]*: ")
_UNION_FIELDS = {"model", "dataset", "optimizer"}
_UNION_TAGS = {"mlp", "char_transformer", "gpt", "cnn", "gaussian_blobs", "text_corpus", "artifact", "adamw", "sgd"}


def _field_path(loc: tuple[Any, ...]) -> str:
    """Dotted path of a pydantic error location, without the union tags pydantic inserts."""
    parts = []
    for i, part in enumerate(loc):
        if i > 0 and loc[i - 1] in _UNION_FIELDS and part in _UNION_TAGS:
            continue
        parts.append(str(part))
    return ".".join(parts)


def _problems(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors(include_url=False):
        path = _field_path(tuple(e["loc"]))
        msg = e["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        for line in msg.splitlines():
            if path:
                problems.append(f"{path}: {line}")
            elif _NAMED.match(line):
                problems.append(line)  # a cross-field message already names its field
            else:
                problems.append(f"(spec): {line}")
    return problems


def _kind_of(raw: bytes | str | dict) -> object:
    """The `kind` field if `raw` is a JSON object (None otherwise: the model's parser names the problem)."""
    if not isinstance(raw, dict):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            return None
    return raw.get("kind") if isinstance(raw, dict) else None


def parse_spec(raw: bytes | str | dict) -> AnySpec:
    """Parse and validate a job spec from JSON bytes/text or a dict: a JobSpec (kind 'train') or an
    InferenceSpec (kind 'inference'). Raise SpecError listing every problem."""
    if not isinstance(raw, (bytes, str, dict)):
        raise SpecError([f"(spec): expected JSON bytes, str or dict, got {type(raw).__name__}"])
    kind = _kind_of(raw)
    if kind is not None and (not isinstance(kind, str) or kind not in KINDS):
        raise SpecError([f"kind: must be one of {', '.join(map(repr, KINDS))}, got {kind!r}"])
    if isinstance(raw, dict):
        try:
            raw = json.dumps(raw, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise SpecError([f"(spec): not JSON-serializable: {exc}"]) from None
    try:
        return KINDS.get(kind, JobSpec).model_validate_json(raw)
    except ValidationError as err:
        raise SpecError(_problems(err)) from None
    except RecursionError:
        raise SpecError(["(spec): nested too deeply"]) from None


# ---------------------------------------------------------------- examples


def _merge(base: dict, overrides: dict) -> dict:
    """Deep-merge: dict overrides update nested dicts, anything else replaces."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _profile(torch_version: str) -> dict:
    return {"torch_version": torch_version, "device": "cpu", "dtype": "float32", "threads": 1,
            "deterministic": True}


def swarm_round_spec(base: JobSpec, replicas: int, replica: int, round: int, start: str | None = None,
                     updates: list[str] | None = None, inner: str | None = None,
                     outer: OuterOptimizerSpec | None = None) -> JobSpec:
    """The spec of one replica's share of one round of `base` trained on `replicas` solvers (SwarmRoundSpec):
    `base`'s model, data, inner optimizer, schedule of `steps` steps per round and profile. A round after the
    first names the previous round's start checkpoint, its update artifacts and this replica's final checkpoint
    by the sha256 of their bytes."""
    def bare(digest: str | None) -> str | None:  # artifact ids are shown with 0x
        return digest.removeprefix("0x") if digest else None

    swarm = {"replicas": replicas, "replica": replica, "round": round,
             "outer": (outer or OuterOptimizerSpec()).model_dump(mode="json"), "start": bare(start),
             "updates": [bare(u) for u in updates] if updates else None, "inner": bare(inner)}
    raw = base.model_dump(mode="json", exclude={"swarm"})
    if round > 0:
        raw.pop("init", None)  # the start is the outer step's
    return parse_spec({**raw, "swarm": swarm})


def example_mlp_spec(**overrides: Any) -> JobSpec:
    """A small valid MLP job (64 steps, 8 checkpoints; about a second on one CPU thread).

    Keyword overrides deep-merge into the spec dict, e.g. `example_mlp_spec(seed=3, profile={"threads": 2})`.
    Overriding the dataset's generation parameters needs a matching `dataset.sha256`.
    """
    base = {
        "version": SPEC_VERSION,
        "kind": "train",
        "model": {"name": "mlp", "input_dim": 16, "hidden_dim": 64, "depth": 2, "num_classes": 4},
        "dataset": {"name": "gaussian_blobs", "samples": 512, "features": 16, "classes": 4, "seed": 7,
                    "sha256": EXAMPLE_BLOBS_SHA256},
        "optimizer": {"name": "adamw", "lr": 0.01, "betas": [0.9, 0.999], "weight_decay": 0.01, "eps": 1e-8},
        "steps": 64,
        "batch_size": 32,
        "seed": 1234,
        "checkpoint_interval": 8,
        "profile": _profile(DEFAULT_TORCH_VERSION),
    }
    return parse_spec(_merge(base, overrides))


def example_transformer_spec(**overrides: Any) -> JobSpec:
    """A small valid char-transformer job on the shipped `tiny_poems` corpus (16 steps, 4 checkpoints)."""
    base = {
        "version": SPEC_VERSION,
        "kind": "train",
        "model": {"name": "char_transformer", "context": 32, "embed_dim": 32, "heads": 4, "layers": 2},
        "dataset": {"name": "text_corpus", "corpus": "tiny_poems", "sha256": TINY_POEMS_SHA256},
        "optimizer": {"name": "adamw", "lr": 0.003, "betas": [0.9, 0.95], "weight_decay": 0.1, "eps": 1e-8},
        "steps": 16,
        "batch_size": 8,
        "seed": 42,
        "checkpoint_interval": 4,
        "profile": _profile(DEFAULT_TORCH_VERSION),
    }
    return parse_spec(_merge(base, overrides))


def example_gpt_spec(**overrides: Any) -> JobSpec:
    """A small valid GPT job on the shipped `tiny_poems` corpus (60 characters, so vocab_size 64; 16 steps, 4
    checkpoints). Sizes are overrides: `example_gpt_spec(model=GPT2_SMALL, batch_size=4)` is GPT-2 small."""
    base = dict(example_transformer_spec().model_dump(mode="json"),  # the same job, another architecture
                model={"name": "gpt", "vocab_size": 64, "context": 32, "embed_dim": 64, "heads": 4, "layers": 2,
                       "mlp_ratio": 4, "tied_embeddings": True})
    return parse_spec(_merge(base, overrides))


def example_cnn_spec(**overrides: Any) -> JobSpec:
    """A small valid CNN job (16 steps, 4 checkpoints) on the example Gaussian blobs read as 1 x 4 x 4 images:
    synthetic, but deterministic and already hash-checked; image artifacts are the real input."""
    base = {
        "version": SPEC_VERSION,
        "kind": "train",
        "model": {"name": "cnn", "channels": 1, "height": 4, "width": 4, "widths": [8, 16], "kernel_size": 3,
                  "pool": True, "num_classes": 4},
        "dataset": {"name": "gaussian_blobs", "samples": 512, "features": 16, "classes": 4, "seed": 7,
                    "sha256": EXAMPLE_BLOBS_SHA256},
        "optimizer": {"name": "adamw", "lr": 0.01, "betas": [0.9, 0.999], "weight_decay": 0.01, "eps": 1e-8},
        "steps": 16,
        "batch_size": 32,
        "seed": 1234,
        "checkpoint_interval": 4,
        "profile": _profile(DEFAULT_TORCH_VERSION),
    }
    return parse_spec(_merge(base, overrides))


def example_inference_spec(weights_sha256: str, inputs_sha256: str, count: int, model: str = "mlp",
                           **overrides: Any) -> InferenceSpec:
    """An inference job running the example `model`'s architecture ('mlp', 'char_transformer', 'gpt' or
    'cnn', as in example_mlp_spec etc.) with the given weights on `count` inputs; artifacts by sha256 hex (a 0x
    prefix is dropped here for convenience)."""
    examples = {"mlp": example_mlp_spec, "char_transformer": example_transformer_spec, "gpt": example_gpt_spec,
                "cnn": example_cnn_spec}
    architecture = examples.get(model, example_transformer_spec)().model
    base = {
        "version": SPEC_VERSION,
        "kind": "inference",
        "model": architecture.model_dump(mode="json"),
        "weights": {"sha256": weights_sha256.removeprefix("0x")},
        "inputs": {"sha256": inputs_sha256.removeprefix("0x"), "count": count},
        "profile": _profile(DEFAULT_TORCH_VERSION),
    }
    return parse_spec(_merge(base, overrides))
