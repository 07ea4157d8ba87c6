"""DisputeGame: availability disputes. A challenger demands one checkpoint of a result under review (same
window as a fault challenge, with the availability bond); the solver answers within its clock with the
checkpoint's state hash, proven against its final root, and the id of its bytes; a drawn referee fetches
them (RefereeCourt.requestAvailability) and answers their state hash. The solver wins iff that is its own:
the job gets the rest of its window back and the bond is held until the job ends (`releaseBond`: to the
solver if a drawn verifier approved the result, Finalized; back to the challenger if Unverified or Slashed).
Silent, unfetchable or wrong bytes: slashed exactly as for a fault, the bond back to the challenger.
Balances and ledgers are checked after every claim.

The job: 4 checkpoints 8 steps apart over the honest toy trajectory (audit_helpers.TRUTH).
"""

import ape
import pytest
from audit_helpers import (
    CLAIMED,
    COUNT,
    INTERVAL,
    TRUTH,
    approve,
    finalize,
    proven_job,
    sampled,
)
from dispute_helpers import (
    ADJUDICATING,
    AVAILABILITY,
    AVAILABILITY_BOND,
    CHALLENGE_BOND,
    CHALLENGER_REWARD,
    CLOCK,
    DISPUTED,
    RESOLVED,
    SERVE,
    SLASHED,
    adjudicate,
    answer,
    artifact_id,
    assert_ledgers,
    challenge_opens_at,
    demand,
    open_challenges,
    seal,
    submit_open,
    trajectory,
)
from market_helpers import (
    FINALIZED,
    MAX_PRICE,
    PRICE,
    REQUIRED_STAKE,
    RUNNING,
    SUBMITTED,
    UNVERIFIED,
    ZERO32,
    logs,
)

INDEX = 2  # the demanded checkpoint (step 16)


@pytest.fixture
def job(jobs, market, game, staked, solver, stranger):
    """The honest job, sealed, just after its commit window: open to challenges."""
    job = proven_job(jobs, market, solver)
    open_challenges(jobs.chain, market, job.job_id, stranger)
    return job


@pytest.fixture
def demanded(game, job, challenger):
    return demand(game, job, INDEX, challenger)


def claim_everything(contracts, accounts):
    """Every account claims its credit from every contract; the ledgers hold after each claim."""
    market, game, court = contracts[:3]
    audit = contracts[3] if len(contracts) > 3 else None
    for contract in contracts:
        for account in accounts:
            if contract.credits(account):
                before = account.balance
                credit = contract.credits(account)
                tx = contract.claim(sender=account)
                assert account.balance == before + credit - tx.total_fees_paid
                assert_ledgers(market, game, court, audit)
        assert contract.totalCredits() == 0


def assert_slashed(market, game, court, staking, job_id, dispute_id, solver, challenger, submitter):
    """Slashed as for a fault: half the stake to the challenger with its bond back, the rest of the stake and
    the whole escrow to the submitter, the solver unpaid."""
    d = game.getDispute(dispute_id)
    assert (d.phase, d.solverWon, d.abandoned, d.bondHeld) == (RESOLVED, False, False, False)
    assert game.decisiveDispute(job_id) == dispute_id
    assert market.getJob(job_id).state == SLASHED
    assert (game.credits(challenger), game.credits(solver), game.totalBonds()) == (AVAILABILITY_BOND, 0, 0)
    assert market.credits(challenger) == CHALLENGER_REWARD == REQUIRED_STAKE // 2
    assert market.credits(submitter) == MAX_PRICE + REQUIRED_STAKE - CHALLENGER_REWARD
    assert (market.credits(solver), market.totalEscrow()) == (0, 0)
    assert staking.lockedStake(solver) == 0
    assert_ledgers(market, game, court)


# --- challengeAvailability ---------------------------------------------------------------------------------


