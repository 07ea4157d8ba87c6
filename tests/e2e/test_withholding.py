"""Withholding never pays, on the real stack: solvers that keep data from the verifiers, in several ways,
end unpaid (slashed where they left a demand unanswered), honest parties end whole, nothing stays in a
contract. Nothing here tells the verifier what the solver does: it checks what it needs, demands on chain
what is missing or does not hash right, and the contracts decide.

Each test runs one job on its own local stack (Anvil, Valkey, coordinator, solver, verifier, referee)
with the solver cheating as `worker/cheats.py` says, and checks every account's credit in every contract,
then claims them and checks that each claim moved exactly that much.
"""

import pytest

from pinpoint.chain import Chain, DisputeKind, JobState
from pinpoint.client import CoordinatorClient
from pinpoint.economics import job_economics
from pinpoint.localnet import ANVIL_KEYS, LocalStack, free_port
from pinpoint.spec import example_mlp_spec
from tests.e2e.waiting import wait_for

ETHER = 10**18
MAX_PRICE, STAKE = ETHER // 20, ETHER // 2
SAMPLES = 2
pytestmark = pytest.mark.e2e
ENDED = (JobState.FINALIZED, JobState.SLASHED, JobState.UNVERIFIED)
PAYING = ("Market", "DisputeGame", "Audit", "RefereeCourt")


class Run:
    """One job on a fresh stack; `party(i)` is the address of Anvil key i (1 submitter, 2 solver,
    3 verifier, 4 referee, 5 a stranger)."""

    def __init__(self, stack: LocalStack, cheat: str | None, samples: int = SAMPLES):
        self.stack = stack
        stack.start_all(("--cheat", cheat) if cheat else (), progress=lambda _: None)
        self.chain = Chain(stack.rpc_url, stack.deployment_file)
        self.submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
        self.api = CoordinatorClient(stack.api_url)
        self.spec = example_mlp_spec()  # 8 intervals of 8 steps
        accepted = self.api.submit_spec(self.spec)
        self.job_id = self.submitter.post_job(
            accepted["spec_hash"], self.spec.checkpoint_count, self.spec.checkpoint_interval, max_price=MAX_PRICE,
            samples=samples, required_stake=STAKE, bidding_seconds=4, execution_seconds=600, challenge_seconds=40)
        self.reward = job_economics(MAX_PRICE, self.spec.checkpoint_count, samples).verifier_reward

    def party(self, key: int) -> str:
        return self.chain.w3.eth.account.from_key(ANVIL_KEYS[key]).address

    def ended(self, timeout: float = 420) -> dict:
        job = wait_for(lambda: (j := self.chain.job(self.job_id))["state"] in ENDED and j, "the job to end", timeout)
        audit, game = self.chain.audit.functions, self.chain.game.functions
        wait_for(lambda: audit.settled(self.job_id).call(), "the keeper to settle the audit")
        wait_for(lambda: not any(self.chain.dispute(d)["bondHeld"] for d in game.heldBonds(self.job_id).call()),
                 "the keeper to release held bonds")
        return job

    def credits(self, address: str) -> dict[str, int]:
        return {name: self.chain.contracts[name].functions.credits(address).call() for name in PAYING}

    def disputes(self) -> list[dict]:
        game = self.chain.game.functions
        return [d for i in range(1, game.disputeCount().call() + 1) if (d := self.chain.dispute(i))["jobId"] == self.job_id]

    def claim_all(self, keys=(1, 3, 5)) -> None:
        """Each party claims everything; each claim takes exactly its credit out of the contract, and then
        nothing is left in any contract but what is still staked or bonded (no job is open any more)."""
        for key in keys:
            party = Chain(self.stack.rpc_url, self.stack.deployment_file, ANVIL_KEYS[key])
            for name in PAYING:
                contract = self.chain.contracts[name]
                credit = contract.functions.credits(party.address).call()
                if credit:
                    before = self.chain.balance(contract.address)
                    party.transact(name, "claim")
                    assert before - self.chain.balance(contract.address) == credit
                    assert contract.functions.credits(party.address).call() == 0
        solver = self.party(2)
        wait_for(lambda: not any(self.credits(solver).values()), "the solver daemon to claim its credit")
        market, game, audit = (self.chain.contracts[n].functions for n in ("Market", "DisputeGame", "Audit"))
        assert market.totalEscrow().call() == market.totalCredits().call() == 0
        assert self.chain.balance(self.chain.market.address) == 0
        assert game.totalBonds().call() == game.totalCredits().call() == 0
        assert self.chain.balance(self.chain.game.address) == 0
        # The audit holds exactly the registered verifiers' stake; every bond and pot was paid out.
        verifier_stake = audit.stakeOf(self.party(3)).call()
        assert audit.totalCredits().call() == 0 and audit.totalHeld().call() == verifier_stake
        assert self.chain.balance(self.chain.audit.address) == verifier_stake


