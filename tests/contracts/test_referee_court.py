"""RefereeCourt: the stake registry with history, stake-weighted panels fixed before their seed existed,
commit-reveal answers, the stake-majority verdict, empty rounds and abandonment, slashing to the parties,
and every reason an action is refused. Requests come from a real dispute over a job whose checkpoints are one
step apart, so the dispute goes straight to Serve."""

import ape
import pytest
from dispute_helpers import (
    ANSWER_WINDOW,
    CHALLENGE_BOND,
    CLOCK,
    DISPUTED,
    EXIT_DELAY,
    PANEL_SIZE,
    REFEREE_BOND,
    RESOLVED,
    adjudicate,
    answer,
    artifact_id,
    commitment,
    demand,
    submit_open,
    toy_step,
    trajectory,
)
from eth_abi import encode
from eth_utils import keccak
from market_helpers import REQUIRED_STAKE, SUBMITTED, ZERO32, logs

from pinpoint.merkle import checkpoint_tree

ZERO_ADDRESS = "0x" + "00" * 20
TRUTH = trajectory(b"\x03" * 32, 3)
CLAIMED = trajectory(TRUTH[0], 3, deviate_at=2, wrong=b"\xee" * 32)
RIGHT, WRONG = TRUTH[2], CLAIMED[2]  # the true post-state of step 1, and the solver's claim
SALT = keccak(b"salt")
MAX_ROUNDS = 5  # RefereeCourt.MAX_ROUNDS: 3 + MAX_APPEALS
MAX_APPEALS = 2


def assert_court_ledger(court):
    assert court.balance == court.totalStake() + court.totalExiting() + court.totalAppealBonds() + court.totalCredits()
    assert court.totalBonds() == court.totalStake() + court.totalExiting() + court.totalAppealBonds()


def seated_on_panel(court, request_id, accounts):
    return [a for a in accounts if court.onPanel(request_id, a)]


def python_on_panel(court, request_id, account, seed, snapshot, solver, challenger) -> bool:
    """The seat rule of IRefereeCourt, computed here from the seed and the snapshot stakes."""
    if account.address in (solver.address, challenger.address):
        return False
    stake = court.stakeAt(account, snapshot)
    total = court.totalStakeAt(snapshot)
    weight = stake * PANEL_SIZE
    return stake > 0 and (weight >= total or int.from_bytes(keccak(encode(["bytes32", "address"], [seed, account.address])), "big") % total < weight)


def make_request(jobs, market, game, solver, challenger):
    """A step request: the solver served its state at step 1 (agreed) for the disputed step 1 -> 2."""
    job = submit_open(jobs, market, solver, CLAIMED, count=3, interval=1)
    dispute_id = game.challenge(*job.challenge_args(1, TRUTH[2]), sender=challenger, value=CHALLENGE_BOND).return_value
    tx = game.serveState(dispute_id, artifact_id(CLAIMED[1]), sender=solver)
    return tx.events[-1].requestId, tx


@pytest.fixture
def request_id(jobs, market, game, staked, solver, challenger):
    return make_request(jobs, market, game, solver, challenger)[0]


@pytest.fixture
def seated_request(chain, jobs, market, game, staked, seated, solver, challenger):
    """A request made after the three referees registered (they count at its snapshot)."""
    chain.mine(1)
    return make_request(jobs, market, game, solver, challenger)[0]


@pytest.fixture
def drawn(court, chain, seated_request, stranger):
    chain.mine(1)
    court.draw(seated_request, sender=stranger)
    return seated_request


@pytest.fixture
def crowd(accounts, owner):
    def make(count):
        made = [accounts.generate_test_account() for _ in range(count)]
        for account in made:
            owner.transfer(account, 20 * REFEREE_BOND)
        return made

    return make


def commit(court, request_id, referee, value, salt=SALT):
    return court.commitAnswer(request_id, commitment(request_id, referee.address, value, salt), sender=referee)


def to_reveals(chain, court, request_id):
    chain.pending_timestamp = court.getRequest(request_id).commitDeadline + 1


def to_decide(chain, court, request_id):
    chain.pending_timestamp = court.getRequest(request_id).revealDeadline + 1


def to_finalize(chain, court, request_id):
    chain.pending_timestamp = court.getRequest(request_id).appealDeadline + 1


def decide_final(chain, court, request_id, sender):
    """`decide`; if it proposed a verdict, lets the appeal window pass and decides again. The last receipt."""
    tx = court.decide(request_id, sender=sender)
    if not court.getRequest(request_id).done and court.getRequest(request_id).appealDeadline:
        to_finalize(chain, court, request_id)
        tx = court.decide(request_id, sender=sender)
    return tx


# --- construction -------------------------------------------------------------------------------------


def test_constructor_boundsEveryParameter(project, owner):
    three_days, sixty_days = 3 * 24 * 3600, 60 * 24 * 3600
    with ape.reverts(project.RefereeCourt.ZeroMinBond):
        owner.deploy(project.RefereeCourt, 0, ANSWER_WINDOW, EXIT_DELAY, PANEL_SIZE)
    for window in (0, three_days + 1):
        with ape.reverts(project.RefereeCourt.AnswerWindowOutOfRange, answerWindow=window):
            owner.deploy(project.RefereeCourt, REFEREE_BOND, window, sixty_days, PANEL_SIZE)
    for delay in (EXIT_DELAY - 1, sixty_days + 1):
        with ape.reverts(project.RefereeCourt.ExitDelayOutOfRange, exitDelay=delay):
            owner.deploy(project.RefereeCourt, REFEREE_BOND, ANSWER_WINDOW, delay, PANEL_SIZE)
    for size in (0, 9):
        with ape.reverts(project.RefereeCourt.PanelSizeOutOfRange, panelSize=size):
            owner.deploy(project.RefereeCourt, REFEREE_BOND, ANSWER_WINDOW, EXIT_DELAY, size)
    edge = owner.deploy(project.RefereeCourt, 1, three_days, sixty_days, 8)
    assert (edge.minBond(), edge.answerWindow(), edge.exitDelay(), edge.panelSize()) == (1, three_days, sixty_days, 8)
    low = owner.deploy(project.RefereeCourt, 1, 1, 4 * MAX_ROUNDS, 1)  # the longest request: 4 windows a round
    assert (low.answerWindow(), low.exitDelay(), low.panelSize(), low.MAX_ROUNDS()) == (1, 4 * MAX_ROUNDS, 1, MAX_ROUNDS)


