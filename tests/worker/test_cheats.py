"""Every cheat deviates exactly after its step, and a cheater can replay its own trajectory consistently
(it must, to answer bisection questions)."""

from itertools import pairwise

import pytest

from pinpoint.spec import example_mlp_spec
from worker.cheats import (
    CHEATS,
    INFERENCE_CHEATS,
    START_CHEATS,
    WITHHOLDING_CHEATS,
    Cheat,
    conduct,
    make_trainer,
)
from worker.engine.replay import replay_interval
from worker.genesis import genesis_state_hash


def trajectory(trainer, steps):
    hashes = [trainer.snapshot().state_hash]
    for _ in range(steps):
        trainer.train_step()
        hashes.append(trainer.snapshot().state_hash)
    return hashes


@pytest.mark.parametrize("name", sorted(set(CHEATS) - INFERENCE_CHEATS - WITHHOLDING_CHEATS - START_CHEATS))
def test_cheat_deviatesAtItsStep_andReplaysConsistently(name):
    spec = example_mlp_spec(steps=16, checkpoint_interval=8)
    honest = trajectory(make_trainer(spec), 12)
    cheat = Cheat(name, 5)
    cheated = trajectory(make_trainer(spec, cheat), 12)
    assert cheated[:6] == honest[:6]  # identical up to the state at step 5
    assert cheated[6] != honest[6]  # step 5 -> 6 is the lie
    resumed = make_trainer(spec, cheat)
    start = make_trainer(spec, cheat)
    start.train_until(3)
    resumed.restore(start.snapshot())
    assert trajectory(resumed, 9) == cheated[3:]


def test_backdooredStart_replaysInEveryInterval_butIsNotTheSpecsStart():
    """Why the start is checked on its own: every step of this cheater is honest, so no replay of any interval
    (what the sample checks) and no bisection (what a fault dispute does) can tell; only the initial state
    recomputed from the spec does (worker/genesis.py)."""
    spec = example_mlp_spec(steps=16, checkpoint_interval=8)
    cheater = make_trainer(spec, Cheat("backdoor_init", 0))
    checkpoints = [cheater.initial_checkpoint()]
    cheater.train_until(16, on_checkpoint=lambda checkpoint, _: checkpoints.append(checkpoint))
    for start, end in pairwise(checkpoints):
        assert replay_interval(spec, start).state_hash == end.state_hash
    honest_start = genesis_state_hash(spec, download=lambda digest: b"")
    assert honest_start == make_trainer(spec).initial_checkpoint().state_hash
    assert checkpoints[0].state_hash != honest_start


def test_parse_explainsWhatIsWrong():
    assert Cheat.parse("other_lr@7") == Cheat("other_lr", 7)
    with pytest.raises(ValueError, match="unknown cheat"):
        Cheat.parse("bribe@1")
    with pytest.raises(ValueError, match="needs a step"):
        Cheat.parse("other_lr")


def test_conduct_honestHostsAppeal_cheatersDoNot_andWithholdersStillWithhold():
    assert conduct(None).appeals and conduct(None).serves
    for name in CHEATS:
        assert not conduct(f"{name}@3").appeals, name
    assert not conduct("withhold@0").serves and conduct("perturb_once@3").serves
