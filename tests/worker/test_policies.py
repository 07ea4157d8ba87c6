"""The solver's price policy and match reasons, and the verifier's interval draw."""

from pinpoint.client import CoordinatorError, sha256_hex
from pinpoint.inference import inputs_artifact
from pinpoint.spec import (
    example_cnn_spec,
    example_gpt_spec,
    example_inference_spec,
    example_mlp_spec,
    example_transformer_spec,
)
from pinpoint.tensors import float32_tensor
from worker.daemon import SolverDaemon, unsupported_reason
from worker.engine.checkpoint import save_checkpoint
from worker.engine.training import Trainer
from worker.pricing import REPRODUCIBLE_SLOWDOWN, PricePolicy


def test_quote_growsWithWork_andHasAFloor():
    policy = PricePolicy(min_price=10**15, wei_per_unit=10**6)
    small, large = example_mlp_spec(steps=64), example_mlp_spec(steps=6400)
    assert policy.quote(large) > policy.quote(small) >= 10**15
    assert PricePolicy(min_price=7, wei_per_unit=0).quote(small) == 7


def test_quote_coversEveryArchitecture_countingTokens():
    """A spec of any architecture gets a price (a CNN job once raised in the solver's loop and stopped the host),
    and a language model's example is a sequence: a longer context costs more."""
    policy = PricePolicy(min_price=0)
    for spec in (example_mlp_spec(), example_cnn_spec(), example_transformer_spec(), example_gpt_spec()):
        assert policy.quote(spec) > 0 and policy.seconds_for(spec) > 60 and policy.interval_seconds(spec) > 5
    short, long = example_gpt_spec(), example_gpt_spec(model={"context": 64})
    assert policy.work(long) > 2 * policy.work(short)


def test_theReproducibleProfile_isPricedAndTimedAsTheSlowerWorkItIs():
    policy = PricePolicy(min_price=0)
    native, reproducible = example_mlp_spec(steps=6400), example_mlp_spec(steps=6400, profile={"ops": "reproducible"})
    assert policy.work(reproducible) == REPRODUCIBLE_SLOWDOWN * policy.work(native)
    assert policy.quote(reproducible) > policy.quote(native)
    assert policy.interval_seconds(reproducible) >= policy.interval_seconds(native)


def test_solverRefusesJobsItCouldNotComplete_asPosted():
    policy = PricePolicy(work_per_second=10**6)
    daemon = SolverDaemon(chain=None, client=None, policy=policy)
    spec = example_mlp_spec(steps=64)
    terms = {"checkpointCount": spec.checkpoint_count, "checkpointInterval": spec.checkpoint_interval}
    needed = policy.seconds_for(spec)
    assert needed > 60 and needed >= 2 * policy.work(spec) / 10**6
    assert daemon.infeasible_reason(spec, terms | {"executionDuration": needed}) is None
    assert "may take" in daemon.infeasible_reason(spec, terms | {"executionDuration": needed - 1})
    # Terms that are not the spec's: no root the solver commits could be checked against the spec.
    mismatch = terms | {"executionDuration": needed, "checkpointCount": spec.checkpoint_count + 1}
    assert "the chain says" in daemon.infeasible_reason(spec, mismatch)


def test_inferenceQuote_growsWithInputs_andCostsLessThanTrainingOnThem():
    policy = PricePolicy(min_price=0, wei_per_unit=10**6)
    few, many = (example_inference_spec("a" * 64, "b" * 64, n) for n in (32, 3200))
    assert policy.quote(many) > policy.quote(few) > 0
    # one forward pass per input vs forward + backward per sample: a 64-step job of 32-sample batches costs more
    assert policy.quote(example_mlp_spec(steps=64, batch_size=32)) > policy.quote(example_inference_spec("a" * 64, "b" * 64, 64 * 32))


def test_bidFor_staysOut_whenTheJobPaysTooLittle():
    policy = PricePolicy(min_price=10**15)
    spec = example_transformer_spec()
    assert policy.bid_for(spec, max_price=policy.quote(spec)) == policy.quote(spec)
    assert policy.bid_for(spec, max_price=policy.quote(spec) - 1) is None


def test_unsupportedReason_namesTheTorchVersionMismatch():
    assert unsupported_reason(example_mlp_spec()) is None
    reason = unsupported_reason(example_mlp_spec(profile={"torch_version": "2.0.0"}))
    assert reason is not None and "2.0.0" in reason


def test_unsupportedReason_checksAnInferenceJobsArtifacts_beforeABid():
    trainer = Trainer(example_mlp_spec())
    weights = save_checkpoint(trainer.snapshot())
    inputs = inputs_artifact(float32_tensor([[0.5] * 16] * 2))
    store = {sha256_hex(blob): blob for blob in (weights, inputs)}

    def download(digest):  # the store a coordinator would serve, hash-checked like CoordinatorClient's
        if digest not in store:
            raise CoordinatorError(f"GET /artifacts/{digest}: 404")
        return store[digest]

    spec = example_inference_spec(sha256_hex(weights), sha256_hex(inputs), 2)
    assert unsupported_reason(spec, download) is None
    missing = example_inference_spec("c" * 64, sha256_hex(inputs), 2)
    assert "404" in unsupported_reason(missing, download)
    miscounted = example_inference_spec(sha256_hex(weights), sha256_hex(inputs), 3)
    assert "2 rows, the spec says 3" in unsupported_reason(miscounted, download)


def test_unsupportedReason_checksATrainingJobsWeightsAndData_beforeABid():
    """A solver that bid on a fine-tuning job whose starting weights are gone (or not what the spec names)
    would miss its deadline and lose its stake: it stays out."""
    from worker.engine.artifacts import set_artifact_source

    weights = save_checkpoint(Trainer(example_mlp_spec()).snapshot())
    store = {sha256_hex(weights): weights, "0x" + "ab" * 32: weights}  # the second: bytes that are not its hash

    def download(digest):
        if digest not in store:
            raise CoordinatorError(f"GET /artifacts/{digest}: 404")
        return store[digest]

    set_artifact_source(None)  # nothing cached from other tests
    assert unsupported_reason(example_mlp_spec(init={"sha256": sha256_hex(weights)[2:]}), download) is None
    assert "404" in unsupported_reason(example_mlp_spec(init={"sha256": "cd" * 32}), download)
    assert "refusing" in unsupported_reason(example_mlp_spec(init={"sha256": "ab" * 32}), download)
    assert unsupported_reason(example_mlp_spec(), download) is None  # names no artifact: nothing to fetch
