"""The one place configuration is read: environment variables prefixed `PINPOINT_` (or a `.env` file), then the
profile named by PINPOINT_PROFILE (default `default`) in the config file (`~/.pinpoint/config.toml`, or
PINPOINT_CONFIG): a TOML table per profile whose keys are these fields, e.g.

    [testnet]
    rpc_url = "https://rpc.example.org"
    coordinator_url = "https://coordinator.example.org"
    account = "alice"

Defaults are the one-machine development set-up: a local Anvil chain, an embedded Redis-protocol
server, SQLite and a local artifact folder, all under `.pinpoint/`.
"""

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource

from pinpoint.resources import SpecLimits

# Anvil's well-known development key #0: public knowledge, so it is refused outside development.
ANVIL_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class ConfigError(ValueError):
    """The configuration names a profile that does not exist."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PINPOINT_", env_file=".env", extra="ignore")

    environment: str = Field("development", description="`development` allows the well-known Anvil keys.")
    home: Path = Field(Path(".pinpoint"), description="Folder for local state: database, artifacts, logs.")
    rpc_url: str = Field("http://127.0.0.1:8545", description="JSON-RPC endpoint of the chain.")
    deployment_file: Path | None = Field(None, description="Contract addresses and ABIs written by `ape run deploy`.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; SQLite under `home` by default.")
    redis_url: str = Field("redis://127.0.0.1:6390/0", description="Celery broker and result backend.")
    artifact_dir: Path | None = Field(None, description="Content-addressed artifact store of the coordinator.")
    coordinator_url: str = Field("http://127.0.0.1:8000", description="Where workers reach the coordinator.")
    private_key: str | None = Field(None, description="The worker's key (solver or verifier role).")
    account: str | None = Field(None, description="Sign with this account's encrypted key file instead "
                                "(`pinpoint account`; password from PINPOINT_ACCOUNT_PASSWORD or the terminal).")
    poll_seconds: float = Field(1.0, gt=0, description="How often daemons and the indexer poll the chain.")
    confirmations: int = Field(0, ge=0, description="Blocks the indexer waits before reading events.")
    # Limits of the coordinator (docs: backend/api/limits.py, backend/api/routes/artifacts.py, pinpoint.spec)
    max_artifact_bytes: int = Field(4 << 30, ge=1, description="Largest artifact: one checkpoint, chunked above "
                                    "64 MiB (docs/ARTIFACTS.md says why 4 GiB).")
    max_upload_chunk_bytes: int = Field(256 << 20, ge=1, description="Largest chunk of a chunked upload.")
    upload_idle_seconds: int = Field(3600, ge=1, description="A chunked upload idle this long is deleted, and no "
                                     "longer counts against its uploader's quota.")
    upload_quota_bytes: int = Field(2 << 30, ge=0, description="Bytes any funded address may upload per 24 h.")
    job_upload_quota_bytes: int = Field(16 << 30, ge=0,
                                        description="Further bytes per 24 h for each open job the address solves.")
    min_uploader_balance_wei: int = Field(10**16, ge=0,
                                          description="Balance an uploader that solves no open job must hold.")
    write_rate: float = Field(50.0, ge=0, description="Writes per second per client address (0: unlimited).")
    write_burst: int = Field(200, ge=1, description="Writes a client may burst above the rate.")
    read_cache_seconds: float = Field(0.5, ge=0, le=10, description="How long an anonymous job read is reused.")
    max_in_flight: int = Field(512, ge=1, description="Requests one API process serves at once; beyond: 503.")
    max_model_parameters: int = Field(200_000_000, ge=1, description="Largest model a spec may ask for.")
    max_job_memory_bytes: int = Field(24 << 30, ge=1, description="Estimated host memory a job may need.")
    max_job_checkpoint_bytes: int = Field(256 << 30, ge=1, description="All of a job's checkpoints together.")
    max_job_examples: int = Field(10**10, ge=1, description="steps x batch size of a training job.")
    max_job_checkpoints: int = Field(10_000, ge=1, description="Checkpoints of one job (each an upload and a root).")
    # Artifact backends and retention (docs/ARTIFACTS.md, backend/artifacts.py, backend/retention.py)
    artifact_backend: Literal["filesystem", "solvers"] = Field(
        "filesystem", description="`filesystem`: every checkpoint is uploaded to the coordinator. `solvers`: a solver "
        "may serve its checkpoints from its own host; the coordinator indexes and caches them.")
    artifact_cache_bytes: int = Field(64 << 30, ge=0, description="`solvers` backend: bytes of fetched checkpoints "
                                      "the coordinator caches (least recently used evicted).")
    artifact_fetch_timeout: float = Field(30.0, gt=0, description="Seconds a solver's host may stall a fetch.")
    artifact_retention_days: float = Field(7.0, ge=0, description="Uploads that no job names are deleted this "
                                           "long after their upload.")
    artifact_serve_url: str | None = Field(None, description="Solver: serve its checkpoints at this http://host:port "
                                           "(for the `solvers` backend); unset: upload them.")
    artifact_serve_bind: str | None = Field(None, description="Solver: host:port its artifact server binds "
                                            "(default: those of artifact_serve_url).")
    # A swarm round's exchange between replicas (worker/round_exchange.py)
    exchange_host: str = Field("127.0.0.1", pattern=r"^([A-Za-z0-9.-]{1,253})?$", description="Solver: the "
                                      "address (of this host, reachable by the other replicas) where it exchanges a "
                                      "swarm round's updates over torch.distributed; empty: it downloads them.")
    exchange_wait_seconds: float = Field(1800.0, gt=0, le=86400, description="Solver: how long a replica that "
                                         "submitted its share waits for the round's others to come to the exchange.")
    # Operations (pinpoint/logs.py, backend/metrics.py, worker/metrics.py)
    log_format: Literal["keyvalue", "json"] = Field("keyvalue", description="One line per event: `key=value` "
                                                   "pairs, or `json` lines.")
    metrics_port: int = Field(0, ge=0, le=65535, description="Worker host: serve Prometheus metrics on this port "
                              "(0: off). The coordinator serves them at /metrics.")
    max_indexer_lag_blocks: int = Field(10, ge=0, description="The coordinator is not ready while its indexer is "
                                        "more blocks than this (beyond the confirmations) behind the chain.")
    cheat: str | None = Field(None, description="Solver misbehaviour for tests and demos, e.g. `perturb_once@5`.")
    lying_verifier: bool = Field(False, description="Verifier challenges honest work, for tests and demos.")
    lazy_verifier: bool = Field(False, description="Verifier commits to audits without replaying, for tests and demos.")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        """Arguments, then the environment, then `.env`, then the config file's profile, then the defaults."""
        path, profile = config_file(), os.environ.get("PINPOINT_PROFILE")
        profiles = TomlConfigSettingsSource(settings_cls, path)()  # every profile, to say which exist
        if profile and profile not in profiles:
            raise ConfigError(f"no profile {profile!r} in {path} (it has: {', '.join(profiles) or 'none'})")
        chosen = TomlConfigSettingsSource(settings_cls, path, toml_table_header=(profile or "default",))
        return init_settings, env_settings, dotenv_settings, chosen, file_secret_settings

    def spec_limits(self) -> SpecLimits:
        return SpecLimits(parameters=self.max_model_parameters, memory_bytes=self.max_job_memory_bytes,
                          checkpoint_bytes=min(self.max_artifact_bytes, self.max_job_checkpoint_bytes),
                          job_checkpoint_bytes=self.max_job_checkpoint_bytes, examples=self.max_job_examples,
                          checkpoints=self.max_job_checkpoints)

    @model_validator(mode="after")
    def _fill_paths_and_refuse_unsafe(self) -> "Settings":
        if self.deployment_file is None:
            self.deployment_file = self.home / "deployment.json"
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.home / 'coordinator.db'}"
        if self.artifact_dir is None:
            self.artifact_dir = self.home / "artifacts"
        if self.environment != "development":
            if self.private_key and self.private_key.lower() == ANVIL_KEY_0:
                raise ValueError("PINPOINT_PRIVATE_KEY is Anvil's public development key; refused outside development")
            if self.cheat or self.lying_verifier or self.lazy_verifier:
                raise ValueError("PINPOINT_CHEAT, PINPOINT_LYING_VERIFIER and PINPOINT_LAZY_VERIFIER are for tests "
                                 "and demos only")
        return self


def config_file() -> Path:
    return Path(os.environ.get("PINPOINT_CONFIG") or Path.home() / ".pinpoint" / "config.toml")


@lru_cache
def get_settings() -> Settings:
    return Settings()
