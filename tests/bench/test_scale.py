"""bench/scale.py's smallest configuration, in seconds: every measurement returns the fields the report needs,
positive and consistent with each other and with the resource estimate. No timing assertions: the benchmark
measures speed; this checks the harness (a real model, real checkpoints, the real coordinator API)."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from bench.scale import (
    SECTION,
    SIZES,
    add_job_estimates,
    corpus,
    gpt_spec,
    markdown,
    measure_model,
    parse_sizes,
    plot,
    smallest_interval,
    store_throughput,
)
from pinpoint.chain import Chain
from pinpoint.client import CoordinatorClient, sha256_hex
from pinpoint.settings import Settings
from pinpoint.spec import GPTSpec
from tests.backend.scenario import fresh_key
from worker.engine.artifacts import set_artifact_source
from worker.engine.training import RECOMMENDED_CHECKPOINT_INTERVAL, Trainer

SMALLEST = replace(SIZES["1M"], measure_interval=2)  # the 1M model, an interval of 2 steps


@pytest.fixture(scope="module")
def row():
    try:
        yield measure_model(SMALLEST, repeats=1)
    finally:
        set_artifact_source(None)  # measure_model serves the corpus to its trainers (a child process, normally)


def test_the_model_is_a_1m_gpt_on_the_stdlib_corpus(row):
    spec = gpt_spec(SMALLEST, steps=4, interval=2)
    assert isinstance(spec.model, GPTSpec) and spec.dataset.name == "artifact" and spec.model.vocab_size == 256
    assert row["parameters"] == 1_057_152
    assert row["tokens_per_step"] == spec.batch_size * spec.model.context == 2048


def test_checkpoint_and_commitment_figures_are_consistent(row):
    # weights and both AdamW moments, plus a few small entries and the header: the estimate within 1%
    assert 1 <= row["checkpoint_bytes"] / row["estimated_checkpoint_bytes"] < 1.01
    assert 3 * 4 * row["parameters"] < row["state_bytes"] <= row["checkpoint_bytes"]
    parts = row["commitment_seconds"]
    assert all(parts[name] > 0 for name in ("snapshot_copy", "state_hash", "safetensors_bytes", "merkle_root"))
    assert parts["total"] == pytest.approx(sum(v for k, v in parts.items() if k != "total"), abs=1e-4)
    assert row["state_hash_megabytes_per_second"] > 0
    step = row["step_seconds_median"]
    assert len(row["step_seconds"]) == 2 and step > 0 and row["tokens_per_second"] > 0
    assert row["interval_training_seconds"] == pytest.approx(RECOMMENDED_CHECKPOINT_INTERVAL * step, rel=1e-2)
    assert row["commitment_overhead_percent"] == pytest.approx(100 * parts["total"] / (64 * step), rel=0.05)
    assert row["peak_rss_bytes"] > row["checkpoint_bytes"] and row["estimated_memory_bytes"] > row["checkpoint_bytes"]
    assert row["spec_limits_refused"] == []


def test_the_replay_reaches_the_state_the_solver_reaches(row):
    spec = gpt_spec(SMALLEST, steps=4, interval=2)
    set_artifact_source(lambda digest: corpus())
    try:
        hashes = Trainer(spec).run()
    finally:
        set_artifact_source(None)
    replay = row["replay"]
    assert replay["state_hash"] == "0x" + hashes[2].hex()  # checkpoint 1 replayed to checkpoint 2
    assert replay["interval_steps"] == 2 and replay["replay_seconds"] >= replay["load_seconds"] > 0
    assert replay["at_recommended_interval_ratio"] >= 1


def test_store_throughput_through_the_coordinator_api(chain_stack, tmp_path):
    settings = Settings(home=tmp_path, rpc_url=chain_stack.rpc_url, deployment_file=chain_stack.deployment_file,
                        database_url=f"sqlite:///{tmp_path / 'coordinator.db'}", read_cache_seconds=0)
    funded = fresh_key(Chain(chain_stack.rpc_url, chain_stack.deployment_file))
    uploader = Chain(chain_stack.rpc_url, chain_stack.deployment_file, funded)
    client = CoordinatorClient.for_chain("http://testserver", uploader)
    blob = os.urandom(1 << 20)
    (tmp_path / "checkpoint").write_bytes(blob)
    with TestClient(create_app(settings, run_indexer=False)) as http:
        client.http = http  # the real app in this process
        store = store_throughput(client, tmp_path / "checkpoint", downloads=2)
        assert client.download_artifact(sha256_hex(blob)) == blob
    assert store["bytes"] == len(blob)
    assert not list(tmp_path.glob("checkpoint.*"))  # each download checked, then removed
    assert store["upload_seconds"] > 0 and store["download_seconds_median"] > 0
    assert store["upload_megabytes_per_second"] > 0 and store["download_megabytes_per_second"] > 0


def test_report_and_plot_from_one_size(row, tmp_path):
    measured = dict(row, store={"skipped": "for the test"})
    rows = {"1M": measured}
    add_job_estimates(rows)
    job = measured["job"]
    assert job["estimated"] and job["protocol_seconds"] == 0  # no job ran to measure it
    assert job["challenge_seconds"] >= 2 * job["verifier_seconds"]  # the window holds the verifier's replay
    assert job["estimated_wall_seconds"] == pytest.approx(job["solver_seconds"] + job["challenge_seconds"], abs=0.2)
    scale = {"sizes": [measured], "recommended_interval": 64, "overhead_target_percent": 2.0}
    text = "\n".join(markdown(scale))
    assert text.startswith(SECTION) and "1,057,152" in text and "(a) 1M: for the test." in text
    assert plot(scale, tmp_path / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_interval_and_size_options():
    assert smallest_interval(commit_seconds=1.0, step_seconds=0.1) == 512  # 500 steps is 50x the commitment
    assert smallest_interval(commit_seconds=0.001, step_seconds=1.0) == 1
    assert parse_sizes("100M,1M") == ["1M", "100M"]
    with pytest.raises(argparse.ArgumentTypeError, match="subset of 1M, 10M, 100M"):
        parse_sizes("2M")
