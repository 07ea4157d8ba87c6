"""`make bench-scale`: what Pinpoint costs as the model grows, for GPT-style decoders of about 1M, 10M and 100M
parameters trained on the same data with the same tokens per step, measured side by side in one run and
merged into bench/results.json ("scale") and BENCHMARKS.md ("Cost with model size", with a log-log plot).

    python -m bench.scale [--sizes 1M,10M,100M] [--no-jobs]     # also part of `make bench`

Per size, in a fresh process (so that its peak memory is its own): the training step (median after a
warm-up step) and tokens/s; one checkpoint's bytes (weights + AdamW moments) and its commitment cost
(snapshot copy + state hash + safetensors bytes + Merkle root) against the training time of one interval
at the recommended interval; the state hash's throughput; the verifier's replay of one interval from the
checkpoint's bytes (parse, hash check, fresh trainer, restore, train, hash) against the solver's training of
it; the resource estimate and the spec limits it passes; peak resident memory.

Then, in this process, on a local Pinpoint (chain, contracts, coordinator; LocalStack): the store's upload and
download throughput for that checkpoint through the coordinator's signed API on loopback, and the whole
job's wall time (post, train, verify, finalize) for the sizes whose job takes minutes; the others' is
estimated from the measured parts plus the protocol's fixed time measured on the real jobs.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import resource
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch

from pinpoint.chain import Chain
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.datasets import dataset_spec, stdlib_corpus
from pinpoint.economics import default_samples
from pinpoint.localnet import ANVIL_KEYS, LOCAL_DEPLOY, LocalStack, free_port
from pinpoint.merkle import checkpoint_root
from pinpoint.resources import check_resources, estimate_resources
from pinpoint.settings import Settings
from pinpoint.spec import SpecError, example_gpt_spec, parse_spec
from worker.engine.artifacts import set_artifact_source
from worker.engine.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from worker.engine.replay import replay_interval
from worker.engine.state import state_hash
from worker.engine.training import RECOMMENDED_CHECKPOINT_INTERVAL, Trainer
from worker.pricing import PricePolicy

HERE = Path(__file__).parent
PLOT = HERE / "scale.png"
SECTION = "## Cost with model size"

VOCAB, CONTEXT, BATCH = 256, 256, 8  # byte-level tokens; 2,048 tokens per step at every size
CORPUS_BYTES = 1 << 20  # the standard library's sources: 1 MiB of real text (pinpoint.datasets.stdlib_corpus)
OVERHEAD_TARGET = 0.02  # commitment cost over one interval's training (issue 11)
JOB_BIDDING_SECONDS = 6  # as `make demo`; the audit windows are sized to the replay (`audit_windows`)
JOB_STEPS, JOB_INTERVAL = 64, 32  # the whole job at every size: 2 checkpoints, 1 sampled (minutes at 10M here)
JOB_EXECUTION_SECONDS = 3600  # the solver bids only if its own estimate of the work fits (the demo's 600 s: not 10M)


@dataclass(frozen=True)
class Size:
    """One model size: its shape, the interval its measurement trains and replays (short where steps are
    slow: the costs per step and per checkpoint are what scale), and whether its whole job runs on a
    LocalStack (else it is estimated: too long here)."""

    label: str
    embed_dim: int
    heads: int
    layers: int
    measure_interval: int
    run_job: bool


SIZES = {s.label: s for s in (
    Size("1M", embed_dim=128, heads=4, layers=5, measure_interval=16, run_job=True),
    Size("10M", embed_dim=320, heads=5, layers=8, measure_interval=8, run_job=True),
    Size("100M", embed_dim=768, heads=12, layers=14, measure_interval=3, run_job=False),
)}


@lru_cache(maxsize=1)
def corpus() -> bytes:
    return stdlib_corpus(CORPUS_BYTES)


def gpt_spec(size: Size, steps: int, interval: int):
    """A GPT job of `size` on the standard-library corpus (an uploaded `tokens` artifact, vocabulary 256)."""
    base = example_gpt_spec(
        model={"vocab_size": VOCAB, "context": CONTEXT, "embed_dim": size.embed_dim, "heads": size.heads,
               "layers": size.layers},
        optimizer={"lr": 3e-4}, batch_size=BATCH, steps=steps, checkpoint_interval=interval)
    return parse_spec(dict(base.model_dump(mode="json"), dataset=dataset_spec(corpus(), vocab_size=VOCAB)))


def _median_seconds(fn, repeats: int, clock=time.process_time) -> float:
    samples = []
    for _ in range(repeats):
        start = clock()
        fn()
        samples.append(clock() - start)
    return statistics.median(samples)


def commitment_cost(trainer: Trainer, leaves: int, repeats: int) -> tuple[dict, bytes]:
    """Median seconds of each part of committing the trainer's current state as a checkpoint (the Merkle root
    over `leaves` checkpoints with only the newest leaf not cached, as a solver computes it), and its bytes."""
    tensors = trainer.state_tensors()
    checkpoint = make_checkpoint(trainer.step // trainer.spec.checkpoint_interval, trainer.step, tensors,
                                 trainer.spec_hash)
    hashes = [checkpoint.state_hash] * leaves
    cache: list[bytes] = []
    checkpoint_root(1, hashes[:-1], trainer.spec.checkpoint_interval, cache)
    parts = {
        "snapshot_copy": trainer.state_tensors,
        "state_hash": lambda: state_hash(tensors),
        "safetensors_bytes": lambda: save_checkpoint(checkpoint),
        "merkle_root": lambda: checkpoint_root(1, hashes, trainer.spec.checkpoint_interval, list(cache)),
    }
    seconds = {name: _median_seconds(fn, repeats) for name, fn in parts.items()}
    seconds["total"] = sum(seconds.values())
    return seconds, save_checkpoint(checkpoint)


def measure_model(size: Size, checkpoint_path: str | None = None, repeats: int = 5) -> dict:
    """Everything one process measures about `size` (see the module docstring); the checkpoint's bytes are
    written to `checkpoint_path` for the store's measurement when given."""
    blob = corpus()
    set_artifact_source(lambda digest: blob)
    k = size.measure_interval
    spec = gpt_spec(size, steps=2 * k, interval=k)
    estimate = estimate_resources(spec)
    try:
        check_resources(spec, Settings().spec_limits())  # this coordinator's limits
        refused = []
    except SpecError as exc:
        refused = exc.problems
    start = time.process_time()
    trainer = Trainer(spec)
    setup = time.process_time() - start
    steps = []
    for _ in range(k):  # the first interval; its first step is the warm-up
        start = time.process_time()
        trainer.train_step()
        steps.append(time.process_time() - start)
    step = statistics.median(steps[1:])
    leaves = 1 + 1024 // RECOMMENDED_CHECKPOINT_INTERVAL  # a job of 1,024 steps
    commit, checkpoint_bytes = commitment_cost(trainer, leaves, repeats)
    state_bytes = sum(t.nbytes for t in trainer.state_tensors().values())
    del trainer
    if checkpoint_path:
        Path(checkpoint_path).write_bytes(checkpoint_bytes)
    # The verifier: from the checkpoint's bytes to the next state hash, in a fresh trainer.
    start = time.process_time()
    checkpoint = load_checkpoint(checkpoint_bytes, expected_spec_hash=spec.spec_hash())
    loaded = time.process_time() - start
    end = replay_interval(spec, checkpoint)
    replay = time.process_time() - start
    replay_fixed = max(replay - k * step, 0.0)  # parse, hash check, set-up, restore, warm-up, final hash
    interval = RECOMMENDED_CHECKPOINT_INTERVAL
    return {
        "size": size.label,
        "model": spec.model.model_dump(mode="json"),
        "parameters": estimate.parameters,
        "batch_size": spec.batch_size,
        "context": CONTEXT,
        "tokens_per_step": spec.batch_size * CONTEXT,
        "threads": spec.profile.threads,
        "trainer_setup_seconds": round(setup, 3),
        "step_seconds_median": round(step, 4),
        "step_seconds": [round(s, 4) for s in steps],
        "tokens_per_second": round(spec.batch_size * CONTEXT / step, 1),
        "checkpoint_bytes": len(checkpoint_bytes),
        "state_bytes": state_bytes,
        "estimated_checkpoint_bytes": estimate.checkpoint_bytes,
        "commitment_seconds": {name: round(value, 5) for name, value in commit.items()},
        "commitment_repeats": repeats,
        "state_hash_megabytes_per_second": round(state_bytes / 1e6 / commit["state_hash"], 1),
        "recommended_interval": interval,
        "interval_training_seconds": round(interval * step, 3),
        "commitment_overhead_percent": round(100 * commit["total"] / (interval * step), 3),
        "smallest_interval_within_target": smallest_interval(commit["total"], step),
        "replay": {
            "interval_steps": k,
            "load_seconds": round(loaded, 3),
            "replay_seconds": round(replay, 3),
            "solver_training_seconds": round(sum(steps), 3),
            "fixed_seconds": round(replay_fixed, 3),
            "state_hash": end.state_hash_hex,
            "at_recommended_interval_ratio": round((replay_fixed + interval * step) / (interval * step), 4),
        },
        "estimated_memory_bytes": estimate.memory_bytes,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "spec_limits_refused": refused,
    }


