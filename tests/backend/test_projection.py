"""Unit tests of the indexer's projection: decoded events in, rows out (no chain; the real-chain runs are in
test_indexer.py and test_review_events.py)."""

import itertools

import pytest

from backend.db import make_engine, migrate, session_factory
from backend.indexer import Indexer
from backend.models import Dispute, Job
from pinpoint.chain import DecodedEvent

JOB, INTERVAL = 7, 8
SOLVER, CHALLENGER = "0x" + "50" * 20, "0x" + "c4" * 20
ROOT = "0x" + "f0" * 32


class _Functions:
    """contract.functions.NAME(*args).call(block_identifier=...) answering from plain functions."""

    def __init__(self, **answers):
        self.functions = type("Functions", (), {name: staticmethod(
            lambda *args, _f=f: type("Call", (), {"call": lambda self, block_identifier="latest": _f(*args)})())
            for name, f in answers.items()})


class StubChain:
    """What the indexer reads from the chain besides events: how many disputes of the job were open at the
    block of a settlement the solver won (disputes run side by side)."""

    def __init__(self):
        self.deployment = {}
        self.open_disputes = {}  # block -> count
        # At a seal: the sampled intervals, and the audit's commit deadline (what disclosure needs).
        self.market = _Functions(sampledIntervals=lambda job_id: [2, 0])
        self.audit = _Functions(commitDeadline=lambda job_id: 2500)

    def job(self, job_id, block="latest"):
        assert job_id == JOB
        return {"openDisputes": self.open_disputes[block]}