def test_setGame_setsOnce_andRenouncesOwnership(project, owner, stranger):
    court = owner.deploy(project.RefereeCourt, REFEREE_BOND, ANSWER_WINDOW, EXIT_DELAY, PANEL_SIZE)
    assert (court.game(), court.owner()) == (ZERO_ADDRESS, owner)
    with ape.reverts(court.OwnableUnauthorizedAccount, account=stranger):
        court.setGame(stranger, sender=stranger)
    with ape.reverts(court.ZeroAddress):
        court.setGame(ZERO_ADDRESS, sender=owner)
    tx = court.setGame(stranger, sender=owner)
    assert logs(tx, court.GameSet) == [court.GameSet(stranger)]
    assert (court.game(), court.owner()) == (stranger, ZERO_ADDRESS)  # least authority: no owner left
    with ape.reverts(court.OwnableUnauthorizedAccount, account=owner):
        court.setGame(owner, sender=owner)


# --- the stake registry ---------------------------------------------------------------------------------


def test_register_addsStake_withHistoryByBlock(court, referees):
    r = referees[0]
    first = court.register(sender=r, value=REFEREE_BOND)
    assert logs(first, court.RefereeRegistered) == [court.RefereeRegistered(r, REFEREE_BOND, REFEREE_BOND)]
    second = court.register(sender=r, value=1)  # a top-up may be small: the stake stays above the minimum
    assert (court.stakeOf(r), court.totalStake(), court.refereeCount(), court.isReferee(r)) == (
        REFEREE_BOND + 1, REFEREE_BOND + 1, 1, True)
    assert court.stakeAt(r, first.block_number - 1) == 0
    assert court.stakeAt(r, first.block_number) == court.totalStakeAt(first.block_number) == REFEREE_BOND
    assert court.stakeAt(r, second.block_number) == REFEREE_BOND + 1
    assert_court_ledger(court)


def test_register_guards_revert(court, referees):
    with ape.reverts(court.NoFunds):
        court.register(sender=referees[0], value=0)
    with ape.reverts(court.BondTooLow, stake=REFEREE_BOND - 1, minBond=REFEREE_BOND):
        court.register(sender=referees[0], value=REFEREE_BOND - 1)
    assert court.refereeCount() == court.totalStake() == 0


def test_requestExit_stopsCounting_withdrawAfterDelay_claimPays(chain, court, seated):
    leaver = seated[0]
    with ape.reverts(court.NoPendingExit):
        court.withdraw(sender=leaver)
    tx = court.requestExit(sender=leaver)
    available_at = tx.timestamp + EXIT_DELAY
    assert logs(tx, court.ExitRequested) == [court.ExitRequested(leaver, REFEREE_BOND, available_at)]
    assert (court.stakeOf(leaver), court.isReferee(leaver), court.refereeCount()) == (0, False, 2)
    assert (court.totalStake(), court.totalExiting()) == (2 * REFEREE_BOND, REFEREE_BOND)
    assert court.exitingOf(leaver) == (REFEREE_BOND, available_at)
    assert court.stakeAt(leaver, tx.block_number - 1) == REFEREE_BOND  # history keeps the past
    assert_court_ledger(court)
    with ape.reverts(court.NotRegistered, account=leaver):
        court.requestExit(sender=leaver)
    chain.pending_timestamp = available_at - 1
    with ape.reverts(court.ExitNotReady, availableAt=available_at):
        court.withdraw(sender=leaver)
    chain.pending_timestamp = available_at
    assert logs(court.withdraw(sender=leaver), court.Withdrawn) == [court.Withdrawn(leaver, REFEREE_BOND)]
    assert (court.totalExiting(), court.credits(leaver), court.totalCredits()) == (0, REFEREE_BOND, REFEREE_BOND)
    assert_court_ledger(court)
    before = leaver.balance
    receipt = court.claim(sender=leaver)
    assert leaver.balance == before + REFEREE_BOND - receipt.total_fees_paid
    with ape.reverts(court.NothingToClaim):
        court.claim(sender=leaver)
    assert court.balance == court.totalStake() == 2 * REFEREE_BOND


# --- requests -----------------------------------------------------------------------------------------


def test_requests_notGame_revert(court, game, stranger):
    with ape.reverts(court.NotGame, caller=stranger):
        court.requestStep(1, 1, 0, ZERO32, ZERO32, stranger, stranger, sender=stranger)
    with ape.reverts(court.NotGame, caller=stranger):
        court.requestAvailability(1, 1, 0, ZERO32, ZERO32, stranger, stranger, sender=stranger)
    assert court.requestCount() == 0


def test_requestStep_recordsRequest_andArmsTheFirstRound(court, game, jobs, market, staked, solver, challenger):
    request_id, tx = make_request(jobs, market, game, solver, challenger)
    r = court.getRequest(request_id)
    assert (r.disputeId, r.jobId, r.step, r.availability, r.done) == (1, 1, 1, False, False)
    assert (r.preStateHash, r.preStateArtifact) == (CLAIMED[1], artifact_id(CLAIMED[1]))
    assert (r.solver, r.challenger) == (solver, challenger)
    assert (r.snapshotBlock, r.seedBlock, r.armedAt, r.round) == (tx.block_number - 1, tx.block_number + 1,
                                                                  tx.timestamp, 1)
    assert (r.seed, r.commitDeadline, r.revealDeadline) == (ZERO32, 0, 0)
    assert logs(tx, court.StepRequested) == [
        court.StepRequested(request_id, 1, 1, 1, CLAIMED[1], artifact_id(CLAIMED[1]))]