def smallest_interval(commit_seconds: float, step_seconds: float) -> int:
    """The smallest power-of-two interval whose training takes at least 1 / OVERHEAD_TARGET times the commitment."""
    return 1 << max(0, math.ceil(math.log2(commit_seconds / (OVERHEAD_TARGET * step_seconds))))


def in_child(fn, *args):
    """`fn(*args)` in a fresh process: each size's peak memory is its own, and memory goes back after it."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def store_throughput(client: CoordinatorClient, path: Path, downloads: int = 3) -> dict:
    """One signed upload of the file at `path` and `downloads` hash-checked downloads to a file beside it,
    through the coordinator's API (streamed both ways: chunked and resumable above the client's threshold)."""
    size, target = path.stat().st_size, path.with_name(path.name + ".downloaded")
    start = time.perf_counter()
    digest = client.upload_artifact(path)
    up = time.perf_counter() - start

    def download() -> None:
        client.download_artifact_to(digest, target)
        target.unlink()

    down = _median_seconds(download, downloads, time.perf_counter)
    megabytes = size / 1e6
    return {"bytes": size, "upload_seconds": round(up, 3), "upload_megabytes_per_second": round(megabytes / up, 1),
            "download_seconds_median": round(down, 3), "download_megabytes_per_second": round(megabytes / down, 1)}


def whole_job(stack: LocalStack, size: Size, challenge_seconds: int) -> dict:
    """Post a job of `size` on a complete local Pinpoint and follow it to its end (the dataset is uploaded
    first, as a submitter prepares a job); wall time from the spec's submission to finalized."""
    from pinpoint.demo import MAX_PRICE, follow

    steps, interval = JOB_STEPS, JOB_INTERVAL
    spec = gpt_spec(size, steps=steps, interval=interval)
    submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
    client = CoordinatorClient.for_chain(stack.api_url, submitter)
    client.upload_artifact(corpus())
    start = time.perf_counter()
    accepted = client.submit_spec(spec)
    job_id = submitter.post_job(accepted["spec_hash"], accepted["checkpoint_count"], accepted["checkpoint_interval"],
                                max_price=MAX_PRICE, bidding_seconds=JOB_BIDDING_SECONDS,
                                execution_seconds=JOB_EXECUTION_SECONDS, challenge_seconds=challenge_seconds)
    view = follow(stack, job_id, submitter, timeout=JOB_EXECUTION_SECONDS + 600)
    return {"steps": steps, "checkpoint_interval": interval, "checkpoints": spec.checkpoint_count,
            "bidding_seconds": JOB_BIDDING_SECONDS, "challenge_seconds": challenge_seconds,
            "sampled_intervals": default_samples(spec.checkpoint_count), "state": view["state"],
            "verdicts": len(view["verdicts"]), "wall_seconds": round(time.perf_counter() - start, 1)}


