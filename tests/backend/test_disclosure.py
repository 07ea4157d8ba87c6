"""The coordinator withholds the solver's hashes of sampled checkpoints until the audit commit window ends.

Real chain, real API: a job is run by hand (bid, award, report checkpoints, submit a real root), and the
checkpoint listing is read as a verifier (anonymous) and as the solver (signed read) at each stage.
"""

import os
from types import SimpleNamespace

import pytest

from backend.disclosure import withheld_checkpoints
from backend.indexer import Indexer
from pinpoint.chain import Chain, JobState
from pinpoint.localnet import ANVIL_KEYS
from pinpoint.merkle import checkpoint_leaf_hash, checkpoint_tree
from pinpoint.signing import sign_read, sign_report
from tests.backend.test_api import ETHER, digest
from tests.backend.test_indexer import RecordingDispatcher, drain
from tests.conftest import advance_time

COUNT, INTERVAL = 4, 2


def shown(api, job_id, headers=None) -> dict[int, dict]:
    response = api.get(f"/jobs/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    return {c["index"]: c for c in response.json()["checkpoints"]}


def test_sampledCheckpoints_areWithheldUntilTheCommitWindowEnds(api, chain_stack):
    submitter = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[1])
    solver = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[5])
    if solver.staking.functions.freeStake(solver.address).call() < ETHER:
        solver.transact("Staking", "deposit", value=ETHER)
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), COUNT, INTERVAL, max_price=ETHER // 100, samples=2,
                                bidding_seconds=60, execution_seconds=600, challenge_seconds=600)
    solver.transact("Market", "bid", job_id, ETHER // 200)
    advance_time(solver.w3, 61)
    solver.transact("Market", "closeBidding", job_id)
    indexer = Indexer(Chain(chain_stack.rpc_url, chain_stack.deployment_file), api.app.state.sessions, RecordingDispatcher())
    drain(indexer)

    hashes = [os.urandom(32) for _ in range(COUNT + 1)]
    for index, state_hash in enumerate(hashes):
        blob = os.urandom(64)
        api.put(f"/artifacts/{digest(blob)}", content=blob)
        body = {"index": index, "step": index * INTERVAL, "state_hash": "0x" + state_hash.hex(), "artifact": digest(blob),
                "loss": None}
        signature = sign_report(ANVIL_KEYS[5], "checkpoints", job_id, body)
        assert api.post(f"/jobs/{job_id}/checkpoints", json={"body": body, "signature": signature}).status_code == 200
    everything = set(range(COUNT + 1))

    def withheld(headers=None) -> set[int]:
        view = shown(api, job_id, headers)
        for index, checkpoint in view.items():  # leaves are always public, and always right
            assert checkpoint["leaf"] == checkpoint_leaf_hash(job_id, index, index * INTERVAL, hashes[index])
        return {i for i, c in view.items() if c["state_hash"] is None and c["artifact"] is None}

    # While running, and submitted but unsealed, any checkpoint could be sampled: all but the start are hidden.
    assert withheld() == everything - {0}
    assert withheld(sign_read(ANVIL_KEYS[5], job_id)) == set()  # the solver reads its own
    assert withheld(sign_read(ANVIL_KEYS[6], job_id)) == everything - {0}  # a signature proves nothing else
    assert withheld(sign_read(ANVIL_KEYS[5], job_id, timestamp=1)) == everything - {0}  # a stale one neither
    solver.transact("Market", "submitResult", job_id, checkpoint_tree(job_id, hashes, INTERVAL).root)
    assert withheld() == everything - {0}

    # Sealed: exactly the ends of the sampled intervals stay hidden, so their starts can be downloaded.
    for _ in range(2):  # the seed block, then one on top: calls run in the context of the latest block
        solver.w3.provider.make_request("evm_mine", [])
    submitter.transact("Market", "sealSample", job_id)
    sample = submitter.market.functions.sampledIntervals(job_id).call()
    assert len(sample) == 2
    assert withheld() == {i + 1 for i in sample}

    # Past the commit window no commitment can land any more: everything is shown.
    advance_time(solver.w3, submitter.audit.functions.commitWindow().call() + 1)
    assert withheld() == set()


class _Call:
    def __init__(self, value):
        self.value = value

    def call(self):
        return self.value


def stub_chain(state: JobState, sealed_at: int, now: int, sample: list[int]) -> SimpleNamespace:
    """The few reads withheld_checkpoints makes, answered from a job with COUNT checkpoints."""
    job = {"state": state, "checkpointCount": COUNT, "sampleSealedAt": sealed_at, "submittedAt": 50,
           "challengeDeadline": sealed_at and sealed_at + 600}
    audit = SimpleNamespace(functions=SimpleNamespace(commitWindow=lambda: _Call(8)))
    return SimpleNamespace(
        contracts={"Audit": audit}, job=lambda job_id: job,
        market=SimpleNamespace(functions=SimpleNamespace(sampledIntervals=lambda job_id: _Call(sample))),
        w3=SimpleNamespace(eth=SimpleNamespace(get_block=lambda which: {"timestamp": now})))


@pytest.mark.parametrize("state", list(JobState))
def test_onlyResultsUnderReview_withholdAnything(state):
    """Unsealed (challengeDeadline still 0), every checkpoint but the start could be drawn: withheld while the
    job runs or its result is under review, and never once it is settled (Unverified included)."""
    under_review = state in (JobState.RUNNING, JobState.SUBMITTED, JobState.DISPUTED)
    withheld = withheld_checkpoints(stub_chain(state, sealed_at=0, now=100, sample=[]), 1)
    assert withheld == (set(range(1, COUNT + 1)) if under_review else set())


@pytest.mark.parametrize("state", [JobState.SUBMITTED, JobState.DISPUTED])
def test_sealedSample_isWithheldThroughTheCommitWindowInclusive(state):
    sample = [0, 2]
    assert withheld_checkpoints(stub_chain(state, sealed_at=100, now=100, sample=sample), 1) == {1, 3}
    assert withheld_checkpoints(stub_chain(state, sealed_at=100, now=108, sample=sample), 1) == {1, 3}
    assert withheld_checkpoints(stub_chain(state, sealed_at=100, now=109, sample=sample), 1) == set()
    settled = stub_chain(JobState.UNVERIFIED, sealed_at=100, now=100, sample=sample)
    assert withheld_checkpoints(settled, 1) == set()
