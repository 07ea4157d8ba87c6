"""`make demo-swarm`: one model trained on K solvers in rounds on this machine, a replica that cheats and one
that goes silent replaced by standbys while the others are paid per verified round.

Starts the local network with K + 2 solvers (the K cheapest bids take the slots, the others stand by), a
verifier and a referee; posts a swarm (contracts/Swarm.sol) training the example MLP for R rounds; then drives
it as its submitter (pinpoint/swarm.py). Replica 1 cheats in its first share (a weight perturbed at step 3): it
is disputed, pinpointed and slashed, and the first standby takes its slot. Replica 2's host is killed once it
has accepted its first share: its execution window passes, it is slashed, and the second standby takes over.
Every round starts from the outer step over the previous round's verified final checkpoints.

    python -m pinpoint.demo_swarm                       # K=4, R=3, a cheater and a silent replica
    python -m pinpoint.demo_swarm --replicas 3 --rounds 2 --honest
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pinpoint.chain import Chain, JobState, SwarmState
from pinpoint.client import CoordinatorClient
from pinpoint.localnet import (
    ANVIL_KEYS,
    LOCAL_REVIEW_SECONDS,
    LocalStack,
    Role,
    anvil_key,
    free_port,
)
from pinpoint.spec import JobSpec, example_mlp_spec
from pinpoint.swarm import SwarmDriver, post_swarm
from pinpoint.units import WEI_PER_ETH, format_eth

CHEAT = "perturb_once@3"
MAX_PRICE_PER_ROUND = WEI_PER_ETH // 100


@dataclass
class SwarmRun:
    """What happened: the swarm, every share it posted ((round, slot, job id) -> its holder), and the hosts."""

    swarm_id: int
    roles: list[Role]
    shares: dict[tuple[int, int, int], str] = field(default_factory=dict)
    killed: str | None = None

    def address(self, name: str) -> str:
        return next(role.address for role in self.roles if role.name == name)


def swarm_roles(replicas: int, cheat: bool, silent: bool) -> list[Role]:
    """K slot holders bidding 0.001, 0.0011, ... ETH a round (replica 1 the cheater, replica 2 the one that goes
    silent), two standbys bidding more, a verifier and a referee: Anvil accounts 2, 3, ..."""
    roles = []
    for k in range(replicas + 2):
        name = f"replica-{k}" if k < replicas else f"standby-{k - replicas + 1}"
        options = ("--min-price", f"{0.001 + 0.0001 * k:.4f}")
        if cheat and k == 1:
            options += ("--cheat", CHEAT)
        roles.append(Role(name + ("-cheater" if cheat and k == 1 else "-silent" if silent and k == 2 else ""),
                          "solver", anvil_key(2 + k), options=options))
    roles += [Role("verifier", "verifier", anvil_key(replicas + 4)), Role("referee", "referee", anvil_key(replicas + 5), "0.1")]
    return roles


def base_spec() -> JobSpec:
    """Each round: 16 steps of the example MLP, a checkpoint every 8."""
    return example_mlp_spec(steps=16, checkpoint_interval=8)


def run_swarm(stack: LocalStack, replicas: int, rounds: int, cheat: bool, silent: bool,
              say: Callable[[str], None] = print, timeout: float = 1800) -> SwarmRun:
    """Start the network, post the swarm and drive it to its end; returns what happened."""
    roles = swarm_roles(replicas, cheat, silent)
    say(f"starting a local network: {replicas} replicas and 2 standbys, a verifier and a referee")
    stack.start_all(roles=roles, progress=say)
    submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
    client = CoordinatorClient.for_chain(stack.api_url, submitter)  # signs its uploads (the round's updates)
    base = base_spec()
    swarm_id = post_swarm(submitter, client, base, replicas=replicas, rounds=rounds, standbys=2,
                          max_price_per_round=MAX_PRICE_PER_ROUND, bidding_seconds=10, accept_seconds=30,
                          execution_seconds=90, challenge_seconds=LOCAL_REVIEW_SECONDS,
                          samples=base.checkpoint_count)  # every interval replayed: the cheat is caught for sure
    say(f"swarm {swarm_id}: {replicas} replicas x {rounds} rounds of {base.steps} steps, at most "
        f"{format_eth(MAX_PRICE_PER_ROUND)} a replica a round; bidding for 10 s")
    run = SwarmRun(swarm_id, roles)
    driver = SwarmDriver(submitter, client, base, swarm_id, say=lambda line: say(f"swarm {swarm_id}: {line}"))
    deadline = time.monotonic() + timeout
    state = SwarmState.BIDDING
    while state not in (SwarmState.COMPLETED, SwarmState.CANCELLED, SwarmState.ENDED):
        if time.monotonic() > deadline:
            raise TimeoutError(f"swarm {swarm_id} is still {state.name.lower()} after {timeout:.0f} s")
        state = driver.tick()
        record_shares(submitter, run)
        if silent and run.killed is None:
            silence_replica_2(stack, submitter, run, say)
        time.sleep(1)
    say(f"swarm {swarm_id}: {state.name.lower()}")
    return run


def record_shares(chain: Chain, run: SwarmRun) -> None:
    """Every share the swarm posted, from its ReplicaPosted events."""
    for event in chain.swarm.events.ReplicaPosted().get_logs(
            from_block=0, argument_filters={"swarmId": run.swarm_id}):
        run.shares.setdefault((event.args.round, event.args.slot, event.args.jobId), event.args.solver)


def silence_replica_2(stack: LocalStack, chain: Chain, run: SwarmRun, say: Callable[[str], None]) -> None:
    """Kill replica 2's host once it has accepted its first share: it goes silent mid-job."""
    name = next(role.name for role in run.roles if role.name.endswith("-silent"))
    address = run.address(name).lower()
    for (_, _, job_id), solver in run.shares.items():
        if solver.lower() == address and chain.job(job_id)["state"] == JobState.RUNNING:
            process = dict(stack.processes)[name]
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            run.killed = name
            say(f"{name} accepted job {job_id}, then its host went down: it will miss its execution deadline")
            return