def job_model(row: dict, steps: int, interval: int, challenge_seconds: int) -> dict:
    """A job's time from the measured parts: the solver trains, commits and uploads every checkpoint; then the
    challenge window runs, which must hold the verifier's download and replay of its sample."""
    count, megabytes, store = steps // interval, row["checkpoint_bytes"] / 1e6, row.get("store") or {}
    measured = "upload_seconds" in store  # else skipped: counted as free
    upload = megabytes / store["upload_megabytes_per_second"] if measured else 0.0
    download = megabytes / store["download_megabytes_per_second"] if measured else 0.0
    solver = steps * row["step_seconds_median"] + (count + 1) * (row["commitment_seconds"]["total"] + upload)
    verifier = default_samples(count) * (download + replay_seconds(row, interval))
    return {"steps": steps, "checkpoint_interval": interval, "checkpoints": count,
            "sampled_intervals": default_samples(count), "solver_seconds": round(solver, 1),
            "verifier_seconds": round(verifier, 1), "challenge_seconds": challenge_seconds}


def replay_seconds(row: dict, interval: int) -> float:
    """The verifier's replay of one interval of `interval` steps, from the measured parts."""
    return row["replay"]["fixed_seconds"] + interval * row["step_seconds_median"]


def commit_window(row: dict) -> int:
    """An audit commit window that holds a verifier's replay of an interval of the job of `row`'s size: twice
    the measured replay plus 30 s (a shared machine), and at least the solver's own estimate plus 30 s (it
    bids only when a verifier can replay in time: worker/pricing.py). With the demo's 8 s, a verifier of even
    the 1M job commits too late, and honest work ends unverified."""
    policy = PricePolicy().interval_seconds(gpt_spec(SIZES[row["size"]], JOB_STEPS, JOB_INTERVAL))
    return max(LOCAL_DEPLOY["commit_window"], math.ceil(2 * replay_seconds(row, JOB_INTERVAL)) + 30, policy + 30)