def test_challengeAvailability_opensServeDispute_andDisputesJob(game, market, job, solver, challenger):
    tx = game.challengeAvailability(job.job_id, INDEX, sender=challenger, value=AVAILABILITY_BOND)
    dispute_id = tx.return_value
    d = game.getDispute(dispute_id)
    assert (d.kind, d.index, d.jobId, d.solver, d.challenger) == (AVAILABILITY, INDEX, job.job_id, solver, challenger)
    assert (d.lo, d.hi, d.phase) == (INDEX * INTERVAL, INDEX * INTERVAL, SERVE)
    assert game.bondOf(dispute_id) == AVAILABILITY_BOND
    assert (d.solverClock, d.challengerClock, d.turnStart) == (CLOCK, CLOCK, tx.timestamp)
    assert game.clocks(dispute_id) == (CLOCK, CLOCK)
    sealed = market.getJob(job.job_id)
    assert (sealed.state, sealed.openDisputes) == (DISPUTED, 1)
    assert (game.disputesOf(job.job_id), game.decisiveDispute(job.job_id)) == ([dispute_id], 0)
    assert game.totalBonds() == game.balance == AVAILABILITY_BOND
    assert logs(tx, game.AvailabilityChallenged) == [
        game.AvailabilityChallenged(dispute_id, job.job_id, challenger, INDEX)
    ]
    assert logs(tx, market.JobDisputed) == [market.JobDisputed(job.job_id)]


@pytest.mark.parametrize("sent", [0, AVAILABILITY_BOND - 1, AVAILABILITY_BOND + 1, CHALLENGE_BOND])
def test_challengeAvailability_wrongBond_reverts(game, job, challenger, sent):
    with ape.reverts(game.WrongBond, sent=sent, required=AVAILABILITY_BOND):
        game.challengeAvailability(job.job_id, INDEX, sender=challenger, value=sent)


def test_challengeAvailability_bySolver_reverts(game, job, solver):
    with ape.reverts(game.SolverCannotChallenge):
        game.challengeAvailability(job.job_id, INDEX, sender=solver, value=AVAILABILITY_BOND)


@pytest.mark.parametrize("index", [0, COUNT])
def test_challengeAvailability_anyCommittedCheckpoint_isDemandable(game, job, challenger, index):
    d = game.getDispute(demand(game, job, index, challenger))
    assert (d.index, d.lo, d.hi) == (index, index * INTERVAL, index * INTERVAL)


def test_challengeAvailability_pastLastCheckpoint_reverts(game, market, job, challenger):
    with ape.reverts(game.CheckpointOutOfRange, index=COUNT + 1, checkpointCount=COUNT):
        game.challengeAvailability(job.job_id, COUNT + 1, sender=challenger, value=AVAILABILITY_BOND)
    assert market.getJob(job.job_id).state == SUBMITTED


def test_challengeAvailability_sameWindowAsAFaultChallenge(chain, game, market, jobs, staked, solver, solver2,
                                                           challenger, stranger):
    running = jobs.awarded(solver2)
    with ape.reverts(market.WrongJobState, expected=SUBMITTED, actual=RUNNING):
        game.challengeAvailability(running, INDEX, sender=challenger, value=AVAILABILITY_BOND)
    job_id = proven_job(jobs, market, solver).job_id
    with ape.reverts(market.SampleNotSealed):
        game.challengeAvailability(job_id, INDEX, sender=challenger, value=AVAILABILITY_BOND)
    seal(chain, market, job_id, stranger)
    opens_at = challenge_opens_at(market, job_id)
    chain.pending_timestamp = opens_at
    with ape.reverts(market.ChallengeNotOpen, opensAt=opens_at):
        game.challengeAvailability(job_id, INDEX, sender=challenger, value=AVAILABILITY_BOND)
    deadline = market.getJob(job_id).challengeDeadline
    jobs.after(deadline)
    with ape.reverts(market.ChallengeClosed, deadline=deadline):
        game.challengeAvailability(job_id, INDEX, sender=challenger, value=AVAILABILITY_BOND)
    assert (game.disputeCount(), game.balance) == (0, 0)


