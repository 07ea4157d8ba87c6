"""Dispute costs on a real Anvil chain: gas per move, and total gas, rounds and wall time of a complete
dispute over intervals of 2^4, 2^10 and 2^16 steps.

The bisection does not care what a state is, so these games use synthetic state hashes: the true
trajectory is state[s+1] = keccak(state[s] || s), the cheating solver's leaves it at a random step, and the
referee answers from the true trajectory (a real referee runs one training step instead).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from eth_utils import keccak

from pinpoint.chain import Chain, Phase
from pinpoint.localnet import ANVIL_KEYS, LocalStack, free_port
from pinpoint.merkle import checkpoint_tree
from worker.referee import answer_alone

ETHER = 10**18


class Trajectory:
    """State hashes along a run, computed lazily; `deviation` is the first step a cheater gets wrong."""

    def __init__(self, seed: bytes, deviation: int | None = None):
        self.seed, self.deviation, self.cache = seed, deviation, {0: keccak(seed)}

    def __call__(self, step: int) -> bytes:
        if step not in self.cache:
            last = max(s for s in self.cache if s < step)
            state = self.cache[last]
            for s in range(last, step):
                state = keccak(state + s.to_bytes(32, "big") + (b"lie" if self.deviation is not None and s >= self.deviation else b""))
            self.cache[step] = state
        return self.cache[step]


def play(stack: LocalStack, interval: int, rng: random.Random) -> dict:
    submitter, solver, challenger, referee = (Chain(stack.rpc_url, stack.deployment_file, k) for k in ANVIL_KEYS[1:5])
    w3 = submitter.w3

    def advance(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])

    truth = Trajectory(b"bench")
    cheat = Trajectory(b"bench", deviation=rng.randrange(interval))
    job_id = submitter.post_job("0x" + keccak(b"spec").hex(), 1, interval, max_price=ETHER // 10,
                                required_stake=ETHER // 2, bidding_seconds=60, execution_seconds=600,
                                challenge_seconds=3600)
    solver.transact("Market", "bid", job_id, ETHER // 20)
    advance(61)
    solver.transact("Market", "closeBidding", job_id)
    tree = checkpoint_tree(job_id, [cheat(0), cheat(interval)], interval)
    solver.transact("Market", "submitResult", job_id, tree.root)
    advance(1)
    advance(1)  # the seed block exists, and calls see it
    challenger.transact("Market", "sealSample", job_id)
    advance(challenger.audit.functions.commitWindow().call() + 1)  # challenges open after the commit window

    gas: dict[str, list[int]] = {}

    def send(party: Chain, contract: str, function: str, *args, value: int = 0) -> None:
        gas.setdefault(f"{contract}.{function}", []).append(party.transact(contract, function, *args, value=value)["gasUsed"])

    start = time.perf_counter()
    proofs = [[bytes.fromhex(p[2:]) for p in tree.get_proof(i)] for i in (0, 1)]
    bond = challenger.game.functions.challengeBond().call()
    send(challenger, "DisputeGame", "challenge", job_id, 0, cheat(0), proofs[0], cheat(interval), proofs[1],
         truth(interval), value=bond)
    dispute_id = challenger.game.functions.disputeCount().call()
    rounds = 0
    while (dispute := challenger.dispute(dispute_id))["phase"] in (Phase.REVEAL, Phase.RESPOND):
        mid = challenger.game.functions.midpoint(dispute_id).call()
        if dispute["phase"] == Phase.REVEAL:
            send(solver, "DisputeGame", "reveal", dispute_id, cheat(mid))
        else:
            send(challenger, "DisputeGame", "respond", dispute_id, truth(mid) == cheat(mid))
            rounds += 1
    send(solver, "DisputeGame", "serveState", dispute_id, keccak(b"artifact"))
    request_id = referee.court.functions.requestCount().call()
    for _ in range(2):  # the draw uses the hash of the block after the request, so it must exist first
        w3.provider.make_request("evm_mine", [])
    lo = challenger.dispute(dispute_id)["lo"]
    for step, used in answer_alone(referee, request_id, truth(lo + 1), advance).items():  # a panel of one
        gas.setdefault(f"RefereeCourt.{step}", []).append(used)
    seconds = time.perf_counter() - start
    outcome = challenger.dispute(dispute_id)
    assert outcome["phase"] == Phase.RESOLVED and not outcome["solverWon"], "the honest challenger must win"
    return {"gas": gas, "rounds": rounds, "seconds": seconds, "deviation": cheat.deviation, "lo": lo}


def measure_disputes(exponents=(4, 10, 16)) -> dict:
    rng = random.Random(7)
    with LocalStack(Path(tempfile.mkdtemp(prefix="pinpoint-bench-")), chain_port=free_port(), api_port=free_port()) as stack:
        stack.start_chain()
        stack.deploy()
        solver, referee = (Chain(stack.rpc_url, stack.deployment_file, k) for k in (ANVIL_KEYS[2], ANVIL_KEYS[4]))
        solver.transact("Staking", "deposit", value=10 * ETHER)
        referee.transact("RefereeCourt", "register", value=referee.court.functions.minBond().call())
        games = {2**k: play(stack, 2**k, rng) for k in exponents}
    per_move: dict[str, list[int]] = {}
    for game in games.values():
        for move, values in game["gas"].items():
            per_move.setdefault(move, []).extend(values)
    return {
        "gas_per_move": {move: round(statistics.mean(values)) for move, values in per_move.items()},
        "games": [
            {
                "interval_steps": steps,
                "rounds": game["rounds"],
                "total_gas": sum(sum(v) for v in game["gas"].values()),
                "wall_seconds": round(game["seconds"], 3),
                "cheated_at_step": game["deviation"],
                "pinpointed_step": game["lo"],
            }
            for steps, game in games.items()
        ],
    }