def audit_windows(rows: list[dict]) -> dict[str, int]:
    """The deployment for the whole jobs: the demo's windows, the commit window sized to the largest job."""
    return dict(LOCAL_DEPLOY, commit_window=max(commit_window(row) for row in rows))


def add_job_estimates(rows: dict[str, dict]) -> None:
    """Each job's model; a job that ran gets its protocol time (wall time beyond the solver's work and the
    challenge window: bidding, blocks, polling, dispatch); one that did not is estimated as its solver's work,
    the challenge window its own replay needs, and the median protocol time of the jobs that ran."""
    protocol = []
    for row in rows.values():
        job = row.get("job") or {}
        if "wall_seconds" in job:
            job.update(job_model(row, job["steps"], job["checkpoint_interval"], job["challenge_seconds"]))
            job["protocol_seconds"] = round(job["wall_seconds"] - job["solver_seconds"] - job["challenge_seconds"], 1)
            if job["state"] == "finalized":  # a job that ended otherwise did not go the whole way
                protocol.append(job["protocol_seconds"])
    for row in rows.values():
        if "wall_seconds" in (row.get("job") or {}):
            continue
        challenge = commit_window(row) + LOCAL_DEPLOY["reveal_window"]
        job = job_model(row, JOB_STEPS, JOB_INTERVAL, challenge)
        extra = statistics.median(protocol) if protocol else 0.0
        row["job"] = dict(job, estimated=True, protocol_seconds=extra,
                          estimated_wall_seconds=round(job["solver_seconds"] + challenge + extra, 1),
                          why=(row.get("job") or {}).get("why", "a job of this size takes too long on this machine"))


