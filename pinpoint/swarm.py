"""The submitter's side of a swarm: one model trained on K solvers in rounds (contracts/Swarm.sol).

Each replica's share of a round is an ordinary market job reserved for its slot's holder (a fine-tuning-like
`JobSpec` with a `swarm` section, pinpoint/spec.py): committed, sampled, audited, disputed and paid on its own,
so pay streams per verified round and a cheating replica loses its own stake. The driver does what only the
submitter may do, one `tick` at a time:

- posts each replica's share of the current round (its spec uploaded first), paying the slot's price and the
  verifiers' reward (pinpoint.economics);
- once every share of a round is Finalized, names the next round's start: checkpoint 0 of replica 0 (the
  round's global weights and outer momentum) and each replica's update, the int8-compressed difference between
  that start and its final checkpoint, made here and uploaded for the verifiers (a quarter of the weights'
  bytes; the replicas have already exchanged the same bytes among themselves, worker/round_exchange.py); both
  checkpoints are checked against their job's committed root before use (the coordinator is not trusted). The engine's outer step turns them into the next global weights
  (worker/engine/training.py), and every verifier recomputes it (worker/genesis.py);
- hands the slot of a share that was never accepted, went silent (Failed) or cheated (Slashed) to the next
  standby (`vacate`, which anyone may call) and posts the same share again; an Unverified share is posted again
  to the same holder. The other replicas are not touched: their verified rounds are paid.

Anyone may close the auction; the keeper's exits (closeBidding, reportMissedDeadline, finalize) move the
shares along. Only making the updates needs torch (the engine's one definition of them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from web3.logs import DISCARD

from pinpoint.chain import Chain, ChainError, JobState, SwarmState
from pinpoint.client import CoordinatorClient
from pinpoint.economics import job_economics
from pinpoint.merkle import checkpoint_tree
from pinpoint.spec import JobSpec, OuterOptimizerSpec, swarm_round_spec
from pinpoint.tensors import SafetensorsError, read_safetensors, state_hash

log = logging.getLogger(__name__)


LIVE = (JobState.BIDDING, JobState.RUNNING, JobState.SUBMITTED, JobState.DISPUTED)
REPLACED = (JobState.CANCELLED, JobState.FAILED, JobState.SLASHED)
"""A share's holder that never accepted, went silent or cheated loses its slot to the next standby."""


class SwarmInputError(RuntimeError):
    """A finished round's checkpoints cannot be had as committed: the next round cannot be named."""


@dataclass(frozen=True)
class RoundInputs:
    """What round r > 0 starts from: checkpoint 0 of a replica of round r-1, its K update artifacts, and each
    replica's final checkpoint (whose inner optimizer state that replica goes on from)."""

    start: str
    updates: list[str]
    finals: list[str]


def post_swarm(chain: Chain, client: CoordinatorClient, base: JobSpec, *, replicas: int, rounds: int, standbys: int,
               max_price_per_round: int, bidding_seconds: int, accept_seconds: int, execution_seconds: int,
               challenge_seconds: int, samples: int | None = None) -> int:
    """Post a swarm training `base` (its `steps` are each round's) on `replicas` solvers for `rounds` rounds;
    the stake and (unless given) the sample size are pinpoint.economics' for one round's share. Returns the
    swarm's id."""
    client.submit_spec(base)
    terms = job_economics(max_price_per_round, base.checkpoint_count, samples)
    receipt = chain.transact("Swarm", "post", base.spec_hash(), replicas, rounds, standbys, (
        base.checkpoint_count, base.checkpoint_interval, terms.samples, max_price_per_round, terms.required_stake,
        bidding_seconds, accept_seconds, execution_seconds, challenge_seconds))
    return chain.swarm.events.SwarmPosted().process_receipt(receipt, errors=DISCARD)[0]["args"]["swarmId"]


