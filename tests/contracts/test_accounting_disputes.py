"""Accounting invariants under seeded random sequences that mix the market's actions with whole disputes
(challenges, bisection moves, timeouts, referee registration and exits, panel draws, committed and revealed
answers, decisions, empty rounds, abandons and slashes) and audits
(verifier registration and exits, pots, commits, reveals, settlements), and claims from every contract.

Invariants, checked after every step:
- Staking's balance equals the sum over accounts of free + locked + pending stake.
- Market's balance equals totalEscrow + totalCredits; totalEscrow is the max price of every job in Bidding,
  Running, Submitted or Disputed; totalCredits is the sum of the actors' credits.
- DisputeGame's balance equals totalBonds + totalCredits; totalBonds is the bond of every unresolved dispute
  (a challenge bond for a fault, an availability bond for a demand) and of every answered demand whose bond
  is held until its job ends; totalCredits is the sum of the actors' credits.
- RefereeCourt's balance equals totalBonds + totalCredits; totalBonds (totalStake + totalExiting +
  totalAppealBonds) is the sum of the actors' counted and exiting referee stake and of the appeal bonds of
  open requests;
  totalCredits is the sum of the actors' credits.
- An account's locked stake equals the required stake of the open (incl. Disputed) jobs it is the solver of.
- Audit's balance equals totalHeld + totalCredits; totalHeld is the registered and exiting verifier stake plus,
  for every job whose audits are not settled, its pot and one audit bond per committed verifier; totalCredits
  is the sum of the actors' credits.
- A job is Finalized (its solver paid) only with an agreeing reveal, and Unverified only without one.
"""

import json
import random
import urllib.request
from collections import Counter
from types import SimpleNamespace

import pytest
from ape.exceptions import ContractLogicError
from dispute_helpers import (
    ADJUDICATING,
    ANSWER_WINDOW,
    AVAILABILITY,
    AVAILABILITY_BOND,
    CHALLENGE_BOND,
    DISPUTED,
    REFEREE_BOND,
    RESOLVED,
    RESPOND,
    REVEAL,
    SERVE,
    SLASHED,
    artifact_id,
    commitment,
    honest_segment,
    points,
    referee_answer,
    trajectory,
)
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from market_helpers import (
    AUDIT_BOND,
    BIDDING,
    CANCELLED,
    COMMIT_WINDOW,
    FAILED,
    FINALIZED,
    MIN_VERIFIER_STAKE,
    REVEAL_WINDOW,
    RUNNING,
    SUBMITTED,
    UNVERIFIED,
    VERIFIER_STAKE,
    ZERO32,
    sample_count,
)

from pinpoint.merkle import checkpoint_tree
from pinpoint.sampling import audit_commitment

ETH = 10**18
STEPS = 150
OPEN_STATES = (BIDDING, RUNNING, SUBMITTED, DISPUTED)
SETTLED_STATES = (FINALIZED, CANCELLED, FAILED, SLASHED, UNVERIFIED)
ZERO_ADDRESS = "0x" + "00" * 20
MARKET_ACTIONS = ["deposit", "request", "withdraw", "post", "bid", "close", "submit", "seal", "finalize", "missed",
                  "claim"]
DISPUTE_ACTIONS = ["challenge", "demand", "reveal", "respond", "serve", "timeout", "release", "close_moot", "register",
                   "leave", "withdraw_bond", "draw", "commit_answer", "reveal_answer", "decide", "slash",
                   "claim_game", "claim_court"]
AUDIT_ACTIONS = ["enlist", "exit", "withdraw_stake", "fund", "commit", "disclose", "settle", "claim_audit"]
WAITS = [1, 30, 120, 300, 601, 900, 3601]


