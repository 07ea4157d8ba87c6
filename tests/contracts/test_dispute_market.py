"""Market's side of disputes: setting the game once, and openDispute / resolveDispute, which only the game
calls. Here the "game" is a plain test account, so each hook is exercised on its own. Disputes open only
on a sealed result, after its audit commit window, until its challenge deadline."""

import ape
import pytest
from dispute_helpers import (
    CHALLENGER_REWARD,
    DISPUTED,
    SLASHED,
    challenge_opens_at,
    open_challenges,
    seal,
)
from market_helpers import (
    MAX_PRICE,
    REQUIRED_STAKE,
    RUNNING,
    SUBMITTED,
    UNBONDING_DELAY,
    JobFactory,
    deploy_market,
    logs,
)


@pytest.fixture(scope="session")
def referee_game(accounts):
    """The account that plays the dispute game for the bare market."""
    return accounts[9]


@pytest.fixture(scope="session")
def bare_staking(project, owner):
    """The bare market's own staking contract (a staking contract serves one market)."""
    return owner.deploy(project.Staking, UNBONDING_DELAY)


@pytest.fixture(scope="session")
def bare_market(project, owner, bare_staking, referee_game):
    market = deploy_market(project, owner, bare_staking)
    market.setDisputeGame(referee_game, sender=owner)
    return market


@pytest.fixture
def staked(bare_staking, solver, solver2):
    """Solvers with stake in the bare market's staking contract."""
    for account in (solver, solver2):
        bare_staking.deposit(sender=account, value=2 * REQUIRED_STAKE)
    return (solver, solver2)


@pytest.fixture(scope="session")
def bare_jobs(bare_market, submitter, chain):
    return JobFactory(bare_market, submitter, chain)


def open_job(bare_market, bare_jobs, solver) -> int:
    """A submitted job, sealed, just after its commit window: the game may open a dispute."""
    job_id = bare_jobs.submitted(solver)
    open_challenges(bare_jobs.chain, bare_market, job_id, bare_jobs.submitter)
    return job_id


@pytest.fixture
def disputed(bare_market, bare_jobs, staked, solver, referee_game):
    job_id = open_job(bare_market, bare_jobs, solver)
    bare_market.openDispute(job_id, sender=referee_game)
    return job_id


def test_setDisputeGame_setsOnce(project, owner, staking, stranger):
    market = owner.deploy(project.Market, staking)
    assert market.disputeGame() == "0x" + "00" * 20
    with ape.reverts(market.OwnableUnauthorizedAccount, account=stranger):
        market.setDisputeGame(stranger, sender=stranger)
    with ape.reverts(market.ZeroAddress):
        market.setDisputeGame("0x" + "00" * 20, sender=owner)
    tx = market.setDisputeGame(stranger, sender=owner)
    assert market.disputeGame() == stranger
    assert logs(tx, market.DisputeGameSet) == [market.DisputeGameSet(stranger)]
    with ape.reverts(market.DisputeGameAlreadySet, game=stranger):
        market.setDisputeGame(owner, sender=owner)


def test_challengerReward_isHalfTheStake(bare_market):
    assert bare_market.CHALLENGER_REWARD_BPS() == 5_000


def test_openDispute_manyAtOnce_countsThem_andNeverMovesTheDeadline(bare_market, bare_jobs, staked, solver,
                                                                    referee_game, chain):
    job_id = open_job(bare_market, bare_jobs, solver)
    deadline = bare_market.getJob(job_id).challengeDeadline
    chain.pending_timestamp = deadline - 700
    tx = bare_market.openDispute(job_id, sender=referee_game)
    assert logs(tx, bare_market.JobDisputed) == [bare_market.JobDisputed(job_id)]
    # Nobody can keep another challenger out: a second dispute opens while the first is open.
    bare_market.openDispute(job_id, sender=referee_game)
    job = bare_market.getJob(job_id)
    assert (job.state, job.openDisputes, job.challengeDeadline) == (DISPUTED, 2, deadline)


def test_openDispute_atDeadline_isTheLastChance(bare_market, bare_jobs, staked, solver, referee_game, chain):
    job_id = open_job(bare_market, bare_jobs, solver)
    deadline = bare_market.getJob(job_id).challengeDeadline
    chain.pending_timestamp = deadline
    bare_market.openDispute(job_id, sender=referee_game)
    chain.pending_timestamp = deadline + 1
    with ape.reverts(bare_market.ChallengeClosed, deadline=deadline):
        bare_market.openDispute(job_id, sender=referee_game)
    assert bare_market.getJob(job_id).openDisputes == 1


