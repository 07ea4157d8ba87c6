"""Inference jobs end to end on the real stack: outputs committed one leaf per input, each proven against
the on-chain root by a client that trusts the coordinator for nothing; a wrong output is pinpointed to its
input by the same single-step dispute as training, and the solver is slashed."""

import pytest
import torch

from pinpoint.chain import Chain, JobState
from pinpoint.cli.job import main as job_cli
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.inference import checked_outputs, inputs_artifact
from pinpoint.localnet import ANVIL_KEYS, LOCAL_REVIEW_SECONDS, LocalStack, free_port
from pinpoint.settings import get_settings
from pinpoint.spec import example_inference_spec, example_mlp_spec
from pinpoint.tensors import float32_tensor
from tests.e2e.waiting import wait_for
from worker.engine.checkpoint import save_checkpoint
from worker.engine.inference import InferenceEngine
from worker.engine.training import Trainer

ETHER = 10**18
COUNT = 8
MAX_PRICE, STAKE = ETHER // 20, ETHER // 2
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def artifacts() -> tuple[bytes, bytes]:
    """A trained MLP's final checkpoint as the weights, and eight inputs."""
    trainer = Trainer(example_mlp_spec())
    trainer.train_until(64)
    rows = torch.randn(COUNT, 16, generator=torch.Generator().manual_seed(11)).tolist()
    return save_checkpoint(trainer.snapshot()), inputs_artifact(float32_tensor(rows))


def post_inference(stack: LocalStack, artifacts, **terms):
    submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
    api = CoordinatorClient.for_chain(stack.api_url, submitter)  # uploads are signed by the submitter
    spec = example_inference_spec(api.upload_artifact(artifacts[0]), api.upload_artifact(artifacts[1]), COUNT)
    accepted = api.submit_spec(spec)
    job_id = submitter.post_job(accepted["spec_hash"], COUNT, 1, max_price=MAX_PRICE, bidding_seconds=4,
                                execution_seconds=600, challenge_seconds=LOCAL_REVIEW_SECONDS, **terms)
    return api, submitter, spec, job_id


def test_inferenceJob_everyOutputIsProvenAgainstTheChain(tmp_path, artifacts, monkeypatch, capsys):
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        stack.start_all(progress=lambda _: None)
        api, submitter, spec, job_id = post_inference(stack, artifacts)
        wait_for(lambda: api.jobs(), "the index to see the job")
        with pytest.raises(CoordinatorError, match="no final root on chain yet"):
            api.outputs(job_id)

        job = wait_for(lambda: (j := submitter.job(job_id))["state"] == JobState.FINALIZED and j, "finalization", 300)
        results = checked_outputs(api, spec, job_id, job["finalRoot"])
        assert [r.index for r in results if r.proven] == list(range(COUNT))
        # The solver's outputs are the ones this process computes on its own, byte for byte.
        local = InferenceEngine(spec).load(*artifacts)
        assert [r.output.values() for r in results] == [local.output(i).tolist() for i in range(COUNT)]

        monkeypatch.setenv("PINPOINT_RPC_URL", stack.rpc_url)
        monkeypatch.setenv("PINPOINT_DEPLOYMENT_FILE", str(stack.deployment_file))
        monkeypatch.setenv("PINPOINT_COORDINATOR_URL", stack.api_url)
        get_settings.cache_clear()
        try:
            assert job_cli(["outputs", str(job_id)]) == 0
        finally:
            get_settings.cache_clear()
        assert capsys.readouterr().out.count(" proven") == COUNT

        audit = submitter.audit.functions
        wait_for(lambda: audit.settled(job_id).call(), "the keeper to settle the audit")
        [settled] = submitter.audit.events.AuditSettled().get_logs(from_block=0, argument_filters={"jobId": job_id})
        assert settled.args.outcome == 2 and settled.args.amount > audit.auditBond().call()  # Outcome.Paid


def test_wrongOutput_isPinpointedToItsInput_andSlashed(tmp_path, artifacts):
    wrong_input = 3
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        stack.start_all(("--cheat", f"perturb_output@{wrong_input}"), progress=lambda _: None)
        api, submitter, spec, job_id = post_inference(stack, artifacts, samples=COUNT, required_stake=STAKE)
        job = wait_for(lambda: (j := submitter.job(job_id))["state"] == JobState.SLASHED and j, "the slash", 300)
        view = wait_for(lambda: (v := api.job(job_id))["state"] == "slashed" and v["disputes"] and v, "the index")
        [dispute] = view["disputes"]
        # Leaf k is input k-1: the dispute starts one step wide, so no bisection round is needed.
        assert (dispute["lo"], dispute["hi"], dispute["rounds"]) == (wrong_input, wrong_input + 1, 0)
        assert dispute["solver_won"] is False and int(view["slashed"]) == STAKE
        # The wrong output is still provably what the solver committed; the job's state says it lost.
        results = checked_outputs(api, spec, job_id, job["finalRoot"])
        local = InferenceEngine(spec).load(*artifacts)
        differs = [r.index for r in results if r.output.values() != local.output(r.index).tolist()]
        assert differs == [wrong_input]
