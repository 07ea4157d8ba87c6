"""The chain indexer against a real Anvil chain, on SQLite and PostgreSQL."""

import os

from sqlalchemy import func, select

from backend.db import make_engine, migrate, session_factory
from backend.indexer import Indexer
from backend.models import Bid, ChainEvent, IndexerCursor, Job
from pinpoint.chain import Chain
from pinpoint.localnet import ANVIL_KEYS
from tests.conftest import advance_time

ETHER = 10**18


class RecordingDispatcher:
    """Stands in for Celery inside this unit test of the indexer: records what would be sent."""

    def __init__(self):
        self.sent = []
        self.run = "run-1"  # the broker's run id: another one is a restarted broker

    def broker_run(self):
        return self.run

    def execute(self, job_id, solver):
        self.sent.append(("execute", job_id, solver))


def drain(indexer: Indexer) -> None:
    head = indexer.chain.w3.eth.block_number
    for _ in range(100):
        indexer.poll_once()
        with indexer.sessions() as s:
            if s.get(IndexerCursor, "market").next_block > head:
                return
    raise AssertionError("indexer did not catch up")


def test_indexer_appliesEachEventOnce_acrossRestarts(chain_stack, database_url):
    reader = Chain(chain_stack.rpc_url, chain_stack.deployment_file)
    submitter = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[1])
    solver = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[4])
    if solver.staking.functions.freeStake(solver.address).call() < ETHER:
        solver.transact("Staking", "deposit", value=ETHER)
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), 4, 8, max_price=ETHER // 10,
                                bidding_seconds=3600, execution_seconds=600, challenge_seconds=60)
    solver.transact("Market", "bid", job_id, ETHER // 20)

    engine = make_engine(database_url)
    migrate(engine)
    migrate(engine)  # idempotent
    sessions = session_factory(engine)
    dispatcher = RecordingDispatcher()
    drain(Indexer(reader, sessions, dispatcher))
    with sessions() as s:
        job = s.get(Job, job_id)
        assert (job.state, job.checkpoint_count, job.checkpoint_interval) == ("bidding", 4, 8)
        assert [(b.solver, b.price) for b in job.bids] == [(solver.address, str(ETHER // 20))]
        events_before = s.scalar(select(func.count(ChainEvent.id)))
        # A crash after the rows were written but before the cursor moved: the range is read again.
        s.get(IndexerCursor, "market").next_block = reader.deployment["block"]
        s.commit()

    drain(Indexer(reader, sessions, dispatcher))  # a new process, same database
    with sessions() as s:
        assert s.scalar(select(func.count(ChainEvent.id))) == events_before
        assert s.scalar(select(func.count(Bid.id)).where(Bid.job_id == job_id)) == 1

    solver.transact("Market", "bid", job_id, ETHER // 40)  # events after the restart still arrive
    drain(Indexer(reader, sessions, dispatcher))
    with sessions() as s:
        assert [b.price for b in s.get(Job, job_id).bids] == [str(ETHER // 20), str(ETHER // 40)]
    assert [x for x in dispatcher.sent if x[1] == job_id] == []  # nothing awarded yet

    advance_time(reader.w3, 3601)
    solver.transact("Market", "closeBidding", job_id)
    drain(Indexer(reader, sessions, dispatcher))
    with sessions() as s:
        s.get(IndexerCursor, "market").next_block = reader.deployment["block"]
        s.commit()
    drain(Indexer(reader, sessions, dispatcher))
    assert [x for x in dispatcher.sent if x[1] == job_id] == [("execute", job_id, solver.address)]
    with sessions() as s:
        job = s.get(Job, job_id)
        assert (job.state, job.solver, job.price) == ("running", solver.address, str(ETHER // 40))
    engine.dispose()


def test_outbox_sendsAwardsAtLeastOnce_throughABrokerOutageAndRestart(chain_stack, database_url):
    """The execute task is written with the award's rows: a broker that is down when the award is indexed
    gets it once it is back, and a broker that restarted (new run id, empty queues) gets it again while the
    job still runs, not after."""
    reader = Chain(chain_stack.rpc_url, chain_stack.deployment_file)
    submitter = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[1])
    solver = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[4])
    if solver.staking.functions.freeStake(solver.address).call() < ETHER:
        solver.transact("Staking", "deposit", value=ETHER)
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), 4, 8, max_price=ETHER // 10,
                                bidding_seconds=60, execution_seconds=600, challenge_seconds=60)
    solver.transact("Market", "bid", job_id, ETHER // 20)
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    dispatcher = RecordingDispatcher()

    class Down(Exception):
        pass

    def down():
        raise Down("connection refused")

    dispatcher.broker_run = down
    indexer = Indexer(reader, sessions, dispatcher)
    drain(indexer)
    advance_time(reader.w3, 61)
    solver.transact("Market", "closeBidding", job_id)
    drain(indexer)  # indexed while the broker is down: the task waits in the outbox
    with sessions() as s:
        assert s.get(Job, job_id).state == "running"
    ours = lambda: [x for x in dispatcher.sent if x[1] == job_id]  # noqa: E731
    assert ours() == []

    del dispatcher.broker_run  # back up (run-1)
    indexer.poll_once()
    assert ours() == [("execute", job_id, solver.address)]
    indexer.poll_once()
    assert len(ours()) == 1  # sent once per broker run

    dispatcher.run = "run-2"  # restarted without persistence: its queue is gone
    indexer.poll_once()
    assert ours() == [("execute", job_id, solver.address)] * 2
    solver.transact("Market", "submitResult", job_id, "0x" + "ab" * 32)
    drain(indexer)
    dispatcher.run = "run-3"
    indexer.poll_once()
    assert len(ours()) == 2  # submitted: nothing to execute any more
    engine.dispose()