def test_requestAvailability_recordsAnAvailabilityCheck(court, game, jobs, market, staked, solver, challenger):
    job = submit_open(jobs, market, solver, TRUTH, count=3, interval=1)
    dispute_id = demand(game, job, 2, challenger)
    tx = answer(game, job, dispute_id, solver, store=None)
    r = court.getRequest(tx.events[-1].requestId)
    assert (r.disputeId, r.jobId, r.step, r.availability) == (dispute_id, job.job_id, 2, True)
    assert (r.preStateHash, r.preStateArtifact) == (TRUTH[2], artifact_id(TRUTH[2]))


def test_registrationAfterTheRequest_neverCounts(chain, court, seated, jobs, market, game, staked, solver,
                                                  challenger, stranger, crowd):
    chain.mine(1)
    request_id, _ = make_request(jobs, market, game, solver, challenger)
    snapshot = court.getRequest(request_id).snapshotBlock
    eligible = court.eligibleStake(request_id)
    assert eligible == court.totalStakeAt(snapshot) == 3 * REFEREE_BOND
    # A steering challenger registers a whale and many small sybils right after the request, before the draw.
    late = crowd(4)
    court.register(sender=late[0], value=10 * REFEREE_BOND)
    for sybil in late[1:]:
        court.register(sender=sybil, value=REFEREE_BOND)
    court.draw(request_id, sender=stranger)
    r = court.getRequest(request_id)
    assert r.seed != ZERO32 and r.snapshotBlock == snapshot
    assert court.eligibleStake(request_id) == eligible and court.totalStakeAt(snapshot) == 3 * REFEREE_BOND
    assert seated_on_panel(court, request_id, late) == []
    assert seated_on_panel(court, request_id, seated) == list(seated)  # equal stakes: three sure seats
    with ape.reverts(court.NotOnPanel, account=late[0]):
        commit(court, request_id, late[0], RIGHT)


# --- draw ---------------------------------------------------------------------------------------------


def test_draw_seedsFromTheBlockAfterTheRequest(court, chain, seated_request, stranger):
    r = court.getRequest(seated_request)
    with ape.reverts(court.DrawTooEarly, seedBlock=r.seedBlock):  # the seed block is this very block
        court.draw(seated_request, sender=stranger)
    tx = court.draw(seated_request, sender=stranger)
    block_hash = chain.provider.get_block(r.seedBlock).hash
    seed = keccak(encode(["bytes32", "uint256", "uint64"], [block_hash, seated_request, 1]))
    r = court.getRequest(seated_request)
    assert (r.seed, r.commitDeadline, r.revealDeadline) == (seed, tx.timestamp + ANSWER_WINDOW,
                                                            tx.timestamp + 2 * ANSWER_WINDOW)
    assert logs(tx, court.PanelDrawn) == [court.PanelDrawn(seated_request, 1, seed, r.commitDeadline,
                                                           r.revealDeadline)]
    assert court.getRound(seated_request, 1) == (seed, r.snapshotBlock, PANEL_SIZE)
    with ape.reverts(court.AlreadyDrawn, requestId=seated_request):
        court.draw(seated_request, sender=stranger)


def test_draw_after256Blocks_rearmsWithAFreshSnapshot(court, chain, seated_request, stranger):
    chain.mine(300)
    tx = court.draw(seated_request, sender=stranger)
    r = court.getRequest(seated_request)
    assert (r.seed, r.snapshotBlock, r.seedBlock, r.armedAt) == (ZERO32, tx.block_number - 1, tx.block_number + 1,
                                                                 tx.timestamp)
    assert logs(tx, court.DrawRearmed) == [court.DrawRearmed(seated_request, r.snapshotBlock, r.seedBlock)]
    chain.mine(1)
    court.draw(seated_request, sender=stranger)
    assert court.getRequest(seated_request).seed != ZERO32


def test_draw_late_rearms_soExitingStakeStaysLockedWhileThePanelIsOpen(court, chain, seated_request, stranger):
    chain.mine(1)
    chain.pending_timestamp = court.getRequest(seated_request).armedAt + ANSWER_WINDOW + 1
    tx = court.draw(seated_request, sender=stranger)
    assert logs(tx, court.DrawRearmed) and court.getRequest(seated_request).armedAt == tx.timestamp


def test_draw_onlyPartiesOrNobody_reverts(court, chain, solver, challenger, request_id, stranger):
    chain.mine(1)
    with ape.reverts(court.NoEligibleReferee):
        court.draw(request_id, sender=stranger)
    court.register(sender=solver, value=REFEREE_BOND)
    court.register(sender=challenger, value=REFEREE_BOND)
    chain.mine(300)  # a re-arm reads the parties' stake only: still nobody to sit
    assert court.eligibleStake(request_id) == 0
    with ape.reverts(court.NoEligibleReferee):
        court.draw(request_id, sender=stranger)


def test_unknownRequest_reverts(court, stranger):
    for action in (court.draw, court.decide):
        with ape.reverts(court.UnknownRequest, requestId=7):
            action(7, sender=stranger)
    with ape.reverts(court.UnknownRequest, requestId=7):
        court.commitAnswer(7, SALT, sender=stranger)
    with ape.reverts(court.UnknownRequest, requestId=7):
        court.revealAnswer(7, RIGHT, SALT, sender=stranger)
    with ape.reverts(court.UnknownRequest, requestId=7):
        court.slash(7, stranger, sender=stranger)


# --- stake-weighted panels ----------------------------------------------------------------------------


def python_seat(seed: bytes, address: str, stake: int, total: int, panel_size: int = PANEL_SIZE) -> bool:
    weight = stake * panel_size
    return weight >= total or int.from_bytes(keccak(encode(["bytes32", "address"], [seed, address])), "big") % total < weight


