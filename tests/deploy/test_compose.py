"""docker-compose.yml cannot run here (no Docker engine), so keep it honest by reading it."""

import tomllib
from pathlib import Path

import yaml

from pinpoint.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_compose_describesEveryPart():
    assert {"anvil", "redis", "postgres", "deploy", "coordinator", "indexer", "solver", "verifier", "referee"} <= set(SERVICES)


def test_longRunningInfrastructure_hasHealthchecks_andIsWaitedFor():
    for name in ("anvil", "redis", "postgres", "coordinator"):
        assert SERVICES[name]["healthcheck"]["test"], name
    assert SERVICES["coordinator"]["depends_on"]["deploy"]["condition"] == "service_completed_successfully"
    for worker in ("solver", "verifier", "referee"):  # the API is ready (database migrated, chain answering)
        assert SERVICES[worker]["depends_on"]["coordinator"]["condition"] == "service_healthy"
    # The indexer must not wait for the API: the API is not ready while the indexer lags (migrations take a lock).
    assert "coordinator" not in SERVICES["indexer"]["depends_on"]
    assert SERVICES["indexer"]["depends_on"]["deploy"]["condition"] == "service_completed_successfully"


def test_commands_areTheProjectsOwnEntryPoints():
    assert SERVICES["coordinator"]["command"][:2] == ["pinpoint-coordinator", "serve"]
    assert SERVICES["indexer"]["command"] == ["pinpoint-coordinator", "index"]
    assert SERVICES["solver"]["command"][:2] == ["pinpoint-worker", "solver"]
    assert SERVICES["verifier"]["command"][:2] == ["pinpoint-worker", "verifier"]
    assert SERVICES["referee"]["command"][:2] == ["pinpoint-worker", "referee"]
    assert SERVICES["deploy"]["command"][:3] == ["ape", "run", "deploy"]
    assert {"pinpoint-coordinator", "pinpoint-worker"} <= set(SCRIPTS)
    assert (ROOT / "scripts" / "deploy.py").exists()


def test_environment_namesOnlyRealSettings():
    known = {f"PINPOINT_{name.upper()}" for name in Settings.model_fields}
    for name, service in SERVICES.items():
        for key in service.get("environment", {}):
            if key.startswith("PINPOINT_"):
                assert key in known, f"{name}: {key} is not a setting"
        settings_env = {k: v for k, v in service.get("environment", {}).items() if k.startswith("PINPOINT_")}
        if settings_env:
            Settings(**{k.removeprefix("PINPOINT_").lower(): v for k, v in settings_env.items()})
