"""One model trained on K solvers in rounds, on the real stack (`make demo-swarm` runs the same scenario): every
replica's share of a round is an ordinary job, verified and paid on its own; a replica that cheats is pinpointed
and slashed, one that goes silent is slashed once its window passes, and standbys take both slots without the
swarm starting over; each later round starts from the outer step over the previous round's verified finals,
whose updates the replicas exchanged among themselves over torch.distributed."""

import hashlib
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from pinpoint.chain import Chain, JobState, SwarmState
from pinpoint.client import CoordinatorClient
from pinpoint.demo_swarm import MAX_PRICE_PER_ROUND, run_swarm
from pinpoint.localnet import LocalStack, free_port
from worker.engine.checkpoint import load_checkpoint
from worker.engine.rounds import replica_update, save_update

pytestmark = [pytest.mark.e2e, pytest.mark.solo]
K, ROUNDS = 3, 2


def test_swarm_cheaterAndSilentReplicaReplacedByStandbys_honestReplicasPaidPerVerifiedRound(tmp_path):
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        run = run_swarm(stack, K, ROUNDS, cheat=True, silent=True, say=lambda _: None)
        chain = Chain(stack.rpc_url, stack.deployment_file)
        api = CoordinatorClient(stack.api_url)
        swarm = chain.swarm
        assert chain.get_swarm(run.swarm_id)["state"] == SwarmState.COMPLETED

        attempts: dict[tuple[int, int], list[tuple[int, str]]] = defaultdict(list)
        for (round_, slot, job_id), solver in sorted(run.shares.items(), key=lambda item: item[0][2]):
            attempts[round_, slot].append((job_id, solver))
        state = {job_id: chain.job(job_id)["state"] for tries in attempts.values() for job_id, _ in tries}
        name = {role.address: role.name for role in run.roles}

        # Round 0: the cheater's share was slashed and the silent one's failed; each slot went to a standby,
        # whose share of the same round was verified. Nobody else lost a slot: a share that ended Unverified
        # (no verifier approved it in time on a loaded machine) went to the same holder again.
        posted = {key: [(j, state[j].name, name[s]) for j, s in tries] for key, tries in attempts.items()}
        cheated, silent = attempts[0, 1], attempts[0, 2]
        assert [(state[j], name[s]) for j, s in cheated[:1]] == [(JobState.SLASHED, "replica-1-cheater")], posted
        assert [(state[j], name[s]) for j, s in silent[:1]] == [(JobState.FAILED, "replica-2-silent")], posted
        assert {name[cheated[1][1]], name[silent[1][1]]} == {"standby-1", "standby-2"}, posted
        assert all(state[tries[-1][0]] == JobState.FINALIZED for tries in attempts.values()), posted
        for (round_, slot), tries in attempts.items():
            replaced = 1 if (round_, slot) in ((0, 1), (0, 2)) else 0
            assert all(state[j] == JobState.UNVERIFIED for j, _ in tries[replaced:-1]), posted
            assert len({s for _, s in tries[replaced:]}) == 1, posted  # one holder from then on
        holders, _ = swarm.functions.slots(run.swarm_id).call()
        assert holders[1:] == [cheated[1][1], silent[1][1]]  # the standbys kept the slots

        # Pay streamed per verified round: the honest replica 0 was paid its price for each round's share.
        paid = {e.args.jobId: e.args.solverPayout for e in chain.market.events.JobFinalized().get_logs(from_block=0)}
        honest = [attempts[r, 0][-1][0] for r in range(ROUNDS)]
        assert all(0 < paid[j] <= MAX_PRICE_PER_ROUND for j in honest)
        slashed = {e.args.jobId: e.args.amount for e in chain.market.events.SolverSlashed().get_logs(from_block=0)}
        assert set(slashed) == {cheated[0][0], silent[0][0]}
        assert all(amount == chain.job(job_id)["requiredStake"] for job_id, amount in slashed.items())

        # Round 1 starts from round 0's verified shares: its specs name replica 0's start and, in replica order,
        # each replica's int8 update from it to its verified final checkpoint.
        def checkpoint(job_id: int, index: int):
            return load_checkpoint(api.download_artifact(api.job(job_id)["checkpoints"][index]["artifact"]))

        start = api.job(attempts[0, 0][-1][0])["checkpoints"][0]["artifact"].removeprefix("0x")
        weights = lambda c: {k.removeprefix("model."): t for k, t in c.tensors.items()
                             if k.startswith("model.") and t.is_floating_point()}
        updates = [hashlib.sha256(save_update(replica_update(weights(checkpoint(attempts[0, 0][-1][0], 0)),
                                                              weights(checkpoint(attempts[0, s][-1][0], -1))))).hexdigest()
                   for s in range(K)]
        for slot in range(K):
            spec = api.spec(chain.job(attempts[1, slot][-1][0])["specHash"])
            assert (spec.swarm.round, spec.swarm.replica, spec.swarm.start, spec.swarm.updates) == (1, slot, start, updates)

        # The replicas that ended round 0 (the standbys included) exchanged their updates over torch.distributed
        # as they submitted, and each built round 1's start from the bytes it received, not from downloads.
        for slot in range(K):
            log = (stack.logs / f"{name[attempts[1, slot][-1][1]]}.log").read_text()
            assert f"exchanged round 0's updates with {K} replicas over torch.distributed" in log, slot
            assert all(f"artifact 0x{u}: received in its round's exchange" in log for u in updates), slot

        # `pinpoint swarm show` tells the same story.
        env = dict(os.environ, PINPOINT_RPC_URL=stack.rpc_url, PINPOINT_DEPLOYMENT_FILE=str(stack.deployment_file),
                   PINPOINT_COORDINATOR_URL=stack.api_url)
        shown = json.loads(subprocess.run([str(Path(sys.executable).parent / "pinpoint"), "swarm", "show",
                                           str(run.swarm_id), "--json"], env=env, capture_output=True, text=True,
                                          check=True).stdout)
        assert (shown["state"], shown["current_round"], len(shown["shares"])) == ("completed", ROUNDS - 1, K)
        assert [s["job_id"] for s in shown["shares"]] == [attempts[ROUNDS - 1, s][-1][0] for s in range(K)]
        assert {s["job_state"] for s in shown["shares"]} == {"finalized"}

        # The swarm holds no money; the market's books balance.
        assert chain.w3.eth.get_balance(swarm.address) == 0
        market = chain.market.functions
        assert chain.w3.eth.get_balance(chain.market.address) == market.totalEscrow().call() + market.totalCredits().call()
