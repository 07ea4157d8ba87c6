"""Database engine and sessions. SQLite by default, PostgreSQL (or any SQLAlchemy URL) by configuration.

The schema changes only through the Alembic migrations in `backend/migrations`.
"""

from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    pass


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # the API reads while the indexer writes
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # As many connections as threads may ask for one (anyio's default pool of 40); a request that still
    # waits 5 s gets a 503 rather than a stall.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30, pool_timeout=5)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`, by default the newest migration (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # The API and the indexer start side by side (docker-compose.yml): one migrates, the other waits.
            connection.execute(text("SELECT pg_advisory_xact_lock(7361)"))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def sessions(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session:
        yield session
