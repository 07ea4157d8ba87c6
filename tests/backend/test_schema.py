"""The API against its own OpenAPI document: schemathesis generates requests for every operation (valid and
invalid), and every response must be documented, match its schema and never be a server error. On SQLite
and PostgreSQL (the `database_url` fixture), over the session's real chain."""

from pathlib import Path

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from backend.app import create_app
from pinpoint.settings import Settings

CASES = 600
CONFIG = SchemathesisConfig.from_path(str(Path(__file__).with_name("schemathesis.toml")))  # per operation and database


@pytest.fixture
def coordinator(chain_stack, database_url, tmp_path):
    # Writes unlimited here: the rate limit has its own test, and would answer most cases with 429.
    config = Settings(home=tmp_path, rpc_url=chain_stack.rpc_url, deployment_file=chain_stack.deployment_file,
                      database_url=database_url, write_rate=0)
    with TestClient(create_app(config, run_indexer=False)) as client:  # runs the lifespan: database, chain
        yield client.app


@pytest.fixture
def api_schema(coordinator):
    return schemathesis.openapi.from_asgi("/openapi.json", coordinator, config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=CASES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_everyOperation_answersAsDocumented_neverWithAServerError(case):
    case.call_and_validate()
