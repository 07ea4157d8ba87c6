"""Ways a solver can cheat, for tests and the dispute demo (`pinpoint-worker solver --cheat NAME@STEP`).

Two families. Computing cheats deviate from honest training at one step and stay consistent afterwards:
the cheating solver answers every bisection question from its own (wrong) trajectory, as a real cheater
would have to. Withholding cheats keep data from the verifiers: nothing published, junk bytes, bytes only
where the sample does not look, a state not served in a dispute. None of them is special-cased anywhere:
the dispute game catches any deviation, because the referee re-executes the one step where the solver's
claimed state stops following from the agreed one, and any checkpoint can be demanded on chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import torch

from pinpoint.spec import InferenceSpec, JobSpec
from worker.engine.inference import InferenceEngine
from worker.engine.training import Trainer

CHEATS = {
    "skip_steps": "skip the optimizer update for three steps (claim the work without doing it)",
    "perturb_once": "scale every weight by 1.001 once, after the update",
    "other_lr": "train with twice the learning rate from that step on",
    "other_data": "train on batches other than the spec's from that step on",
    "stale_optimizer": "halve the optimizer's running state once (a cheat in state nobody looks at)",
    "backdoor_init": "start from other weights than the spec's (every weight + 0.01), then train honestly",
    "perturb_output": "inference jobs: add 0.001 to the output of input STEP (0-based), once",
    "withhold": "train honestly and commit the true roots, but publish nothing and answer no demand",
    "random_roots": "train nothing: commit random roots, publish nothing, answer no demand",
    "junk_bytes": "report the true state hashes with junk bytes; keep the real ones to answer demands from",
    "withhold_sampled": "publish only once the sample is drawn, with junk bytes where it looks; answer no demand",
    "perturb_withhold": "scale every weight by 1.001 once, like perturb_once, and never serve a state in a dispute",
}
INFERENCE_CHEATS = {"perturb_output"}
START_CHEATS = {"backdoor_init"}
"""Cheats in the initial state, which no step leads to: every interval replays, and a genesis dispute catches them."""
WITHHOLDING_CHEATS = {"withhold", "random_roots", "junk_bytes", "withhold_sampled"}
"""Cheats that train honestly (or not at all) and only keep data from the verifiers."""


@dataclass(frozen=True)
class Conduct:
    """What a solver publishes and answers. Honest: every checkpoint, its bytes, every demand."""

    publish: str = "all"  # "all", "nothing", "junk" (true hashes, junk bytes), "unsampled" (after the seal)
    serves: bool = True  # serves its state in disputes and answers availability demands
    fake_roots: bool = False  # commits random roots without training
    appeals: bool = True  # appeals a proposed verdict against its claim (a cheater knows better than to pay)


CONDUCTS = {
    "withhold": Conduct(publish="nothing", serves=False),
    "random_roots": Conduct(publish="nothing", serves=False, fake_roots=True),
    "junk_bytes": Conduct(publish="junk"),
    "withhold_sampled": Conduct(publish="unsampled", serves=False),
    "perturb_withhold": Conduct(serves=False),
}


def conduct(cheat: str | None) -> Conduct:
    """How a host configured with `cheat` (PINPOINT_CHEAT, tests and demos only) publishes and answers. A
    cheater knows its claim is false, so it does not pay for appeals it would lose (the appeal path is
    tested in tests/worker/test_appeals.py and tests/contracts/test_coalitions.py)."""
    return replace(CONDUCTS.get(Cheat.parse(cheat).name, Conduct()), appeals=False) if cheat else Conduct()


@dataclass(frozen=True)
class Cheat:
    name: str
    step: int

    @classmethod
    def parse(cls, text: str) -> "Cheat":
        """'perturb_once@5' -> Cheat('perturb_once', 5)."""
        name, _, step = text.partition("@")
        if name not in CHEATS:
            raise ValueError(f"unknown cheat {name!r}; known: {', '.join(CHEATS)}")
        if not step.isdigit():
            raise ValueError(f"cheat needs a step, e.g. {name}@5")
        return cls(name, int(step))


class CheatingTrainer(Trainer):
    """A Trainer that deviates from the spec as its cheat says, deterministically."""

    def __init__(self, spec: JobSpec, cheat: Cheat):
        super().__init__(spec)
        self.cheat = cheat
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        if not self._init_pending:  # drawn from the seed; starting weights are tampered with once loaded
            self._tamper_start()

    def _load_init(self) -> None:
        super()._load_init()
        self._tamper_start()

    def _tamper_start(self) -> None:
        """backdoor_init: a start of the solver's choosing; every later step honest, so every interval replays."""
        if self.cheat.name == "backdoor_init":
            with torch.no_grad():
                for parameter in self.model.parameters():
                    parameter.add_(0.01)

    def batch(self, step: int):
        if self.cheat.name == "other_data" and step >= self.cheat.step:
            return super().batch(step + 1_000_003)
        return super().batch(step)

    def train_step(self) -> float:
        step, cheat = self.step, self.cheat
        if cheat.name == "skip_steps" and cheat.step <= step < cheat.step + 3:
            with torch.no_grad():
                x, y = self.batch(step)
                logits = self.model(x)
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
            self.step += 1
            return loss.item()
        if cheat.name == "other_lr":
            factor = 2.0 if step >= cheat.step else 1.0
            for group, lr in zip(self.optimizer.param_groups, self.base_lrs):
                group["lr"] = lr * factor
        loss = super().train_step()
        if step == cheat.step and cheat.name in ("perturb_once", "perturb_withhold"):
            with torch.no_grad():
                for parameter in self.model.parameters():
                    parameter.mul_(1.001)
        if step == cheat.step and cheat.name == "stale_optimizer":
            for state in self.optimizer.state.values():
                for value in state.values():
                    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dim() > 0:
                        value.mul_(0.5)
        return loss


class CheatingInferenceEngine(InferenceEngine):
    """An InferenceEngine whose output for one input is off by a little (the rest stays honest)."""

    def __init__(self, spec: InferenceSpec, cheat: Cheat):
        super().__init__(spec)
        self.cheat = cheat

    def output(self, index: int) -> torch.Tensor:
        out = super().output(index)
        if self.cheat.name == "perturb_output" and index == self.cheat.step:
            out = out + 0.001 if out.is_floating_point() else out + 1
        return out


def make_trainer(spec: JobSpec | InferenceSpec, cheat: Cheat | None = None) -> Trainer | InferenceEngine:
    """What executes `spec`: a Trainer for training, an InferenceEngine for inference; a cheat applies to
    the kind of job it is written for (the others run honestly)."""
    if isinstance(spec, InferenceSpec):
        return CheatingInferenceEngine(spec, cheat) if cheat and cheat.name in INFERENCE_CHEATS else InferenceEngine(spec)
    honest = cheat is None or cheat.name in INFERENCE_CHEATS | WITHHOLDING_CHEATS
    return Trainer(spec) if honest else CheatingTrainer(spec, cheat)


def trainer_factory(cheat: str | None) -> Callable[[JobSpec], Trainer]:
    """What a host trains with: honest, unless a cheat is configured (PINPOINT_CHEAT, tests and demos only)."""
    return partial(make_trainer, cheat=Cheat.parse(cheat) if cheat else None)
