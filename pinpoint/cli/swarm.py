"""`pinpoint swarm`: train one model on K solvers in rounds (contracts/Swarm.sol, pinpoint/swarm.py).

    pinpoint swarm post job.json --replicas 4 --rounds 10 --max-price 0.01   # the spec's `steps` are each round's
    pinpoint swarm drive 1 job.json      # as its submitter: post every round's shares, replace failed replicas
    pinpoint swarm show 1 [--json]       # slots, standbys, the current round and each share's state

A swarm's auction gives K slots to the K lowest bids (the next ones stand by). Each replica's share of a round
is an ordinary job reserved for its slot's holder: verified and paid on its own, so pay streams per round, and
a replica that cheats or goes silent is slashed and its slot handed to a standby without starting over.
`drive` must run while the swarm trains (it posts each round once the previous one is verified).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pinpoint import keys
from pinpoint.chain import Chain, JobState, SwarmState
from pinpoint.cli.errors import UserError, guarded
from pinpoint.client import CoordinatorClient
from pinpoint.settings import get_settings
from pinpoint.spec import JobSpec, parse_spec
from pinpoint.swarm import SwarmDriver, post_swarm
from pinpoint.units import ether, format_eth


def training_spec(path: str) -> JobSpec:
    spec = parse_spec(Path(path).read_bytes())
    if not isinstance(spec, JobSpec) or spec.swarm is not None:
        raise UserError(f"{path}: a swarm trains a plain training spec (no `swarm` section; its steps are each round's)")
    return spec


def post(args, settings) -> int:
    spec = training_spec(args.spec)
    chain = Chain.from_settings(settings, private_key=keys.private_key(settings, args.key, args.account))
    if chain.swarm is None:
        raise UserError("this deployment has no Swarm contract: redeploy (`ape run deploy`) to train on K solvers")
    challenge = args.challenge or chain.minimum_challenge_seconds()
    swarm_id = post_swarm(chain, CoordinatorClient(settings.coordinator_url), spec, replicas=args.replicas,
                          rounds=args.rounds, standbys=args.standbys, max_price_per_round=args.max_price,
                          bidding_seconds=args.bidding, accept_seconds=args.accept, execution_seconds=args.execution,
                          challenge_seconds=challenge)
    if args.json:
        print(json.dumps({"swarm_id": swarm_id, "spec_hash": spec.spec_hash()}))
    else:
        print(f"swarm {swarm_id} posted: {args.replicas} replicas x {args.rounds} rounds of {spec.steps} steps, at most "
              f"{format_eth(args.max_price)} a replica a round (paid as each round's share is verified).\n"
              f"  bidding closes in {args.bidding} s; then run: pinpoint swarm drive {swarm_id} {args.spec}")
    return 0


def drive(args, settings) -> int:
    spec = training_spec(args.spec)
    chain = Chain.from_settings(settings, private_key=keys.private_key(settings, args.key, args.account))
    client = CoordinatorClient.for_chain(settings.coordinator_url, chain)  # signs its uploads (the round's updates)
    driver = SwarmDriver(chain, client, spec, args.swarm_id, say=print)
    state = driver.tick()
    while state in (SwarmState.BIDDING, SwarmState.RUNNING):
        time.sleep(args.interval)
        state = driver.tick()
    print(f"swarm {args.swarm_id}: {state.name.lower()}")
    return 0 if state == SwarmState.COMPLETED else 1


def show(args, settings) -> int:
    chain = Chain.from_settings(settings)
    if chain.swarm is None:
        raise UserError("this deployment has no Swarm contract")
    swarm = chain.swarm.functions
    terms = chain.get_swarm(args.swarm_id)
    if terms["state"] == SwarmState.NONE:
        raise UserError(f"no swarm {args.swarm_id} on chain")
    holders, prices = swarm.slots(args.swarm_id).call()
    current = terms["currentRound"]
    shares = []
    for slot in range(terms["replicas"]):
        job_id = swarm.replicaJob(args.swarm_id, current, slot).call() if holders else 0
        state = JobState(chain.market.functions.jobState(job_id).call()).name.lower() if job_id else None
        shares.append({"slot": slot, "holder": holders[slot] if holders else None,
                       "price_wei": str(prices[slot]) if prices else None, "job_id": job_id or None, "job_state": state})
    view = {"swarm_id": args.swarm_id, "state": terms["state"].name.lower(), "spec_hash": terms["specHash"],
            "replicas": terms["replicas"], "rounds": terms["rounds"], "current_round": current, "shares": shares,
            "standbys": [a for a in swarm.standbysOf(args.swarm_id).call()[0]]}
    if args.json:
        print(json.dumps(view))
        return 0
    print(f"swarm {args.swarm_id}: {view['state']}, round {current + 1} of {terms['rounds']}, {terms['replicas']} replicas")
    for share in shares:
        price = format_eth(int(share["price_wei"])) if share["price_wei"] else "-"
        print(f"  replica {share['slot']}: {share['holder'] or '(auction open)'} at {price} a round; "
              f"this round: {'job ' + str(share['job_id']) + ' ' + share['job_state'] if share['job_id'] else 'not posted'}")
    if view["standbys"]:
        print("  standbys: " + ", ".join(view["standbys"]))
    return 0


def build_parser(prog: str = "pinpoint swarm") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--account", help="sign with this account's key file (default: PINPOINT_ACCOUNT)")
    parser.add_argument("--key", help="a raw private key (prefer --account; default: PINPOINT_PRIVATE_KEY)")
    sub = parser.add_subparsers(dest="command", required=True)
    new = sub.add_parser("post", help="post a swarm: its auction opens at once")
    new.add_argument("spec", help="path of a training spec JSON; its `steps` are each round's")
    new.add_argument("--replicas", type=int, default=4, help="K, solvers training side by side (default 4)")
    new.add_argument("--rounds", type=int, required=True, help="rounds to train")
    new.add_argument("--standbys", type=int, default=2, help="bids kept to replace failed replicas (default 2)")
    new.add_argument("--max-price", type=ether, required=True, help="the most a replica is paid per round, in ether")
    new.add_argument("--bidding", type=int, default=60, help="auction window, seconds (default 60)")
    new.add_argument("--accept", type=int, default=120, help="time a holder has to accept each share (default 120)")
    new.add_argument("--execution", type=int, default=3600, help="each share's execution window (default 3600)")
    new.add_argument("--challenge", type=int, help="each share's review window (default: the market's minimum)")
    new.add_argument("--json", action="store_true", help="machine-readable output")
    run = sub.add_parser("drive", help="as the submitter, post each round's shares and replace failed replicas")
    run.add_argument("swarm_id", type=int)
    run.add_argument("spec", help="the training spec the swarm was posted with")
    run.add_argument("--interval", type=float, default=2.0, help="seconds between passes (default 2)")
    look = sub.add_parser("show", help="the swarm's slots, standbys and current round")
    look.add_argument("swarm_id", type=int)
    look.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: list[str] | None = None, prog: str = "pinpoint swarm") -> int:
    args = build_parser(prog).parse_args(argv)
    commands = {"post": post, "drive": drive, "show": show}
    return guarded(f"{prog} {args.command}", lambda: commands[args.command](args, get_settings()))


if __name__ == "__main__":
    sys.exit(main())
