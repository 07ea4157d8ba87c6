"""Shared fixtures: one full run per model kind, reused by the engine tests (keeps the suite fast)."""

from dataclasses import dataclass

import pytest

from pinpoint.spec import (
    JobSpec,
    example_cnn_spec,
    example_gpt_spec,
    example_mlp_spec,
    example_transformer_spec,
)
from worker.engine.checkpoint import Checkpoint
from worker.engine.training import Trainer


@dataclass
class JobRun:
    spec: JobSpec
    checkpoints: list[Checkpoint]
    losses: list[float | None]


def run_job(spec: JobSpec) -> JobRun:
    checkpoints, losses = [], []

    def keep(checkpoint, loss):
        checkpoints.append(checkpoint)
        losses.append(loss)

    Trainer(spec).run(on_checkpoint=keep)
    return JobRun(spec, checkpoints, losses)


@pytest.fixture(scope="session")
def mlp_run() -> JobRun:
    return run_job(example_mlp_spec())


@pytest.fixture(scope="session")
def transformer_run() -> JobRun:
    return run_job(example_transformer_spec())


@pytest.fixture(scope="session")
def gpt_run() -> JobRun:
    return run_job(example_gpt_spec())


@pytest.fixture(scope="session")
def cnn_run() -> JobRun:
    return run_job(example_cnn_spec())


@pytest.fixture(params=["mlp", "transformer", "gpt", "cnn"])
def job_run(request) -> JobRun:
    return request.getfixturevalue(f"{request.param}_run")
