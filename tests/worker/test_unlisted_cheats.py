"""The protocol, not a list of tricks, catches cheats: an arbitrary tampering nobody wrote a rule for
(one random element of one random state tensor, at a random step) is walked down to exactly that step by
bisection, because the referee only asks whether one honest step leads from the agreed state to the
claimed one. The bisection here mirrors DisputeGame (lo agreed, hi disputed, halve until one step)."""

import random

import pytest
import torch

from pinpoint import bisection
from pinpoint.spec import example_mlp_spec
from worker.engine.training import Trainer


class TamperingTrainer(Trainer):
    """Changes one element of one tensor of its state after a given step: a cheat with no name."""

    def __init__(self, spec, step: int, rng: random.Random):
        super().__init__(spec)
        self.tamper_step, self.rng = step, rng

    def train_step(self) -> float:
        step = self.step
        loss = super().train_step()
        if step == self.tamper_step:
            tensors = [p for p in self.model.parameters()] + [
                v for s in self.optimizer.state.values() for v in s.values() if torch.is_tensor(v) and v.dim() > 0
            ]
            target = self.rng.choice(tensors)
            with torch.no_grad():
                target.view(-1)[self.rng.randrange(target.numel())] += 1e-6
        return loss


def state_hash_at(make, start, step):
    trainer = make()
    trainer.restore(start)
    trainer.train_until(step)
    return trainer.snapshot().state_hash


@pytest.mark.parametrize("seed", range(4))
def test_bisection_pinpointsAnUnlistedTampering(seed):
    rng = random.Random(seed)
    spec = example_mlp_spec(steps=64, checkpoint_interval=32)
    tamper_step = rng.randrange(32, 64)
    honest = lambda: Trainer(spec)  # noqa: E731
    cheater = lambda: TamperingTrainer(spec, tamper_step, random.Random(seed))  # noqa: E731
    start = Trainer(spec)
    start.train_until(32)
    agreed = start.snapshot()  # checkpoint 1, which both accept

    lo, hi, rounds = 32, 64, 0
    assert state_hash_at(cheater, agreed, hi) != state_hash_at(honest, agreed, hi)  # the verifier disagrees
    while hi - lo > 1:
        steps = bisection.points(lo, hi)
        revealed = [state_hash_at(cheater, agreed, step) for step in steps]
        segment = bisection.pick_segment([state_hash_at(honest, agreed, step) for step in steps], revealed)
        lo, hi = bisection.narrow(lo, hi, segment)
        rounds += 1
    assert (lo, hi) == (tamper_step, tamper_step + 1) and rounds == 2  # 16 segments of 2 steps, then 2 of 1
    # The referee runs one honest step from the agreed state at lo; it contradicts the cheater's claim at hi.
    served = TamperingTrainer(spec, tamper_step, random.Random(seed))
    served.restore(agreed)
    served.train_until(lo)
    referee = Trainer(spec)
    referee.restore(served.snapshot())
    referee.train_until(hi)
    assert referee.snapshot().state_hash != state_hash_at(cheater, agreed, hi)
