"""The keeper triggers every exit whose deadline passed, on a real chain: no funds stay stuck."""

import os

from pinpoint.chain import Chain, JobState
from pinpoint.localnet import ANVIL_KEYS
from tests.conftest import advance_time
from worker.keeper import Keeper

ETHER = 10**18
TERMS = dict(max_price=ETHER // 10, required_stake=ETHER // 4, bidding_seconds=60, execution_seconds=600,
             challenge_seconds=60)


def test_keeper_cancelsUnbidJobs_andSlashesSilentSolvers(chain_stack):
    # Fresh accounts: the keeper also settles what other tests left on this chain, to other parties.
    submitter = Chain(chain_stack.rpc_url, chain_stack.deployment_file, "0x" + "08" * 32)
    silent_solver = Chain(chain_stack.rpc_url, chain_stack.deployment_file, "0x" + "07" * 32)
    anyone = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[0])
    keeper = Keeper(anyone)
    keeper.tick()
    for party in (submitter, silent_solver):
        anyone.w3.eth.send_transaction({"from": anyone.address, "to": party.address, "value": ETHER})
    silent_solver.transact("Staking", "deposit", value=ETHER // 2)

    unbid = submitter.post_job("0x" + os.urandom(32).hex(), 2, 2, **TERMS)
    silent = submitter.post_job("0x" + os.urandom(32).hex(), 2, 2, **TERMS)
    silent_solver.transact("Market", "bid", silent, ETHER // 20)
    assert [x for x in keeper.tick() if x[0] in (unbid, silent)] == []  # nothing due yet

    advance_time(submitter.w3, 61)
    assert sorted(x for x in keeper.tick() if x[0] in (unbid, silent)) == [(unbid, "closeBidding"), (silent, "closeBidding")]
    assert submitter.job(unbid)["state"] == JobState.CANCELLED
    assert submitter.job(silent)["state"] == JobState.RUNNING

    advance_time(submitter.w3, 601)
    assert [x for x in keeper.tick() if x[0] == silent] == [(silent, "reportMissedDeadline")]
    assert submitter.job(silent)["state"] == JobState.FAILED
    # The submitter gets both escrows back plus the silent solver's stake.
    credit = submitter.market.functions.credits(submitter.address).call()
    assert credit == 2 * TERMS["max_price"] + TERMS["required_stake"]
    assert silent_solver.staking.functions.lockedStake(silent_solver.address).call() == 0
    # Neither job had a result to verify: the verifiers' reward goes back to the submitter too.
    assert [x for x in keeper.tick() if x[0] in (unbid, silent)] == [(silent, "settle")]
    assert all(anyone.audit.functions.settled(j).call() for j in (unbid, silent))
    assert [x for x in keeper.tick() if x[0] in (unbid, silent)] == []
    assert not {unbid, silent} & (keeper.open | keeper.unsettled_audits)