def test_challengeAvailability_whileDisputed_opensMore(game, market, job, demanded, stranger):
    second = game.challengeAvailability(job.job_id, 1, sender=stranger, value=AVAILABILITY_BOND).return_value
    third = game.challenge(*job.challenge_args(1, b"\x07" * 32), sender=stranger, value=CHALLENGE_BOND).return_value
    assert game.disputesOf(job.job_id) == [demanded, second, third]
    assert market.getJob(job.job_id).openDisputes == 3


# --- answerAvailability --------------------------------------------------------------------------------------


def test_answerAvailability_requestsTheCheck(game, court, job, demanded, solver, chain):
    start = game.getDispute(demanded).turnStart
    chain.pending_timestamp = start + 100
    state, proof = job.checkpoint(INDEX)
    tx = game.answerAvailability(demanded, state, proof, artifact_id(state), sender=solver)
    d = game.getDispute(demanded)
    assert (d.phase, d.loHash, d.hiHash, d.preStateArtifact) == (ADJUDICATING, state, state, artifact_id(state))
    assert (d.requestId, d.solverClock, d.challengerClock) == (1, CLOCK - 100, CLOCK)
    r = court.getRequest(d.requestId)
    assert (r.availability, r.step, r.preStateHash, r.preStateArtifact) == (True, INDEX * INTERVAL, state,
                                                                            artifact_id(state))
    assert logs(tx, game.AvailabilityAnswered) == [
        game.AvailabilityAnswered(demanded, INDEX, state, artifact_id(state), d.requestId)
    ]
    with ape.reverts(game.NoClockRunning, phase=ADJUDICATING):
        game.claimTimeout(demanded, sender=solver)


@pytest.mark.parametrize("forgery", ["wrong hash", "proof of another checkpoint", "hash of another checkpoint"])
def test_answerAvailability_notTheCommittedCheckpoint_reverts(game, job, demanded, solver, forgery):
    state, proof = job.checkpoint(INDEX)
    other_state, other_proof = job.checkpoint(INDEX + 1)
    if forgery == "wrong hash":
        state = b"\x09" * 32
    elif forgery == "proof of another checkpoint":
        proof = other_proof
    else:
        state, proof = other_state, other_proof
    with ape.reverts(game.BadCheckpointProof):
        game.answerAvailability(demanded, state, proof, artifact_id(state), sender=solver)
    assert game.getDispute(demanded).phase == SERVE


def test_answerAvailability_guards_revert(game, job, demanded, solver, challenger, chain):
    state, proof = job.checkpoint(INDEX)
    with ape.reverts(game.NotYourTurn, expected=solver):
        game.answerAvailability(demanded, state, proof, artifact_id(state), sender=challenger)
    with ape.reverts(game.EmptyArtifact):
        game.answerAvailability(demanded, state, proof, ZERO32, sender=solver)
    with ape.reverts(game.WrongKind, expected=0, actual=AVAILABILITY):  # no bisection step to serve
        game.serveState(demanded, artifact_id(state), sender=solver)
    with ape.reverts(game.UnknownDispute, disputeId=demanded + 1):
        game.answerAvailability(demanded + 1, state, proof, artifact_id(state), sender=solver)
    chain.pending_timestamp = game.getDispute(demanded).turnStart + CLOCK + 1
    with ape.reverts(game.ClockExpired):
        game.answerAvailability(demanded, state, proof, artifact_id(state), sender=solver)