class SwarmDriver:
    def __init__(self, chain: Chain, client: CoordinatorClient, base: JobSpec, swarm_id: int,
                 outer: OuterOptimizerSpec | None = None, say: Callable[[str], None] = log.info):
        self.chain, self.client, self.base, self.swarm_id = chain, client, base, swarm_id
        self.outer = outer
        self.say = say
        self.inputs: dict[int, RoundInputs] = {}
        self.contract = chain.swarm
        terms = self.terms()
        if terms["specHash"] != base.spec_hash():
            raise ValueError(f"swarm {swarm_id} trains spec {terms['specHash']}, not {base.spec_hash()}")

    def terms(self) -> dict:
        return self.chain.get_swarm(self.swarm_id)

    def job_of(self, round: int, slot: int) -> int:
        return self.contract.functions.replicaJob(self.swarm_id, round, slot).call()

    def tick(self) -> SwarmState:
        """One pass: close the auction once it is due, post what is due, hand failed slots on. Returns the
        swarm's state (Completed, Cancelled and Ended are final)."""
        terms = self.terms()
        state = terms["state"]
        if state == SwarmState.BIDDING and self.chain.now() > terms["biddingDeadline"]:
            self.act("closeBidding")
            return self.terms()["state"]
        if state != SwarmState.RUNNING:
            return state
        current, replicas = terms["currentRound"], terms["replicas"]
        states = []
        for slot in range(replicas):
            job_id = self.job_of(current, slot)
            job_state = JobState(self.chain.market.functions.jobState(job_id).call()) if job_id else None
            if job_state in REPLACED:
                self.act("vacate", slot)
                self.say(f"round {current}: replica {slot}'s share (job {job_id}) ended {job_state.name.lower()}; "
                         "its slot goes to the next standby")
                if self.terms()["vacant"] >> slot & 1:
                    raise SwarmInputError(f"replica {slot} lost its holder and no standby is left: end the swarm")
            if job_id == 0 or job_state in (*REPLACED, JobState.UNVERIFIED):
                job_id = self.post(current, slot)
                job_state = JobState.BIDDING
            states.append(job_state)
        if all(s == JobState.FINALIZED for s in states):
            if current + 1 == terms["rounds"]:
                self.act("complete")
                self.say(f"round {current} verified: the swarm is complete")
            else:
                self.say(f"round {current} verified on all {replicas} replicas; posting round {current + 1}")
                for slot in range(replicas):
                    self.post(current + 1, slot)
        return self.terms()["state"]

    def act(self, function: str, *args) -> None:
        try:
            self.chain.transact("Swarm", function, self.swarm_id, *args)
        except ChainError as exc:  # another party acted first: harmless
            log.debug("swarm %s: %s: %s", self.swarm_id, function, exc)

    def spec_of(self, round: int, slot: int) -> JobSpec:
        replicas = self.terms()["replicas"]
        if round == 0:
            return swarm_round_spec(self.base, replicas, slot, 0, outer=self.outer)
        inputs = self.round_inputs(round)
        return swarm_round_spec(self.base, replicas, slot, round, inputs.start, inputs.updates, inputs.finals[slot],
                                outer=self.outer)

    def post(self, round: int, slot: int) -> int:
        """Post replica `slot`'s share of `round` to the slot's holder at its price, with the verifiers' reward."""
        spec = self.spec_of(round, slot)
        self.client.submit_spec(spec)
        holders, prices = self.contract.functions.slots(self.swarm_id).call()
        terms = self.terms()
        reward = job_economics(prices[slot], terms["checkpointCount"], terms["sampleCount"]).verifier_reward
        receipt = self.chain.transact("Swarm", "postReplica", self.swarm_id, round, slot, spec.spec_hash(),
                                      value=prices[slot] + reward)
        # The receipt holds the market's and the audit's events too: only ours are read.
        job_id = self.contract.events.ReplicaPosted().process_receipt(receipt, errors=DISCARD)[0]["args"]["jobId"]
        self.say(f"round {round}: replica {slot}'s share is job {job_id}, for {holders[slot]}")
        return job_id

    def round_inputs(self, round: int) -> RoundInputs:
        """Checkpoint 0 of replica 0 of round - 1 (by the sha256 of its bytes), and every replica's update from
        it to its final checkpoint, made here and uploaded; each checkpoint checked against its committed root."""
        if round not in self.inputs:
            from worker.engine.checkpoint import load_checkpoint
            from worker.engine.rounds import replica_update, save_update, trained_weights

            def weights(blob: bytes) -> dict:
                return trained_weights(load_checkpoint(blob).tensors)

            replicas = self.terms()["replicas"]
            start, start_blob = self.committed_checkpoint(self.job_of(round - 1, 0), last=False)
            global_weights = weights(start_blob)
            updates, finals = [], []
            for slot in range(replicas):
                final, final_blob = self.committed_checkpoint(self.job_of(round - 1, slot), last=True)
                update = replica_update(global_weights, weights(final_blob))
                updates.append(self.client.upload_artifact(save_update(update)))
                finals.append(final)
            self.inputs[round] = RoundInputs(start=start, updates=updates, finals=finals)
        return self.inputs[round]

    def committed_checkpoint(self, job_id: int, last: bool) -> tuple[str, bytes]:
        """A finalized share's first or last checkpoint: its artifact id and bytes, checked to be the state
        under the job's committed root."""
        job = self.chain.job(job_id)
        if job["state"] != JobState.FINALIZED:
            raise SwarmInputError(f"job {job_id} is {job['state'].name.lower()}, not finalized")
        reported = {c["index"]: c for c in self.client.job(job_id)["checkpoints"]}
        count = job["checkpointCount"]
        if any(reported.get(i, {}).get("state_hash") is None for i in range(count + 1)):
            raise SwarmInputError(f"job {job_id}: the coordinator does not show every checkpoint's state hash")
        hashes = [bytes.fromhex(reported[i]["state_hash"][2:]) for i in range(count + 1)]
        if checkpoint_tree(job_id, hashes, job["checkpointInterval"]).root != job["finalRoot"]:
            raise SwarmInputError(f"job {job_id}: the reported checkpoints do not rebuild its committed root")
        index = count if last else 0
        artifact = reported[index]["artifact"]
        blob = self.client.download_artifact(artifact)
        try:
            tensors, _ = read_safetensors(blob)
        except SafetensorsError as exc:
            raise SwarmInputError(f"job {job_id} checkpoint {index}: {exc}") from None
        if state_hash(tensors) != hashes[index]:
            raise SwarmInputError(f"job {job_id} checkpoint {index}: the bytes {artifact} are not the committed state")
        return artifact, blob
