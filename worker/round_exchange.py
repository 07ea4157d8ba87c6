"""A swarm round's replicas exchange their updates peer to peer over torch.distributed (gloo on CPU hosts), as
soon as each has submitted its share, so that the next round's start is at hand when its shares are posted.

    1. meet: each replica that submitted its share says where it takes part (the coordinator's rendezvous,
       backend/api/routes/swarms.py, where only a slot's holder may speak for it); slot 0 hosts the meeting's
       store. The group is the K shares the chain records for the round: a replaced replica's share is not
       waited for, and its holder gives up as soon as it sees it was replaced.
    2. exchange: each commits its update's hash, then sends its bytes (worker/engine/exchange.py).
    3. keep: every update under the host's home, by the sha256 of its artifact bytes (`UpdateCache`).

Nothing received is trusted. The next round's specs name each update by the sha256 of its bytes, made by the
submitter from the verified final checkpoints and uploaded for the verifiers (pinpoint/swarm.py); the engine
uses a kept update only when it is those bytes (`UpdateCache.source`), and downloads it otherwise. So a replica
that sends other bytes, never comes, or is replaced costs the others a download and nothing more; a meeting
that does not complete within `wait_seconds` is given up. The last round has nothing to exchange.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from pinpoint.chain import Chain
from pinpoint.client import CoordinatorClient, sha256_hex
from pinpoint.spec import JobSpec
from worker.engine.artifacts import Fetch

log = logging.getLogger(__name__)
DIGEST = re.compile(r"^0x[0-9a-f]{64}$")
GLOO_TIMEOUT = timedelta(seconds=60)  # every member is known to be there before the group is made


class UpdateCache:
    """Update artifacts received from a round's exchange, by '0x' + sha256 of their bytes."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.told: set[str] = set()  # kept updates already handed out (and logged) by this process

    def put(self, blob: bytes) -> str:
        digest = sha256_hex(blob)
        path = self.root / digest[2:]
        if self.get(digest) is None:  # absent, or another copy that is not these bytes
            self.root.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + f".{os.getpid()}.partial")
            partial.write_bytes(blob)
            os.replace(partial, path)
        return digest

    def get(self, digest: str) -> bytes | None:
        """The bytes, only if they are the named ones."""
        path = self.root / digest[2:] if DIGEST.match(digest) else None
        if path is None or not path.is_file():
            return None
        blob = path.read_bytes()
        return blob if sha256_hex(blob) == digest else None

    def source(self, download: Fetch, holds: Callable[[str], bool] | None = None) -> Fetch:
        """An artifact source for the engine: a kept update when it is the named bytes (and, given `holds`, the
        store holds them too, for the verifiers: a solver checks that before it accepts a share), else
        `download`."""
        def fetch(digest: str) -> bytes:
            blob = self.get(digest)
            if blob is None or (holds is not None and not holds(digest)):
                return download(digest)
            if digest not in self.told:  # a share's start is built more than once (checks, then the run)
                self.told.add(digest)
                log.info("artifact %s: received in its round's exchange, not downloaded", digest,
                         extra={"event": "update_from_exchange", "artifact": digest})
            return blob
        return fetch


@dataclass(frozen=True)
class Share:
    swarm_id: int
    round: int
    slot: int
    replicas: int
    job_id: int


def share_of(chain: Chain, job_id: int) -> Share | None:
    """The swarm share `job_id` is (None: not a swarm's)."""
    if chain.swarm is None:
        return None
    posted = chain.swarm.events.ReplicaPosted().get_logs(argument_filters={"jobId": job_id}, from_block=0)
    if not posted:
        return None
    args = posted[-1]["args"]
    replicas = chain.get_swarm(args["swarmId"])["replicas"]
    return Share(args["swarmId"], args["round"], args["slot"], replicas, job_id)