def test_answerAvailability_onAFaultDispute_reverts(game, jobs, market, staked, solver, challenger):
    # A one-step interval: the fault dispute starts at Serve, the phase an availability answer is made in.
    truth = trajectory(b"\x03" * 32, 3)
    claimed = trajectory(truth[0], 3, deviate_at=2, wrong=b"\xee" * 32)
    job = submit_open(jobs, market, solver, claimed, count=3, interval=1)
    dispute_id = game.challenge(*job.challenge_args(1, truth[2]), sender=challenger, value=CHALLENGE_BOND).return_value
    assert game.getDispute(dispute_id).phase == SERVE
    state, proof = job.checkpoint(1)
    with ape.reverts(game.WrongKind, expected=AVAILABILITY, actual=0):
        game.answerAvailability(dispute_id, state, proof, artifact_id(state), sender=solver)


# --- outcomes --------------------------------------------------------------------------------------------------


def answered_and_fetched(chain, game, court, seated, job, dispute_id, solver, keeper):
    """The solver answers and uploads the bytes; a drawn referee fetches them and finds the committed state."""
    store = {}
    request_id = answer(game, job, dispute_id, solver, store).events[-1].requestId
    return adjudicate(chain, court, seated, store, request_id, keeper)


def test_availability_answered_solverWins_bondHeld(chain, market, game, court, staking, job, demanded,
                                                   seated, solver, challenger, stranger):
    deadline = market.getJob(job.job_id).challengeDeadline
    tx = answered_and_fetched(chain, game, court, seated, job, demanded, solver, stranger)
    request_id = game.getDispute(demanded).requestId
    assert logs(tx, court.StepAnswered) == [court.StepAnswered(request_id, TRUTH[INDEX * INTERVAL])]
    assert logs(tx, game.DisputeResolved) == [game.DisputeResolved(demanded, job.job_id, True)]
    assert logs(tx, market.DisputeSettled) == [market.DisputeSettled(job.job_id, True)]
    d = game.getDispute(demanded)
    assert (d.phase, d.solverWon, d.bondHeld) == (RESOLVED, True, True)
    assert game.decisiveDispute(job.job_id) == 0
    assert game.heldBonds(job.job_id) == [demanded]
    reviewed = market.getJob(job.job_id)
    assert (reviewed.state, reviewed.challengeDeadline, reviewed.openDisputes) == (SUBMITTED, deadline, 0)
    # Nobody is paid yet: whether the data was out before the demand is for the job's outcome to tell.
    assert (game.credits(solver), game.credits(challenger)) == (0, 0)
    assert game.totalBonds() == game.balance == AVAILABILITY_BOND
    assert (market.credits(challenger), staking.lockedStake(solver)) == (0, REQUIRED_STAKE)
    assert_ledgers(market, game, court)
    with ape.reverts(game.JobNotSettled, state=SUBMITTED):
        game.releaseBond(demanded, sender=stranger)


def test_availability_answered_approvedJob_heldBondToSolver_thenEverythingPaidOut(
    chain, market, game, court, audit, jobs, staked, registered, seated, solver, submitter, challenger, stranger
):
    """A frivolous demand: a drawn verifier had replayed (so had the data) and approved; the demand was
    answered; once the job is Finalized the held bond is the solver's."""
    job = proven_job(jobs, market, solver)
    approve(jobs, audit, sampled(chain, market, job, stranger), registered[0])
    dispute_id = demand(game, job, INDEX, challenger)
    answered_and_fetched(chain, game, court, seated, job, dispute_id, solver, stranger)
    finalize(jobs, market, job.job_id, stranger)
    assert market.getJob(job.job_id).state == FINALIZED
    tx = game.releaseBond(dispute_id, sender=stranger)
    assert logs(tx, game.BondReleased) == [game.BondReleased(dispute_id, solver, AVAILABILITY_BOND)]
    assert (game.credits(solver), game.credits(challenger), game.totalBonds()) == (AVAILABILITY_BOND, 0, 0)
    assert game.getDispute(dispute_id).bondHeld is False
    assert game.heldBonds(job.job_id) == [dispute_id]  # released ones stay listed
    with ape.reverts(game.NoBondHeld, disputeId=dispute_id):
        game.releaseBond(dispute_id, sender=stranger)
    assert_ledgers(market, game, court, audit)

    audit.settle(job.job_id, sender=stranger)
    assert (market.credits(solver), market.credits(submitter)) == (PRICE, MAX_PRICE - PRICE)
    claim_everything([market, game, court, audit], [solver, submitter, challenger, stranger, *registered])
    assert market.balance == market.totalEscrow() == 0
    assert game.balance == game.totalBonds() == 0
    assert audit.balance == audit.totalHeld() == 4 * audit.stakeOf(registered[0])  # the registry's stake only
    assert court.balance == court.totalBonds()  # the referees' bonds only