def test_panel_isStakeWeighted_exactlyAsComputedFromTheSeed(chain, court, referees, accounts, crowd, jobs, market,
                                                            game, staked, solver, challenger, stranger):
    # Eight referees: seven with one bond, one with three; nobody holds a sure seat (3 * 3 < 10).
    heavy, light = referees[0], [*referees[1:], *crowd(5)]
    court.register(sender=heavy, value=3 * REFEREE_BOND)
    for referee in light:
        court.register(sender=referee, value=REFEREE_BOND)
    chain.mine(1)
    everyone = [heavy, *light, solver, challenger, stranger]
    request_id, _ = make_request(jobs, market, game, solver, challenger)
    for round_ in range(1, MAX_ROUNDS + 1):  # nobody answers: three rounds, three seeds, each checked
        chain.mine(1)
        court.draw(request_id, sender=stranger)
        r = court.getRequest(request_id)
        assert r.round == round_
        for account in everyone:
            expected = python_on_panel(court, request_id, account, r.seed, r.snapshotBlock, solver, challenger)
            assert court.onPanel(request_id, account) == expected
            assert court.onPanelInRound(request_id, round_, account) == expected
        to_decide(chain, court, request_id)
        court.decide(request_id, sender=stranger)
    # The rule itself, over many seeds: seats in proportion to stake, about PANEL_SIZE per panel; a stake split
    # across sybil addresses gets the same expected seats, not more (and each seat weighs its own stake).
    total, runs = 10, 4000
    seats = {"heavy": 0, "light": 0, "panel": 0}
    for i in range(runs):
        seed = keccak(i.to_bytes(32, "big"))
        heavy_sits = python_seat(seed, heavy.address, 3, total)
        light_seats = sum(python_seat(seed, r.address, 1, total) for r in light)
        seats["heavy"] += heavy_sits
        seats["light"] += python_seat(seed, light[0].address, 1, total)
        seats["panel"] += heavy_sits + light_seats
    assert 2.7 < seats["heavy"] / seats["light"] < 3.3
    assert 2.9 < seats["panel"] / runs < 3.1


# --- commit and reveal --------------------------------------------------------------------------------


def test_commitAndReveal_guards_revert(chain, court, seated, seated_request, solver, stranger):
    rid, [a, b, c] = seated_request, seated
    with ape.reverts(court.NotDrawn, requestId=rid):
        commit(court, rid, a, RIGHT)
    with ape.reverts(court.NotDrawn, requestId=rid):
        court.revealAnswer(rid, RIGHT, SALT, sender=a)
    chain.mine(1)
    court.draw(rid, sender=stranger)
    for outsider in (stranger, solver):  # not registered; a party never sits
        with ape.reverts(court.NotOnPanel, account=outsider):
            commit(court, rid, outsider, RIGHT)
    with ape.reverts(court.EmptyCommitment):
        court.commitAnswer(rid, ZERO32, sender=a)
    tx = commit(court, rid, a, RIGHT)
    assert logs(tx, court.AnswerCommitted) == [court.AnswerCommitted(rid, a, commitment(rid, a.address, RIGHT, SALT))]
    with ape.reverts(court.AlreadyCommitted):
        commit(court, rid, a, WRONG)
    commit(court, rid, b, RIGHT)
    with ape.reverts(court.CommitOpen, commitDeadline=court.getRequest(rid).commitDeadline):
        court.revealAnswer(rid, RIGHT, SALT, sender=a)
    to_reveals(chain, court, rid)
    with ape.reverts(court.CommitClosed, commitDeadline=court.getRequest(rid).commitDeadline):
        commit(court, rid, c, RIGHT)
    with ape.reverts(court.NotCommitted):
        court.revealAnswer(rid, RIGHT, SALT, sender=c)
    with ape.reverts(court.CommitmentMismatch):
        court.revealAnswer(rid, WRONG, SALT, sender=a)  # not what it committed
    with ape.reverts(court.CommitmentMismatch):
        court.revealAnswer(rid, RIGHT, keccak(b"other"), sender=a)
    tx = court.revealAnswer(rid, RIGHT, SALT, sender=a)
    assert logs(tx, court.AnswerRevealed) == [court.AnswerRevealed(rid, a, RIGHT, REFEREE_BOND)]
    assert court.getVote(rid, 1, a) == (commitment(rid, a.address, RIGHT, SALT), True, RIGHT)
    with ape.reverts(court.AlreadyRevealed):
        court.revealAnswer(rid, RIGHT, SALT, sender=a)
    with ape.reverts(court.DecideTooEarly, at=court.getRequest(rid).revealDeadline):
        court.decide(rid, sender=stranger)
    to_decide(chain, court, rid)
    with ape.reverts(court.RevealClosed, revealDeadline=court.getRequest(rid).revealDeadline):
        court.revealAnswer(rid, RIGHT, SALT, sender=b)


def test_reveal_tallies_byStake_tieKeepsTheFirstLeader(chain, court, seated, drawn):
    rid, (a, b, c) = drawn, seated
    for referee, value in ((a, WRONG), (b, RIGHT), (c, RIGHT)):
        commit(court, rid, referee, value)
    to_reveals(chain, court, rid)
    court.revealAnswer(rid, WRONG, SALT, sender=a)
    court.revealAnswer(rid, RIGHT, SALT, sender=b)
    r = court.getRequest(rid)
    assert (r.leadingAnswer, r.leadingStake) == (WRONG, REFEREE_BOND)  # a tie: the first leader keeps the lead
    assert court.tally(rid, RIGHT) == court.tally(rid, WRONG) == REFEREE_BOND
    court.revealAnswer(rid, RIGHT, SALT, sender=c)
    r = court.getRequest(rid)
    assert (r.leadingAnswer, r.leadingStake) == (RIGHT, 2 * REFEREE_BOND)


# --- decide and slash ---------------------------------------------------------------------------------


def answer_all(chain, court, rid, votes: dict):
    """Each referee commits then reveals its value (None: silent; ("hide", v): commits only)."""
    for referee, value in votes.items():
        if value is not None:
            commit(court, rid, referee, value[1] if isinstance(value, tuple) else value)
    to_reveals(chain, court, rid)
    for referee, value in votes.items():
        if value is not None and not isinstance(value, tuple):
            court.revealAnswer(rid, value, SALT, sender=referee)
    to_decide(chain, court, rid)