class RoundExchange:
    """The solver host's side of its rounds' exchanges: `start(job_id, spec)` once a share's result is submitted
    runs `exchange` in a thread of its own, so the host goes on working while it waits for the others."""

    def __init__(self, chain: Chain, client: CoordinatorClient, home: Path, host: str, wait_seconds: float,
                 poll_seconds: float = 1.0):
        self.chain, self.client, self.home, self.host = chain, client, Path(home), host
        self.wait_seconds, self.poll_seconds = wait_seconds, poll_seconds
        self.cache = UpdateCache(cache_root(home, chain.address))

    def start(self, job_id: int, spec: JobSpec) -> threading.Thread | None:
        if spec.swarm is None:
            return None
        thread = threading.Thread(target=self.exchange_quietly, args=(job_id, spec), daemon=True,
                                  name=f"round-exchange-{job_id}")
        thread.start()
        return thread

    def exchange_quietly(self, job_id: int, spec: JobSpec) -> list[str]:
        try:
            return self.exchange(job_id, spec)
        except Exception as exc:  # noqa: BLE001 (a failed exchange costs downloads, never the work)
            log.warning("job %s: the round's exchange failed (%s); the next round downloads its updates", job_id, exc,
                        extra={"event": "exchange_failed", "job_id": job_id, "reason": str(exc)})
            return []

    def exchange(self, job_id: int, spec: JobSpec) -> list[str]:
        """Meet the round's other replicas and exchange updates; the kept updates' ids in slot order ([] when
        there is nothing to exchange or the meeting did not complete)."""
        import torch.distributed as dist

        from worker.engine.checkpoint import load_checkpoint
        from worker.engine.exchange import exchange
        from worker.engine.rounds import replica_update, save_update, trained_weights
        from worker.solver import kept_checkpoint

        share = share_of(self.chain, job_id)
        if share is None or share.round + 1 >= self.chain.get_swarm(share.swarm_id)["rounds"]:
            return []  # not a swarm's share, or its last round: nothing starts from it
        start, final = (kept_checkpoint(self.home, self.chain.address, job_id, i) for i in (0, spec.checkpoint_count))
        if start is None or final is None:
            raise RuntimeError("this host does not keep the share's first and last checkpoints")
        update = replica_update(trained_weights(load_checkpoint(start).tensors),
                                trained_weights(load_checkpoint(final).tensors))
        shapes = {name: code.shape for name, code in update.codes.items()}

        wait = timedelta(seconds=self.wait_seconds)
        master = (dist.TCPStore(self.host, 0, share.replicas, True, timeout=wait, wait_for_workers=False)
                  if share.slot == 0 else None)
        self.client.declare_round_peer(share.swarm_id, share.round, share.slot, job_id,
                                       f"{self.host}:{master.port if master else 0}")
        met = self.meet(share)
        if met is None:
            return []
        members, address = met
        host, port = address.rsplit(":", 1)
        store = master or dist.TCPStore(host, int(port), share.replicas, False, timeout=GLOO_TIMEOUT)
        meeting = dist.PrefixStore(f"swarm{share.swarm_id}/round{share.round}/jobs{'-'.join(map(str, members))}/", store)
        options = dist.ProcessGroupGloo._Options()
        options._timeout = GLOO_TIMEOUT
        options._devices = [dist.ProcessGroupGloo.create_device(hostname=self.host)]
        group = dist.ProcessGroupGloo(meeting, share.slot, share.replicas, options)
        updates = exchange(update, shapes, group=group)
        kept = [self.cache.put(save_update(u)) for u in updates]
        meeting.add("done", 1)
        if master is not None:  # the store stays up until every member is through
            deadline = time.monotonic() + GLOO_TIMEOUT.total_seconds()
            while meeting.add("done", 0) < share.replicas and time.monotonic() < deadline:
                time.sleep(0.1)
        log.info("job %s: exchanged round %s's updates with %s replicas over torch.distributed (gloo): sent %s bytes",
                 job_id, share.round, share.replicas, update.nbytes(),
                 extra={"event": "updates_exchanged", "job_id": job_id, "swarm_id": share.swarm_id,
                        "round": share.round, "replicas": share.replicas, "sent_bytes": update.nbytes()})
        return kept

    def meet(self, share: Share) -> tuple[list[int], str] | None:
        """The round's shares (by slot) once each has declared itself, and where slot 0 hosts the store; None
        when this share was replaced or the meeting did not complete in time."""
        deadline = time.monotonic() + self.wait_seconds
        jobs = self.chain.swarm.functions.replicaJob
        while True:
            members = [jobs(share.swarm_id, share.round, slot).call() for slot in range(share.replicas)]
            if members[share.slot] != share.job_id:
                log.info("job %s: replaced in its slot; no exchange", share.job_id)
                return None
            peers = {peer["slot"]: peer for peer in self.client.round_peers(share.swarm_id, share.round)}
            if all(slot in peers and peers[slot]["job_id"] == job for slot, job in enumerate(members)):
                return members, peers[0]["address"]
            if time.monotonic() > deadline:
                log.info("job %s: not every replica of round %s came within %s s; no exchange", share.job_id,
                         share.round, self.wait_seconds)
                return None
            time.sleep(self.poll_seconds)


def cache_root(home: Path, address: str) -> Path:
    return Path(home) / "updates" / address.lower()