class Reader:
    """Reads views with raw JSON-RPC eth_calls: ~1 ms each here, against ~8 ms through ape or web3, which makes
    checking every ledger after every step affordable."""

    def __init__(self, uri, contracts):
        self.uri = uri
        self.abis = {c.address: {m.name: m for m in c.contract_type.view_methods} for c in contracts}

    def rpc(self, method, params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        request = urllib.request.Request(self.uri, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())["result"]

    def balance(self, contract):
        return int(self.rpc("eth_getBalance", [contract.address, "latest"]), 16)

    def __call__(self, contract, name, *args):
        """The view's value: an int, or for one struct an object with the struct's fields as attributes."""
        method = self.abis[contract.address][name]
        inputs = [i.canonical_type for i in method.inputs]
        args = [a.address if hasattr(a, "address") else a for a in args]
        data = function_signature_to_4byte_selector(method.selector) + encode(inputs, args)
        raw = self.rpc("eth_call", [{"to": contract.address, "data": "0x" + data.hex()}, "latest"])
        output = method.outputs[0]
        (value,) = decode([output.canonical_type], bytes.fromhex(raw[2:]))
        if not output.components:
            return value
        fields = {c.name: v for c, v in zip(output.components, value)}
        for c in output.components:
            if c.type == "address":
                fields[c.name] = to_checksum_address(fields[c.name])
        return SimpleNamespace(**fields)


class DisputeSequence:
    """Plays random (mostly plausible, sometimes reverting) actions and checks the invariants after each."""

    def __init__(self, rng, chain, staking, market, game, court, audit, actors):
        self.rng, self.chain, self.staking, self.market = rng, chain, staking, market
        self.game, self.court, self.audit, self.actors = game, court, audit, actors
        self.by_address = {a.address: a for a in actors}
        self.reverts = 0
        self.succeeded, self.reverted = Counter(), Counter()
        self.jobs = {}  # job id -> Job (open jobs re-read after every step)
        self.claims = {}  # job id -> (truth, claimed, tree) for results submitted with a real checkpoint tree
        self.disputes = {}  # dispute id -> Dispute (unresolved ones re-read after every step)
        self.revealed = {}  # dispute id -> the hashes its solver revealed last
        self.requests = {}  # request id -> Request (open ones re-read after every step)
        self.answers = {}  # (request id, round, referee address) -> (answer, salt) committed, until revealed
        self.store = {}  # the artifact store: artifact id -> state
        self.audits = {}  # (job id, verifier address) -> (salt, hashes) committed, until revealed
        self.exiting = {}  # verifier address -> stake waiting out its exit delay
        self.audit_settled = set()
        self.all_commits = set()  # (job id, verifier address) of every commitment
        self.read = Reader(chain.provider.uri, [staking, market, game, court, audit])
        self.minimum_challenge = self.read(market, "minimumChallengeDuration")
        self.now = chain.blocks.head.timestamp  # the sequence's own clock: one second per step, plus the waits

    # --- picking targets ---------------------------------------------------------------------------------

    def actor(self):
        return self.rng.choice(self.actors)

    def pick(self, ids, fallback):
        """Mostly one of `ids`, sometimes any id up to `fallback` + 1, to exercise the guards."""
        if ids and self.rng.random() < 0.9:
            return self.rng.choice(ids)
        return self.rng.randint(1, fallback + 1)

    def jobs_in(self, state, expired):
        """Jobs in `state` whose window has (or has not) passed; a submitted job's window (its review) starts
        when its sample is sealed, so unsealed ones are in neither."""
        deadline = {BIDDING: "biddingDeadline", RUNNING: "executionDeadline", SUBMITTED: "challengeDeadline"}[state]
        return [i for i, j in self.jobs.items() if j.state == state and (state != SUBMITTED or j.sampleSealedAt)
                and (getattr(j, deadline) < self.now) == expired]

    def unsealed(self):
        return [i for i, j in self.jobs.items() if j.state == SUBMITTED and not j.sampleSealedAt]

    def challengeable(self):
        """Sealed jobs under review (disputed ones too: disputes run side by side) past their audit commit
        window and inside their challenge window."""
        return [i for i, j in self.jobs.items() if j.state in (SUBMITTED, DISPUTED) and j.sampleSealedAt
                and j.sampleSealedAt + COMMIT_WINDOW < self.now <= j.challengeDeadline]

    def moot(self):
        """Open disputes whose job another dispute already slashed."""
        return [i for i, d in self.disputes.items() if d.phase != RESOLVED and self.jobs[d.jobId].state == SLASHED]

    def committable(self):
        return [i for i, j in self.jobs.items() if j.state in (SUBMITTED, DISPUTED) and j.sampleSealedAt
                and self.now <= j.sampleSealedAt + COMMIT_WINDOW]

    def revealable(self):
        """(job id, verifier address) of the commitments not yet revealed, in their reveal window."""
        def window(j):
            end = self.jobs[j].sampleSealedAt + COMMIT_WINDOW
            return end < self.now <= end + REVEAL_WINDOW

        return [key for key in self.audits if window(key[0])]

    def settleable(self):
        """Jobs settled in the market whose audits are not, past their reveal window if anyone committed."""
        def revealed_out(i):
            j = self.jobs[i]
            return not any(k[0] == i for k in self.all_commits) or self.now > j.sampleSealedAt + COMMIT_WINDOW + \
                REVEAL_WINDOW

        return [i for i, j in self.jobs.items() if j.state in SETTLED_STATES and i not in self.audit_settled
                and revealed_out(i)]

    def disputes_in(self, *phases, expired=None):
        """Disputes in `phases`; with `expired`, only those whose mover's clock has (or has not) run out."""
        def out_of_clock(d):
            clock = d.challengerClock if d.phase == RESPOND else d.solverClock
            return self.now - d.turnStart > clock

        return [i for i, d in self.disputes.items() if d.phase in phases and expired in (None, out_of_clock(d))]

    def open_requests(self, drawn):
        """Open requests whose current round is (or is not) drawn."""
        return [i for i, r in self.requests.items() if not r.done and (r.seed != ZERO32) == drawn]

    def drawable(self):
        return [i for i in self.open_requests(drawn=False) if self.read(self.court, "eligibleStake", i)]

    def answerable(self):
        return [i for i in self.open_requests(drawn=True) if self.now <= self.requests[i].commitDeadline]

    def unveilable(self):
        return [(i, r, a) for (i, r, a) in self.answers if not self.requests[i].done
                and self.requests[i].round == r
                and self.requests[i].commitDeadline < self.now <= self.requests[i].revealDeadline]

    def decidable(self):
        drawn = [i for i in self.open_requests(drawn=True)
                 if self.now > (self.requests[i].appealDeadline or self.requests[i].revealDeadline)]
        abandonable = [i for i in self.open_requests(drawn=False) if self.now > self.requests[i].armedAt + ANSWER_WINDOW
                       and not self.read(self.court, "eligibleStake", i)]
        return drawn + abandonable

    def appealable(self):
        return [i for i in self.open_requests(drawn=True) if self.now <= self.requests[i].appealDeadline]

    def decided(self):
        return [i for i, r in self.requests.items() if r.done]

    def usually(self, address):
        """Mostly the account at `address`, sometimes anyone (which must revert unless it is that account)."""
        account = self.by_address.get(address)
        return account if account is not None and self.rng.random() < 0.9 else self.actor()

    # --- actions -------------------------------------------------------------------------------------------

    def plausible(self):
        """Actions that can succeed now, weighted towards moving jobs and disputes along."""
        weights = {"post": 2 if len(self.jobs_in(BIDDING, False) + self.jobs_in(RUNNING, False)) < 4 else 0,
                   "wait": 2, "misc": 2}
        weights["bid"] = 2 if self.jobs_in(BIDDING, False) else 0
        weights["close"] = 3 if self.jobs_in(BIDDING, True) else 0
        weights["submit"] = 3 if self.jobs_in(RUNNING, False) else 0
        weights["missed"] = 1 if self.jobs_in(RUNNING, True) else 0
        weights["seal"] = 3 if self.unsealed() else 0
        weights["finalize"] = 2 if self.jobs_in(SUBMITTED, True) else 0
        weights["challenge"] = 4 if [j for j in self.challengeable() if j in self.claims] else 0
        weights["demand"] = 2 if [j for j in self.challengeable() if j in self.claims] else 0
        weights["release"] = 2 if self.releasable() else 0
        weights["close_moot"] = 2 if self.moot() else 0
        weights["commit"] = 3 if self.committable() else 0
        weights["disclose"] = 3 if self.revealable() else 0
        weights["settle"] = 2 if self.settleable() else 0
        for action, phase in (("reveal", REVEAL), ("respond", RESPOND), ("serve", SERVE)):
            weights[action] = 4 if self.disputes_in(phase, expired=False) else 0
        weights["timeout"] = 3 if self.disputes_in(REVEAL, RESPOND, SERVE, expired=True) else 0
        # A panel takes a draw, commits, a window, reveals, a window and a decision: weighted so it ends.
        weights["draw"] = 5 if self.drawable() else 0
        weights["commit_answer"] = 5 if self.answerable() else 0
        weights["reveal_answer"] = 5 if self.unveilable() else 0
        weights["decide"] = 5 if self.decidable() else 0
        weights["appeal"] = 1 if self.appealable() else 0
        weights["slash"] = 1 if self.decided() else 0
        if self.answerable() or self.open_requests(drawn=True):
            weights["wait"] = 4  # the windows close only with time
        return [action for action, weight in weights.items() for _ in range(weight)]

    def step(self):
        rng = self.rng
        # Each step's block lands at the sequence's clock, so the timing of a seeded sequence does not depend
        # on how fast the machine runs it (only the block hashes, hence samples and draws, vary between runs).
        self.now += 1
        self.chain.pending_timestamp = self.now
        everything = MARKET_ACTIONS + DISPUTE_ACTIONS + AUDIT_ACTIONS + ["wait"]
        action = rng.choice(self.plausible() if rng.random() < 0.95 else everything)
        if action == "misc":  # the actions that move no job or dispute along: one slot for all of them
            action = rng.choice(["deposit", "request", "withdraw", "claim", "claim_game", "claim_court", "register",
                                 "leave", "withdraw_bond", "enlist", "exit", "withdraw_stake", "fund", "claim_audit"])
        self.action = action
        who = self.actor()
        getattr(self, f"do_{action}")(who)

    def do_deposit(self, who):
        self.staking.deposit(sender=who, value=self.rng.randint(1, 3) * ETH // 2)

    def do_request(self, who):
        free = self.read(self.staking, "freeStake", who)
        self.staking.requestWithdrawal(self.rng.randint(0, free + 1) if free else 1, sender=who)

    def do_withdraw(self, who):
        self.staking.withdraw(sender=who)

    def do_post(self, who):
        rng = self.rng
        # Same draws, in the same order, as before sample counts existed.
        spec, count, interval = rng.randbytes(32), rng.randint(1, 4), rng.randint(1, 12)
        stake = rng.randint(1, 4) * ETH // 4
        bidding, execution, challenge = rng.randint(100, 400), rng.randint(200, 900), rng.randint(600, 2400)
        challenge += self.minimum_challenge  # the review holds the audit's commit and reveal windows
        value = rng.randint(1, 10) * ETH // 10
        # The stake matches the escrow at least (the market's floor): posts here move jobs along, the floor's
        # refusals are exercised in test_accounting.py.
        stake = max(stake, value)
        samples = sample_count(value, count, stake)
        self.market.postJob(spec, count, interval, samples, stake, bidding, execution, challenge, sender=who,
                            value=value)

    def do_bid(self, who):
        job_id = self.pick(self.jobs_in(BIDDING, False), len(self.jobs))
        job = self.jobs.get(job_id)
        ceiling = (job.price or job.maxPrice) if job else ETH
        self.market.bid(job_id, self.rng.randint(0, ceiling + 1), sender=who)

    def do_close(self, who):
        self.market.closeBidding(self.pick(self.jobs_in(BIDDING, True), len(self.jobs)), sender=who)

    def do_submit(self, who):
        """Submits a root over a trajectory: honest, or deviating at some step (a cheat), rarely garbage."""
        rng = self.rng
        job_id = self.pick(self.jobs_in(RUNNING, False), len(self.jobs))
        job = self.jobs.get(job_id)
        sender = self.usually(job.solver if job else ZERO_ADDRESS)
        if job is None or rng.random() < 0.1:
            self.market.submitResult(job_id, rng.randbytes(32), sender=sender)
            return
        steps = job.checkpointCount * job.checkpointInterval
        truth = trajectory(rng.randbytes(32), steps)
        claimed = truth if rng.random() < 0.5 else trajectory(truth[0], steps, rng.randint(1, steps), rng.randbytes(32))
        checkpoints = [claimed[i * job.checkpointInterval] for i in range(job.checkpointCount + 1)]
        tree = checkpoint_tree(job_id, checkpoints, job.checkpointInterval)
        self.market.submitResult(job_id, tree.root, sender=sender)
        self.claims[job_id] = (truth, claimed, tree)

    def do_seal(self, who):
        self.market.sealSample(self.pick(self.unsealed(), len(self.jobs)), sender=who)

    def do_finalize(self, who):
        self.market.finalize(self.pick(self.jobs_in(SUBMITTED, True), len(self.jobs)), sender=who)

    def do_missed(self, who):
        self.market.reportMissedDeadline(self.pick(self.jobs_in(RUNNING, True), len(self.jobs)), sender=who)

    def creditor(self, contract, who):
        """Mostly an actor with a credit in `contract` (if any), else `who` (which reverts without one)."""
        with_credit = [a for a in self.actors if self.read(contract, "credits", a)]
        return self.rng.choice(with_credit) if with_credit and self.rng.random() < 0.9 else who

    def do_claim(self, who):
        self.market.claim(sender=self.creditor(self.market, who))

    def do_challenge(self, who):
        """Challenges a submitted result: at the first wrong checkpoint with the truth, or anywhere at random."""
        rng = self.rng
        candidates = [j for j in self.challengeable() if j in self.claims]
        if not candidates:  # probing the guards: any job, no proofs
            self.game.challenge(rng.randint(1, len(self.jobs) + 1), 0, rng.randbytes(32), [], rng.randbytes(32), [],
                                rng.randbytes(32), sender=who, value=CHALLENGE_BOND)
            return
        job_id = rng.choice(candidates)
        job, (truth, claimed, tree) = self.jobs[job_id], self.claims[job_id]
        k, count = job.checkpointInterval, job.checkpointCount
        wrong = [i for i in range(count) if claimed[(i + 1) * k] != truth[(i + 1) * k]]
        if wrong and rng.random() < 0.7:
            index, challenger_hash = wrong[0], truth[(wrong[0] + 1) * k]
        else:
            index, challenger_hash = rng.randrange(count), rng.randbytes(32)
        challenger = who if who.address != job.solver or rng.random() < 0.1 else self.actor()
        bond = CHALLENGE_BOND if rng.random() < 0.95 else CHALLENGE_BOND + 1
        self.game.challenge(
            job_id, index, claimed[index * k], tree.get_proof(index), claimed[(index + 1) * k],
            tree.get_proof(index + 1), challenger_hash, sender=challenger, value=bond,
        )

    def do_close_moot(self, who):
        self.game.closeMoot(self.pick(self.moot(), len(self.disputes)), sender=who)

    def dispute(self, *phases, expired=False):
        dispute_id = self.pick(self.disputes_in(*phases, expired=expired), len(self.disputes))
        return dispute_id, self.disputes.get(dispute_id)

    def do_reveal(self, who):
        """The solver's hashes at the round's points: mostly its claimed states, else made up."""
        dispute_id, d = self.dispute(REVEAL)
        steps = points(d.lo, d.hi) if d else []
        claimed = self.claims.get(d.jobId, (None, None))[1] if d else None
        if claimed and self.rng.random() < 0.8:
            hashes = [claimed[step] for step in steps]
        else:
            hashes = [self.rng.randbytes(32) for _ in steps]
        self.game.reveal(dispute_id, hashes, sender=self.usually(d.solver if d else ZERO_ADDRESS))
        self.revealed[dispute_id] = hashes

    def do_respond(self, who):
        """The challenger's pick: mostly the first segment whose end is not the truth, else any segment."""
        dispute_id, d = self.dispute(RESPOND)
        truth = self.claims.get(d.jobId, (None,))[0] if d else None
        hashes = self.revealed.get(dispute_id, [])
        honest = truth is not None and self.rng.random() < 0.8
        if honest and d.phase == RESPOND:  # (a dispute picked at random may be past this round: reverts below)
            segment = honest_segment(points(d.lo, d.hi), hashes, truth)
        else:
            segment = self.rng.randrange(len(hashes) + 1)
        self.game.respond(dispute_id, hashes, segment, sender=self.usually(d.challenger if d else ZERO_ADDRESS))

    def do_demand(self, who):
        """Demands a checkpoint of a challengeable result (sometimes past the last one, or with a wrong bond)."""
        rng = self.rng
        candidates = [j for j in self.challengeable() if j in self.claims]
        job_id = self.pick(candidates, len(self.jobs))
        job = self.jobs.get(job_id)
        count = job.checkpointCount if job else 1
        index = rng.randint(0, count) if rng.random() < 0.95 else count + 1
        challenger = who if job is None or who.address != job.solver or rng.random() < 0.1 else self.actor()
        bond = AVAILABILITY_BOND if rng.random() < 0.95 else CHALLENGE_BOND
        self.game.challengeAvailability(job_id, index, sender=challenger, value=bond)

    def releasable(self):
        return [i for i, d in self.disputes.items()
                if d.bondHeld and self.jobs[d.jobId].state in (FINALIZED, UNVERIFIED, SLASHED)]

    def do_release(self, who):
        held = [i for i, d in self.disputes.items() if d.bondHeld]
        self.game.releaseBond(self.pick(self.releasable() or held, len(self.disputes)), sender=who)

    def do_serve(self, who):
        dispute_id, d = self.dispute(SERVE)
        if d is not None and d.kind == AVAILABILITY:
            self.answer_demand(dispute_id, d)
            return
        claimed = self.claims.get(d.jobId, (None, None))[1] if d else None
        if claimed and self.rng.random() < 0.8:
            artifact = artifact_id(claimed[d.lo])
            self.store[artifact] = claimed[d.lo]
        else:
            artifact = self.rng.randbytes(32)  # nobody can download it: the referee answers 0
        self.game.serveState(dispute_id, artifact, sender=self.usually(d.solver if d else ZERO_ADDRESS))

    def answer_demand(self, dispute_id, d):
        """Answers a demand: mostly the committed checkpoint, uploaded (sometimes not, or a forged hash)."""
        rng = self.rng
        if d.jobId in self.claims:
            _, claimed, tree = self.claims[d.jobId]
            state, proof = claimed[d.lo], tree.get_proof(d.index)
        else:  # a root over nothing: no proof exists, the solver can only run out its clock
            state, proof = rng.randbytes(32), []
        if rng.random() < 0.1:
            state = rng.randbytes(32)  # not under the root: refused
        if rng.random() < 0.8:
            self.store[artifact_id(state)] = state
        self.game.answerAvailability(dispute_id, state, proof, artifact_id(state), sender=self.usually(d.solver))

    def do_timeout(self, who):
        self.game.claimTimeout(self.dispute(REVEAL, RESPOND, SERVE, expired=True)[0], sender=who)

    def do_register(self, who):
        self.court.register(sender=who, value=REFEREE_BOND * self.rng.choice([1, 1, 2]))

    def do_leave(self, who):
        self.court.requestExit(sender=who)

    def do_withdraw_bond(self, who):
        self.court.withdraw(sender=who)

    def do_draw(self, who):
        self.court.draw(self.pick(self.drawable(), len(self.requests)), sender=who)

    def do_commit_answer(self, who):
        """A panel member commits, mostly the honest answer; sometimes anyone commits anything."""
        rng = self.rng
        request_id = self.pick(self.answerable(), len(self.requests))
        r = self.requests.get(request_id)
        start = rng.randrange(len(self.actors))
        order = self.actors[start:] + self.actors[:start]
        member = next((a for a in order if r and self.read(self.court, "onPanel", request_id, a)), None)
        who = member if member is not None and rng.random() < 0.9 else who
        answer = referee_answer(self.store, r) if r and rng.random() < 0.8 else rng.randbytes(32)
        salt = rng.randbytes(32)
        self.court.commitAnswer(request_id, commitment(request_id, who.address, answer, salt), sender=who)
        self.answers[request_id, r.round if r else 0, who.address] = (answer, salt)

    def do_reveal_answer(self, who):
        candidates = self.unveilable()
        if not candidates or self.rng.random() < 0.1:
            self.court.revealAnswer(self.rng.randint(1, len(self.requests) + 1), ZERO32, ZERO32, sender=who)
            return
        key = self.rng.choice(candidates)
        answer, salt = self.answers.pop(key)
        self.court.revealAnswer(key[0], answer, salt, sender=self.by_address[key[2]])

    def do_decide(self, who):
        self.court.decide(self.pick(self.decidable(), len(self.requests)), sender=who)

    def do_appeal(self, who):
        """A party appeals the proposed verdict with the appeal bond; sometimes anyone, with any bond."""
        request_id = self.pick(self.appealable(), len(self.requests))
        r = self.requests.get(request_id)
        if r and self.rng.random() < 0.9:
            who = self.usually(self.rng.choice([r.solver, r.challenger]))
        bond = self.read(self.court, "appealBond", request_id) if request_id <= len(self.requests) else REFEREE_BOND
        self.court.appeal(request_id, sender=who, value=bond if self.rng.random() < 0.9 else bond // 2)

    def do_slash(self, who):
        self.court.slash(self.pick(self.decided(), len(self.requests)), self.actor(), sender=who)

    def do_claim_game(self, who):
        self.game.claim(sender=self.creditor(self.game, who))

    def do_claim_court(self, who):
        self.court.claim(sender=self.creditor(self.court, who))

    def do_wait(self, who):
        self.now += self.rng.choice(WAITS)

    # --- audits ------------------------------------------------------------------------------------------

    def do_enlist(self, who):
        """Registers verifier stake: mostly enough, sometimes below the minimum."""
        value = self.rng.choice([VERIFIER_STAKE, VERIFIER_STAKE // 2, MIN_VERIFIER_STAKE - 1])
        self.audit.register(sender=who, value=value)

    def do_exit(self, who):
        registered = [a for a in self.actors if self.read(self.audit, "stakeOf", a)]
        who = self.rng.choice(registered) if registered and self.rng.random() < 0.9 else who
        stake = self.read(self.audit, "stakeOf", who)
        self.audit.requestExit(sender=who)
        self.exiting[who.address] = self.exiting.get(who.address, 0) + stake

    def do_withdraw_stake(self, who):
        leaving = [a for a in self.actors if self.exiting.get(a.address)]
        who = self.rng.choice(leaving) if leaving and self.rng.random() < 0.9 else who
        self.audit.withdrawStake(sender=who)
        self.exiting[who.address] = 0

    def do_fund(self, who):
        self.audit.fund(self.rng.randint(1, len(self.jobs) + 1), sender=who, value=self.rng.randint(1, ETH // 10))

    def do_commit(self, who):
        """A drawn actor commits, mostly to the true hashes of the sampled intervals, else to the solver's own
        (an approval) or to made-up ones; sometimes anyone commits to anything (NotDrawn and the other guards)."""
        rng = self.rng
        job_id = self.pick(self.committable(), len(self.jobs))
        job = self.jobs.get(job_id)
        start = rng.randrange(len(self.actors))  # the first drawn actor from a random one on
        order = self.actors[start:] + self.actors[:start]
        drawn = next((a for a in order if job and self.read(self.audit, "isDrawn", job_id, a)), None)
        who = drawn if drawn is not None and rng.random() < 0.9 else who
        sample = self.read(self.market, "sampledIntervals", job_id) if job and job.sampleSealedAt else [0]
        if job_id in self.claims and rng.random() < 0.8:
            truth, claimed, _ = self.claims[job_id]
            states = truth if rng.random() < 0.6 else claimed
            hashes = [states[(i + 1) * job.checkpointInterval] for i in sample]
        else:
            hashes = [rng.randbytes(32) for _ in sample]
        salt = rng.randbytes(32)
        self.audit.commit(job_id, audit_commitment(job_id, who.address, salt, hashes), sender=who, value=AUDIT_BOND)
        self.audits[job_id, who.address] = (salt, hashes)
        self.all_commits.add((job_id, who.address))

    def do_disclose(self, who):
        """Reveals a commitment (mostly in its window), with the solver's proofs where there is a tree."""
        candidates = self.revealable()
        if not candidates or self.rng.random() < 0.1:
            self.audit.reveal(self.rng.randint(1, len(self.jobs) + 1), b"\x01" * 32, [], [], sender=who)
            return
        job_id, address = self.rng.choice(candidates)
        salt, hashes = self.audits[job_id, address]
        sample = self.read(self.market, "sampledIntervals", job_id)
        tree = self.claims[job_id][2] if job_id in self.claims else None
        proofs = [tree.get_proof(i + 1) if tree else [] for i in sample]
        self.audit.reveal(job_id, salt, hashes, proofs, sender=self.by_address[address])
        del self.audits[job_id, address]

    def do_settle(self, who):
        job_id = self.pick(self.settleable(), len(self.jobs))
        self.audit.settle(job_id, sender=who)
        self.audit_settled.add(job_id)

    def do_claim_audit(self, who):
        self.audit.claim(sender=self.creditor(self.audit, who))

    # --- invariants ----------------------------------------------------------------------------------------

    def refresh(self):
        """Re-reads what can still change: open jobs, unresolved disputes, unanswered requests."""
        market, game, court, read = self.market, self.game, self.court, self.read
        for job_id in range(1, read(market, "jobCount") + 1):
            if job_id not in self.jobs or self.jobs[job_id].state in OPEN_STATES:
                self.jobs[job_id] = read(market, "getJob", job_id)
        for dispute_id in range(1, read(game, "disputeCount") + 1):
            known = self.disputes.get(dispute_id)
            if known is None or known.phase != RESOLVED or known.bondHeld:
                self.disputes[dispute_id] = read(game, "getDispute", dispute_id)
        for request_id in range(1, read(court, "requestCount") + 1):
            if request_id not in self.requests or not self.requests[request_id].done:
                self.requests[request_id] = read(court, "getRequest", request_id)

    def check_invariants(self):
        staking, market, game, court, actors, read = self.staking, self.market, self.game, self.court, self.actors, \
            self.read
        self.refresh()
        locked = {a.address: read(staking, "lockedStake", a) for a in actors}
        stake = sum(read(staking, "freeStake", a) + locked[a.address] + read(staking, "pendingWithdrawal", a)
                    for a in actors)
        assert read.balance(staking) == stake, "Staking balance != free + locked + pending"
        totals = {c: (read(c, "totalCredits"), read(c, "totalEscrow" if c is market else "totalBonds"))
                  for c in (market, game, court)}
        assert read.balance(market) == sum(totals[market]), "Market balance != escrow + credits"
        assert read.balance(game) == sum(totals[game]), "DisputeGame balance != bonds + credits"
        assert read.balance(court) == sum(totals[court]), "RefereeCourt balance != bonds + credits"

        open_jobs = [j for j in self.jobs.values() if j.state in OPEN_STATES]
        assert totals[market][1] == sum(j.maxPrice for j in open_jobs), "escrow != max price of open jobs"
        for a in actors:
            expected = sum(j.requiredStake for j in open_jobs if j.solver == a.address)
            assert locked[a.address] == expected, f"locked stake of {a.address} out of step"
        for contract in (market, game, court):
            assert totals[contract][0] == sum(read(contract, "credits", a) for a in actors), f"{contract} credits"

        unresolved = {i: d for i, d in self.disputes.items() if d.phase != RESOLVED}
        held = {i: d for i, d in self.disputes.items() if d.bondHeld}
        bonds = {i: read(game, "bondOf", i) for i in self.disputes}
        assert totals[game][1] == sum(bonds[i] for i in (*unresolved, *held)), \
            "bonds != those of unresolved disputes and held demands"
        for i, d in self.disputes.items():
            assert bonds[i] == (AVAILABILITY_BOND if d.kind == AVAILABILITY else CHALLENGE_BOND)
        for d in held.values():  # only a demand the solver answered holds its bond, and only until the job ends
            assert d.kind == AVAILABILITY and d.solverWon and d.phase == RESOLVED
        for job_id, job in self.jobs.items():  # the market counts the open disputes of a job under review
            running = sum(1 for d in unresolved.values() if d.jobId == job_id)
            if job.state in (SUBMITTED, DISPUTED):
                assert job.openDisputes == running and (job.state == DISPUTED) == (running > 0)
            else:  # only a slash by another dispute leaves disputes open, and those are moot
                assert running == 0 or job.state == SLASHED
        for d in self.disputes.values():  # an Adjudicating dispute's request is open; a decided one's is over
            if d.requestId:  # (an open request may outlive its dispute: a moot one, whose late verdict is ignored)
                assert d.phase != ADJUDICATING or not self.requests[d.requestId].done
        appeal_bonds = sum(read(court, "getAppeal", i, k).bond for i, r in self.requests.items() if not r.done
                           for k in range(r.appeals))
        assert read(court, "totalAppealBonds") == appeal_bonds, "appeal bonds != those of open requests"
        assert totals[court][1] == sum(read(court, "stakeOf", a) + read(court, "exitingOf", a) for a in actors) \
            + appeal_bonds, "court bonds != referee stake + exiting + appeal bonds"

        audit = self.audit
        held, audit_credits = read(audit, "totalHeld"), read(audit, "totalCredits")
        assert read.balance(audit) == held + audit_credits, "Audit balance != held + credits"
        assert audit_credits == sum(read(audit, "credits", a) for a in actors), "audit credits"
        stakes = sum(read(audit, "stakeOf", a) for a in actors) + sum(self.exiting.values())
        open_audits = 0
        for job_id, job in self.jobs.items():
            if not read(audit, "settled", job_id):
                open_audits += read(audit, "pot", job_id) + AUDIT_BOND * len(read(audit, "verifiersOf", job_id))
            if job.state == FINALIZED:
                assert read(audit, "agreements", job_id) > 0, f"job {job_id} paid without an agreeing reveal"
            elif job.state == UNVERIFIED:
                assert read(audit, "agreements", job_id) == 0, f"job {job_id} unverified despite an agreement"
        assert held == stakes + open_audits, "audit held != verifier stake + open pots and bonds"

    def play(self, steps):
        for _ in range(steps):
            try:
                self.step()
                self.succeeded[self.action] += 1
            except ContractLogicError:
                self.reverts += 1
                self.reverted[self.action] += 1
            self.check_invariants()


# (seed, referees registered at the start): with none, disputes reach the court with nobody to draw until
# someone registers, which exercises the no-referee exit of `decide`.
@pytest.mark.parametrize("seed, seated", [(1, 2), (10, 0), (6, 1)])
def test_accountingWithDisputes_randomActions_keepBalancesEqualToLedgers(
    seed, seated, chain, staking, market, game, court, audit, submitter, solver, solver2, stranger, challenger,
    referees
):
    actors = [submitter, solver, solver2, stranger, challenger, *referees[:2]]
    for actor in actors:
        staking.deposit(sender=actor, value=2 * ETH)
    for referee in referees[:seated]:
        court.register(sender=referee, value=REFEREE_BOND)
    for verifier in (stranger, *referees[:2]):  # a registry from the start, so audits begin with the first jobs
        audit.register(sender=verifier, value=VERIFIER_STAKE)
    sequence = DisputeSequence(random.Random(seed), chain, staking, market, game, court, audit, actors)
    sequence.play(STEPS)
    states = Counter(j.state for j in sequence.jobs.values())
    print(f"seed {seed}: ok {dict(sequence.succeeded)}, reverted {dict(sequence.reverted)}, "
          f"{len(sequence.disputes)} disputes, job states {dict(states)}")
    # The sequence must exercise real dispute transitions, not just reverts.
    assert sequence.reverts < STEPS * 0.6
    assert {"post", "bid", "close", "submit", "challenge", "reveal", "respond"} <= set(sequence.succeeded)
    assert {"seal", "commit", "disclose", "settle"} <= set(sequence.succeeded)
    assert any(d.phase == RESOLVED for d in sequence.disputes.values())
