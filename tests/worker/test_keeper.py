"""The keeper triggers every exit whose deadline passed, on a real chain: no funds stay stuck."""

import logging
import os
import time

from pinpoint.chain import Chain, JobState, Phase
from pinpoint.localnet import ANVIL_KEYS
from pinpoint.merkle import checkpoint_tree
from tests.conftest import advance_time
from worker.keeper import Keeper
from worker.referee import answer_commitment

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


def test_keeper_sealsAndEndsUnapprovedWork_andReleasesHeldBonds(chain_stack):
    # Fresh keys: the keeper also acts on what other tests left on this chain.
    anyone = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[0])
    submitter, solver, challenger, referee = (Chain(chain_stack.rpc_url, chain_stack.deployment_file, "0x" + k * 32)
                                              for k in ("11", "12", "13", "14"))
    for party in (submitter, solver, challenger, referee):
        anyone.w3.eth.send_transaction({"from": anyone.address, "to": party.address, "value": ETHER})
    keeper = Keeper(anyone)
    keeper.tick()
    solver.transact("Staking", "deposit", value=ETHER // 2)
    court = referee.court.functions
    if not court.isReferee(referee.address).call():
        referee.transact("RefereeCourt", "register", value=court.minBond().call())

    terms = dict(TERMS, challenge_seconds=anyone.minimum_challenge_seconds())
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), 2, 2, **terms)
    solver.transact("Market", "bid", job_id, ETHER // 20)
    advance_time(submitter.w3, 61)
    keeper.tick()  # closes the auction
    hashes = [os.urandom(32) for _ in range(3)]
    tree = checkpoint_tree(job_id, hashes, 2)
    solver.transact("Market", "submitResult", job_id, tree.root)
    advance_time(submitter.w3, 1)
    assert (job_id, "sealSample") not in keeper.tick()  # the seed block is the latest: its hash is not final yet
    advance_time(submitter.w3, 1)
    assert (job_id, "sealSample") in keeper.tick()
    job = anyone.job(job_id)
    assert job["challengeDeadline"] == job["sampleSealedAt"] + terms["challenge_seconds"]

    # A demand the solver answers, attested by a referee: the bond waits for the job's end.
    advance_time(submitter.w3, anyone.audit.functions.commitWindow().call() + 1)
    challenger.transact("DisputeGame", "challengeAvailability", job_id, 1,
                        value=anyone.game.functions.availabilityBond().call())
    dispute_id = anyone.game.functions.disputesOf(job_id).call()[-1]
    proof = [bytes.fromhex(p[2:]) for p in tree.get_proof(1)]
    solver.transact("DisputeGame", "answerAvailability", dispute_id, hashes[1], proof, os.urandom(32))
    request_id = court.requestCount().call()
    advance_time(submitter.w3, 1)
    advance_time(submitter.w3, 1)  # the draw block is final
    referee.transact("RefereeCourt", "draw", request_id)
    # Every referee key on the panel (other tests seat referees too) commits, then reveals, the hash.
    panel = [c for c in (Chain(chain_stack.rpc_url, chain_stack.deployment_file, k)
                         for k in ("0x" + "14" * 32, *ANVIL_KEYS)) if court.onPanel(request_id, c.address).call()]
    salt = os.urandom(32)
    for member in panel:
        member.transact("RefereeCourt", "commitAnswer", request_id,
                        answer_commitment(request_id, member.address, hashes[1], salt))
    window = court.answerWindow().call()
    advance_time(submitter.w3, window + 1)
    for member in panel:
        member.transact("RefereeCourt", "revealAnswer", request_id, hashes[1], salt)
    advance_time(submitter.w3, window + 1)
    referee.transact("RefereeCourt", "decide", request_id)  # proposes the verdict
    advance_time(submitter.w3, window + 1)  # nobody appeals
    referee.transact("RefereeCourt", "decide", request_id)  # the verdict goes to the game
    assert anyone.dispute(dispute_id)["bondHeld"]

    # Nobody drawn approved the result: after the window the keeper ends it unverified, then pays the bond
    # back to the demander (no approval: the demand was not frivolous) and the reward back to the submitter.
    pot = anyone.audit.functions.pot(job_id).call()
    advance_time(submitter.w3, terms["challenge_seconds"] + 1)
    done = [x for x in keeper.tick() if x[0] in (job_id, dispute_id)]
    assert (job_id, "finalize") in done
    assert anyone.job(job_id)["state"] == JobState.UNVERIFIED
    assert {(dispute_id, "releaseBond"), (job_id, "settle")} <= set(keeper.tick())  # nobody committed: no reveals
    assert anyone.audit.functions.credits(submitter.address).call() == pot > 0
    assert challenger.game.functions.credits(challenger.address).call() == anyone.game.functions.availabilityBond().call()
    assert submitter.market.functions.credits(submitter.address).call() == TERMS["max_price"]
    assert solver.staking.functions.lockedStake(solver.address).call() == 0
    assert solver.market.functions.credits(solver.address).call() == 0
    assert not [x for x in keeper.tick() if x[0] in (job_id, dispute_id)]


def test_keeper_closesDisputesLeftMootBySlash(chain_stack):
    anyone = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[0])
    submitter, solver, first, second = (Chain(chain_stack.rpc_url, chain_stack.deployment_file, "0x" + k * 32)
                                        for k in ("21", "22", "23", "24"))
    for party in (submitter, solver, first, second):
        anyone.w3.eth.send_transaction({"from": anyone.address, "to": party.address, "value": ETHER})
    keeper = Keeper(anyone)
    keeper.tick()
    solver.transact("Staking", "deposit", value=ETHER // 2)
    terms = dict(TERMS, challenge_seconds=anyone.minimum_challenge_seconds())
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), 2, 2, **terms)
    solver.transact("Market", "bid", job_id, ETHER // 20)
    advance_time(submitter.w3, 61)
    keeper.tick()
    solver.transact("Market", "submitResult", job_id, checkpoint_tree(job_id, [os.urandom(32)] * 3, 2).root)
    advance_time(submitter.w3, 1)
    advance_time(submitter.w3, 1)
    keeper.tick()  # seals
    advance_time(submitter.w3, anyone.audit.functions.commitWindow().call() + 1)

    # Two demands side by side; the solver answers neither, so the first one slashes it.
    bond = anyone.game.functions.availabilityBond().call()
    first.transact("DisputeGame", "challengeAvailability", job_id, 1, value=bond)
    second.transact("DisputeGame", "challengeAvailability", job_id, 2, value=bond)
    slashing, moot = anyone.game.functions.disputesOf(job_id).call()
    advance_time(submitter.w3, anyone.game.functions.clockDuration().call() + 1)
    first.transact("DisputeGame", "claimTimeout", slashing)
    assert anyone.job(job_id)["state"] == JobState.SLASHED
    assert anyone.dispute(moot)["phase"] != Phase.RESOLVED

    assert (moot, "closeMoot") in keeper.tick()
    closed = anyone.dispute(moot)
    assert (closed["phase"], closed["abandoned"]) == (Phase.RESOLVED, True)
    assert second.game.functions.credits(second.address).call() == bond
    assert not [x for x in keeper.tick() if x[0] == moot]


def test_keeper_onAChainThatMinesNoBlocks_warnsWhyDeadlinesDoNotPass(chain_stack, caplog, monkeypatch):
    """Plain `anvil` mines only when sent a transaction: a deadline passed by the wall clock is never passed on
    chain, so every exit reverts (BiddingOpen) and the job stays in bidding. The keeper says why, as a warning
    (once a minute, not once a job), instead of at DEBUG where nobody sees it."""
    submitter = Chain(chain_stack.rpc_url, chain_stack.deployment_file, "0x" + "21" * 32)
    anyone = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[0])
    anyone.w3.eth.send_transaction({"from": anyone.address, "to": submitter.address, "value": ETHER})
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), 2, 2, **TERMS)
    keeper = Keeper(anyone)

    # The wall clock two minutes past the chain's latest block, and so past the bidding deadline; no block mined.
    latest = anyone.w3.eth.get_block("latest")["timestamp"]
    offset = latest + TERMS["bidding_seconds"] + 60 - time.time()
    monkeypatch.setattr(time, "time", lambda real=time.time: real() + offset)
    with caplog.at_level(logging.DEBUG, logger="worker.keeper"):
        keeper.tick()
        keeper.tick()

    assert submitter.job(job_id)["state"] == JobState.BIDDING
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "BiddingOpen" in warnings[0] and "mines no block while idle" in warnings[0]
    assert "anvil --block-time 1" in warnings[0]
