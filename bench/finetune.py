"""`make bench-finetune`: a user's GPT-2-small-sized decoder (~124M parameters) fine-tuned end to end on this
machine, the way a user does it: their weights and their data turned into artifacts and uploaded with
`pinpoint-job`, the job submitted, trained by a solver, replayed by a verifier, paid, and the final checkpoint
fetched and proven against the chain with `pinpoint-job result`. Every phase is timed; the figures go to
bench/results.json ("fine_tune") and the "Fine-tuning a 124M decoder end to end" section of BENCHMARKS.md.

    python -m bench.finetune [--steps 16] [--interval 8] [--batch 2] [--context 256]

The deployment's audit windows are longer than the demo's: a verifier must replay a sampled interval of this
model (seconds per step on two cores) within the commit window.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from pinpoint.chain import Chain, JobState
from pinpoint.client import CoordinatorClient
from pinpoint.localnet import ANVIL_KEYS, LOCAL_DEPLOY, LocalStack, free_port
from pinpoint.resources import estimate_resources, trained_parameters
from pinpoint.spec import GPT2_SMALL, example_gpt_spec, parse_spec
from worker.engine.models import build_model

ETHER = 10**18
TRAINABLE = ["blocks.11.*", "ln_f.*"]  # the top block and the final LayerNorm; the tied embeddings stay frozen
WINDOWS = dict(LOCAL_DEPLOY, commit_window=240, reveal_window=30)


def run(steps: int = 16, interval: int = 8, batch: int = 2, context: int = 256, corpus_bytes: int = 1 << 20) -> dict:
    home = Path(tempfile.mkdtemp(prefix="pinpoint-finetune-"))
    times: dict[str, float] = {}
    with LocalStack(home, chain_port=free_port(), api_port=free_port(), poll_seconds=0.5) as stack:
        stack.start_all(progress=lambda m: print(f"  {m}", flush=True), deploy_options=WINDOWS)
        cli = [str(Path(sys.executable).parent / "pinpoint-job"), "--key", ANVIL_KEYS[1]]

        def pinpoint_job(*args) -> str:
            done = subprocess.run(cli + [str(a) for a in args], check=False, env=stack.env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"pinpoint-job {args[0]}: {done.stderr}")
            return done.stdout

        def timed(name: str, *args) -> str:
            start = time.monotonic()
            out = pinpoint_job(*args)
            times[name] = time.monotonic() - start
            return out

        dataset = json.loads(timed("dataset (build)", "dataset", "stdlib", "-o", home / "data.safetensors",
                                   "--max-bytes", corpus_bytes))
        timed("dataset (upload)", "upload", home / "data.safetensors")
        spec = example_gpt_spec(model=GPT2_SMALL | {"context": context}, steps=steps, checkpoint_interval=interval,
                                batch_size=batch, optimizer={"lr": 1e-4}, trainable=TRAINABLE)
        spec = parse_spec(spec.model_dump(mode="json", exclude_none=True) | {"dataset": dataset["dataset"]})
        torch.manual_seed(0)  # the user's own weights, as torch saves a state dict
        save_file(build_model(spec.model).state_dict(), home / "mine.safetensors")
        (home / "job.json").write_text(spec.model_dump_json(exclude_none=True))
        weights = json.loads(timed("weights (convert, check)", "weights", home / "mine.safetensors", "-o",
                                   home / "init.safetensors", "--spec", home / "job.json"))
        timed("weights (upload)", "upload", home / "init.safetensors")
        job_json = spec.model_dump(mode="json", exclude_none=True) | {"init": weights["init"]}
        (home / "job.json").write_text(json.dumps(job_json))
        spec = parse_spec(json.dumps(job_json))
        minimum = Chain(stack.rpc_url, stack.deployment_file).minimum_challenge_seconds()
        posted = time.monotonic()
        job_id = json.loads(timed("submit", "submit", home / "job.json", "--max-price", "0.05", "--bidding", "4",
                                  "--execution", "3600", "--challenge", minimum))["job_id"]
        chain, seen = Chain(stack.rpc_url, stack.deployment_file), {}
        while (state := chain.job(job_id)["state"]) not in (JobState.FINALIZED, JobState.SLASHED, JobState.UNVERIFIED,
                                                            JobState.FAILED, JobState.CANCELLED):
            if state.name not in seen:
                seen[state.name] = time.monotonic() - posted
                print(f"  job {job_id}: {state.name.lower()} after {seen[state.name]:.0f} s", flush=True)
            if time.monotonic() - posted > 3600:
                raise RuntimeError(f"job {job_id} still {state.name.lower()} after an hour (logs: {stack.logs})")
            time.sleep(1)
        seen[state.name] = time.monotonic() - posted
        if state != JobState.FINALIZED:
            raise RuntimeError(f"job {job_id} ended {state.name.lower()} (logs: {stack.logs})")
        result = json.loads(timed("result (fetch, prove)", "result", job_id, "-o", home / "final.safetensors"))
        view = CoordinatorClient(stack.api_url).job(job_id)
        estimate = estimate_resources(spec)
        return {
            "model": "gpt (GPT-2 small shape)", "parameters": estimate.parameters,
            "trained_parameters": trained_parameters(spec), "trainable": TRAINABLE, "context": context,
            "batch_size": batch, "steps": steps, "checkpoint_interval": interval, "corpus_bytes": corpus_bytes,
            "init_bytes": (home / "init.safetensors").stat().st_size, "checkpoint_bytes": result["bytes"],
            "estimated_checkpoint_bytes": estimate.checkpoint_bytes,
            "cli_seconds": {k: round(v, 2) for k, v in times.items()},
            "job_seconds_since_posted": {k.lower(): round(v, 1) for k, v in seen.items()},
            "audit_windows_seconds": {"commit": WINDOWS["commit_window"], "reveal": WINDOWS["reveal_window"]},
            "verdicts": [v["agrees"] for v in view["verdicts"]], "final_loss": view["final_loss"],
        }


def markdown(r: dict) -> list[str]:
    mib = 2**20
    phases = r["job_seconds_since_posted"]
    lines = [
        "## Fine-tuning a 124M decoder end to end",
        "",
        (f"`make bench-finetune` (bench/finetune.py): a GPT-2-small-shaped decoder ({r['parameters']:,} parameters, "
         f"context {r['context']}, batch {r['batch_size']}) fine-tuned from a user's own weights on a "
         f"{r['corpus_bytes'] // 1024} KiB corpus (the standard library's sources), training only "
         f"{', '.join(f'`{p}`' for p in r['trainable'])} ({r['trained_parameters']:,} parameters), {r['steps']} steps "
         f"with a checkpoint every {r['checkpoint_interval']}; everything through `pinpoint-job` and the REST API on "
         "the local stack (one solver, one verifier, one referee on this machine's two cores)."),
        "",
        "| what | value |",
        "| --- | ---: |",
        f"| weights artifact uploaded (init) | {r['init_bytes'] / mib:,.0f} MiB |",
        (f"| one checkpoint (weights + AdamW state of the trained part) | {r['checkpoint_bytes'] / mib:,.0f} MiB "
         f"(estimate {r['estimated_checkpoint_bytes'] / mib:,.0f} MiB) |"),
    ]
    lines += [f"| `pinpoint-job` {name} | {seconds:,.1f} s |" for name, seconds in r["cli_seconds"].items()]
    lines += [f"| job {state} after posting | {seconds:,.0f} s |" for state, seconds in phases.items()]
    lines += [
        f"| verifier verdicts | {', '.join('agrees' if a else 'disagrees' for a in r['verdicts'])} |",
        f"| final loss | {r['final_loss']:.3f} |",
        "",
        (f"The audit's commit window is {r['audit_windows_seconds']['commit']} s here (the demo's is 8 s): a verifier "
         "replays a sampled interval before committing, and at this size that takes longer than the demo's window. "
         "The deployment's windows must cover the slowest replay a job may ask for; `ape run deploy` defaults to hours."),
    ]
    return lines


def main(argv: list[str] | None = None) -> None:
    from bench.run import publish

    parser = argparse.ArgumentParser(prog="python -m bench.finetune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--interval", type=int, default=8)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--context", type=int, default=256)
    args = parser.parse_args(argv)
    result = run(args.steps, args.interval, args.batch, args.context)
    print(json.dumps(result, indent=2))
    publish("fine_tune", result, markdown(result))


if __name__ == "__main__":
    main()
