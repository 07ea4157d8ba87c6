"""The coordinator withholds the solver's hashes of sampled checkpoints until the audit commit window ends.

Real chain, real API: a job is run by hand (bid, award, report checkpoints, submit a real root), and the
checkpoint listing is read as a verifier (anonymous) and as the solver (signed read) at each stage. The API
decides from the index alone (no chain reads per request): what it shows follows the chain once indexed.
"""

import os

import pytest

from backend.disclosure import withheld_checkpoints
from backend.indexer import Indexer
from backend.models import Job
from pinpoint.chain import Chain, JobState
from pinpoint.localnet import ANVIL_KEYS
from pinpoint.merkle import checkpoint_leaf_hash, checkpoint_tree
from tests.backend.scenario import read_as, report, upload
from tests.backend.test_api import ETHER, digest
from tests.backend.test_indexer import RecordingDispatcher, drain
from tests.conftest import advance_time

COUNT, INTERVAL = 4, 2


def shown(api, job_id, headers=None) -> dict[int, dict]:
    response = api.get(f"/v1/jobs/{job_id}", headers=headers)
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
        assert upload(api, ANVIL_KEYS[5], blob).status_code == 201
        body = {"index": index, "step": index * INTERVAL, "state_hash": "0x" + state_hash.hex(), "artifact": digest(blob),
                "loss": None}
        assert report(api, ANVIL_KEYS[5], job_id, "checkpoints", body).status_code == 200
    everything = set(range(COUNT + 1))

    def withheld(headers=None) -> set[int]:
        view = shown(api, job_id, headers)
        for index, checkpoint in view.items():  # leaves are always public, and always right
            assert checkpoint["leaf"] == checkpoint_leaf_hash(job_id, index, index * INTERVAL, hashes[index])
        return {i for i, c in view.items() if c["state_hash"] is None and c["artifact"] is None}

    # While running, and submitted but unsealed, any checkpoint could be sampled: all but the start are hidden.
    assert withheld() == everything - {0}
    assert withheld(read_as(api, ANVIL_KEYS[5], job_id)) == set()  # the solver reads its own
    assert withheld(read_as(api, ANVIL_KEYS[6], job_id)) == everything - {0}  # a signature proves nothing else
    captured = read_as(api, ANVIL_KEYS[5], job_id)
    assert withheld(captured) == set()
    replayed = api.get(f"/v1/jobs/{job_id}", headers=captured)  # a captured read shows nothing twice
    assert replayed.status_code == 409 and replayed.json()["status"] == 409
    stale = api.get(f"/v1/jobs/{job_id}", headers=read_as(api, ANVIL_KEYS[5], job_id, now=1))
    assert stale.status_code == 401 and "expired" in stale.json()["detail"]
    solver.transact("Market", "submitResult", job_id, checkpoint_tree(job_id, hashes, INTERVAL).root)
    drain(indexer)
    assert withheld() == everything - {0}

    # Sealed: exactly the ends of the sampled intervals stay hidden, so their starts can be downloaded.
    for _ in range(2):  # the seed block, then one on top: calls run in the context of the latest block
        solver.w3.provider.make_request("evm_mine", [])
    submitter.transact("Market", "sealSample", job_id)
    sample = submitter.market.functions.sampledIntervals(job_id).call()
    assert len(sample) == 2
    assert withheld() == everything - {0}  # the index has not seen the seal yet: in doubt, withhold
    drain(indexer)
    assert withheld() == {i + 1 for i in sample}
    with api.app.state.sessions() as s:
        assert s.get(Job, job_id).commit_deadline == submitter.audit.functions.commitDeadline(job_id).call()
        # As a job sealed before schema 0005 left it: no sample projected. Withheld, until an indexer
        # (started after the upgrade) reads the sample from the chain.
        s.get(Job, job_id).commit_deadline = s.get(Job, job_id).sampled_intervals = None
        s.commit()
    assert withheld() == everything - {0}
    drain(Indexer(Chain(chain_stack.rpc_url, chain_stack.deployment_file), api.app.state.sessions, RecordingDispatcher()))
    assert withheld() == {i + 1 for i in sample}

    # Past the commit window no commitment can land any more: everything is shown, once a block past it is
    # indexed (the index's clock never runs ahead of the chain's).
    advance_time(solver.w3, submitter.audit.functions.commitWindow().call() + 1)
    assert withheld() == {i + 1 for i in sample}
    drain(indexer)
    assert withheld() == set()


STATES = {JobState.NONE: "none", JobState.BIDDING: "bidding", JobState.RUNNING: "running", JobState.SUBMITTED: "submitted",
          JobState.DISPUTED: "disputed", JobState.FINALIZED: "finalized", JobState.CANCELLED: "cancelled",
          JobState.FAILED: "failed", JobState.SLASHED: "slashed", JobState.UNVERIFIED: "unverified"}


def indexed_job(state: JobState, commit_deadline: int | None, sample: list[int] | None) -> Job:
    """A job with COUNT checkpoints as the index holds it (state names as the indexer writes them)."""
    return Job(id=1, state=STATES[state], checkpoint_count=COUNT, checkpoint_interval=INTERVAL,
               commit_deadline=commit_deadline, sampled_intervals=sample)


def test_everyChainState_hasAnIndexedName():
    assert set(STATES) == set(JobState)


@pytest.mark.parametrize("state", list(JobState))
def test_onlyResultsUnderReview_withholdAnything(state):
    """Unsealed (no sample indexed yet), every checkpoint but the start could be drawn: withheld while the
    job runs or its result is under review, and never once it is settled (Unverified included)."""
    under_review = state in (JobState.RUNNING, JobState.SUBMITTED, JobState.DISPUTED)
    withheld = withheld_checkpoints(indexed_job(state, None, None), now=100)
    assert withheld == (set(range(1, COUNT + 1)) if under_review else set())


@pytest.mark.parametrize("state", [JobState.SUBMITTED, JobState.DISPUTED])
def test_sealedSample_isWithheldThroughTheCommitWindowInclusive(state):
    sealed = indexed_job(state, commit_deadline=108, sample=[0, 2])  # sealed at 100, a commit window of 8
    assert withheld_checkpoints(sealed, now=100) == {1, 3}
    assert withheld_checkpoints(sealed, now=108) == {1, 3}
    assert withheld_checkpoints(sealed, now=109) == set()
    assert withheld_checkpoints(sealed, now=None) == {1, 3}  # no block indexed: no clock, withhold
    assert withheld_checkpoints(indexed_job(JobState.UNVERIFIED, 108, [0, 2]), now=100) == set()
    # A sample without its deadline (an index from before they were projected) is treated as unsealed.
    assert withheld_checkpoints(indexed_job(state, None, [0, 2]), now=10**9) == set(range(1, COUNT + 1))