def run(labels: list[str], jobs: bool = True, home: Path | None = None) -> dict:
    """Measure every size in `labels` (each in its own process), then the store and the jobs on one stack."""
    created, home = home is None, Path(home or tempfile.mkdtemp(prefix="pinpoint-scale-"))
    cap = Settings().max_artifact_bytes
    rows: dict[str, dict] = {}
    for label in labels:
        size = SIZES[label]
        print(f"measuring {label} ...", flush=True)
        path = home / f"{label}.safetensors"
        spec = gpt_spec(size, 2 * size.measure_interval, size.measure_interval)
        fits = estimate_resources(spec).checkpoint_bytes <= cap
        rows[label] = in_child(measure_model, size, str(path) if fits else None)
        rows[label]["store"] = {} if fits else {
            "skipped": f"one checkpoint ({rows[label]['checkpoint_bytes']:,} bytes) exceeds the coordinator's upload "
                       f"cap ({cap:,} bytes, max_artifact_bytes)"}
    with LocalStack(home / "stack", chain_port=free_port(), api_port=free_port()) as stack:
        stack.home.mkdir(parents=True, exist_ok=True)
        stack.env["PINPOINT_UPLOAD_QUOTA_BYTES"] = str(1 << 40)  # the bench's own uploads: not what is measured
        runnable = [rows[label] for label in labels if SIZES[label].run_job]
        windows = audit_windows(runnable) if jobs and runnable else None
        if windows:
            stack.start_all(progress=lambda message: print(f"  {message}", flush=True), deploy_options=windows)
        else:
            stack.start_chain()
            stack.deploy()
            stack.start_coordinator()
        uploader = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[5])
        client = CoordinatorClient.for_chain(stack.api_url, uploader, timeout=600)
        for label, row in rows.items():
            path = home / f"{label}.safetensors"
            if path.exists():
                print(f"store throughput, {label} ...", flush=True)
                try:
                    row["store"] = store_throughput(client, path)
                except CoordinatorError as exc:
                    row["store"] = {"skipped": f"the coordinator refused the upload: {exc}"}
                path.unlink()
        for label, row in rows.items():
            if windows and SIZES[label].run_job:
                print(f"a whole {label} job ...", flush=True)
                row["job"] = whole_job(stack, SIZES[label], uploader.minimum_challenge_seconds())
            elif SIZES[label].run_job:
                row["job"] = {"why": "not run (--no-jobs)"}
    add_job_estimates(rows)
    if created:  # gigabytes of checkpoints; after a failure they stay, with the stack's logs
        shutil.rmtree(home, ignore_errors=True)
    return {"sizes": list(rows.values()), "recommended_interval": RECOMMENDED_CHECKPOINT_INTERVAL,
            "overhead_target_percent": 100 * OVERHEAD_TARGET, "upload_cap_bytes": cap, "job_deployment": windows,
            "sizes_config": {label: asdict(SIZES[label]) for label in labels}}


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def markdown(scale: dict) -> list[str]:
    """The "Cost with model size" section: one column per size, then what limits the sizes and the plot."""
    rows, interval = scale["sizes"], scale["recommended_interval"]

    def line(name: str, cell) -> str:
        return f"| {name} | " + " | ".join(cell(r) for r in rows) + " |"

    def store(r: dict, key: str) -> str:
        s = r.get("store") or {}
        return f"{s[key]:,.0f} MB/s" if key in s else "skipped (a)"

    def job(r: dict) -> str:
        j = r["job"]
        if "wall_seconds" in j:
            return (f"{j['wall_seconds']:,.0f} s measured ({j['steps']} steps, every {j['checkpoint_interval']}; "
                    f"{j['state']})")
        return f"~{j['estimated_wall_seconds']:,.0f} s estimated ({j['steps']} steps, every {j['checkpoint_interval']})"

    worst = max(r["commitment_overhead_percent"] for r in rows)
    target = scale["overhead_target_percent"]
    verdict = (f"within the {target:.0f}% target at every size, so the recommendation stays a constant "
               "(`RECOMMENDED_CHECKPOINT_INTERVAL`)" if worst <= target else
               f"ABOVE the {target:.0f}% target at some size: see the smallest interval within it")
    protocol = [f"{r['size']} {r['job']['protocol_seconds']:.0f} s" for r in rows if "wall_seconds" in r["job"]]
    deployment = scale.get("job_deployment")
    windows = (f"audit commit window {deployment['commit_window']} s (`commit_window`: it holds the largest job's "
               f"replay of an interval twice over, and the solver's own estimate of it) and reveal window "
               f"{deployment['reveal_window']} s" if deployment else "no job ran")
    lines = [
        SECTION,
        "",
        f"Written by `make bench-scale` (also part of `make bench`). GPT-style decoders (`example_gpt_spec` with the "
        f"shapes below: byte-level vocabulary {VOCAB}, tied embeddings, AdamW) on {CORPUS_BYTES >> 20} MiB of the "
        f"Python standard library's sources (`pinpoint.datasets.stdlib_corpus`), the same {BATCH} x {CONTEXT} = "
        f"{BATCH * CONTEXT:,} tokens per step at every size, one CPU thread (the specs' execution profile), measured "
        "side by side in one run, each size in its own process. Steps, commitments and replays are timed in CPU "
        "time of that process (one thread: the work itself; other jobs on this shared 2-core machine only add "
        "wall time); transfers and whole jobs in wall time.",
        "",
        "| | " + " | ".join(r["size"] for r in rows) + " |",
        "| --- | " + " | ".join("---:" for _ in rows) + " |",
        line("parameters", lambda r: f"{r['parameters']:,}"),
        line("shape (width x layers, heads)",
             lambda r: f"{r['model']['embed_dim']} x {r['model']['layers']}, {r['model']['heads']}"),
        line("step (median after warm-up)", lambda r: f"{r['step_seconds_median']:.3f} s"),
        line("tokens/s", lambda r: f"{r['tokens_per_second']:,.0f}"),
        line("checkpoint (weights + AdamW moments)", lambda r: _mb(r["checkpoint_bytes"])),
        line("checkpoint / resource estimate",
             lambda r: f"{r['checkpoint_bytes'] / r['estimated_checkpoint_bytes']:.3f}x"),
        line("commit: snapshot copy", lambda r: f"{1e3 * r['commitment_seconds']['snapshot_copy']:,.1f} ms"),
        line("commit: state hash", lambda r: f"{1e3 * r['commitment_seconds']['state_hash']:,.1f} ms"),
        line("commit: safetensors bytes", lambda r: f"{1e3 * r['commitment_seconds']['safetensors_bytes']:,.1f} ms"),
        line("commit: Merkle root", lambda r: f"{1e3 * r['commitment_seconds']['merkle_root']:,.2f} ms"),
        line("commitment per checkpoint", lambda r: f"{1e3 * r['commitment_seconds']['total']:,.0f} ms"),
        line(f"training of one interval ({interval} steps)", lambda r: f"{r['interval_training_seconds']:,.1f} s"),
        line(f"**commitment overhead at {interval} steps**", lambda r: f"**{r['commitment_overhead_percent']:.2f}%**"),
        line(f"smallest power-of-two interval within {scale['overhead_target_percent']:.0f}%",
             lambda r: f"{r['smallest_interval_within_target']}"),
        line("state hash throughput", lambda r: f"{r['state_hash_megabytes_per_second']:,.0f} MB/s"),
        line("store upload (signed PUT, loopback)", lambda r: store(r, "upload_megabytes_per_second")),
        line("store download (hash-checked GET)", lambda r: store(r, "download_megabytes_per_second")),
        line("verifier replay, measured",
             lambda r: f"{r['replay']['replay_seconds']:,.1f} s for {r['replay']['interval_steps']} steps "
             f"(solver {r['replay']['solver_training_seconds']:,.1f} s)"),
        line(f"verifier replay / solver training, {interval}-step interval",
             lambda r: f"{r['replay']['at_recommended_interval_ratio']:.3f}x"),
        line("whole job, post to finalized", job),
        line("peak resident memory (process)", lambda r: f"{r['peak_rss_bytes'] / 2**30:,.2f} GiB"),
        line("memory estimate (`estimate_resources`)", lambda r: f"{r['estimated_memory_bytes'] / 2**30:,.2f} GiB"),
        line("refused by this coordinator's spec limits", lambda r: "yes (b)" if r["spec_limits_refused"] else "no"),
        "",
        f"Commitment overhead: at most {worst:.2f}% of training at the recommended interval of {interval} steps, "
        f"{verdict}. The commitment grows with the state, about linearly in the parameters; one interval's "
        "training grows with parameters x tokens per step (and attention with the context), so the overhead "
        "falls with model size at a fixed batch: small models with small batches are the ones to watch.",
        "",
        "Verifier replay: the replay of the measured interval from the checkpoint's bytes (parse, hash check, a fresh "
        "trainer, restore, train, hash) against the solver's training of the same steps; at the recommended "
        "interval its fixed part (all but the steps) is spread over 64 steps.",
        "",
        "Whole job: measured on a complete local Pinpoint (chain with a block a second, coordinator, indexer, a "
        f"solver, a verifier and a referee as separate processes; {JOB_BIDDING_SECONDS} s bidding; {windows}), "
        "from the spec's submission to the job's end on chain (finalized: paid after an approving audit). The "
        "challenge window is the market's minimum, the audit's commit plus reveal windows, so it must cover the "
        "verifier's replay of its sample: the whole job is training plus that window. Where marked "
        "estimated: the solver's work from the measured parts (training, every checkpoint committed and "
        "uploaded), the challenge window its verifier's replay needs (sized as here), and the protocol's own "
        "time on the jobs that ran (bidding, blocks, polling, dispatch: "
        + (", ".join(protocol) + "; the median is added)." if protocol else "none ran here, so not added)."),
        "",
    ]
    notes = []
    for r in rows:
        skipped = (r.get("store") or {}).get("skipped")
        if skipped:
            notes.append(f"(a) {r['size']}: {skipped}.")
        for problem in r["spec_limits_refused"]:
            notes.append(f"(b) {r['size']}: the coordinator refuses the spec today: {problem}.")
    largest, smallest = rows[-1], rows[0]
    stop = (f"Where it stops: memory is not the limit up to {largest['size']} "
            f"({largest['peak_rss_bytes'] / 2**30:.1f} GiB peak of the 24 GB machine")
    if largest is not smallest:  # the memory each added parameter costs at this batch, torch's own share aside
        added = largest["parameters"] - smallest["parameters"]
        marginal = (largest["peak_rss_bytes"] - smallest["peak_rss_bytes"]) / added
        ceiling = largest["parameters"] + ((24 << 30) - largest["peak_rss_bytes"]) / marginal
        stop += (f"; about {marginal:.0f} bytes per added parameter, so a model of this family up to about "
                 f"{ceiling / 1e9:.1f} billion parameters would fit")
    stop += (f"). Time is: one thread trains {largest['tokens_per_second']:,.0f} tokens/s at {largest['size']}, so "
             f"1,000 steps take {1000 * largest['step_seconds_median'] / 3600:.1f} h")
    notes.append(stop + (", and its whole job is estimated here, not run." if largest["job"].get("estimated") else "."))
    lines += notes + ["", f"![cost against parameters, log-log]({PLOT.relative_to(HERE.parent).as_posix()})", ""]
    return lines


