"""Mixed coalitions against honest parties, on the real contracts: nobody honest loses, no cheater gains.

Each seed draws one coalition strategy and plays a whole job to its end:
- the coalition: the solver (honest, cheating at a random step, or refusing to serve its state in a
  dispute), two sybil verifiers (approving the solver's claim, committing garbage, or committing and never
  revealing), an ally that challenges frivolously (directly, through a `Staller` contract that opens several
  disputes in one transaction and refuses ETH, or by demanding a checkpoint), and two sybil referees with a
  minority of the referee stake (answering for the solver, staying silent, or committing without revealing);
- the honest side: the submitter, a watchdog (a registered verifier that replays everything, reveals what it
  computed and challenges the first wrong checkpoint), and two referees holding most of the referee stake.

After every dispute, settlement, slash and claim, each party's wealth (ETH plus stake and credits in every
contract) is compared with where it started. The assumptions are the protocol's: one honest watchdog per job
and an honest majority of referee stake.
"""

import random

import pytest
from ape.exceptions import ContractLogicError
from audit_helpers import Verifier, open_reveals
from dispute_helpers import (
    ADJUDICATING,
    AVAILABILITY,
    AVAILABILITY_BOND,
    CHALLENGE_BOND,
    RESOLVED,
    RESPOND,
    REVEAL,
    SERVE,
    SLASHED,
    artifact_id,
    commitment,
    honest_segment,
    referee_answer,
    submit_proven,
    trajectory,
)
from market_helpers import FINALIZED, PRICE, SUBMITTED, UNVERIFIED

ETH = 10**18
COUNT, INTERVAL = 4, 8
FUNDING = 3 * 10**17
SOLVER_MODES = ["honest", "cheat", "cheat", "refuse to serve"]
VERIFIER_MODES = ["approve the claim", "garbage", "never reveal"]
ALLY_MODES = ["none", "frivolous", "staller", "demand"]
REFEREE_MODES = ["answer for the solver", "silent", "never reveal"]


@pytest.fixture
def coalition(accounts, owner, project):
    """Four fresh funded addresses and a Staller contract for the coalition."""
    fresh = [accounts.generate_test_account() for _ in range(4)]
    for account in fresh:
        owner.transfer(account, 20 * ETH)
    return fresh


def wealth(account, contracts) -> int:
    """ETH plus everything held for `account` in the protocol's contracts."""
    staking, market, game, court, audit = contracts
    exiting, _ = court.exitingOf(account)
    return (account.balance + staking.freeStake(account) + staking.lockedStake(account)
            + staking.pendingWithdrawal(account) + audit.stakeOf(account) + court.stakeOf(account) + exiting
            + sum(c.credits(account) for c in (market, game, court, audit)))


def fees_since(chain, block: int) -> dict[str, int]:
    """Gas fees each sender paid in the blocks after `block`: wealth is compared without them (everyone pays
    gas; the question is whether the protocol moves money to or from a party)."""
    web3, paid = chain.provider.web3, {}
    for number in range(block + 1, chain.blocks.head.number + 1):
        for tx in web3.eth.get_block(number, full_transactions=True).transactions:
            receipt = web3.eth.get_transaction_receipt(tx.hash)
            paid[tx["from"]] = paid.get(tx["from"], 0) + receipt.gasUsed * receipt.effectiveGasPrice
    return paid


def attempt(call, *args, **kwargs) -> bool:
    """Sends a transaction an actor may try whatever its chances; False when the contract refuses it."""
    try:
        call(*args, **kwargs)
        return True
    except ContractLogicError:
        return False


