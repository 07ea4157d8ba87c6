"""A model trained on K replicas in rounds (JobSpec.swarm): each replica's share of a round is an ordinary job
on its own shard, and a round's start is the outer step over the previous round's final checkpoints, a pure
function of artifacts named by hash, recomputed bit for bit by anyone (so a wrong one is a genesis dispute)."""

import hashlib
import subprocess
import sys

import pytest
import torch

from pinpoint.spec import SpecError, example_mlp_spec, swarm_round_spec
from worker.engine.artifacts import set_artifact_source
from worker.engine.checkpoint import save_checkpoint
from worker.engine.replay import replay_interval
from worker.engine.rounds import (
    UpdateInvalid,
    load_update,
    outer_step,
    replica_update,
    save_update,
)
from worker.engine.training import OUTER_MOMENTUM, InitialWeightsInvalid, Trainer
from worker.genesis import genesis_state_hash

K = 3
BASE = example_mlp_spec(steps=16, checkpoint_interval=8)


@pytest.fixture
def store():
    """An in-memory artifact store by '0x' + sha256, as the engine's artifact source."""
    blobs: dict[str, bytes] = {}

    def put(blob: bytes) -> str:
        digest = "0x" + hashlib.sha256(blob).hexdigest()
        blobs[digest] = blob
        return digest

    set_artifact_source(lambda digest: blobs[digest])
    yield put, blobs
    set_artifact_source(None)


def run_round(specs, put):
    """Each replica's whole share of a round: (checkpoint 0, update, final checkpoint digests, final checkpoint)
    per replica, the update made from the start and the final as the submitter makes it (pinpoint/swarm.py)."""
    out = []
    for spec in specs:
        checkpoints = []
        Trainer(spec).run(on_checkpoint=lambda c, _, kept=checkpoints: kept.append(c))
        update = replica_update(model_weights(checkpoints[0]), model_weights(checkpoints[-1]))
        out.append((put(save_checkpoint(checkpoints[0])), put(save_update(update)), put(save_checkpoint(checkpoints[-1])),
                    checkpoints[-1]))
    return out


def next_round(results, round_):
    """The specs of round `round_` from the previous round's results."""
    updates = [update for _, update, _, _ in results]
    return [swarm_round_spec(BASE, K, k, round_, results[0][0], updates, results[k][2]) for k in range(K)]


def model_weights(checkpoint) -> dict[str, torch.Tensor]:
    return {k.removeprefix("model."): v for k, v in checkpoint.tensors.items() if k.startswith("model.")}


def test_spec_roundZeroNamesNoInputs_laterRoundsNameAll_andAbsentSwarmKeepsTheHash():
    assert swarm_round_spec(BASE, K, 0, 0).swarm.start is None
    assert example_mlp_spec(steps=16, checkpoint_interval=8).spec_hash() == BASE.spec_hash()
    assert "swarm" not in BASE.canonical_json().decode()
    with pytest.raises(SpecError, match="round 1 starts from the previous round"):
        swarm_round_spec(BASE, K, 0, 1)
    with pytest.raises(SpecError, match="one update per replica"):
        swarm_round_spec(BASE, K, 0, 1, "ab" * 32, ["cd" * 32] * (K - 1), "ef" * 32)
    with pytest.raises(SpecError, match="replica: must be below replicas"):
        swarm_round_spec(BASE, K, K, 0)
    specs = {swarm_round_spec(BASE, K, k, r, *(("ab" * 32, ["cd" * 32] * K, "ef" * 32) if r else ())).spec_hash()
             for k in range(K) for r in range(2)}
    assert len(specs) == 2 * K  # every share of every round is its own job


