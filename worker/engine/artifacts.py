"""Artifacts the engine reads by content hash (uploaded datasets, starting weights), fetched from the process's
artifact source and checked against their sha256 before any byte is used.

The worker sets its coordinator client's download as the source (`set_artifact_source`); tests and tools may
pass `fetch` directly. The last artifact of each kind stays cached: a verifier replays many intervals of one
job, each of which needs the same dataset.

    set_artifact_source(client.download_artifact)
    blob = artifact_bytes("0x" + spec.dataset.sha256, "dataset")   # ArtifactUnavailable / ArtifactHashMismatch
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

Fetch = Callable[[str], bytes]
"""Bytes of an artifact by '0x' + sha256."""

_SOURCE: list[Fetch] = []
_CACHE: dict[str, tuple[str, bytes]] = {}  # kind -> (digest, bytes) of the last one fetched
_LOCK = threading.Lock()


class ArtifactUnavailable(ValueError):
    """No source to fetch an artifact from."""


class ArtifactHashMismatch(ValueError):
    """An artifact arrived with other bytes than its content hash names: refuse to use it."""


def set_artifact_source(fetch: Fetch | None) -> None:
    """Where `artifact_bytes` fetches from when not given `fetch` (None: nowhere); forgets what was cached."""
    with _LOCK:
        _SOURCE[:] = [fetch] if fetch is not None else []
        _CACHE.clear()


def artifact_bytes(digest: str, kind: str, fetch: Fetch | None = None) -> bytes:
    """The bytes of artifact `digest` ('0x' + sha256), hash-checked; `kind` ('dataset', 'weights') names it in
    errors and keeps one cached artifact per kind."""
    with _LOCK:
        cached = _CACHE.get(kind)
        if cached is not None and cached[0] == digest:
            return cached[1]
    fetch = fetch or (_SOURCE[0] if _SOURCE else None)
    if fetch is None:
        raise ArtifactUnavailable(f"{kind} artifact {digest}: no artifact source to fetch it from (set_artifact_source)")
    blob = fetch(digest)
    actual = "0x" + hashlib.sha256(blob).hexdigest()
    if actual != digest:
        raise ArtifactHashMismatch(f"{kind} artifact {digest} arrived with hash {actual}: refusing to use it")
    with _LOCK:
        _CACHE[kind] = (digest, blob)
    return blob