def plot(scale: dict, path: Path = PLOT) -> Path:
    """Log-log: each cost against parameters; hollow markers are estimates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = scale["sizes"]
    x = [r["parameters"] for r in rows]
    interval = scale["recommended_interval"]
    seconds = {
        "training step": [r["step_seconds_median"] for r in rows],
        "commitment per checkpoint": [r["commitment_seconds"]["total"] for r in rows],
        "state hash": [r["commitment_seconds"]["state_hash"] for r in rows],
        "store upload (one checkpoint)": [r["store"].get("upload_seconds") for r in rows],
        "store download (one checkpoint)": [r["store"].get("download_seconds_median") for r in rows],
        f"verifier replay ({interval}-step interval)": [
            replay_seconds(r, interval) for r in rows],
        "whole job": [r["job"].get("wall_seconds", r["job"].get("estimated_wall_seconds")) for r in rows],
    }
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5.5))
    for name, values in seconds.items():
        points = [(p, v) for p, v in zip(x, values) if v]
        left.plot(*zip(*points), marker="o", label=name)
    estimated = [(p, r["job"]["estimated_wall_seconds"]) for p, r in zip(x, rows) if r["job"].get("estimated")]
    if estimated:
        left.scatter(*zip(*estimated), s=90, facecolors="white", edgecolors="black", zorder=3, label="estimated")
    right.plot(x, [r["checkpoint_bytes"] for r in rows], marker="o", label="checkpoint bytes")
    right.plot(x, [r["peak_rss_bytes"] for r in rows], marker="o", label="peak resident memory")
    right.plot(x, [r["estimated_memory_bytes"] for r in rows], marker="o", linestyle="--", label="memory estimate")
    right.axhline(24e9, color="grey", linestyle=":", label="24 GB machine")
    for ax, unit in ((left, "seconds"), (right, "bytes")):
        ax.set(xscale="log", yscale="log", xlabel="parameters", ylabel=unit)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    left.set_title(f"time ({BATCH * CONTEXT:,} tokens per step, one thread)")
    right.set_title("bytes")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def publish(scale: dict) -> None:
    """Merge into bench/results.json ("scale") and BENCHMARKS.md (its own section), and draw the plot."""
    from bench.run import publish as publish_campaign

    plot(scale)
    publish_campaign("scale", scale, markdown(scale))


def parse_sizes(text: str) -> list[str]:
    labels = [label.strip() for label in text.split(",") if label.strip()]
    unknown = [label for label in labels if label not in SIZES]
    if unknown or not labels:
        raise argparse.ArgumentTypeError(f"sizes must be a comma-separated subset of {', '.join(SIZES)}, got {text!r}")
    return sorted(set(labels), key=list(SIZES).index)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=list(SIZES), help="e.g. 1M for a quick run (default: all)")
    parser.add_argument("--no-jobs", action="store_true", help="estimate the whole jobs instead of running them")
    parser.add_argument("--no-publish", action="store_true", help="print only; leave results.json and BENCHMARKS.md")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    scale = run(args.sizes, jobs=not args.no_jobs)
    if not args.no_publish:
        publish(scale)
    print(json.dumps(scale, indent=2))
    return scale


if __name__ == "__main__":
    main()
