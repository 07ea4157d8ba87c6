"""What a spec asks of a host, from the spec alone (no torch: the coordinator checks specs with it): the model's
parameters, memory, checkpoint bytes, and the operator's limits on them; and what a weights artifact must hold.

    check_resources(spec, settings.spec_limits())       # Resources, or SpecError naming each limit passed
    check_weights_header(spec.model, header, "init")    # SpecError unless the artifact holds the model's weights
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pinpoint.spec import (
    CHAR_VOCAB_BOUND,
    TEXT_CORPORA,
    AnySpec,
    ArtifactDatasetSpec,
    CharTransformerSpec,
    CNNSpec,
    GPTSpec,
    InferenceSpec,
    JobSpec,
    MLPSpec,
    ModelSpec,
    SpecError,
    TextCorpusSpec,
)
from pinpoint.tensors import SAFETENSORS_DTYPES

ITEMSIZE = dict(SAFETENSORS_DTYPES.values())  # canonical dtype name -> bytes per element


def dataset_host_bytes(spec: AnySpec) -> int:
    """Host memory for a training job's uploaded dataset (the built-in ones are small and not counted)."""
    data = getattr(spec, "dataset", None)
    return data.host_bytes if isinstance(data, ArtifactDatasetSpec) else 0


@dataclass(frozen=True)
class SpecLimits:
    """What an operator's hosts can run (pinpoint.settings configures them)."""

    parameters: int = 200_000_000
    memory_bytes: int = 24 << 30
    checkpoint_bytes: int = 4 << 30  # one checkpoint, one artifact: chunked uploads carry it (docs/ARTIFACTS.md)
    job_checkpoint_bytes: int = 256 << 30
    examples: int = 10**10
    checkpoints: int = 10_000  # each is an upload and an on-chain root


@dataclass(frozen=True)
class Resources:
    """Estimates from a spec alone (float32 everywhere; within a small factor of what torch allocates)."""

    parameters: int
    memory_bytes: int
    checkpoint_bytes: int
    job_checkpoint_bytes: int
    examples: int


def model_parameters(model: ModelSpec) -> int:
    """Exact parameter count of the architecture the engine builds (a char_transformer's vocabulary comes from
    its corpus: counted at CHAR_CHAR_VOCAB_BOUND, an upper bound)."""
    return sum(math.prod(shape) for _, shape in model.parameter_shapes())


def trained_parameters(spec: AnySpec) -> int:
    """Parameters that train (and so have gradients and optimizer state): all, unless `trainable` says fewer."""
    if not isinstance(spec, JobSpec) or spec.trainable is None:
        return model_parameters(spec.model)
    return sum(math.prod(shape) for name, shape in spec.model.parameter_shapes() if spec.trains(name))


def _activations_per_example(model: ModelSpec) -> int:
    """float32 values one example keeps for the backward pass (and the logits), about."""
    if isinstance(model, MLPSpec):
        return 2 * (model.input_dim + model.hidden_dim * model.depth + model.num_classes)
    if isinstance(model, CharTransformerSpec):
        d, context = model.embed_dim, model.context
        return context * (model.layers * (16 * d + model.heads * context) + 2 * CHAR_VOCAB_BOUND)
    if isinstance(model, GPTSpec):
        # per block: LayerNorm in/out, q, k, v, attention output, projection, MLP hidden before and after GELU
        # (about (10 + 3 * ratio) * d per token) and three (T, T) maps per head (scores, mask, softmax);
        # then the logits, their log-softmax and its gradient.
        d, t = model.embed_dim, model.context
        block = (10 + 3 * model.mlp_ratio) * d + 3 * model.heads * t
        return t * (model.layers * block + 3 * d + 3 * model.vocab_size)
    if isinstance(model, CNNSpec):
        # per block: the convolution's output, the ReLU's, the pool's; plus the largest input unfolded for a
        # convolution (c_in * k^2 values per pixel), which lives during one block only
        h, w, inputs, total, unfolded = model.height, model.width, model.channels, model.input_dim, 0
        for width in model.widths:
            total += 3 * width * h * w
            unfolded = max(unfolded, inputs * model.kernel_size ** 2 * h * w)
            if model.pool:
                h, w = h // 2, w // 2
            inputs = width
        return total + unfolded + inputs + 2 * model.num_classes
    raise TypeError(f"no activation estimate for {type(model).__name__}")


def estimate_resources(spec: AnySpec) -> Resources:
    """Parameters (exact), memory (within a small factor of what torch allocates: weights, the gradients and
    optimizer state of the parameters that train, the activations of one batch and one checkpoint's copy) and
    checkpoint bytes, from the spec alone."""
    parameters = model_parameters(spec.model)
    activations_per_example = _activations_per_example(spec.model)
    if isinstance(spec, InferenceSpec):
        checkpoint = 4 * parameters
        memory = checkpoint + 4 * activations_per_example
        return Resources(parameters=parameters, memory_bytes=memory + dataset_host_bytes(spec), checkpoint_bytes=checkpoint,
                         job_checkpoint_bytes=0, examples=spec.inputs.count)
    moments = 2 if spec.optimizer.name == "adamw" else int(spec.optimizer.momentum > 0)
    trained = trained_parameters(spec)
    checkpoint = 4 * (parameters + moments * trained)
    # the state, the gradients of what trains, and the copy a checkpoint takes
    memory = 2 * checkpoint + 4 * trained + 4 * spec.batch_size * activations_per_example + dataset_host_bytes(spec)
    return Resources(parameters=parameters, memory_bytes=memory, checkpoint_bytes=checkpoint,
                     job_checkpoint_bytes=checkpoint * (spec.checkpoint_count + 1), examples=spec.steps * spec.batch_size)