class Match:
    """One job between the coalition and the honest side, played to its end."""

    def __init__(self, rng, chain, jobs, staking, market, game, court, audit, honest, coalition, project):
        self.rng, self.chain, self.jobs = rng, chain, jobs
        self.staking, self.market, self.game, self.court, self.audit = staking, market, game, court, audit
        self.submitter, self.watchdog, self.keeper, *self.honest_referees = honest
        self.solver, self.ally, *sybils = coalition
        self.sybil_verifiers, self.sybil_referees = sybils[:2], sybils[2:]
        self.solver_mode = rng.choice(SOLVER_MODES)
        self.verifier_mode = rng.choice(VERIFIER_MODES)
        self.ally_mode = rng.choice(ALLY_MODES)
        self.referee_mode = rng.choice(REFEREE_MODES)
        self.staller = self.ally.deploy(project.Staller) if self.ally_mode == "staller" else None
        self.truth = trajectory(rng.randbytes(32), COUNT * INTERVAL)
        if self.solver_mode != "cheat":  # "refuse to serve" computes honestly but serves nothing when asked
            self.claimed = self.truth
        else:
            deviate_at = rng.randint(1, COUNT * INTERVAL)
            self.claimed = trajectory(self.truth[0], COUNT * INTERVAL, deviate_at=deviate_at, wrong=rng.randbytes(32))
        self.store = {}  # the artifact store: what was served, by id
        self.revealed = {}  # dispute id -> the hashes the solver revealed in its latest round
        self.requests = set()

    def parties(self):
        honest = [self.submitter, self.watchdog, *self.honest_referees]
        coalition = [self.solver, self.ally, *self.sybil_verifiers, *self.sybil_referees]
        return honest, coalition + ([self.staller] if self.staller else [])

    # --- the job --------------------------------------------------------------------------------------

    def register(self, verifier_delay):
        # Watchdog: half the verifier stake (a sure seat); sybils a quarter each. Honest referees hold 2 of 2.9.
        self.audit.register(sender=self.watchdog, value=2 * ETH)
        for sybil in self.sybil_verifiers:
            self.audit.register(sender=sybil, value=ETH)
        for referee in self.honest_referees:
            self.court.register(sender=referee, value=ETH)
        for referee, stake in zip(self.sybil_referees, (5 * ETH // 10, 4 * ETH // 10)):
            self.court.register(sender=referee, value=stake)
        self.staking.deposit(sender=self.solver, value=4 * ETH)
        self.chain.pending_timestamp = self.chain.blocks.head.timestamp + verifier_delay + 1
        self.chain.mine(1)

    def run(self):
        job = self.proven = submit_proven(self.jobs, self.market, self.solver, self.claimed, COUNT, INTERVAL)
        self.job_id = job.job_id
        self.audit.fund(self.job_id, sender=self.submitter, value=FUNDING)
        self.chain.mine(1)
        self.market.sealSample(self.job_id, sender=self.keeper)
        sample = list(self.market.sampledIntervals(self.job_id))
        ends = [(i + 1) * INTERVAL for i in sample]
        proofs = [job.tree.get_proof(i + 1) for i in sample]
        self.verifiers = [(Verifier(self.watchdog, [self.truth[e] for e in ends]), True)]
        for sybil in self.sybil_verifiers:
            hashes = ([self.claimed[e] for e in ends] if self.verifier_mode != "garbage"
                      else [self.rng.randbytes(32) for _ in ends])
            self.verifiers.append((Verifier(sybil, hashes), self.verifier_mode != "never reveal"))
        for verifier, _ in self.verifiers:
            attempt(verifier.commit, self.audit, self.job_id)
        open_reveals(self.jobs, self.audit, self.job_id)
        for verifier, reveals in self.verifiers:
            if reveals:
                attempt(verifier.reveal, self.audit, self.job_id, proofs)

        self.ally_moves()
        self.watch()
        self.play_out()
        self.settle()

    def ally_moves(self):
        """The ally's frivolous challenges, opened first (interval 0, with a made-up hash)."""
        args = self.proven.challenge_args(0, self.rng.randbytes(32))
        if self.ally_mode == "frivolous":
            self.game.challenge(*args, sender=self.ally, value=CHALLENGE_BOND)
        elif self.ally_mode == "staller":
            self.staller.challengeMany(self.game, 3, *args, sender=self.ally, value=3 * CHALLENGE_BOND)
        elif self.ally_mode == "demand":
            self.game.challengeAvailability(self.job_id, self.rng.randint(0, COUNT), sender=self.ally,
                                            value=AVAILABILITY_BOND)

    def watch(self):
        """The watchdog replays every interval and challenges the first wrong checkpoint."""
        wrong = [i for i in range(COUNT) if self.claimed[(i + 1) * INTERVAL] != self.truth[(i + 1) * INTERVAL]]
        if wrong:
            self.game.challenge(*self.proven.challenge_args(wrong[0], self.truth[(wrong[0] + 1) * INTERVAL]),
                                sender=self.watchdog, value=CHALLENGE_BOND)

    # --- disputes -------------------------------------------------------------------------------------

    def open_disputes(self):
        ids = self.game.disputesOf(self.job_id)
        return [i for i in ids if self.game.getDispute(i).phase != RESOLVED]

    def play_out(self):
        """Every party moves in every open dispute when it is its turn (they run side by side); the court
        answers; a party that stays silent loses on time once nobody else has a move."""
        for _ in range(200):
            open_ = self.open_disputes()
            if not open_:
                return
            if self.market.getJob(self.job_id).state == SLASHED:
                for dispute_id in open_:
                    self.game.closeMoot(dispute_id, sender=self.keeper)
                continue
            if any([self.move(dispute_id) for dispute_id in open_]):
                continue
            adjudicating = [i for i in open_ if self.game.getDispute(i).phase == ADJUDICATING]
            if adjudicating:
                self.adjudicate(self.game.getDispute(adjudicating[0]).requestId)
                continue
            d = self.game.getDispute(open_[0])
            self.jobs.after(d.turnStart + (d.challengerClock if d.phase == RESPOND else d.solverClock))
            self.game.claimTimeout(open_[0], sender=self.keeper)
        raise AssertionError("disputes did not end")

    def move(self, dispute_id) -> bool:
        """The move of the party whose turn it is, if that party moves at all (the ally and a solver that
        refuses to serve stay silent)."""
        d = self.game.getDispute(dispute_id)
        if d.phase == REVEAL:
            hashes = [self.claimed[step] for step in self.game.points(dispute_id)]
            self.game.reveal(dispute_id, hashes, sender=self.solver)
            self.revealed[dispute_id] = hashes
        elif d.phase == RESPOND and d.challenger == self.watchdog.address:
            hashes = self.revealed[dispute_id]
            segment = honest_segment(self.game.points(dispute_id), hashes, self.truth)
            self.game.respond(dispute_id, hashes, segment, sender=self.watchdog)
        elif d.phase == SERVE and self.solver_mode != "refuse to serve":
            if d.kind == AVAILABILITY:  # a demand: the solver answers with its checkpoint and uploads it
                state, proof = self.proven.checkpoint(d.index)
                self.store[artifact_id(state)] = state
                self.game.answerAvailability(dispute_id, state, proof, artifact_id(state), sender=self.solver)
            else:
                state = self.claimed[d.lo]
                self.store[artifact_id(state)] = state
                self.game.serveState(dispute_id, artifact_id(state), sender=self.solver)
        else:
            return False
        return True

    def adjudicate(self, request_id):
        """Honest referees answer what the served bytes give; the sybils answer the solver's claim, stay
        silent, or commit and never reveal."""
        self.requests.add(request_id)
        court = self.court
        for _ in range(3):  # a round not drawn within its window re-arms on a fresh seed block first
            self.chain.mine(1)
            attempt(court.draw, request_id, sender=self.keeper)
            request = court.getRequest(request_id)
            if request.seed != b"\x00" * 32 or request.done:
                break
        if request.done:
            return
        dispute = self.game.getDispute(request.disputeId)
        honest, salt = referee_answer(self.store, request), b"\x5a" * 32
        answers = {r.address: honest for r in self.honest_referees}
        for r in self.sybil_referees:
            answers[r.address] = None if self.referee_mode == "silent" else bytes(dispute.hiHash)
        panel = [r for r in (*self.honest_referees, *self.sybil_referees) if court.onPanel(request_id, r)]
        for r in panel:
            if answers[r.address] is not None:
                court.commitAnswer(request_id, commitment(request_id, r.address, answers[r.address], salt), sender=r)
        self.jobs.after(request.commitDeadline)
        for r in panel:
            revealing = r in self.honest_referees or self.referee_mode == "answer for the solver"
            if answers[r.address] is not None and revealing:
                court.revealAnswer(request_id, answers[r.address], salt, sender=r)
        self.jobs.after(request.revealDeadline)
        court.decide(request_id, sender=self.keeper)  # proposes the leading answer (the honest majority's)
        request = court.getRequest(request_id)
        if not request.done and request.appealDeadline:
            self.jobs.after(request.appealDeadline)  # nobody appeals: the proposal becomes the verdict
            court.decide(request_id, sender=self.keeper)

    # --- the end --------------------------------------------------------------------------------------

    def settle(self):
        job = self.market.getJob(self.job_id)
        if job.state == SUBMITTED:
            self.jobs.after(job.challengeDeadline)
            self.market.finalize(self.job_id, sender=self.keeper)
        self.jobs.after(self.audit.revealDeadline(self.job_id))
        self.audit.settle(self.job_id, sender=self.keeper)
        for dispute_id in self.game.heldBonds(self.job_id):
            self.game.releaseBond(dispute_id, sender=self.keeper)
        referees = (*self.honest_referees, *self.sybil_referees)
        for request_id in self.requests:
            for r in referees:
                attempt(self.court.slash, request_id, r, sender=self.keeper)
        honest, coalition = self.parties()
        for account in honest + coalition:
            for contract in (self.market, self.game, self.court, self.audit):
                if contract.credits(account) and account is not self.staller:
                    contract.claim(sender=account)


@pytest.mark.parametrize("seed", range(16))
def test_coalition_neverGains_andNoHonestPartyLoses(seed, chain, jobs, staking, market, game, court, audit, owner,
                                                     submitter, challenger, referees, solver, stranger, coalition,
                                                     project):
    rng = random.Random(seed)
    honest = [submitter, challenger, owner, referees[0], referees[1]]
    match = Match(rng, chain, jobs, staking, market, game, court, audit, honest,
                  [solver, stranger, *coalition], project)
    contracts = (staking, market, game, court, audit)
    match.register(audit.verifierDelay())
    honest_side, coalition_side = match.parties()
    before = {a.address: wealth(a, contracts) for a in honest_side + coalition_side}
    start = chain.blocks.head.number

    match.run()

    fees = fees_since(chain, start)
    after = {a.address: wealth(a, contracts) + fees.get(a.address, 0) for a in honest_side + coalition_side}
    change = {address: after[address] - before[address] for address in before}
    state = market.getJob(match.job_id).state
    story = (f"seed {seed}: solver {match.solver_mode}, verifiers {match.verifier_mode}, ally {match.ally_mode}, "
             f"referees {match.referee_mode} -> state {state}, changes {change}")
    deviated = match.claimed != match.truth

    # The submitter pays only for the right result, and at most its price and the verifiers' reward.
    if state == FINALIZED:
        assert not deviated, story
        assert change[submitter.address] >= -(PRICE + FUNDING), story
    else:
        assert state in (SLASHED, UNVERIFIED), story
        assert change[submitter.address] >= 0, story
    # The watchdog and the honest referees never lose.
    for account in (challenger, referees[0], referees[1]):
        assert change[account.address] >= 0, story
    # A deviating solver's coalition ends with less than it started; an honest one earns at most what honest
    # work earns: the price, and the verifiers' reward for approving the right result.
    total = sum(change[a.address] for a in coalition_side)
    if deviated or state == SLASHED:
        assert total < 0 and state == SLASHED, story
    else:
        assert total <= PRICE + FUNDING, story
    # Nothing is left in any contract but the stakes still registered and the staller's unclaimable credit.
    assert game.totalBonds() == 0 and market.totalEscrow() == 0, story
    assert sum(change.values()) == 0, story  # money only moved between the parties (the keeper: fees only)
