"""The rendezvous of a swarm round's replicas (backend/api/routes/swarms.py) on a real swarm on the session's
chain: only the solver of the share the chain records for a slot may declare it, once its result is
submitted; anyone reads where the round's replicas meet. And the update cache a replica keeps from the
exchange (worker/round_exchange.py) hands out only the named bytes."""

import hashlib
import json
import os

import pytest
from web3.logs import DISCARD

from pinpoint.economics import job_economics
from tests.backend.scenario import ETHER, client, fresh_key, signed, staked_solver
from tests.conftest import advance_time
from worker.round_exchange import UpdateCache

PRICE, COUNT, INTERVAL, BIDDING = ETHER // 1000, 4, 2, 60


@pytest.fixture
def shares(chain_stack):
    """A 2-replica swarm whose round-0 shares are posted; slot 0's holder accepted its share (Running)."""
    submitter = client(chain_stack, fresh_key(client(chain_stack)))
    terms = job_economics(PRICE, COUNT)
    solvers = [staked_solver(chain_stack, terms.required_stake) for _ in range(2)]
    review = submitter.minimum_challenge_seconds()
    receipt = submitter.transact("Swarm", "post", os.urandom(32), 2, 2, 0, (
        COUNT, INTERVAL, terms.samples, PRICE, terms.required_stake, BIDDING, 600, 3600, review))
    swarm_id = submitter.swarm.events.SwarmPosted().process_receipt(receipt, errors=DISCARD)[0]["args"]["swarmId"]
    for solver in solvers:
        solver.transact("Swarm", "bid", swarm_id, PRICE)
    advance_time(submitter.w3, BIDDING + 1)
    submitter.transact("Swarm", "closeBidding", swarm_id)
    jobs = []
    for slot in range(2):
        submitter.transact("Swarm", "postReplica", swarm_id, 0, slot, os.urandom(32), value=PRICE)
        jobs.append(submitter.swarm.functions.replicaJob(swarm_id, 0, slot).call())
    solvers[0].transact("Market", "bid", jobs[0], PRICE)  # accepts: awarded at once
    return swarm_id, jobs, solvers


def declare(api, key: str, swarm_id: int, slot: int, job_id: int, address: str, round_: int = 0):
    path = f"/v1/swarms/{swarm_id}/rounds/{round_}/peers/{slot}"
    body = json.dumps({"job_id": job_id, "address": address}).encode()
    return api.put(path, content=body, headers=signed(api, key, "PUT", path, body) | {"Content-Type": "application/json"})


def test_rendezvous_onlyTheSharesSolver_onceSubmitted_andAnyoneReadsIt(api, chain_stack, shares):
    swarm_id, jobs, solvers = shares
    key, other = ("0x" + bytes(solver.account.key).hex() for solver in solvers)

    assert declare(api, key, swarm_id, 0, jobs[0], "127.0.0.1:4000").status_code == 409  # running: not yet
    solvers[0].transact("Market", "submitResult", jobs[0], os.urandom(32))

    assert declare(api, other, swarm_id, 0, jobs[0], "127.0.0.1:4000").status_code == 403  # not its solver
    assert declare(api, key, swarm_id, 1, jobs[0], "127.0.0.1:4000").status_code == 403  # not that slot's share
    assert declare(api, key, swarm_id, 0, jobs[1], "127.0.0.1:4000").status_code == 403
    assert declare(api, key, swarm_id, 0, jobs[0], "127.0.0.1:4000", round_=1).status_code == 403  # no such share
    for address in ("127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1", "a b:1", "http://x:1"):
        assert declare(api, key, swarm_id, 0, jobs[0], address).status_code == 422, address
    path = f"/v1/swarms/{swarm_id}/rounds/0/peers/0"
    assert api.put(path, json={"job_id": jobs[0], "address": "127.0.0.1:4000"}).status_code == 401  # unsigned

    declared = declare(api, key, swarm_id, 0, jobs[0], "127.0.0.1:4000")
    assert declared.status_code == 200
    expected = [{"slot": 0, "job_id": jobs[0], "address": "127.0.0.1:4000"}]
    assert declared.json()["peers"] == expected
    assert api.get(f"/v1/swarms/{swarm_id}/rounds/0/peers").json()["peers"] == expected
    assert api.get(f"/v1/swarms/{swarm_id}/rounds/1/peers").json()["peers"] == []


def test_updateCache_handsOutOnlyTheNamedBytes_andAsksTheStoreWhenTold(tmp_path):
    cache = UpdateCache(tmp_path / "updates")
    blob = b"an update's bytes"
    digest = cache.put(blob)
    assert digest == "0x" + hashlib.sha256(blob).hexdigest() and cache.get(digest) == blob
    (tmp_path / "updates" / digest[2:]).write_bytes(b"other bytes")  # a corrupted copy is not used
    assert cache.get(digest) is None
    assert cache.get("0x../../etc/passwd") is None and cache.get(digest[2:]) is None  # ids only
    cache.put(blob)  # puts the right bytes back

    downloads = []
    download = lambda d: downloads.append(d) or b"downloaded"  # noqa: E731
    assert cache.source(download)(digest) == blob and downloads == []
    held = cache.source(download, holds=lambda d: True)
    assert held(digest) == blob and downloads == []
    # The store lacks it: the verifiers could not have it, so the solver must find out by downloading.
    assert cache.source(download, holds=lambda d: False)(digest) == b"downloaded" and downloads == [digest]
    missing = "0x" + "ab" * 32
    assert cache.source(download)(missing) == b"downloaded" and downloads == [digest, missing]
