"""Training in rounds across K replicas (DiLoCo-style), as pure functions anyone can recompute bit for bit.

A round starts from the global weights. Each replica trains H inner steps on its own shard (an ordinary
verifiable interval) and ends with local weights; what it sends is its update, the pseudo-gradient
`global - local` of each trained parameter, compressed to int8 with a scale fixed by rule. The outer step
combines the K compressed updates, in replica order, into the next global weights with Nesterov momentum:

    scale  = max|u| / 127                      (float32; 0 for an all-zero update)
    q      = clamp(round_half_even(u / scale), -127, 127)   as int8
    g      = (dequant(q_1, s_1) + ... + dequant(q_K, s_K)) / K   summed in replica order
    m'     = mu * m + g
    w'     = w - lr * (g + mu * m')

Every operation is elementwise (or a max, which is exact), so the result is the same bits at any thread count
and on any host of the same architecture: no reduction whose order a BLAS library chooses. An update is
committed by its hash (`update_hash`, the canonical state hash of its int8 values and scales) before anyone
uses it, so the outer step is disputable like a training step: recompute it from the committed updates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pinpoint.tensors import safetensors_file
from worker.engine.state import dtype_name, state_hash, tensor_bytes

INT8_LEVELS = 127  # symmetric: -127..127, so that negating an update negates its code exactly


@dataclass(frozen=True)
class CompressedUpdate:
    """One replica's update: an int8 code and a float32 scale per parameter (dequantized: code * scale)."""

    codes: dict[str, torch.Tensor]
    scales: dict[str, torch.Tensor]

    def tensors(self) -> dict[str, torch.Tensor]:
        """The entries its hash and its artifact are made of."""
        return {**{f"code.{n}": c for n, c in self.codes.items()}, **{f"scale.{n}": s for n, s in self.scales.items()}}

    def dequantized(self, name: str) -> torch.Tensor:
        return self.codes[name].to(torch.float32) * self.scales[name]

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors().values())


def compress(update: dict[str, torch.Tensor]) -> CompressedUpdate:
    """int8 codes of a float32 update, with the scale max|u| / 127 per tensor (rounding half to even)."""
    codes, scales = {}, {}
    for name, u in update.items():
        if u.dtype != torch.float32:
            raise TypeError(f"update {name} is {u.dtype}; updates are float32")
        if not torch.isfinite(u).all():
            raise ValueError(f"update {name} is not finite: a replica's weights diverged")
        peak = u.abs().max() if u.numel() else torch.tensor(0.0)
        scale = (peak / INT8_LEVELS).to(torch.float32)
        if scale == 0:
            codes[name] = torch.zeros_like(u, dtype=torch.int8)
        else:
            codes[name] = torch.round(u / scale).clamp_(-INT8_LEVELS, INT8_LEVELS).to(torch.int8)
        scales[name] = scale.reshape(())
    return CompressedUpdate(codes, scales)


def trained_weights(checkpoint_tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint's float weights by parameter name, as an update names its entries (its `model.` entries)."""
    return {name.removeprefix("model."): t for name, t in checkpoint_tensors.items()
            if name.startswith("model.") and t.is_floating_point()}


def replica_update(global_weights: dict[str, torch.Tensor], local_weights: dict[str, torch.Tensor]) -> CompressedUpdate:
    """What a replica sends after its inner steps: the compressed pseudo-gradient global - local."""
    if global_weights.keys() != local_weights.keys():
        raise ValueError("a replica's weights must name the same parameters as the round's global weights")
    return compress({name: global_weights[name] - local_weights[name] for name in sorted(global_weights)})


UPDATE_FORMAT = "pinpoint.update/1"


class UpdateInvalid(ValueError):
    """Bytes that are not an update of the model: refuse to combine them."""


def save_update(update: CompressedUpdate) -> bytes:
    """An update as a safetensors artifact (what a round's spec names by sha256): its entries in name order,
    the same update always the same bytes."""
    tensors = update.tensors()
    entries = [(name, dtype_name(t.dtype), tuple(t.shape), tensor_bytes(t)) for name, t in sorted(tensors.items())]
    return safetensors_file(entries, {"format": UPDATE_FORMAT})


def load_update(blob: bytes, shapes: dict[str, torch.Size]) -> CompressedUpdate:
    """Parse an update artifact strictly: exactly one int8 code of each shape in `shapes` with codes in
    [-127, 127], and one finite, non-negative float32 scalar scale each; anything else raises UpdateInvalid."""
    from safetensors.torch import load as safetensors_load

    from pinpoint.tensors import read_safetensors

    try:
        _, metadata = read_safetensors(blob)
        tensors = safetensors_load(blob)
    except Exception as exc:  # noqa: BLE001 (safetensors raises its own SafetensorError; ours SafetensorsError)
        raise UpdateInvalid(f"not a safetensors file: {exc}") from None
    if metadata.get("format") != UPDATE_FORMAT:
        raise UpdateInvalid(f"format is {metadata.get('format')!r}, expected {UPDATE_FORMAT!r}")
    expected = {f"code.{n}" for n in shapes} | {f"scale.{n}" for n in shapes}
    if set(tensors) != expected:
        raise UpdateInvalid(f"entries {sorted(set(tensors) ^ expected)[:3]} are not this model's")
    codes, scales = {}, {}
    for name, shape in shapes.items():
        code, scale = tensors[f"code.{name}"], tensors[f"scale.{name}"]
        if code.dtype != torch.int8 or code.shape != shape or (code.numel() and code.min() < -INT8_LEVELS):
            raise UpdateInvalid(f"code.{name} is not an int8 code of shape {tuple(shape)} in [-127, 127]")
        if scale.dtype != torch.float32 or scale.shape != () or not torch.isfinite(scale) or scale < 0:
            raise UpdateInvalid(f"scale.{name} is not a finite, non-negative float32 scalar")
        codes[name], scales[name] = code, scale
    return CompressedUpdate(codes, scales)


def update_hash(update: CompressedUpdate) -> bytes:
    """The hash a replica commits before its update is used (the canonical state hash of its entries)."""
    return state_hash(update.tensors())


def outer_step(global_weights: dict[str, torch.Tensor], momentum: dict[str, torch.Tensor],
               updates: list[CompressedUpdate], lr: float, mu: float) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The next global weights and momentum from the round's updates, combined in the order given (replica
    order); Nesterov SGD on the mean pseudo-gradient, as in DiLoCo. Pure: the inputs are not modified."""
    if not updates:
        raise ValueError("a round needs at least one update")
    names = sorted(global_weights)
    for update in updates:
        if sorted(update.codes) != names:
            raise ValueError("every update must cover exactly the global weights' parameters")
    lr_t, mu_t, count = (torch.tensor(x, dtype=torch.float32) for x in (lr, mu, float(len(updates))))
    weights, velocity = {}, {}
    for name in names:
        total = updates[0].dequantized(name)
        for update in updates[1:]:  # in replica order: float addition is not associative
            total = total + update.dequantized(name)
        mean = total / count
        velocity[name] = mu_t * momentum.get(name, torch.zeros_like(mean)) + mean
        weights[name] = global_weights[name] - lr_t * (mean + mu_t * velocity[name])
    return weights, velocity
