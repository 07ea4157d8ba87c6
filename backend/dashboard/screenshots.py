"""Screenshots of the dashboard for the README, taken of a real local Pinpoint: a training job (the example MLP)
and an inference job on its final checkpoint run to the end, then Debian's Chromium, driven by Playwright,
photographs the market, the training job's page and the inference job's proven outputs.

    python -m backend.dashboard.screenshots            # writes docs/screenshots/{market,job,outputs}.png
    python -m backend.dashboard.screenshots --keep     # then leaves the stack running to look around

Needs the dev extras (playwright) and /usr/bin/chromium (`make screenshots` installs both). The helpers here
(`launch_chromium`, `submit_training`, `submit_inference`) are the dashboard tests' too.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from pinpoint.chain import Chain
from pinpoint.client import CoordinatorClient
from pinpoint.inference import inputs_artifact
from pinpoint.localnet import ANVIL_KEYS, LOCAL_DEPLOY, LocalStack, free_port
from pinpoint.spec import (
    InferenceSpec,
    JobSpec,
    example_inference_spec,
    example_mlp_spec,
)
from pinpoint.tensors import float32_tensor

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
"""Debian's Chromium as root on a machine without internet: no sandbox (root), no background connections."""
ETHER = 10**18
MAX_PRICE = ETHER // 20
DEPLOY = dict(LOCAL_DEPLOY, commit_window=30, reveal_window=20)
"""make demo's windows, but for the audit: a verifier on a busy machine still commits and reveals in time."""
CHALLENGE_SECONDS = DEPLOY["commit_window"] + DEPLOY["reveal_window"]  # the shortest the market accepts
REPO = Path(__file__).resolve().parents[2]


def launch_chromium(playwright):
    """Debian's Chromium (Playwright's own browser download is not reachable here)."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (`make chromium`, as root: "
                           "apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def start_stack(stack: LocalStack, progress=print) -> None:
    """Chain, Redis, contracts (with `DEPLOY`'s windows), coordinator, a solver, a verifier and a referee."""
    stack.start_all(progress=progress, deploy_options=DEPLOY)


def submit_training(stack: LocalStack, **terms) -> tuple[int, JobSpec]:
    """The example MLP job (64 steps, 8 checkpoints), posted by the submitter (Anvil key 1) with short windows."""
    submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
    spec = example_mlp_spec()
    accepted = CoordinatorClient.for_chain(stack.api_url, submitter).submit_spec(spec)
    job_id = submitter.post_job(accepted["spec_hash"], spec.checkpoint_count, spec.checkpoint_interval,
                                max_price=MAX_PRICE, bidding_seconds=4, execution_seconds=600,
                                challenge_seconds=CHALLENGE_SECONDS, **terms)
    return job_id, spec


def submit_inference(stack: LocalStack, weights: str, count: int = 8, **terms) -> tuple[int, InferenceSpec]:
    """An inference job running the example MLP with `weights` (an artifact id, e.g. a training job's final
    checkpoint) on `count` random rows, which the submitter uploads."""
    submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
    api = CoordinatorClient.for_chain(stack.api_url, submitter)
    draw = random.Random(11)
    rows = [[draw.gauss(0, 1) for _ in range(16)] for _ in range(count)]
    spec = example_inference_spec(weights, api.upload_artifact(inputs_artifact(float32_tensor(rows))), count)
    accepted = api.submit_spec(spec)
    job_id = submitter.post_job(accepted["spec_hash"], count, 1, max_price=MAX_PRICE, bidding_seconds=4,
                                execution_seconds=600, challenge_seconds=CHALLENGE_SECONDS, **terms)
    return job_id, spec


def wait_for(predicate, what: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.5)
    raise TimeoutError(f"timed out waiting for {what}")


def ended(api: CoordinatorClient, job_id: int) -> dict:
    """The job as indexed once it ended (finalized, or another final state) and a verdict is in."""
    return wait_for(lambda: (job := api.job(job_id))["state"] not in ("bidding", "running", "submitted", "disputed")
                    and job["verdicts"] and job, f"job {job_id} to end")


def final_checkpoint(api: CoordinatorClient, job_id: int) -> str:
    """The artifact of a training job's last checkpoint, once its solver reported it."""
    def reported():
        job = api.job(job_id)
        last = [c for c in job["checkpoints"] if c["index"] == job["checkpoint_count"] and c["artifact"]]
        return last[0]["artifact"] if last else None

    return wait_for(reported, f"job {job_id}'s final checkpoint")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--keep", action="store_true", help="leave the stack running afterwards (Ctrl-C stops it)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pinpoint-screenshots-") as home, \
            LocalStack(Path(home), chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        start_stack(stack)
        api = CoordinatorClient(stack.api_url)
        print("training job: the example MLP")
        train_id, _ = submit_training(stack)
        print("inference job: its final checkpoint on 8 inputs (while the training job is under review)")
        infer_id, _ = submit_inference(stack, final_checkpoint(api, train_id))
        for job_id in (train_id, infer_id):
            print(f"job {job_id}: {ended(api, job_id)['state']}")
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1280, "height": 1100}, device_scale_factor=1)
            for name, path, ready in (("market", "/#/", "#recent-jobs tr.job"),
                                      ("job", f"/#/jobs/{train_id}", "#loss .loss-point"),
                                      ("outputs", f"/#/jobs/{infer_id}/outputs", "tr.output td.ok")):
                page.goto(stack.api_url + path)
                page.wait_for_selector(ready)
                page.wait_for_timeout(500)  # the live indicator connects
                page.screenshot(path=args.out / f"{name}.png")
                print(f"wrote {args.out / f'{name}.png'}")
            browser.close()
        if args.keep:
            print(f"the dashboard is at {stack.api_url}/ (Ctrl-C stops the stack)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
