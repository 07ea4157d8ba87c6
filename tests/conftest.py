"""Fixtures shared by the service tests: a real Anvil chain with the contracts deployed by `ape run deploy`,
a real Redis-protocol server, and databases (SQLite, and PostgreSQL where it answers)."""

from __future__ import annotations

import os
import uuid

import pytest

POSTGRES_URL = os.environ.get("PINPOINT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_addoption(parser):
    parser.addoption("--nightly", action="store_true",
                     help="also run the tests marked nightly (`make test-nightly`): more variants of what `make test` covers")


def pytest_collection_modifyitems(config, items):
    """Nightly tests are more end-to-end variants of a path that `make test` already runs end to end once and
    covers per variant in the worker and contract tests; they would add minutes each to every run."""
    if config.getoption("--nightly"):
        return
    skip = pytest.mark.skip(reason="nightly variant: run with `make test-nightly` (pytest --nightly)")
    for item in items:
        if "nightly" in item.keywords:
            item.add_marker(skip)


def advance_time(w3, seconds: int) -> None:
    """Move the chain's clock and mine a block, so calls and gas estimates see the new time."""
    w3.provider.make_request("evm_increaseTime", [seconds])
    w3.provider.make_request("evm_mine", [])


@pytest.fixture(scope="session")
def chain_stack(tmp_path_factory):
    """Anvil + Valkey + deployed contracts, on free ports, for the whole session."""
    from pinpoint.localnet import LocalStack, free_port

    stack = LocalStack(tmp_path_factory.mktemp("stack"), chain_port=free_port(), api_port=free_port(), poll_seconds=0.3)
    with stack:
        stack.start_chain()
        stack.start_redis()
        stack.deploy()
        yield stack


def _postgres_database():
    """A fresh database on the local PostgreSQL server, dropped afterwards; skips when none answers."""
    import psycopg

    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    name = f"pinpoint_test_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'coordinator.db'}"
    else:
        yield from _postgres_database()
