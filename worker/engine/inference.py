"""Deterministic inference: run a model from its weights artifact on one input at a time.

Every input runs alone (batch dimension 1), so a verifier or a referee that recomputes one input gets the
same bytes as the solver that ran them all, in any order (tests/engine/test_inference.py). The leaf
hashes are pinpoint/inference.py's, each bound to the spec hash; this module only adds torch.

    engine = InferenceEngine(spec)                     # checks the execution profile
    engine.load(weights_blob, inputs_blob)             # checks both artifacts against the spec
    engine.leaf_state_hash(3)                          # leaf 3 = input 2 and its output (bound to the spec)
    python -m worker.engine.inference SPEC.json WEIGHTS.safetensors INPUTS.safetensors   # every leaf hash
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import torch
from safetensors.torch import load as safetensors_load

from pinpoint import inference as commitments
from pinpoint.spec import (
    CharTransformerSpec,
    CNNSpec,
    GPTSpec,
    InferenceSpec,
    MLPSpec,
    parse_spec,
)
from pinpoint.tensors import RawTensor, SafetensorsError, read_safetensors
from worker.engine.models import build_model
from worker.engine.state import dtype_name, state_hash, tensor_bytes
from worker.engine.training import check_profile


class InferenceInputError(ValueError):
    """The weights or inputs artifact does not fit the spec (hash, format, dtype, shape, count)."""


def raw(t: torch.Tensor) -> RawTensor:
    """A CPU tensor as the bytes pinpoint/inference.py hashes (same bytes state_hash reads)."""
    return RawTensor(dtype_name(t.dtype), tuple(t.shape), bytes(tensor_bytes(t)))


class InferenceEngine:
    """Runs one inference job's model on its inputs, one input at a time."""

    def __init__(self, spec: InferenceSpec):
        if not isinstance(spec, InferenceSpec):
            raise TypeError(f"an InferenceEngine runs inference specs, not {type(spec).__name__}")
        check_profile(spec)
        self.spec = spec
        self.spec_hash = spec.spec_hash()
        self.device = torch.device(spec.profile.device)
        self.model: torch.nn.Module | None = None

    def _apply_profile(self) -> None:
        torch.set_num_threads(self.spec.profile.threads)
        torch.use_deterministic_algorithms(self.spec.profile.deterministic)

    # ------------------------------------------------------------ artifacts

    def load(self, weights: bytes, inputs: bytes) -> InferenceEngine:
        """Check both artifacts against the spec's content hashes, build the model, read the inputs."""
        for what, blob, expected in (("weights", weights, self.spec.weights.sha256),
                                     ("inputs", inputs, self.spec.inputs.sha256)):
            if hashlib.sha256(blob).hexdigest() != expected:
                raise InferenceInputError(f"{what} artifact hashes to {hashlib.sha256(blob).hexdigest()}, "
                                          f"the spec names {expected}")
        try:
            tensors = safetensors_load(weights)  # safetensors: no pickle
        except Exception as exc:  # safetensors raises its own SafetensorError
            raise InferenceInputError(f"weights are not safetensors: {exc}") from None
        self.model_state_hash = state_hash(tensors)
        claimed = read_safetensors(weights)[1].get("state_hash")
        if claimed is not None and claimed != "0x" + self.model_state_hash.hex():
            raise InferenceInputError(f"weights hash to 0x{self.model_state_hash.hex()}, their metadata claims {claimed}")
        self.model = self._build(tensors)
        try:
            self.inputs = commitments.read_inputs(inputs, self.spec.inputs.count)
        except SafetensorsError as exc:
            raise InferenceInputError(f"inputs: {exc}") from None
        self._check_inputs()
        return self

    def _build(self, tensors: dict[str, torch.Tensor]) -> torch.nn.Module:
        weights = {name.removeprefix("model."): t for name, t in tensors.items() if name.startswith("model.")}
        if not weights:
            raise InferenceInputError("the weights artifact has no model.* entries")
        vocab_size = None
        if isinstance(self.spec.model, CharTransformerSpec):
            embedding = weights.get("token_embedding.weight")
            if embedding is None or embedding.dim() != 2:
                raise InferenceInputError("char_transformer weights need model.token_embedding.weight")
            vocab_size = embedding.shape[0]
        elif isinstance(self.spec.model, GPTSpec):
            vocab_size = self.spec.model.vocab_size
        model = build_model(self.spec.model, vocab_size=vocab_size)
        try:
            model.load_state_dict(weights, strict=True)
        except RuntimeError as exc:
            raise InferenceInputError(f"the weights do not fit model {self.spec.model.name}: {exc}") from None
        self.vocab_size = vocab_size
        return model.to(self.device).train(False)  # inference mode: nn.Module.eval(), spelled out

    def _check_inputs(self) -> None:
        shape, model = self.inputs.shape, self.spec.model
        if isinstance(model, MLPSpec):
            if self.inputs.dtype != "float32" or shape[1:] != (model.input_dim,):
                raise InferenceInputError(f"mlp inputs must be float32 of shape (count, {model.input_dim}), "
                                          f"got {self.inputs.dtype} {list(shape)}")
        elif isinstance(model, CNNSpec):
            image = (model.channels, model.height, model.width)
            if self.inputs.dtype not in ("float32", "uint8") or shape[1:] not in (image, (model.input_dim,)):
                raise InferenceInputError(f"cnn inputs must be float32 or uint8 images of shape (count, {', '.join(map(str, image))}) "
                                          f"or flat (count, {model.input_dim}), got {self.inputs.dtype} {list(shape)}")
        else:
            if self.inputs.dtype != "int64" or len(shape) != 2 or not 1 <= shape[1] <= model.context:
                raise InferenceInputError(f"{model.name} inputs must be int64 token ids of shape (count, T) "
                                          f"with 1 <= T <= {model.context}, got {self.inputs.dtype} {list(shape)}")
            tokens = torch.frombuffer(bytearray(self.inputs.data), dtype=torch.int64)
            if len(tokens) and not (0 <= int(tokens.min()) and int(tokens.max()) < self.vocab_size):
                raise InferenceInputError(f"token ids must be in [0, {self.vocab_size})")

    # ------------------------------------------------------------ running

    def input_row(self, index: int) -> torch.Tensor:
        """Input `index` (0-based) as a tensor, batch dimension dropped."""
        row = self.inputs.row(index)
        dtype = {"float32": torch.float32, "uint8": torch.uint8}.get(row.dtype, torch.int64)
        return torch.frombuffer(bytearray(row.data), dtype=dtype).reshape(row.shape)

    def output(self, index: int) -> torch.Tensor:
        """The model's output for input `index` alone (batch of one), as a contiguous CPU tensor."""
        if self.model is None:
            raise RuntimeError("load() the artifacts first")
        self._apply_profile()
        with torch.no_grad():
            out = self.model(self.input_row(index).unsqueeze(0).to(self.device))[0]
        return out.detach().to("cpu", copy=True).contiguous()

    def record(self, index: int) -> tuple[RawTensor, RawTensor]:
        """(input row, output) of input `index`, as bytes."""
        return self.inputs.row(index), raw(self.output(index))

    def leaf_state_hash(self, leaf: int) -> bytes:
        """The state hash of leaf `leaf`: the model's (its weights' state hash with the spec hash) for 0,
        else input leaf-1 with its output and the spec hash (pinpoint/inference.py)."""
        if leaf == 0:
            if self.model is None:
                raise RuntimeError("load() the artifacts first")
            return commitments.model_leaf_hash(self.spec_hash, self.model_state_hash)
        if not 1 <= leaf <= self.spec.inputs.count:
            raise IndexError(f"leaf {leaf} out of range 0..{self.spec.inputs.count}")
        row, out = self.record(leaf - 1)
        return self.input_leaf_hash(row, out)

    def input_leaf_hash(self, row: RawTensor, output: RawTensor) -> bytes:
        """The state hash of the leaf of one input row and its output, for this engine's spec."""
        return commitments.leaf_state_hash(self.spec_hash, commitments.input_hash(row), commitments.output_hash(output))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.engine.inference", description="print every leaf's state hash")
    parser.add_argument("spec", type=Path)
    parser.add_argument("weights", type=Path)
    parser.add_argument("inputs", type=Path)
    parser.add_argument("--leaf", type=int, default=None, help="only this leaf (0 = the model)")
    args = parser.parse_args(argv)
    spec = parse_spec(args.spec.read_bytes())
    engine = InferenceEngine(spec).load(args.weights.read_bytes(), args.inputs.read_bytes())
    leaves = range(spec.inputs.count + 1) if args.leaf is None else [args.leaf]
    for leaf in leaves:
        print(leaf, "0x" + engine.leaf_state_hash(leaf).hex())
    return 0


if __name__ == "__main__":
    sys.exit(main())