def summarize(chain: Chain, run: SwarmRun, say: Callable[[str], None] = print) -> None:
    """Per round and replica: the share, its holder, how it ended and what it paid."""
    market = chain.market
    finalized = {e.args.jobId: e.args.solverPayout for e in market.events.JobFinalized().get_logs(from_block=0)}
    slashed = {e.args.jobId: e.args.amount for e in market.events.SolverSlashed().get_logs(from_block=0)}
    names = {role.address.lower(): role.name for role in run.roles}
    say("")
    say(f"{'round':>5} {'slot':>4}  {'job':>4}  {'holder':<26} {'outcome':<11} paid / slashed")
    for (round_, slot, job_id), solver in sorted(run.shares.items()):
        state = chain.job(job_id)["state"].name.lower()
        money = (f"paid {format_eth(finalized[job_id])}" if job_id in finalized
                 else f"slashed {format_eth(slashed[job_id])}" if job_id in slashed else "-")
        say(f"{round_:>5} {slot:>4}  {job_id:>4}  {names.get(solver.lower(), solver):<26} {state:<11} {money}")
    paid: dict[str, int] = {}
    for (_, _, job_id), solver in run.shares.items():
        paid[solver.lower()] = paid.get(solver.lower(), 0) + finalized.get(job_id, 0)
    say("")
    for address, name in names.items():
        if address in paid:
            say(f"  {name:<26} earned {format_eth(paid[address])} over the swarm")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pinpoint-demo-swarm", description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=4, help="K, the solvers training side by side (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of 16 steps each (default 3)")
    parser.add_argument("--honest", action="store_true", help="no cheater and no silent replica")
    parser.add_argument("--home", type=Path, default=Path(".pinpoint") / "demo-swarm", help="state and logs")
    args = parser.parse_args(argv)
    if args.replicas < 3 and not args.honest:
        parser.error("--replicas: at least 3 when one replica cheats and another goes silent (or pass --honest)")
    with LocalStack(args.home, free_port(), free_port(), redis_url=os.environ.get("REDIS_URL")) as stack:
        run = run_swarm(stack, args.replicas, args.rounds, cheat=not args.honest, silent=not args.honest)
        summarize(Chain(stack.rpc_url, stack.deployment_file), run)
        print(f"\nlogs: {stack.logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
