"""The indexer under a real Anvil reorg (anvil's evm_snapshot / evm_revert, then other transactions).

The reported failure: after a reorg replaced the award to A by an award to B, the coordinator still had A as
the solver, refused B's checkpoint reports (403), and let A write the job's checkpoints and read its withheld
hashes. Here the index rewinds: B is the solver, A's reports are gone and refused, B's are taken, A reads
what any verifier reads, and the execute task goes to B too.
"""

import os

from sqlalchemy import select

from backend.indexer import Indexer
from backend.models import ChainEvent, Job, Outbox
from tests.backend.scenario import BIDDING_SECONDS, client, fresh_key, read_as, submitter_of, upload
from tests.backend.scenario import report as signed_report
from tests.backend.test_api import ETHER, digest
from tests.backend.test_indexer import RecordingDispatcher, drain
from tests.conftest import advance_time


def rpc(chain, method, *params):
    response = chain.w3.provider.make_request(method, list(params))
    assert "error" not in response, response
    return response["result"]


def test_reorg_replacingTheAward_rewindsTheIndexToTheNewSolver(api, chain_stack):
    reader, submitter = client(chain_stack), submitter_of(chain_stack)
    a_key, b_key = fresh_key(reader), fresh_key(reader)
    a, b = staked_solver_with(chain_stack, a_key), staked_solver_with(chain_stack, b_key)
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), 4, 2, max_price=ETHER // 100, bidding_seconds=BIDDING_SECONDS,
                                execution_seconds=3600, challenge_seconds=600)
    a.transact("Market", "bid", job_id, ETHER // 200)
    dispatcher = RecordingDispatcher()
    indexer = Indexer(reader, api.app.state.sessions, dispatcher)
    sessions = api.app.state.sessions
    drain(indexer)  # the posting and A's bid are indexed below the fork

    fork = rpc(reader, "evm_snapshot")
    advance_time(reader.w3, BIDDING_SECONDS + 1)
    a.transact("Market", "closeBidding", job_id)
    drain(indexer)

    def report(key, index):
        blob = os.urandom(64)
        assert upload(api, key, blob).status_code == 201
        body = {"index": index, "step": index * 2, "state_hash": "0x" + os.urandom(32).hex(), "artifact": digest(blob),
                "loss": None}
        return signed_report(api, key, job_id, "checkpoints", body)

    assert api.get(f"/v1/jobs/{job_id}").json()["solver"] == a.address
    assert report(a_key, 0).status_code == 200 and report(a_key, 1).status_code == 200
    sent = lambda: [x for x in dispatcher.sent if x[1] == job_id]  # noqa: E731 (other tests' jobs share the chain)
    assert sent() == [("execute", job_id, a.address)]

    # The reorg: the blocks of A's award are replaced by a branch where B bids lower and wins.
    assert rpc(reader, "evm_revert", fork) is True
    b.transact("Market", "bid", job_id, ETHER // 400)
    advance_time(reader.w3, BIDDING_SECONDS + 1)
    b.transact("Market", "closeBidding", job_id)
    assert reader.job(job_id)["solver"] == b.address
    drain(indexer)

    view = api.get(f"/v1/jobs/{job_id}").json()
    assert (view["state"], view["solver"]) == ("running", b.address)
    assert [(bid["solver"], bid["price"]) for bid in view["bids"]] == [(a.address, str(ETHER // 200)),
                                                                      (b.address, str(ETHER // 400))]
    assert view["checkpoints"] == []  # reports made under A's orphaned award are gone
    assert report(a_key, 2).status_code == 403  # A is nobody's solver now
    assert report(b_key, 0).status_code == 200 and report(b_key, 1).status_code == 200
    as_a = {c["index"]: c for c in api.get(f"/v1/jobs/{job_id}", headers=read_as(api, a_key, job_id)).json()["checkpoints"]}
    as_b = {c["index"]: c for c in api.get(f"/v1/jobs/{job_id}", headers=read_as(api, b_key, job_id)).json()["checkpoints"]}
    assert as_a[1]["state_hash"] is None and as_b[1]["state_hash"] is not None  # A reads what any verifier reads
    assert sent() == [("execute", job_id, a.address), ("execute", job_id, b.address)]
    with sessions() as s:
        assert [(o.job_id, o.address) for o in s.scalars(select(Outbox).where(Outbox.job_id == job_id))] == [
            (job_id, b.address)]
        assert s.scalar(select(ChainEvent.id).where(ChainEvent.job_id == job_id, ChainEvent.name == "JobAwarded")) is not None

    # A shorter branch (a result submitted, then rolled back with nothing in its place): the index goes back
    # to running with B's reports kept, and nothing is sent again.
    before_submit = rpc(reader, "evm_snapshot")
    b.transact("Market", "submitResult", job_id, "0x" + "ab" * 32)
    drain(indexer)
    assert api.get(f"/v1/jobs/{job_id}").json()["state"] == "submitted"
    assert rpc(reader, "evm_revert", before_submit) is True
    drain(indexer)
    view = api.get(f"/v1/jobs/{job_id}").json()
    assert (view["state"], view["final_root"], view["solver"]) == ("running", None, b.address)
    assert [c["index"] for c in view["checkpoints"]] == [0, 1]
    assert len(sent()) == 2
    with sessions() as s:
        assert s.get(Job, job_id).bids[-1].solver == b.address


def staked_solver_with(chain_stack, key):
    solver = client(chain_stack, key)
    solver.transact("Staking", "deposit", value=ETHER)
    return solver