def check_resources(spec: AnySpec, limits: SpecLimits = SpecLimits()) -> Resources:
    """The spec's estimated resources; SpecError naming each limit they pass."""
    r = estimate_resources(spec)
    problems = []
    if r.parameters > limits.parameters:
        problems.append(f"model: {r.parameters:,} parameters; this coordinator's hosts take at most {limits.parameters:,}")
    if r.memory_bytes > limits.memory_bytes:
        problems.append(f"model: needs about {r.memory_bytes / 2**30:,.1f} GiB of memory (weights, gradients, optimizer "
                        f"state, activations of one batch); the limit is {limits.memory_bytes / 2**30:,.1f} GiB")
    if r.checkpoint_bytes > limits.checkpoint_bytes:
        problems.append(f"model: one checkpoint (weights and optimizer state) is about {r.checkpoint_bytes / 2**20:,.0f} "
                        f"MiB; the limit (one artifact) is {limits.checkpoint_bytes / 2**20:,.0f} MiB")
    if r.job_checkpoint_bytes > limits.job_checkpoint_bytes:
        problems.append(f"checkpoint_interval: {r.job_checkpoint_bytes // max(r.checkpoint_bytes, 1):,} checkpoints of "
                        f"{r.checkpoint_bytes / 2**20:,.1f} MiB are {r.job_checkpoint_bytes / 2**30:,.1f} GiB; the limit "
                        f"is {limits.job_checkpoint_bytes / 2**30:,.1f} GiB: checkpoint less often")
    if spec.checkpoint_count > limits.checkpoints:
        problems.append(f"checkpoint_interval: {spec.checkpoint_count:,} checkpoints; the limit is "
                        f"{limits.checkpoints:,}: checkpoint less often")
    if r.examples > limits.examples:
        problems.append(f"steps: steps x batch_size is {r.examples:,} examples; the limit is {limits.examples:,}")
    if problems:
        raise SpecError(problems)
    return r


def model_vocab_size(spec: JobSpec) -> int | None:
    """The token vocabulary a training job's model is built with (None for classifiers): a GPT declares it, a
    char_transformer takes its corpus' (shipped: TEXT_CORPORA; uploaded: the artifact's vocab_size)."""
    if isinstance(spec.model, GPTSpec):
        return spec.model.vocab_size
    if isinstance(spec.model, CharTransformerSpec):
        data = spec.dataset
        return TEXT_CORPORA[data.corpus][0] if isinstance(data, TextCorpusSpec) else data.vocab_size
    return None


def check_weights_header(model: ModelSpec, tensors: dict[str, tuple[str, tuple[int, ...]]], field: str,
                         vocab_size: int | None = None) -> None:
    """SpecError naming `field` unless a weights artifact's tensors (from its header: name -> (dtype, shape)) hold
    a float32 `model.<name>` of the right shape for every parameter of `model` and no other `model.*` entry.
    Other entries (a checkpoint's optimizer state, cursor, ...) are ignored, up to the size of a checkpoint: every
    host that starts the job fetches the whole artifact."""
    expected = {f"model.{name}": shape for name, shape in model.parameter_shapes(vocab_size)}
    held = {name: value for name, value in tensors.items() if name.startswith("model.")}
    problems = []
    weights_bytes = 4 * sum(math.prod(shape) for shape in expected.values())
    total = sum(ITEMSIZE[dtype] * math.prod(shape) for dtype, shape in tensors.values())
    if total > 3 * weights_bytes + (1 << 20):  # a whole AdamW checkpoint of the model, and its few scalars
        problems.append(f"{field}.sha256: the artifact holds {total:,} bytes of tensors; weights of model "
                        f"'{model.name}' with a checkpoint's optimizer state are at most {3 * weights_bytes + (1 << 20):,}")
    if missing := sorted(set(expected) - set(held)):
        problems.append(f"{field}.sha256: the weights lack {len(missing)} parameter(s) of model '{model.name}', e.g. {missing[:3]}")
    if extra := sorted(set(held) - set(expected)):
        problems.append(f"{field}.sha256: the weights hold {len(extra)} entries model '{model.name}' does not have, e.g. {extra[:3]}")
    for name in sorted(set(expected) & set(held)):
        dtype, shape = held[name]
        if dtype != "float32" or tuple(shape) != expected[name]:
            problems.append(f"{field}.sha256: {name} is {dtype} {list(shape)}; model '{model.name}' needs float32 "
                            f"{list(expected[name])}")
            if len(problems) >= 5:
                break
    if problems:
        raise SpecError(problems)