def test_availability_answered_unverifiedJob_heldBondBackToChallenger(chain, market, game, court, jobs, job,
                                                                      demanded, seated, solver, submitter,
                                                                      challenger, stranger):
    # Nobody drawn approved: nothing shows the data was out, so the demand is not held against the challenger.
    answered_and_fetched(chain, game, court, seated, job, demanded, solver, stranger)
    finalize(jobs, market, job.job_id, stranger)
    assert market.getJob(job.job_id).state == UNVERIFIED
    tx = game.releaseBond(demanded, sender=stranger)
    assert logs(tx, game.BondReleased) == [game.BondReleased(demanded, challenger, AVAILABILITY_BOND)]
    assert (game.credits(challenger), game.credits(solver), game.totalBonds()) == (AVAILABILITY_BOND, 0, 0)
    claim_everything([market, game, court], [solver, submitter, challenger, stranger])
    assert market.balance == game.balance == 0


def test_availability_answered_laterSlashedForAFault_heldBondBackToChallenger(
    chain, market, game, court, staking, jobs, staked, seated, solver, submitter, challenger, stranger
):
    # The cheater serves its (wrong) checkpoint on demand, then a fault dispute proves it wrong.
    cheat = proven_job(jobs, market, solver, CLAIMED)
    open_challenges(chain, market, cheat.job_id, stranger)
    demanded = demand(game, cheat, INDEX, challenger)
    answered_and_fetched(chain, game, court, seated, cheat, demanded, solver, stranger)
    fault = game.challenge(*cheat.challenge_args(1, TRUTH[16]), sender=stranger, value=CHALLENGE_BOND).return_value
    chain.pending_timestamp = game.getDispute(fault).turnStart + CLOCK + 1
    game.claimTimeout(fault, sender=stranger)
    assert market.getJob(cheat.job_id).state == SLASHED
    assert game.decisiveDispute(cheat.job_id) == fault
    tx = game.releaseBond(demanded, sender=solver)  # anyone may call
    assert logs(tx, game.BondReleased) == [game.BondReleased(demanded, challenger, AVAILABILITY_BOND)]
    assert (game.credits(challenger), game.credits(stranger), game.credits(solver)) == (
        AVAILABILITY_BOND, CHALLENGE_BOND, 0)
    assert market.credits(stranger) == CHALLENGER_REWARD
    claim_everything([market, game, court], [solver, submitter, challenger, stranger])
    assert market.balance == game.balance == game.totalBonds() == 0


def test_releaseBond_nothingHeld_reverts(chain, market, game, court, job, demanded, solver, stranger):
    with ape.reverts(game.NoBondHeld, disputeId=demanded):  # unresolved
        game.releaseBond(demanded, sender=stranger)
    with ape.reverts(game.NoBondHeld, disputeId=demanded + 1):  # unknown
        game.releaseBond(demanded + 1, sender=stranger)
    chain.pending_timestamp = game.getDispute(demanded).turnStart + CLOCK + 1
    game.claimTimeout(demanded, sender=stranger)  # lost by the solver: the bond went back at once
    with ape.reverts(game.NoBondHeld, disputeId=demanded):
        game.releaseBond(demanded, sender=stranger)
    assert game.heldBonds(job.job_id) == []


