"""The schema's migrations: a database created by an older coordinator upgrades in place and keeps its rows,
and the newest migration matches the models."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from backend.db import MIGRATIONS, Base, make_engine, migrate, session_factory
from backend.models import Dispute

JOB_ROW = {"id": 3, "spec_hash": "0x" + "aa" * 32, "submitter": "0x" + "5b" * 20, "state": "disputed", "max_price": "10",
           "required_stake": "40", "checkpoint_count": 4, "checkpoint_interval": 8, "bidding_deadline": 1000,
           "checkpoints_done": 4, "updated_block": 77}
DISPUTE_ROW = {"id": 11, "job_id": 3, "challenger": "0x" + "c4" * 20, "lo": 8, "hi": 16, "rounds": 2,
               "phase": "respond", "solver_won": None}


def insert(connection, table: str, row: dict) -> None:
    connection.execute(text(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"), row)


def test_disputeKind_upgradesADatabaseFrom0002_keepingItsRows(database_url):
    engine = make_engine(database_url)
    migrate(engine, "0002")
    assert "kind" not in {c["name"] for c in inspect(engine).get_columns("disputes")}
    with engine.begin() as connection:
        insert(connection, "jobs", JOB_ROW)
        insert(connection, "disputes", DISPUTE_ROW)

    migrate(engine, "0003")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"
        row = connection.execute(text("SELECT * FROM disputes")).mappings().one()
    assert dict(row) == dict(DISPUTE_ROW, kind="fault")  # every dispute before 0003 was a fault dispute
    with engine.begin() as connection:  # rows written without a kind (an older writer) are fault disputes too
        insert(connection, "disputes", dict(DISPUTE_ROW, id=12))
        assert connection.execute(text("SELECT kind FROM disputes WHERE id = 12")).scalar() == "fault"
    sessions = session_factory(engine)
    with sessions() as session:
        session.add(Dispute(id=13, job_id=3, kind="availability", challenger="0x" + "c4" * 20, lo=24, hi=24,
                            phase="serve"))
        session.commit()
    with sessions() as session:
        assert [(d.id, d.kind, d.lo, d.hi) for d in session.query(Dispute).order_by(Dispute.id)] == [
            (11, "fault", 8, 16), (12, "fault", 8, 16), (13, "availability", 24, 24)]

    # And back: 0003 comes off without touching the rows.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert "kind" not in {c["name"] for c in inspect(engine).get_columns("disputes")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id FROM disputes ORDER BY id")).scalars().all() == [11, 12, 13]
    engine.dispose()


def test_onePerVerifierAndInterval_upgradesFrom0003_keepingTheFirstOfReplayedVerdicts(database_url):
    engine = make_engine(database_url)
    migrate(engine, "0003")
    verdict = {"job_id": 3, "verifier": "0x" + "ab" * 20, "interval": 2, "agrees": True, "detail": "",
               "created_at": "2026-11-30 00:00:00"}
    with engine.begin() as connection:
        insert(connection, "jobs", JOB_ROW)
        for id, interval in ((1, 2), (2, 2), (3, 5), (4, 2)):  # a verdict replayed three times, and another
            insert(connection, "verdicts", dict(verdict, id=id, interval=interval))

    migrate(engine, "0004")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
        assert connection.execute(text("SELECT id FROM verdicts ORDER BY id")).scalars().all() == [1, 3]
    with pytest.raises(IntegrityError), engine.begin() as connection:
        insert(connection, "verdicts", dict(verdict, id=9))


def test_reorgsAndOutbox_upgradeFrom0004_givingEachIndexedEventItsJob(database_url):
    engine = make_engine(database_url)
    migrate(engine, "0004")
    event = {"block_number": 5, "tx_hash": "0x" + "ee" * 32, "contract": "DisputeGame"}
    with engine.begin() as connection:
        insert(connection, "jobs", JOB_ROW)
        insert(connection, "disputes", dict(DISPUTE_ROW, kind="fault"))
        insert(connection, "chain_events", dict(event, id=1, log_index=0, contract="Market", name="JobPosted",
                                                args='{"jobId": "3", "specHash": "0xaa"}'))
        insert(connection, "chain_events", dict(event, id=2, log_index=1, name="Responded",  # names its dispute only
                                                args='{"disputeId": "11", "lo": "8", "hi": "12"}'))
        insert(connection, "chain_events", dict(event, id=3, log_index=2, contract="Staking", name="Deposited",
                                                args='{"account": "0x01"}'))

    migrate(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0006"  # head
        assert connection.execute(text("SELECT id, job_id FROM chain_events ORDER BY id")).all() == [
            (1, 3), (2, 3), (3, None)]
        row = connection.execute(text("SELECT sampled_intervals, commit_deadline FROM jobs")).one()
        assert tuple(row) == (None, None)  # read from the chain by the next indexer (Indexer.backfill_samples)
        # The models are exactly what the migrations build.
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    assert not {"outbox", "indexed_blocks"} & set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id FROM chain_events ORDER BY id")).scalars().all() == [1, 2, 3]
    engine.dispose()
