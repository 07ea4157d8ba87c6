"""Retention: which artifacts the coordinator keeps, and which it deletes (docs/ARTIFACTS.md, "Retention").

A job is *live* until it is settled (finalized, unverified, slashed, cancelled or failed) and no dispute
over it is still open. Then:

- kept while any live job names them: its spec's artifacts (dataset, weights, inputs; a swarm round's start,
  updates and inner checkpoint), its reported checkpoints, and what was uploaded for it (a dispute's
  pre-state, say);
- kept for good: the final checkpoint of a finalized training job (and a swarm share's checkpoint 0: the next
  round starts from it) and the outputs of a finalized inference job (with the solvers backend, copied from
  the solver's host into the coordinator's own store first);
- deleted as soon as their job settled: everything else its solver reported or uploaded for it;
- deleted `artifact_retention_days` after their upload: anything else (uploads that no live job names);
- deleted `upload_idle_seconds` after their last chunk: chunked uploads never completed.

`collect` applies the rules; `pinpoint-coordinator gc` runs it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from backend.artifacts import ArtifactStore
from backend.models import (
    Artifact,
    ArtifactSource,
    ArtifactUpload,
    Checkpoint,
    Dispute,
    Job,
    Spec,
)
from pinpoint.spec import SpecError, named_inputs, parse_spec

log = logging.getLogger(__name__)
SETTLED = ("finalized", "unverified", "slashed", "cancelled", "failed")
CLOSED_DISPUTES = ("resolved", "abandoned")


def named_artifacts(spec_body: str) -> set[str]:
    """Every artifact a spec names as an input (pinpoint.spec.named_inputs: a swarm round's start, updates and
    inner checkpoint too); for a body that no longer parses, any `sha256` field at any depth."""
    try:
        return {"0x" + sha256.lower() for _, sha256 in named_inputs(parse_spec(spec_body))}
    except SpecError:
        pass
    found: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "sha256" and isinstance(item, str):
                    found.add("0x" + item.lower())
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(spec_body))
    return found


@dataclass
class Plan:
    live: set[str] = field(default_factory=set)  # named by a live job
    forever: set[str] = field(default_factory=set)  # a finalized job's result
    settled: set[str] = field(default_factory=set)  # reported or uploaded for a job that settled


def plan(session: Session) -> Plan:
    """What the rules say of every artifact the database knows a job for."""
    result = Plan()
    open_disputes = set(session.scalars(select(Dispute.job_id).where(Dispute.phase.not_in(CLOSED_DISPUTES))))
    specs = {spec_hash: body for spec_hash, body in session.execute(select(Spec.hash, Spec.body))}
    reported: dict[int, list[tuple[int, str]]] = {}
    for job_id, index, artifact in session.execute(select(Checkpoint.job_id, Checkpoint.index, Checkpoint.artifact)):
        reported.setdefault(job_id, []).append((index, artifact))
    uploaded: dict[int, set[str]] = {}
    for job_id, digest in session.execute(select(Artifact.job_id, Artifact.digest).where(Artifact.job_id.is_not(None))):
        uploaded.setdefault(job_id, set()).add(digest)
    for job_id, digest in session.execute(select(ArtifactSource.job_id, ArtifactSource.digest)):
        uploaded.setdefault(job_id, set()).add(digest)
    for job in session.scalars(select(Job)):
        body = specs.get(job.spec_hash)
        owned = {artifact for _, artifact in reported.get(job.id, [])} | uploaded.get(job.id, set())
        if job.state not in SETTLED or job.id in open_disputes:
            result.live |= owned | (named_artifacts(body) if body else set())
            continue
        result.settled |= owned
        if job.state == "finalized":
            parsed = json.loads(body) if body is not None else {}
            inference = parsed.get("kind") == "inference"
            # A swarm share's start is kept with its result: the next round starts from both (pinpoint/swarm.py),
            # and its spec may be posted only after this job settled.
            kept = {0, job.checkpoint_count} if isinstance(parsed.get("swarm"), dict) else {job.checkpoint_count}
            result.forever |= {artifact for index, artifact in reported.get(job.id, []) if inference or index in kept}
    return result


@dataclass
class Collected:
    deleted: list[str]
    pinned: list[str]
    abandoned_uploads: int


def collect(store: ArtifactStore, sessions: sessionmaker[Session], retention_days: float, upload_idle_seconds: int,
            now: datetime | None = None, dry_run: bool = False) -> Collected:
    """Delete what the rules allow (docs/ARTIFACTS.md); returns what was deleted and what was pinned."""
    now = now or datetime.now(timezone.utc)
    with sessions() as session:
        rules = plan(session)
        uploaded_at = {digest: _aware(at) for digest, at in session.execute(select(Artifact.digest, Artifact.created_at))}
        idle = list(session.execute(select(ArtifactUpload.digest, ArtifactUpload.uploader).where(
            ArtifactUpload.updated_at < now - timedelta(seconds=upload_idle_seconds))).all())
    keep = rules.live | rules.forever
    old = now - timedelta(days=retention_days)
    deleted = []
    for digest in sorted(set(store.digests())):
        if digest in keep:
            continue
        at = uploaded_at.get(digest) or store.modified(digest)  # no row: cached, or older than the table
        if digest in rules.settled or (at is not None and at < old):
            deleted.append(digest)
    if dry_run:
        return Collected(deleted, sorted(rules.forever), len(idle))
    # A result kept for good lives in the coordinator's own files, not only in a cache or on a solver's host.
    pinned = [digest for digest in sorted(rules.forever) if store.pin(digest)]
    for digest in deleted:
        store.delete(digest)
    with sessions() as session:
        for digest, uploader in idle:
            store.drop_partial(digest, uploader)
            session.execute(delete(ArtifactUpload).where(ArtifactUpload.digest == digest,
                                                         ArtifactUpload.uploader == uploader))
        # Hosts of settled jobs need not serve them any more: the index forgets them, but keeps the hosts of a
        # result that could not be pinned yet (the next run tries again).
        forget = (rules.settled - rules.live - rules.forever) | set(pinned)
        if forget:
            session.execute(delete(ArtifactSource).where(ArtifactSource.digest.in_(forget)))
        session.commit()
    log.info("retention: deleted %s artifacts, %s of %s results kept for good held here, %s abandoned uploads "
             "dropped", len(deleted), len(pinned), len(rules.forever), len(idle))
    return Collected(deleted, pinned, len(idle))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)  # SQLite returns naive UTC