def test_availability_unfetchable_refereeAnswersZero_solverSlashed(chain, market, game, court, staking, job, demanded,
                                                                   seated, solver, submitter, challenger, stranger):
    # The solver names its bytes but never uploads them: the referee can fetch nothing and answers 0.
    request_id = answer(game, job, demanded, solver, store=None).events[-1].requestId
    tx = adjudicate(chain, court, seated, {}, request_id, stranger)
    assert logs(tx, court.StepAnswered) == [court.StepAnswered(request_id, ZERO32)]
    assert logs(tx, market.SolverSlashed) == [market.SolverSlashed(job.job_id, solver, REQUIRED_STAKE)]
    assert logs(tx, market.DisputeSettled) == [market.DisputeSettled(job.job_id, False)]
    assert_slashed(market, game, court, staking, job.job_id, demanded, solver, challenger, submitter)
    claim_everything([market, game, court], [solver, submitter, challenger, stranger])
    assert market.balance == game.balance == 0


def test_availability_otherBytes_refereeAnswersAnotherHash_solverSlashed(chain, market, game, court, staking, job,
                                                                         demanded, seated, solver, submitter,
                                                                         challenger, stranger):
    # The fetched bytes hash to something else than the committed state: not the checkpoint, the solver loses.
    request_id = answer(game, job, demanded, solver, store={}).events[-1].requestId
    adjudicate(chain, court, seated, {}, request_id, stranger,
               answers={r.address: TRUTH[INDEX * INTERVAL + 1] for r in seated})
    assert_slashed(market, game, court, staking, job.job_id, demanded, solver, challenger, submitter)
    claim_everything([market, game, court], [solver, submitter, challenger, stranger])
    assert market.balance == game.balance == 0


def test_availability_silentSolver_timesOut_slashedAsForAFault(chain, market, game, court, staking, job, demanded,
                                                                solver, submitter, challenger, stranger):
    start = game.getDispute(demanded).turnStart
    chain.pending_timestamp = start + CLOCK
    with ape.reverts(game.ClockNotExpired, remaining=0):
        game.claimTimeout(demanded, sender=stranger)
    chain.pending_timestamp = start + CLOCK + 1
    tx = game.claimTimeout(demanded, sender=stranger)
    assert logs(tx, game.DisputeResolved) == [game.DisputeResolved(demanded, job.job_id, False)]
    assert logs(tx, market.SolverSlashed) == [market.SolverSlashed(job.job_id, solver, REQUIRED_STAKE)]
    assert_slashed(market, game, court, staking, job.job_id, demanded, solver, challenger, submitter)
    claim_everything([market, game, court], [solver, submitter, challenger, stranger])
    assert market.balance == game.balance == court.balance == 0


def test_availability_noReferee_abandoned_noWinner_bondBack(chain, market, game, court, staking, job, demanded,
                                                            solver, submitter, challenger, stranger):
    deadline = market.getJob(job.job_id).challengeDeadline
    request_id = answer(game, job, demanded, solver, store={}).events[-1].requestId
    chain.pending_timestamp = court.getRequest(request_id).armedAt + court.answerWindow() + 1
    tx = court.decide(request_id, sender=stranger)  # nobody but the parties can sit: abandoned
    d = game.getDispute(demanded)
    assert (d.phase, d.abandoned, d.solverWon) == (RESOLVED, True, False)
    assert game.decisiveDispute(job.job_id) == 0
    assert (game.credits(challenger), game.credits(solver), game.totalBonds()) == (AVAILABILITY_BOND, 0, 0)
    sealed = market.getJob(job.job_id)
    assert (sealed.state, sealed.challengeDeadline) == (SUBMITTED, deadline)
    assert (staking.lockedStake(solver), market.credits(submitter)) == (REQUIRED_STAKE, 0)
    claim_everything([market, game, court], [solver, submitter, challenger, stranger])
    assert game.balance == 0
    assert market.balance == market.totalEscrow() == MAX_PRICE  # the job is under review again
