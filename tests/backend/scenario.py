"""Driving real jobs through the contracts by hand, for the coordinator's tests (no workers).

Accounts are fresh keys funded with `anvil_setBalance`, so the stake they register (Staking, Audit) never
changes what other tests on the session's chain see.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from eth_account import Account

from pinpoint.chain import Chain
from pinpoint.localnet import ANVIL_KEYS
from pinpoint.merkle import StandardMerkleTree, checkpoint_tree
from pinpoint.signing import sign_request
from tests.conftest import advance_time

ETHER = 10**18
BIDDING_SECONDS = 60


def fresh_key(chain: Chain, ether: int = 100) -> str:
    """A new key holding `ether` and nothing else: no stake anywhere, no history."""
    account = Account.create()
    chain.w3.provider.make_request("anvil_setBalance", [account.address, hex(ether * ETHER)])
    return "0x" + bytes(account.key).hex()


def client(chain_stack, key: str | None = None) -> Chain:
    return Chain(chain_stack.rpc_url, chain_stack.deployment_file, key)


def staked_solver(chain_stack, stake: int = ETHER) -> Chain:
    solver = client(chain_stack, fresh_key(client(chain_stack)))
    solver.transact("Staking", "deposit", value=stake)
    return solver


@dataclass
class HandRun:
    """One job run by hand: its solver's checkpoint hashes and the tree of their commitment."""

    job_id: int
    count: int
    interval: int
    hashes: list[bytes]

    @property
    def tree(self) -> StandardMerkleTree:
        return checkpoint_tree(self.job_id, self.hashes, self.interval)

    def hash_hex(self, index: int) -> str:
        return "0x" + self.hashes[index].hex()


def post_and_bid(submitter: Chain, solver: Chain, *, count: int = 4, interval: int = 2, challenge_seconds: int = 600,
                 max_price: int = ETHER // 100) -> HandRun:
    """Post a job and bid on it with `solver`; award it with `award` once the bidding window is over."""
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), count, interval, max_price=max_price,
                                bidding_seconds=BIDDING_SECONDS, execution_seconds=3600,
                                challenge_seconds=challenge_seconds)
    solver.transact("Market", "bid", job_id, max_price // 2)
    return HandRun(job_id, count, interval, [os.urandom(32) for _ in range(count + 1)])


def award(runs: list[HandRun], solver: Chain) -> None:
    advance_time(solver.w3, BIDDING_SECONDS + 1)
    for run in runs:
        solver.transact("Market", "closeBidding", run.job_id)


def submit(runs: list[HandRun], solver: Chain) -> None:
    for run in runs:
        solver.transact("Market", "submitResult", run.job_id, run.tree.root)


def seal(runs: list[HandRun], anyone: Chain) -> None:
    """Seal every sample: the seed block, then one on top (calls run in the context of the latest block)."""
    for _ in range(2):
        anyone.w3.provider.make_request("evm_mine", [])
    for run in runs:
        anyone.transact("Market", "sealSample", run.job_id)


def submitter_of(chain_stack) -> Chain:
    return client(chain_stack, ANVIL_KEYS[1])


# --- signed requests to the coordinator's API (pinpoint.signing), for a TestClient `api` ---------------------


def signed(api, key: str, method: str, path: str, body: bytes = b"", digest: bytes | None = None, **kw) -> dict:
    return sign_request(key, api.app.state.chain.signing_domain, method, path, body, digest, **kw)


def upload(api, key: str, blob: bytes):
    """PUT an artifact as `key` (funded, or the solver of an open job)."""
    path = f"/v1/artifacts/0x{hashlib.sha256(blob).hexdigest()}"
    return api.put(path, content=blob, headers=signed(api, key, "PUT", path, digest=hashlib.sha256(blob).digest()))


def report(api, key: str, job_id: int, kind: str, body: dict):
    """POST a signed checkpoint or verdict report as `key`."""
    path, content = f"/v1/jobs/{job_id}/{kind}", json.dumps(body).encode()
    return api.post(path, content=content, headers=signed(api, key, "POST", path, content) | {"Content-Type": "application/json"})


def read_as(api, key: str, job_id: int, **kw) -> dict:
    """Headers of a signed read of job `job_id` by `key`."""
    return signed(api, key, "GET", f"/v1/jobs/{job_id}", **kw)
