"""`pinpoint-job`: the submitter's command line.

    pinpoint-job example mlp > job.json                       # a valid spec to start from
    pinpoint-job submit job.json --max-price 0.05              # store the spec, escrow, post on chain
    pinpoint-job status 1                                      # state, bids, checkpoints, loss, verdicts
    pinpoint-job claim                                         # collect refunds and slashed stakes

Chain, coordinator and key come from PINPOINT_* settings (pinpoint/settings.py) or the options.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pinpoint.chain import Chain, ChainError
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.settings import get_settings
from pinpoint.spec import (
    SpecError,
    example_mlp_spec,
    example_transformer_spec,
    parse_spec,
)

ETHER = 10**18


def ether(text: str) -> int:
    """'0.05' -> wei; refuses zero, negative and sub-wei amounts."""
    try:
        wei = Decimal(text) * ETHER
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount of ether: {text!r}") from None
    if wei <= 0 or wei != wei.to_integral_value():
        raise argparse.ArgumentTypeError(f"amount must be a positive number of ether with at most 18 decimals: {text}")
    return int(wei)


def show(wei: int | str | None) -> str:
    return "-" if wei is None else f"{Decimal(int(wei)) / ETHER} ETH"


def submit(args, settings) -> int:
    spec = parse_spec(Path(args.spec).read_bytes())
    accepted = CoordinatorClient(settings.coordinator_url).submit_spec(spec)
    chain = Chain.from_settings(settings, private_key=args.key)
    job_id = chain.post_job(
        accepted["spec_hash"], spec.checkpoint_count, spec.checkpoint_interval, max_price=args.max_price,
        samples=args.samples, required_stake=args.stake, bidding_seconds=args.bidding,
        execution_seconds=args.execution, challenge_seconds=args.challenge,
    )
    print(json.dumps({"job_id": job_id, "spec_hash": accepted["spec_hash"], "escrow_wei": str(args.max_price)}))
    return 0


def status(args, settings) -> int:
    chain = Chain.from_settings(settings)
    job = chain.job(args.job_id)
    if job["state"].name == "NONE":
        print(f"no job {args.job_id} on chain", file=sys.stderr)
        return 1
    print(f"job {args.job_id}: {job['state'].name.lower()}")
    print(f"  spec {job['specHash']}, escrow {show(job['maxPrice'])}, stake required {show(job['requiredStake'])}")
    if int(job["solver"], 16):
        print(f"  solver {job['solver']} at {show(job['price'])}")
    print(f"  progress {job['checkpointsDone']}/{job['checkpointCount']} checkpoints, root {job['progressRoot']}")
    try:
        view = CoordinatorClient(settings.coordinator_url).job(args.job_id)
    except CoordinatorError as exc:
        print(f"  (coordinator: {exc})")
        return 0
    print(f"  bids: {len(view['bids'])}; final loss: {view['final_loss'] if view['final_loss'] is not None else '-'}")
    for verdict in view["verdicts"]:
        print(f"  verdict on interval {verdict['interval']}: {'agrees' if verdict['agrees'] else 'DISAGREES'} ({verdict['detail']})")
    return 0


def claim(args, settings) -> int:
    chain = Chain.from_settings(settings, private_key=args.key)
    claimed = chain.claim_credits()
    print(f"claimed {show(claimed)} to {chain.address}" if claimed else f"nothing to claim for {chain.address}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pinpoint-job", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--key", help="submitter's private key (default: PINPOINT_PRIVATE_KEY)")
    sub = parser.add_subparsers(dest="command", required=True)
    example = sub.add_parser("example", help="print a valid example spec")
    example.add_argument("model", choices=["mlp", "char_transformer"])
    post = sub.add_parser("submit", help="store a spec with the coordinator and post the job on chain")
    post.add_argument("spec", help="path of the spec JSON")
    post.add_argument("--max-price", type=ether, required=True, help="escrow, in ether: the most you pay")
    post.add_argument("--samples", type=int, help="intervals verifiers replay (default: pinpoint.economics."
                      "default_samples, about a tenth)")
    post.add_argument("--stake", type=ether, help="stake a solver must lock, in ether (default and least: the "
                      "economics' minimum for the price and sample size, which the market enforces)")
    post.add_argument("--bidding", type=int, default=60, help="bidding window, seconds (default 60)")
    post.add_argument("--execution", type=int, default=3600, help="time the solver has after the award (default 3600)")
    post.add_argument("--challenge", type=int, default=600, help="challenge window after submission (default 600)")
    state = sub.add_parser("status", help="show a job as the chain and the coordinator see it")
    state.add_argument("job_id", type=int)
    sub.add_parser("claim", help="withdraw your credit from the market (refunds, payouts, slashed stakes)")
    args = parser.parse_args(argv)

    if args.command == "example":
        spec = example_mlp_spec() if args.model == "mlp" else example_transformer_spec()
        print(json.dumps(spec.model_dump(mode="json"), indent=2))
        return 0
    settings = get_settings()
    try:
        return {"submit": submit, "status": status, "claim": claim}[args.command](args, settings)
    except (SpecError, ChainError, CoordinatorError, OSError) as exc:
        print(f"pinpoint-job {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
