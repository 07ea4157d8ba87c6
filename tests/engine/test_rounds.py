"""Rounds across replicas (worker/engine/rounds.py): the int8 code is exact to half a step, the outer step is
the same bits at any thread count and when recomputed, and K replicas training in rounds learn."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from worker.engine.rounds import (
    INT8_LEVELS,
    compress,
    outer_step,
    replica_update,
    update_hash,
)
from worker.engine.state import state_hash

# Subnormal updates (below 1.2e-38) are left out: their scale loses precision, and such an update is zero in effect.
finite32 = st.floats(min_value=-(2.0**100), max_value=2.0**100, allow_nan=False, allow_subnormal=False, width=32)


@settings(max_examples=200, deadline=None)
@given(arrays(np.float32, st.integers(1, 64), elements=finite32))
def test_int8Code_isWithinHalfAStep_andSymmetric(values):
    u = torch.from_numpy(values.copy())
    update = compress({"w": u})
    code, scale = update.codes["w"], update.scales["w"]
    assert code.dtype == torch.int8 and int(code.abs().max()) <= INT8_LEVELS
    assert scale == u.abs().max() / INT8_LEVELS
    error = (update.dequantized("w").double() - u.double()).abs().max()
    assert error <= scale.double() / 2 * (1 + 1e-6) + 1e-30  # round to nearest: half a step at most
    assert torch.equal(compress({"w": -u}).codes["w"], -code)  # no bias towards either sign


def test_compress_zeroAndBadUpdates():
    zero = compress({"w": torch.zeros(3)})
    assert zero.scales["w"] == 0 and not zero.codes["w"].any()
    with pytest.raises(ValueError, match="not finite"):
        compress({"w": torch.tensor([1.0, float("nan")])})
    with pytest.raises(TypeError, match="float32"):
        compress({"w": torch.zeros(3, dtype=torch.float64)})


def test_updateHash_bindsEveryCodeAndScale():
    update = compress({"a": torch.linspace(-1, 1, 50), "b": torch.ones(3)})
    digest = update_hash(update)
    assert update_hash(compress({"a": torch.linspace(-1, 1, 50), "b": torch.ones(3)})) == digest  # recomputed
    update.codes["a"][7] += 1
    assert update_hash(update) != digest
    assert update.nbytes() == 50 + 3 + 4 + 4  # a byte per element and a float32 scale per tensor


def round_inputs(seed: int = 0, replicas: int = 3, shape=(300, 257)):
    generator = torch.Generator().manual_seed(seed)
    global_weights = {"w": torch.randn(shape, generator=generator), "b": torch.randn(shape[1], generator=generator)}
    updates = [replica_update(global_weights, {n: t + 0.01 * torch.randn(t.shape, generator=generator)
                                               for n, t in global_weights.items()}) for _ in range(replicas)]
    momentum = {n: 0.1 * torch.randn(t.shape, generator=generator) for n, t in global_weights.items()}
    return global_weights, momentum, updates


def outer_hash(threads: int) -> str:
    torch.set_num_threads(threads)
    weights, velocity = outer_step(*round_inputs(), lr=0.7, mu=0.9)
    return state_hash({**{f"w.{n}": t for n, t in weights.items()}, **{f"m.{n}": t for n, t in velocity.items()}}).hex()


def test_outerStep_isTheSameBits_atAnyThreadCount():
    """Recomputed in fresh processes at 1 and 2 threads: one hash (the outer step is elementwise)."""
    code = "import sys; from tests.engine.test_rounds import outer_hash; print(outer_hash(int(sys.argv[1])))"
    hashes = {subprocess.run([sys.executable, "-c", code, str(n)], check=True, capture_output=True, text=True)
              .stdout.strip() for n in (1, 2)}
    assert hashes == {outer_hash(1)}


def test_outerStep_isPure_andNesterov():
    global_weights, momentum, updates = round_inputs(replicas=2, shape=(4, 3))
    before = {n: t.clone() for n, t in global_weights.items()}
    weights, velocity = outer_step(global_weights, momentum, updates, lr=0.5, mu=0.9)
    assert all(torch.equal(global_weights[n], before[n]) for n in before)  # inputs untouched
    mean = (updates[0].dequantized("w") + updates[1].dequantized("w")) / 2
    assert torch.equal(velocity["w"], 0.9 * momentum["w"] + mean)
    assert torch.allclose(weights["w"], global_weights["w"] - 0.5 * (mean + 0.9 * velocity["w"]))
    with pytest.raises(ValueError, match="same parameters|cover exactly"):
        outer_step({"w": global_weights["w"]}, {}, updates, lr=0.5, mu=0.9)


def train_in_rounds(replicas: int, rounds: int, inner_steps: int = 8, compressed: bool = True) -> tuple[float, float, bytes]:
    """K replicas of a small classifier, each on its own shard of a fixed dataset: the global model's loss on
    all the data before and after, and the hash of the final weights."""
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(512, 16, generator=generator)
    labels = (features[:, :4].sum(1) > 0).long() + (features[:, 4:8].sum(1) > 0).long()
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
    global_weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    momentum: dict[str, torch.Tensor] = {}

    def loss_of(weights) -> float:
        model.load_state_dict(weights)
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(model(features), labels))

    start = loss_of(global_weights)
    for _ in range(rounds):
        updates = []
        for replica in range(replicas):
            model.load_state_dict(global_weights)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            shard = torch.arange(replica, len(features), replicas)  # deterministic, disjoint shards
            for step in range(inner_steps):
                batch = shard[(step * 16) % len(shard):][:16]
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(model(features[batch]), labels[batch]).backward()
                optimizer.step()
            local = {n: p.detach().clone() for n, p in model.named_parameters()}
            update = replica_update(global_weights, local)
            if not compressed:  # the exact pseudo-gradient, as a scale-1 "code" of float32 values
                update.codes.update({n: global_weights[n] - local[n] for n in local})
                update.scales.update({n: torch.tensor(1.0) for n in local})
            updates.append(update)
        global_weights, momentum = outer_step(global_weights, momentum, updates, lr=0.7, mu=0.9)
    return start, loss_of(global_weights), state_hash(global_weights)


def test_replicasTrainingInRounds_learn_andRecomputeToTheSameWeights():
    start, end, digest = train_in_rounds(replicas=4, rounds=6)
    assert end < 0.8 * start
    assert train_in_rounds(replicas=4, rounds=6)[2] == digest  # the whole run, recomputed: the same bits
    _, exact_end, _ = train_in_rounds(replicas=4, rounds=6, compressed=False)
    assert abs(end - exact_end) <= 0.02 * exact_end  # int8 updates cost at most 2% of the final loss here