def assert_slashed_for_withholding(run: Run, job: dict) -> None:
    """The solver left a demanded checkpoint unanswered: slashed like a cheater, the verifier that demanded
    it rewarded, the submitter refunded with the other half of the stake, the verifiers' reward back."""
    submitter, solver, verifier = run.party(1), run.party(2), run.party(3)
    assert job["state"] == JobState.SLASHED
    decisive = run.chain.dispute(run.chain.game.functions.decisiveDispute(run.job_id).call())
    assert decisive["kind"] == DisputeKind.AVAILABILITY and decisive["challenger"] == verifier
    assert run.credits(submitter) == {"Market": MAX_PRICE + STAKE // 2, "DisputeGame": 0, "Audit": run.reward,
                                      "RefereeCourt": 0}
    demand_bond = run.chain.game.functions.availabilityBond().call()
    assert run.credits(verifier) == {"Market": STAKE // 2, "DisputeGame": demand_bond, "Audit": 0,
                                     "RefereeCourt": 0}
    staking = run.chain.staking.functions
    assert staking.lockedStake(solver).call() == 0
    assert run.chain.market.functions.credits(solver).call() == 0  # never paid
    run.claim_all()


@pytest.mark.parametrize("cheat", [pytest.param("random_roots", marks=pytest.mark.nightly), "withhold", "withhold_sampled"])
def test_withholdingSolver_whoLeavesADemandUnanswered_isSlashed(tmp_path, cheat):
    # random_roots (nightly: the demand path of withhold, without training): random roots, nothing published. withhold: honest training and roots, nothing
    # published. withhold_sampled: everything published once the sample is known, except junk bytes where
    # the sample looks. None of them answers the demand for what is missing.
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        run = Run(stack, f"{cheat}@0")
        assert_slashed_for_withholding(run, run.ended())


def test_stateWithheldInADispute_losesOnTheClock_andIsSlashed(tmp_path):
    # A cheater (weights scaled after step 13) that publishes everything, so the sample catches it, but never
    # serves its state at the pinpointed step: its clock runs out.
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        run = Run(stack, "perturb_withhold@13", samples=8)
        job = run.ended()
        submitter, solver, verifier = run.party(1), run.party(2), run.party(3)
        assert job["state"] == JobState.SLASHED
        decisive = run.chain.dispute(run.chain.game.functions.decisiveDispute(run.job_id).call())
        assert decisive["kind"] == DisputeKind.FAULT and (decisive["lo"], decisive["hi"]) == (13, 14)
        assert decisive["preStateArtifact"] == "0x" + "00" * 32  # never served
        # The verifier found the fault in its sample: its audit is paid the reward, on top of half the stake.
        assert run.credits(submitter) == {"Market": MAX_PRICE + STAKE // 2, "DisputeGame": 0, "Audit": 0,
                                          "RefereeCourt": 0}
        bond = run.chain.audit.functions.auditBond().call()
        assert run.credits(verifier) == {"Market": STAKE // 2, "DisputeGame": run.chain.game.functions.challengeBond().call(),
                                         "Audit": bond + run.reward, "RefereeCourt": 0}
        assert run.chain.staking.functions.lockedStake(solver).call() == 0
        run.claim_all()


def test_junkBytes_answeredOnDemand_isNeverApproved_andNotPaid(tmp_path):
    # True state hashes with junk bytes; the real ones kept back to answer demands from. Each demand is
    # answered, so the solver is not slashed; but the drawn verifier could not replay the sample in its
    # commit window, nobody approved, and unapproved work is not paid. The demands' bonds go back.
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        run = Run(stack, "junk_bytes@0")
        job = run.ended()
        submitter, solver, verifier = run.party(1), run.party(2), run.party(3)
        assert job["state"] == JobState.UNVERIFIED
        demands = [d for d in run.disputes() if d["kind"] == DisputeKind.AVAILABILITY]
        assert demands and all(d["challenger"] == verifier and d["solverWon"] for d in demands)  # all answered
        assert run.chain.audit.functions.agreements(run.job_id).call() == 0
        assert run.credits(submitter) == {"Market": MAX_PRICE, "DisputeGame": 0, "Audit": run.reward, "RefereeCourt": 0}
        bond = run.chain.game.functions.availabilityBond().call()
        assert run.credits(verifier)["DisputeGame"] == bond * len(demands)  # every bond back
        staking = run.chain.staking.functions
        assert staking.lockedStake(solver).call() == 0 and staking.freeStake(solver).call() >= STAKE  # not slashed
        assert run.chain.market.functions.credits(solver).call() == 0  # not paid
        run.claim_all()


def test_frivolousDemand_isAnswered_andItsBondGoesToTheHonestSolver(tmp_path):
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        run = Run(stack, None)
        stranger = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[5])
        job = wait_for(lambda: (j := run.chain.job(run.job_id))["sampleSealedAt"] and j, "the sample", 300)
        opens = job["sampleSealedAt"] + run.chain.audit.functions.commitWindow().call()
        wait_for(lambda: run.chain.w3.eth.get_block("latest")["timestamp"] > opens, "challenges to open", 60)
        bond = run.chain.game.functions.availabilityBond().call()
        stranger.transact("DisputeGame", "challengeAvailability", run.job_id, 3, value=bond)

        job = run.ended()
        [demand] = run.disputes()
        assert demand["kind"] == DisputeKind.AVAILABILITY and demand["solverWon"]  # the solver served it
        assert job["state"] == JobState.FINALIZED  # the verifier approved: the data was out all along
        solver = run.party(2)
        released = run.chain.game.events.BondReleased().get_logs(from_block=0)
        assert [(e.args.to, e.args.amount) for e in released] == [(solver, bond)]
        assert run.credits(stranger.address) == {name: 0 for name in PAYING}
        assert run.chain.staking.functions.lockedStake(solver).call() == 0
        run.claim_all()
