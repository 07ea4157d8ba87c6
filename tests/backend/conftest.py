"""Fixtures of the coordinator's tests."""

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from pinpoint.settings import Settings


@pytest.fixture
def api(chain_stack, database_url, tmp_path):
    """The coordinator's API over the session's chain and a fresh database; its indexer does not run (tests
    drain one by hand: tests/backend/test_indexer.py) and reads are not cached (tests read right after each
    change; the cache has its own test in test_limits.py)."""
    settings = Settings(home=tmp_path, rpc_url=chain_stack.rpc_url, deployment_file=chain_stack.deployment_file,
                        database_url=database_url, read_cache_seconds=0)
    with TestClient(create_app(settings, run_indexer=False)) as client:
        yield client
