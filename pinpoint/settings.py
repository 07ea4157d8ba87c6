"""The one place configuration is read: environment variables prefixed `PINPOINT_` (or a `.env` file).

Defaults are the one-machine development set-up: a local Anvil chain, an embedded Redis-protocol
server, SQLite and a local artifact folder, all under `.pinpoint/`.
"""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Anvil's well-known development key #0: public knowledge, so it is refused outside development.
ANVIL_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


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
    poll_seconds: float = Field(1.0, gt=0, description="How often daemons and the indexer poll the chain.")
    confirmations: int = Field(0, ge=0, description="Blocks the indexer waits before reading events.")
    cheat: str | None = Field(None, description="Solver misbehaviour for tests and demos, e.g. `perturb_once@5`.")
    lying_verifier: bool = Field(False, description="Verifier challenges honest work, for tests and demos.")
    lazy_verifier: bool = Field(False, description="Verifier commits to audits without replaying, for tests and demos.")

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