@pytest.fixture
def project(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    chain = StubChain()
    indexer = Indexer(chain, sessions, None)
    blocks = itertools.count(100)

    def apply(contract, name, **args):
        with sessions() as session:
            indexer.apply(session, DecodedEvent(contract, name, args, next(blocks), 0, "0x" + "00" * 32))
            session.commit()

    def job() -> Job:
        with sessions() as session:
            return session.get(Job, JOB)

    def dispute(dispute_id) -> tuple:
        with sessions() as session:
            d = session.get(Dispute, dispute_id)
            return None if d is None else (d.job_id, d.kind, d.challenger, d.lo, d.hi, d.rounds, d.phase, d.solver_won)

    apply("Market", "JobPosted", jobId=JOB, submitter="0x" + "5b" * 20, specHash="0x" + "aa" * 32, maxPrice=10,
          requiredStake=40, checkpointCount=4, checkpointInterval=INTERVAL, biddingDeadline=1000)
    apply("Market", "JobAwarded", jobId=JOB, solver=SOLVER, price=5, executionDeadline=2000)
    yield chain, apply, job, dispute
    engine.dispose()


def test_reviewWindow_opensAtTheSeal_andStaysDisputedWhileAnyDisputeIsOpen(project):
    chain, apply, job, _ = project
    apply("Market", "ResultSubmitted", jobId=JOB, finalRoot=ROOT, sampleBlock=55)
    assert (job().state, job().final_root, job().challenge_deadline) == ("submitted", ROOT, None)
    # The final root is the last progress root (Market.submitResult): all 4 checkpoints done, none posted before.
    assert (job().checkpoints_done, job().progress_root) == (4, ROOT)
    apply("Market", "SampleRearmed", jobId=JOB, sampleBlock=400)  # nobody sealed in time: still no window
    assert job().challenge_deadline is None
    apply("Market", "SampleSealed", jobId=JOB, seed="0x" + "5e" * 32, sampleBlock=400, challengeDeadline=3000)
    assert (job().state, job().challenge_deadline) == ("submitted", 3000)
    assert (job().sampled_intervals, job().commit_deadline) == ([2, 0], 2500)
    apply("Market", "JobDisputed", jobId=JOB)
    apply("Market", "JobDisputed", jobId=JOB)
    assert (job().state, job().challenge_deadline) == ("disputed", 3000)
    chain.open_disputes = {107: 1, 108: 0}  # at the blocks of the next two events (the fixture counts on)
    apply("Market", "DisputeSettled", jobId=JOB, solverWon=True)
    assert (job().state, job().challenge_deadline) == ("disputed", 3000)  # the other one is still open
    apply("Market", "DisputeSettled", jobId=JOB, solverWon=True)
    assert (job().state, job().challenge_deadline) == ("submitted", 3000)  # and the deadline never moved


def test_jobUnverified_isATerminalState(project):
    _, apply, job, _ = project
    apply("Market", "ResultSubmitted", jobId=JOB, finalRoot=ROOT, sampleBlock=55)
    apply("Market", "SampleSealed", jobId=JOB, seed="0x" + "5e" * 32, sampleBlock=55, challengeDeadline=3000)
    apply("Market", "JobUnverified", jobId=JOB)
    assert (job().state, job().solver_payout, job().submitter_refund, job().slashed) == ("unverified", None, None, None)


def test_availabilityDispute_rows(project):
    _, apply, job, dispute = project
    apply("Market", "ResultSubmitted", jobId=JOB, finalRoot=ROOT, sampleBlock=55)
    apply("Market", "SampleSealed", jobId=JOB, seed="0x" + "5e" * 32, sampleBlock=55, challengeDeadline=3000)
    # The game opens the market's dispute (JobDisputed) before it announces the challenge.
    apply("Market", "JobDisputed", jobId=JOB)
    apply("DisputeGame", "AvailabilityChallenged", disputeId=3, jobId=JOB, challenger=CHALLENGER, index=3)
    assert dispute(3) == (JOB, "availability", CHALLENGER, 3 * INTERVAL, 3 * INTERVAL, 0, "serve", None)
    assert job().state == "disputed"
    apply("DisputeGame", "AvailabilityAnswered", disputeId=3, index=3, stateHash="0x" + "11" * 32,
          artifact="0x" + "22" * 32, requestId=9)
    assert dispute(3)[6:] == ("adjudicating", None)
    apply("DisputeGame", "DisputeResolved", disputeId=3, jobId=JOB, solverWon=False)
    apply("Market", "SolverSlashed", jobId=JOB, solver=SOLVER, amount=40)
    apply("Market", "DisputeSettled", jobId=JOB, solverWon=False)
    assert dispute(3) == (JOB, "availability", CHALLENGER, 3 * INTERVAL, 3 * INTERVAL, 0, "resolved", False)
    assert (job().state, job().slashed) == ("slashed", "40")


def test_availabilityDispute_ofTheInitialCheckpoint_andOfAnUnknownJob(project):
    _, apply, _, dispute = project
    apply("DisputeGame", "AvailabilityChallenged", disputeId=4, jobId=JOB, challenger=CHALLENGER, index=0)
    assert dispute(4)[1:5] == ("availability", CHALLENGER, 0, 0)
    apply("DisputeGame", "AvailabilityChallenged", disputeId=5, jobId=JOB + 1, challenger=CHALLENGER, index=1)
    assert dispute(5) is None  # logged and skipped, like any event of a job the index never saw posted


def test_faultDispute_rows(project):
    _, apply, _, dispute = project
    apply("DisputeGame", "DisputeOpened", disputeId=6, jobId=JOB, challenger=CHALLENGER, lo=INTERVAL,
          hi=2 * INTERVAL, challengerHash="0x" + "ee" * 32)
    assert dispute(6) == (JOB, "fault", CHALLENGER, INTERVAL, 2 * INTERVAL, 0, "reveal", None)
    apply("DisputeGame", "Revealed", disputeId=6, lo=INTERVAL, hi=2 * INTERVAL, hashes=["0x" + "33" * 32] * 7)
    assert dispute(6)[6] == "respond"
    apply("DisputeGame", "Responded", disputeId=6, segment=4, lo=12, hi=13)
    assert dispute(6)[3:7] == (12, 13, 1, "serve")
    apply("DisputeGame", "DisputeAbandoned", disputeId=6, jobId=JOB)
    assert dispute(6)[1] == "fault" and dispute(6)[6] == "abandoned"