def test_openDispute_guards_revert(bare_market, bare_jobs, staked, solver, solver2, referee_game, stranger, chain):
    job_id = bare_jobs.submitted(solver)
    with ape.reverts(bare_market.NotDisputeGame, caller=stranger):
        bare_market.openDispute(job_id, sender=stranger)
    with ape.reverts(bare_market.UnknownJob, jobId=job_id + 1):
        bare_market.openDispute(job_id + 1, sender=referee_game)
    running = bare_jobs.awarded(solver2)
    with ape.reverts(bare_market.WrongJobState, expected=SUBMITTED, actual=RUNNING):
        bare_market.openDispute(running, sender=referee_game)
    with ape.reverts(bare_market.SampleNotSealed):
        bare_market.openDispute(job_id, sender=referee_game)
    seal(chain, bare_market, job_id, stranger)
    opens_at = challenge_opens_at(bare_market, job_id)
    chain.pending_timestamp = opens_at  # the last second of the audit's commit window
    with ape.reverts(bare_market.ChallengeNotOpen, opensAt=opens_at):
        bare_market.openDispute(job_id, sender=referee_game)
    deadline = bare_market.getJob(job_id).challengeDeadline
    bare_jobs.after(deadline)
    with ape.reverts(bare_market.ChallengeClosed, deadline=deadline):
        bare_market.openDispute(job_id, sender=referee_game)


def test_disputedJob_cannotBeFinalized(bare_market, bare_jobs, disputed, stranger):
    bare_jobs.after(bare_market.getJob(disputed).challengeDeadline)
    with ape.reverts(bare_market.WrongJobState, expected=SUBMITTED, actual=DISPUTED):
        bare_market.finalize(disputed, sender=stranger)


def test_resolveDispute_guards_revert(bare_market, bare_jobs, disputed, solver, solver2, referee_game, stranger):
    with ape.reverts(bare_market.NotDisputeGame, caller=stranger):
        bare_market.resolveDispute(disputed, False, stranger, sender=stranger)
    submitted = open_job(bare_market, bare_jobs, solver2)
    with ape.reverts(bare_market.WrongJobState, expected=DISPUTED, actual=SUBMITTED):
        bare_market.resolveDispute(submitted, True, stranger, sender=referee_game)


def test_resolveDispute_solverWins_submittedOnceNoneIsLeftOpen(bare_market, disputed, referee_game, stranger,
                                                                 chain):
    deadline = bare_market.getJob(disputed).challengeDeadline
    bare_market.openDispute(disputed, sender=referee_game)
    chain.pending_timestamp = deadline + 5000  # the disputes outlast the window
    tx = bare_market.resolveDispute(disputed, True, stranger, sender=referee_game)
    job = bare_market.getJob(disputed)
    assert (job.state, job.openDisputes) == (DISPUTED, 1)
    assert logs(tx, bare_market.DisputeSettled) == [bare_market.DisputeSettled(disputed, True)]
    with ape.reverts(bare_market.WrongJobState, expected=SUBMITTED, actual=DISPUTED):
        bare_market.finalize(disputed, sender=stranger)
    bare_market.resolveDispute(disputed, True, stranger, sender=referee_game)
    job = bare_market.getJob(disputed)
    # A lost challenge gives nothing back and takes nothing: the deadline never moved, so the result is final.
    assert (job.state, job.openDisputes, job.challengeDeadline) == (SUBMITTED, 0, deadline)
    assert bare_market.totalEscrow() == MAX_PRICE
    bare_market.finalize(disputed, sender=stranger)


def test_resolveDispute_solverLoses_splitsStake(bare_market, bare_staking, disputed, solver, submitter, referee_game,
                                                stranger):
    tx = bare_market.resolveDispute(disputed, False, stranger, sender=referee_game)
    assert bare_market.getJob(disputed).state == SLASHED
    assert bare_market.credits(stranger) == CHALLENGER_REWARD
    assert bare_market.credits(submitter) == MAX_PRICE + REQUIRED_STAKE - CHALLENGER_REWARD
    assert (bare_market.totalEscrow(), bare_staking.lockedStake(solver)) == (0, 0)
    assert bare_market.balance == bare_market.totalCredits() == MAX_PRICE + REQUIRED_STAKE
    assert logs(tx, bare_market.SolverSlashed) == [bare_market.SolverSlashed(disputed, solver, REQUIRED_STAKE)]
    assert logs(tx, bare_market.DisputeSettled) == [bare_market.DisputeSettled(disputed, False)]
    with ape.reverts(bare_market.WrongJobState, expected=DISPUTED, actual=SLASHED):
        bare_market.resolveDispute(disputed, False, stranger, sender=referee_game)