def test_decide_majorityVerdict_resolvesTheDispute_wrongMinoritySlashedToTheParties(
        chain, court, game, market, seated, drawn, solver, challenger, stranger):
    rid, (a, b, c) = drawn, seated
    r = court.getRequest(rid)
    # The solver's sybil (c) reveals the solver's claim first; two honest referees outweigh it.
    answer_all(chain, court, rid, {c: WRONG, a: RIGHT, b: RIGHT})
    with ape.reverts(court.NotDecided, requestId=rid):
        court.slash(rid, c, sender=stranger)
    tx = court.decide(rid, sender=stranger)  # proposes: appealable for one window, nothing sent to the game yet
    deadline = tx.timestamp + ANSWER_WINDOW
    assert logs(tx, court.VerdictProposed) == [court.VerdictProposed(rid, 1, RIGHT, deadline)]
    assert not logs(tx, court.StepAnswered) and not logs(tx, game.DisputeResolved)
    r = court.getRequest(rid)
    assert (r.done, r.hasProposal, r.proposed, r.appealDeadline) == (False, True, RIGHT, deadline)
    with ape.reverts(court.NotDecided, requestId=rid):
        court.slash(rid, c, sender=stranger)
    chain.pending_timestamp = deadline
    with ape.reverts(court.DecideTooEarly, at=deadline):
        court.decide(rid, sender=stranger)
    chain.pending_timestamp = deadline + 1
    tx = court.decide(rid, sender=stranger)
    assert logs(tx, court.StepAnswered) == [court.StepAnswered(rid, RIGHT)]
    assert not logs(tx, game.DisputeResolved)[0].solverWon
    d = game.getDispute(r.disputeId)
    assert (d.phase, d.solverWon) == (RESOLVED, False)
    r = court.getRequest(rid)
    assert (r.done, r.hasVerdict, r.verdict) == (True, True, RIGHT)
    for action in (court.draw, court.decide):
        with ape.reverts(court.RequestDone, requestId=rid):
            action(rid, sender=stranger)
    with ape.reverts(court.RequestDone, requestId=rid):
        commit(court, rid, a, RIGHT)
    # Revealing the verdict keeps the bond; a non-member is not slashable.
    for keeper in (a, stranger):
        with ape.reverts(court.NotSlashable, referee=keeper):
            court.slash(rid, keeper, sender=stranger)
    tx = court.slash(rid, c, sender=stranger)
    assert logs(tx, court.RefereeSlashed) == [court.RefereeSlashed(rid, c, REFEREE_BOND)]
    assert (court.credits(solver), court.credits(challenger), court.credits(stranger)) == (
        REFEREE_BOND // 2, REFEREE_BOND - REFEREE_BOND // 2, 0)
    assert (court.stakeOf(c), court.refereeCount(), court.totalStake()) == (0, 2, 2 * REFEREE_BOND)
    with ape.reverts(court.AlreadySlashed, referee=c):
        court.slash(rid, c, sender=stranger)
    assert_court_ledger(court)


def test_sybilCoalition_belowHalfThePanelStake_cannotOverturn_evenRevealingFirst(
        chain, court, referees, crowd, jobs, market, game, staking, staked, solver, challenger, stranger):
    staking.deposit(sender=solver, value=6 * REQUIRED_STAKE)
    # Honest: two referees with two bonds each; the solver's coalition: three sybils with one bond each
    # (split to buy seats). T = 7: the honest weights 6 < 7 and the sybils' 3 < 7 are random seats.
    honest, sybils = referees[:2], [referees[2], *crowd(2)]
    for referee in honest:
        court.register(sender=referee, value=2 * REFEREE_BOND)
    for sybil in sybils:
        court.register(sender=sybil, value=REFEREE_BOND)
    chain.mine(1)
    trials = 0
    for _ in range(6):
        rid, _tx = make_request(jobs, market, game, solver, challenger)
        chain.mine(1)
        court.draw(rid, sender=stranger)
        sitting_honest = seated_on_panel(court, rid, honest)
        sitting_sybils = seated_on_panel(court, rid, sybils)
        votes = {s: WRONG for s in sitting_sybils} | {h: RIGHT for h in sitting_honest}  # sybils reveal first
        answer_all(chain, court, rid, votes)
        if not votes:
            court.decide(rid, sender=stranger)  # an empty round: skip this one
            continue
        decide_final(chain, court, rid, stranger)
        honest_stake = 2 * REFEREE_BOND * len(sitting_honest)
        sybil_stake = REFEREE_BOND * len(sitting_sybils)
        verdict = court.getRequest(rid).verdict
        if sybil_stake < honest_stake:
            trials += 1
            assert verdict == RIGHT
            for s in sitting_sybils:
                court.slash(rid, s, sender=stranger)
        elif not sitting_honest:
            assert verdict == WRONG  # no honest seat: the panel is the coalition's (see the docs' limits)
        assert_court_ledger(court)
        if court.refereeCount() < 3:
            break
    assert trials >= 1


def test_silence_slashedToTheParties_reportingYourselfGainsNothing(chain, court, game, seated, drawn, solver,
                                                                   challenger):
    rid, (a, b, c) = drawn, seated
    answer_all(chain, court, rid, {a: RIGHT, b: RIGHT, c: None})
    decide_final(chain, court, rid, a)
    before = c.balance
    tx = court.slash(rid, c, sender=c)  # the silent referee reports itself
    assert logs(tx, court.RefereeSlashed) == [court.RefereeSlashed(rid, c, REFEREE_BOND)]
    assert court.credits(c) == 0 and c.balance == before - tx.total_fees_paid
    assert court.credits(solver) + court.credits(challenger) == REFEREE_BOND
    with ape.reverts(court.NothingToClaim):
        court.claim(sender=c)
    assert_court_ledger(court)


def test_commitWithoutReveal_slashed_evenFromExitingStake(chain, court, seated, drawn, solver, challenger, stranger):
    rid, (a, b, c) = drawn, seated
    answer_all(chain, court, rid, {a: RIGHT, b: RIGHT, c: ("hide", WRONG)})
    court.requestExit(sender=c)  # too late: exiting stake stays slashable for exitDelay
    decide_final(chain, court, rid, stranger)
    assert court.exitingOf(c)[0] == REFEREE_BOND
    tx = court.slash(rid, c, sender=stranger)
    assert logs(tx, court.RefereeSlashed) == [court.RefereeSlashed(rid, c, REFEREE_BOND)]
    assert (court.exitingOf(c)[0], court.totalExiting()) == (0, 0)
    with ape.reverts(court.NoPendingExit):
        court.withdraw(sender=c)
    assert_court_ledger(court)


def test_slash_oddWei_goesToTheChallenger(chain, court, referees, jobs, market, game, staked, solver, challenger,
                                          stranger):
    a, b = referees[:2]
    court.register(sender=a, value=REFEREE_BOND)
    court.register(sender=b, value=REFEREE_BOND + 1)
    chain.mine(1)
    rid, _ = make_request(jobs, market, game, solver, challenger)
    chain.mine(1)
    court.draw(rid, sender=stranger)
    assert seated_on_panel(court, rid, [a, b]) == [a, b]  # 3 * stake >= T: sure seats
    answer_all(chain, court, rid, {a: RIGHT, b: None})
    decide_final(chain, court, rid, stranger)
    court.slash(rid, b, sender=stranger)
    assert (court.credits(solver), court.credits(challenger)) == (REFEREE_BOND // 2, REFEREE_BOND // 2 + 1)


def test_emptyRounds_redraw_thenAbandon_silentOfEveryRoundSlashedOnce(chain, court, game, market, seated,
                                                                     seated_request, solver, challenger, stranger):
    rid = seated_request
    dispute_id = court.getRequest(rid).disputeId
    for round_ in range(1, MAX_ROUNDS + 1):
        chain.mine(1)
        court.draw(rid, sender=stranger)
        to_decide(chain, court, rid)
        tx = court.decide(rid, sender=stranger)
        r = court.getRequest(rid)
        if round_ < MAX_ROUNDS:
            assert logs(tx, court.RoundEmpty) == [court.RoundEmpty(rid, round_ + 1, tx.block_number - 1,
                                                                   tx.block_number + 1)]
            assert (r.round, r.seed, r.snapshotBlock, r.done) == (round_ + 1, ZERO32, tx.block_number - 1, False)
        else:
            assert logs(tx, court.RequestAbandoned) == [court.RequestAbandoned(rid, dispute_id)]
            assert logs(tx, game.DisputeAbandoned)
            assert (r.done, r.hasVerdict, r.round) == (True, False, MAX_ROUNDS)
    d = game.getDispute(dispute_id)
    assert (d.phase, d.abandoned) == (RESOLVED, True)
    assert game.credits(challenger) == CHALLENGE_BOND  # no verdict: the game refunds the challenger
    for referee in seated:  # silent on all three panels: slashed once, for the whole bond
        court.slash(rid, referee, sender=stranger)
        with ape.reverts(court.AlreadySlashed, referee=referee):
            court.slash(rid, referee, sender=stranger)
    assert court.credits(solver) + court.credits(challenger) == 3 * REFEREE_BOND
    assert court.totalStake() == court.refereeCount() == 0
    assert_court_ledger(court)


def test_secondRound_verdict_silentOfTheFirstStillSlashable(chain, court, seated, seated_request, stranger):
    rid, (a, b, c) = seated_request, seated
    chain.mine(1)
    court.draw(rid, sender=stranger)
    answer_all(chain, court, rid, {a: None, b: ("hide", RIGHT), c: None})
    court.decide(rid, sender=stranger)
    chain.mine(1)
    court.draw(rid, sender=stranger)
    answer_all(chain, court, rid, {a: RIGHT, b: RIGHT, c: RIGHT})
    decide_final(chain, court, rid, stranger)
    r = court.getRequest(rid)
    assert (r.round, r.verdict, r.done) == (2, RIGHT, True)
    for referee in (a, b, c):  # the verdict's round was right, the first round silent or hidden
        assert logs(court.slash(rid, referee, sender=stranger), court.RefereeSlashed)
    assert_court_ledger(court)


def test_decide_undrawn_withEligibleReferee_reverts(chain, court, seated_request, stranger):
    chain.pending_timestamp = court.getRequest(seated_request).armedAt + ANSWER_WINDOW + 1
    with ape.reverts(court.NotDrawn, requestId=seated_request):  # a referee can sit: draw is the exit
        court.decide(seated_request, sender=stranger)


def test_decide_noEligibleReferee_abandonsAfterOneWindow_noWinner(chain, court, game, market, staking, request_id,
                                                                  solver, challenger, submitter, stranger):
    r = court.getRequest(request_id)
    dispute_id, job_id = r.disputeId, r.jobId
    deadline = market.getJob(job_id).challengeDeadline
    assert court.eligibleStake(request_id) == 0
    court.register(sender=solver, value=REFEREE_BOND)  # a party's stake never makes a seat
    abandonable_at = r.armedAt + ANSWER_WINDOW
    chain.pending_timestamp = abandonable_at
    with ape.reverts(court.DecideTooEarly, at=abandonable_at):
        court.decide(request_id, sender=stranger)
    chain.pending_timestamp = abandonable_at + 1
    tx = court.decide(request_id, sender=solver)  # anyone, the parties included
    assert logs(tx, court.RequestAbandoned) == [court.RequestAbandoned(request_id, dispute_id)]
    assert logs(tx, game.DisputeAbandoned) == [game.DisputeAbandoned(dispute_id, job_id)]
    assert logs(tx, market.DisputeSettled) == [market.DisputeSettled(job_id, True)]
    assert not logs(tx, game.DisputeResolved) and not logs(tx, market.SolverSlashed)
    d = game.getDispute(dispute_id)
    assert (d.phase, d.abandoned, d.solverWon) == (RESOLVED, True, False)
    assert (game.credits(challenger), game.credits(solver), game.totalBonds()) == (CHALLENGE_BOND, 0, 0)
    assert staking.lockedStake(solver) == REQUIRED_STAKE
    job = market.getJob(job_id)
    assert (job.state, job.challengeDeadline) == (SUBMITTED, deadline)  # the window never moved
    with ape.reverts(court.NotSlashable, referee=solver):
        court.slash(request_id, solver, sender=stranger)
    assert_court_ledger(court)
    # The job is open to another challenge for the rest of its window.
    tree = checkpoint_tree(job_id, CLAIMED, 1)
    game.challenge(job_id, 1, CLAIMED[1], tree.get_proof(1), CLAIMED[2], tree.get_proof(2), TRUTH[2],
                   sender=stranger, value=CHALLENGE_BOND)
    assert market.getJob(job_id).state == DISPUTED


def test_adjudicate_helper_availabilityAndStep(chain, court, game, seated, seated_request, stranger):
    """The shared helper plays the whole protocol: the three sure seats answer, the keeper decides."""
    store = {artifact_id(CLAIMED[1]): CLAIMED[1]}
    tx = adjudicate(chain, court, seated, store, seated_request, stranger)
    assert logs(tx, court.StepAnswered) == [court.StepAnswered(seated_request, toy_step(CLAIMED[1], 1))]
    assert_court_ledger(court)


# --- appeals ------------------------------------------------------------------------------------------


def play_round(chain, court, rid, votes: dict, sender):
    """Draws the current round (next block), plays `votes` (see answer_all) and decides (which proposes)."""
    chain.mine(1)
    court.draw(rid, sender=sender)
    answer_all(chain, court, rid, votes)
    return court.decide(rid, sender=sender)


def test_appeal_capturedSmallPanel_overturnedByTheLargerPanel_capturedSlashed_honestMinorityKept(
        chain, court, crowd, jobs, market, game, staking, staked, solver, challenger, stranger):
    """The solver's sybil holds 4 of 12 bonds: a sure seat on a 3-seat panel (3 * 4 >= 12); four honest referees
    with 2 bonds each sit there with probability 1/2 each, so the sybil often leads a round (a tie goes to the
    first reveal: the sybil reveals first). On appeal the panel factor is 7: every honest referee is a sure
    seat (7 * 2 >= 12) and 8 honest bonds outweigh 4."""
    staking.deposit(sender=solver, value=8 * REQUIRED_STAKE)
    sybil, *honest = crowd(5)
    court.register(sender=sybil, value=4 * REFEREE_BOND)
    for referee in honest:
        court.register(sender=referee, value=2 * REFEREE_BOND)
    chain.mine(1)
    for _ in range(10):  # until the 3-seat panel is captured with an honest minority on it
        rid, _tx = make_request(jobs, market, game, solver, challenger)
        chain.mine(1)
        court.draw(rid, sender=stranger)
        minority = seated_on_panel(court, rid, honest)
        assert court.onPanel(rid, sybil)
        if 1 <= len(minority) <= 2:
            break
        answer_all(chain, court, rid, {sybil: WRONG} | {h: RIGHT for h in minority})
        decide_final(chain, court, rid, stranger)  # an honest panel: not the case under test
    else:
        pytest.fail("no captured panel in ten draws")
    dispute_id = court.getRequest(rid).disputeId
    answer_all(chain, court, rid, {sybil: WRONG} | {h: RIGHT for h in minority})
    tx = court.decide(rid, sender=stranger)
    assert logs(tx, court.VerdictProposed)[0].answer == WRONG  # captured: the wrong answer leads
    assert court.panelSizeOf(rid) == PANEL_SIZE and court.appealBond(rid) == 7 * REFEREE_BOND
    bond = court.appealBond(rid)
    tx = court.appeal(rid, sender=challenger, value=bond)  # the challenger knows the true post-state
    assert logs(tx, court.VerdictAppealed) == [court.VerdictAppealed(rid, challenger, WRONG, 2, 7, bond)]
    r = court.getRequest(rid)
    assert (r.round, r.appeals, r.appealDeadline, r.seed, r.snapshotBlock, r.leadingStake) == (
        2, 1, 0, ZERO32, tx.block_number - 1, 0)
    assert court.getAppeal(rid, 0) == (challenger.address, bond, WRONG)
    assert court.totalAppealBonds() == bond and court.panelSizeOf(rid) == 7
    assert_court_ledger(court)
    tx = play_round(chain, court, rid, {sybil: WRONG} | {h: RIGHT for h in honest}, stranger)
    assert seated_on_panel(court, rid, honest) == honest  # the larger panel seats every honest referee
    assert logs(tx, court.VerdictProposed)[0].answer == RIGHT
    assert court.tallyInRound(rid, 1, WRONG) == 4 * REFEREE_BOND
    assert court.tallyInRound(rid, 2, RIGHT) == court.tally(rid, RIGHT) == 8 * REFEREE_BOND
    assert game.getDispute(dispute_id).phase != RESOLVED  # nothing final yet
    to_finalize(chain, court, rid)
    tx = court.decide(rid, sender=stranger)
    assert logs(tx, court.StepAnswered) == [court.StepAnswered(rid, RIGHT)]
    assert logs(tx, court.AppealSettled) == [court.AppealSettled(rid, 0, challenger, bond)]  # overturned: back
    d = game.getDispute(dispute_id)
    assert (d.phase, d.solverWon) == (RESOLVED, False)
    assert (court.credits(challenger), court.totalAppealBonds()) == (bond, 0)
    assert_court_ledger(court)
    # The captured seat is slashed for its whole bond; every honest referee (the overturned minority too) keeps it.
    tx = court.slash(rid, sybil, sender=stranger)
    assert logs(tx, court.RefereeSlashed) == [court.RefereeSlashed(rid, sybil, 4 * REFEREE_BOND)]
    for h in honest:
        with ape.reverts(court.NotSlashable, referee=h):
            court.slash(rid, h, sender=stranger)
        assert court.stakeOf(h) == 2 * REFEREE_BOND
    assert court.credits(solver) == 2 * REFEREE_BOND  # half the slashed bond
    assert court.credits(challenger) == bond + 2 * REFEREE_BOND
    assert_court_ledger(court)


def test_appeal_frivolous_losesItsBondToTheOtherParty(chain, court, game, seated, drawn, solver, challenger,
                                                      stranger):
    rid, (a, b, c) = drawn, seated
    answer_all(chain, court, rid, {a: RIGHT, b: RIGHT, c: RIGHT})
    court.decide(rid, sender=stranger)
    bond = court.appealBond(rid)
    court.appeal(rid, sender=solver, value=bond)  # the solver appeals the true answer
    assert court.balance == 3 * REFEREE_BOND + bond
    assert_court_ledger(court)
    play_round(chain, court, rid, {a: RIGHT, b: RIGHT, c: RIGHT}, stranger)
    to_finalize(chain, court, rid)
    tx = court.decide(rid, sender=stranger)
    assert logs(tx, court.AppealSettled) == [court.AppealSettled(rid, 0, challenger, bond)]
    assert (court.credits(challenger), court.credits(solver), court.totalAppealBonds()) == (bond, 0, 0)
    assert not game.getDispute(court.getRequest(rid).disputeId).solverWon
    for referee in (a, b, c):  # right in both rounds
        with ape.reverts(court.NotSlashable, referee=referee):
            court.slash(rid, referee, sender=stranger)
    assert_court_ledger(court)


def test_appeal_guards_revert(chain, court, seated, drawn, solver, challenger, stranger):
    rid, (a, b, c) = drawn, seated
    everyone_right = {a: RIGHT, b: RIGHT, c: RIGHT}
    with ape.reverts(court.NothingToAppeal, requestId=rid):  # before any proposal
        court.appeal(rid, sender=challenger, value=court.appealBond(rid))
    answer_all(chain, court, rid, everyone_right)
    with ape.reverts(court.NothingToAppeal, requestId=rid):  # the reveal window closed, not decided yet
        court.appeal(rid, sender=challenger, value=court.appealBond(rid))
    court.decide(rid, sender=stranger)
    for size, appeal in ((7, 0), (15, 1)):
        bond = court.appealBond(rid)
        assert bond == size * REFEREE_BOND
        with ape.reverts(court.NotParty, account=stranger):
            court.appeal(rid, sender=stranger, value=bond)
        for wrong in (bond - 1, bond + 1, 0):
            with ape.reverts(court.WrongAppealBond, value=wrong, appealBond=bond):
                court.appeal(rid, sender=challenger, value=wrong)
        who = (challenger, solver)[appeal]
        court.appeal(rid, sender=who, value=bond)
        assert court.panelSizeOf(rid) == size
        with ape.reverts(court.NothingToAppeal, requestId=rid):  # the appeal round has no proposal yet
            court.appeal(rid, sender=who, value=court.appealBond(rid))
        assert_court_ledger(court)
        play_round(chain, court, rid, everyone_right, stranger)
    assert court.getRequest(rid).appeals == MAX_APPEALS
    with ape.reverts(court.NoAppealLeft, requestId=rid):
        court.appeal(rid, sender=challenger, value=court.appealBond(rid))
    deadline = court.getRequest(rid).appealDeadline
    to_finalize(chain, court, rid)
    with ape.reverts(court.AppealClosed, appealDeadline=deadline):
        court.appeal(rid, sender=challenger, value=court.appealBond(rid))
    tx = court.decide(rid, sender=stranger)
    # Both appeals were against the verdict that stood: each bond goes to the other party.
    assert logs(tx, court.AppealSettled) == [court.AppealSettled(rid, 0, solver, 7 * REFEREE_BOND),
                                             court.AppealSettled(rid, 1, challenger, 15 * REFEREE_BOND)]
    with ape.reverts(court.RequestDone, requestId=rid):
        court.appeal(rid, sender=challenger, value=court.appealBond(rid))
    assert_court_ledger(court)


def test_appeal_emptyAppealRounds_leaveTheProposedVerdictStanding(chain, court, game, seated, drawn, solver,
                                                                  challenger, stranger):
    rid, (a, b, c) = drawn, seated
    answer_all(chain, court, rid, {a: WRONG, b: WRONG, c: RIGHT})
    court.decide(rid, sender=stranger)
    bond = court.appealBond(rid)
    court.appeal(rid, sender=challenger, value=bond)
    for round_ in range(2, MAX_ROUNDS + 1):  # nobody answers the appeal: redrawn until MAX_ROUNDS
        tx = play_round(chain, court, rid, {}, stranger)
        r = court.getRequest(rid)
        if round_ < MAX_ROUNDS:
            assert logs(tx, court.RoundEmpty)[0].nextRound == round_ + 1 and not r.done
            assert_court_ledger(court)
    assert logs(tx, court.StepAnswered) == [court.StepAnswered(rid, WRONG)]
    assert logs(tx, court.AppealSettled) == [court.AppealSettled(rid, 0, solver, bond)]
    assert (r.done, r.hasVerdict, r.verdict, r.round) == (True, True, WRONG, MAX_ROUNDS)
    assert game.getDispute(r.disputeId).solverWon
    for referee in (a, b, c):  # silent on the appeal panels: slashed, once
        court.slash(rid, referee, sender=stranger)
    assert court.totalStake() == 0
    assert_court_ledger(court)


def test_stepUnresolved_notStepVerifier_reverts(project, owner, market, game, stranger):
    with ape.reverts(game.NotStepVerifier, caller=stranger):
        game.stepUnresolved(1, sender=stranger)
    bare = owner.deploy(project.DisputeGame, market, stranger, CHALLENGE_BOND, CLOCK)
    with ape.reverts(bare.UnknownDispute, disputeId=1):
        bare.stepUnresolved(1, sender=stranger)


def test_gas(chain, court, seated, seated_request, challenger, stranger):
    """Prints the gas of each step of a three-seat panel (see the report in contracts/README.md)."""
    rid, (a, b, c) = seated_request, seated
    chain.mine(1)
    draw = court.draw(rid, sender=stranger).gas_used
    commits = [commit(court, rid, r, RIGHT).gas_used for r in (a, b, c)]
    to_reveals(chain, court, rid)
    reveals = [court.revealAnswer(rid, RIGHT, SALT, sender=r).gas_used for r in (a, b, c)]
    to_decide(chain, court, rid)
    propose = court.decide(rid, sender=stranger).gas_used
    appeal = court.appeal(rid, sender=challenger, value=court.appealBond(rid)).gas_used
    play_round(chain, court, rid, {a: RIGHT, b: RIGHT, c: RIGHT}, stranger)
    to_finalize(chain, court, rid)
    final = court.decide(rid, sender=stranger).gas_used  # settles one appeal bond, sends the verdict
    print(f"gas: draw {draw}, commitAnswer {commits}, revealAnswer {reveals}, decide (propose) {propose}, "
          f"appeal {appeal}, decide (final, one appeal) {final}")
    assert max([draw, *commits, *reveals, propose, appeal]) < 200_000 and final < 400_000