def test_replicas_drawOnlyFromTheirShard_deterministically():
    drawn = []
    for k in range(K):
        trainer = Trainer(swarm_round_spec(BASE, K, k, 0))
        lo, hi = trainer._shard
        features = trainer._inputs
        x, _ = trainer.batch(5)
        again, _ = Trainer(swarm_round_spec(BASE, K, k, 0)).batch(5)
        assert torch.equal(x, again)
        rows = {int(torch.nonzero((features == row).all(dim=1))[0]) for row in x}
        assert all(lo <= i < hi for i in rows)
        drawn.append((lo, hi))
    assert drawn == [(k * 512 // K, (k + 1) * 512 // K) for k in range(K)]  # 512 examples, contiguous K-ths


def test_roundStart_isTheOuterStep_sameForEveryReplica_andRecomputedInAFreshProcess(store, tmp_path):
    put, blobs = store
    round0 = run_round([swarm_round_spec(BASE, K, k, 0) for k in range(K)], put)
    start0 = round0[0][0]
    assert len({Trainer(swarm_round_spec(BASE, K, k, 0)).initial_checkpoint().tensors["model.net.0.weight"].sum().item()
                for k in range(K)}) == 1  # one global start G_0
    specs1 = next_round(round0, 1)
    starts = [Trainer(spec).initial_checkpoint() for spec in specs1]

    # What the outer step gives, computed here from the parts.
    g0 = model_weights(Trainer(swarm_round_spec(BASE, K, 0, 0)).initial_checkpoint())
    updates = [replica_update(g0, model_weights(checkpoint)) for _, _, _, checkpoint in round0]
    outer = specs1[0].swarm.outer
    expected, momentum = outer_step(g0, {n: torch.zeros_like(t) for n, t in g0.items()}, updates, outer.lr, outer.momentum)
    for start, (_, _, _, final) in zip(starts, round0, strict=True):
        assert all(torch.equal(start.tensors[f"model.{n}"], expected[n]) for n in expected)
        assert all(torch.equal(start.tensors[OUTER_MOMENTUM + n], momentum[n]) for n in momentum)
        # Each replica's inner optimizer goes on from its own final state, as in DiLoCo.
        optim = {n: t for n, t in final.tensors.items() if n.startswith("optim.")}
        assert optim and all(torch.equal(start.tensors[n], t) for n, t in optim.items())
    assert genesis_state_hash(specs1[1], blobs.__getitem__) == starts[1].state_hash

    # Anyone recomputes the same bits: a fresh process with only the spec and the artifacts.
    for digest, blob in blobs.items():
        (tmp_path / digest).write_bytes(blob)
    (tmp_path / "spec.json").write_bytes(specs1[2].canonical_json())
    code = ("import sys, pathlib; from pinpoint.spec import parse_spec; "
            "from worker.engine.artifacts import set_artifact_source; from worker.genesis import genesis_state_hash; "
            "d = pathlib.Path(sys.argv[1]); set_artifact_source(lambda h: (d / h).read_bytes()); "
            "print(genesis_state_hash(parse_spec((d / 'spec.json').read_bytes()), None).hex())")
    fresh = subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, capture_output=True, text=True)
    assert fresh.stdout.strip() == starts[2].state_hash.hex()

    # The order of the updates is part of the result (float addition is not associative), so it is bound.
    reordered = swarm_round_spec(BASE, K, 2, 1, start0, specs1[2].swarm.updates[::-1], specs1[2].swarm.inner)
    assert Trainer(reordered).initial_checkpoint().tensors["model.net.0.weight"].ne(
        starts[2].tensors["model.net.0.weight"]).any()


def test_roundsLearn_andAVerifierReplaysARoundFromItsCheckpoints(store):
    put, _ = store
    specs = [swarm_round_spec(BASE, K, k, 0) for k in range(K)]
    for r in range(3):
        specs = next_round(run_round(specs, put), r + 1)
    # The global model at round 3's start fits the whole dataset better than G_0 did.
    data_loss = []
    for spec in (swarm_round_spec(BASE, K, 0, 0), specs[0]):
        trainer = Trainer(spec)
        trainer._ensure_start()
        with torch.no_grad():
            logits = trainer.model(trainer._inputs)
            data_loss.append(torch.nn.functional.cross_entropy(logits, trainer._targets).item())
    assert data_loss[1] < 0.7 * data_loss[0]

    # A round after the first replays like any job: from its checkpoint 0 (outer momentum included).
    checkpoints = []
    Trainer(specs[1]).run(on_checkpoint=lambda c, _: checkpoints.append(c))
    assert replay_interval(specs[1], checkpoints[0]).state_hash == checkpoints[1].state_hash
    assert replay_interval(specs[1], checkpoints[1]).state_hash == checkpoints[2].state_hash


def test_badRoundInputs_areRefusedWithTheReason(store):
    put, _ = store
    round0 = run_round([swarm_round_spec(BASE, K, k, 0) for k in range(K)], put)
    junk = put(b"not a checkpoint")
    finals = [update for _, update, _, _ in round0]
    start0, inner0 = round0[0][0], round0[0][2]
    with pytest.raises(InitialWeightsInvalid, match="swarm.start .*not a checkpoint"):
        Trainer(swarm_round_spec(BASE, K, 0, 1, junk, finals, inner0)).initial_checkpoint()
    other = example_mlp_spec(steps=16, checkpoint_interval=8, model={"hidden_dim": 32})
    small = model_weights(Trainer(other).initial_checkpoint())
    foreign = put(save_update(replica_update(small, small)))
    with pytest.raises(InitialWeightsInvalid, match=r"swarm.updates\[1\] .*not an update of this model"):
        Trainer(swarm_round_spec(BASE, K, 0, 1, start0, [finals[0], foreign, finals[2]], inner0)).initial_checkpoint()
    with pytest.raises(InitialWeightsInvalid, match=r"swarm.updates\[2\] .*not a safetensors file"):
        Trainer(swarm_round_spec(BASE, K, 0, 1, start0, [finals[0], finals[1], junk], inner0)).initial_checkpoint()
    foreign_inner = put(save_checkpoint(_trained(other)))
    with pytest.raises(InitialWeightsInvalid, match="swarm.inner .*a state of another model"):
        Trainer(swarm_round_spec(BASE, K, 0, 1, start0, finals, foreign_inner)).initial_checkpoint()
    plain = put(save_checkpoint(Trainer(BASE).initial_checkpoint()))  # no outer momentum: not a round's start
    with pytest.raises(InitialWeightsInvalid, match="no outer momentum"):
        Trainer(swarm_round_spec(BASE, K, 0, 1, plain, finals, inner0)).initial_checkpoint()


def _trained(spec):
    trainer = Trainer(spec)
    trainer.train_until(spec.checkpoint_interval)
    return trainer.snapshot()


def test_updateArtifact_roundTrips_andRefusesWhatIsNotAnUpdate():
    weights = model_weights(Trainer(BASE).initial_checkpoint())
    moved = {name: t * 0.9 for name, t in weights.items()}
    update = replica_update(weights, moved)
    blob = save_update(update)
    assert blob == save_update(replica_update(weights, moved))  # same update, same bytes: named by its sha256
    shapes = {name: t.shape for name, t in weights.items()}
    again = load_update(blob, shapes)
    assert all(torch.equal(again.codes[n], update.codes[n]) and torch.equal(again.scales[n], update.scales[n]) for n in shapes)
    codes = dict(update.codes)
    name = next(iter(codes))
    codes[name] = torch.full_like(codes[name], -128)  # outside the symmetric range
    with pytest.raises(UpdateInvalid, match=f"code.{name}"):
        load_update(save_update(type(update)(codes, update.scales)), shapes)
    scales = dict(update.scales, **{name: torch.tensor(float("nan"))})
    with pytest.raises(UpdateInvalid, match=f"scale.{name}"):
        load_update(save_update(type(update)(update.codes, scales)), shapes)
    with pytest.raises(UpdateInvalid, match="not this model's"):
        load_update(blob, {**shapes, "extra.weight": torch.Size([1])})
