"""HTTP client of the coordinator's REST API, for workers, the demo and operators.

The coordinator is a convenience, not an authority: every spec and artifact this client downloads is
checked against the hash it was asked for, so a lying coordinator can only make a call fail.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
from pydantic import BaseModel

from pinpoint.signing import SigningDomain, sign_request
from pinpoint.spec import AnySpec, parse_spec


class CoordinatorError(RuntimeError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status, when the coordinator answered


class HashMismatch(CoordinatorError):
    pass


class ReportConflict(RuntimeError):
    """The coordinator holds other hashes for a checkpoint this key reports: someone reported in our name, or
    the coordinator is wrong. An alarm, never "already done" (and not retried as a transient error)."""


CONTENT_SHA256 = "X-Pinpoint-Content-Sha256"  # a chunk's sha256, hex: what a chunk's signature covers
log = logging.getLogger(__name__)


def sha256_hex(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def hash_file(path: Path, limit: int | None = None):
    """A sha256 of the file's first `limit` bytes (all by default), read a megabyte at a time: to check a file,
    or to go on hashing what is appended to it."""
    hasher = hashlib.sha256()
    with open(path, "rb") as file:
        left = -1 if limit is None else limit
        while left and (block := file.read(1 << 20 if left < 0 else min(1 << 20, left))):
            hasher.update(block)
            left = left - len(block) if left > 0 else left
    return hasher


API_PREFIX = "/v1"
"""Every route of the coordinator's API is under this version prefix (health, readiness and metrics are not)."""


class CoordinatorClient:
    """`private_key` and `domain` (Chain.signing_domain: the deployment) sign writes and a solver's reads."""

    def __init__(self, base_url: str, private_key: str | None = None, domain: SigningDomain | None = None,
                 timeout: float = 60.0):
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.private_key = private_key
        self.domain = domain
        self.host = None  # a solver's worker.artifact_server.ArtifactHost: it serves its checkpoints itself

    @classmethod
    def for_chain(cls, base_url: str, chain, timeout: float = 60.0) -> "CoordinatorClient":
        """A client that signs with `chain`'s key for `chain`'s deployment."""
        key = "0x" + bytes(chain.account.key).hex() if chain.account is not None else None
        return cls(base_url, key, chain.signing_domain, timeout)

    def _signed(self, method: str, path: str, body: bytes = b"", digest: bytes | None = None) -> dict[str, str]:
        if not self.private_key or self.domain is None:
            raise CoordinatorError(f"{method} {path} must be signed: this client has no key or no deployment")
        return sign_request(self.private_key, self.domain, method, path, body, digest)

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.is_error:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise CoordinatorError(f"{response.request.method} {response.request.url.path}: {response.status_code} {detail}",
                                   response.status_code)
        return response

    # --- specs and jobs ----------------------------------------------------------------------------

    def submit_spec(self, spec: AnySpec | dict) -> dict:
        body = spec.model_dump(mode="json") if isinstance(spec, BaseModel) else spec
        return self._check(self.http.post(f"{API_PREFIX}/jobs", json=body)).json()

    def spec(self, spec_hash: str) -> AnySpec:
        spec = parse_spec(self._check(self.http.get(f"{API_PREFIX}/specs/{spec_hash}")).content)
        if spec.spec_hash() != spec_hash:
            raise HashMismatch(f"coordinator served spec {spec.spec_hash()} for {spec_hash}")
        return spec

    def jobs(self, state: str | None = None, submitter: str | None = None, solver: str | None = None,
             limit: int = 100) -> list[dict]:
        """The newest `limit` jobs (at most 1000) that match every filter given; `iter_jobs` walks them all."""
        return self.jobs_page(state, submitter, solver, limit)["items"]

    def jobs_page(self, state: str | None = None, submitter: str | None = None, solver: str | None = None,
                  limit: int = 100, cursor: str | None = None) -> dict:
        """One page, `{"items": [...], "next_cursor": str | None}`: pass `next_cursor` back for the next one."""
        params = {"state": state, "submitter": submitter, "solver": solver, "limit": limit, "cursor": cursor}
        return self._check(self.http.get(f"{API_PREFIX}/jobs", params={k: v for k, v in params.items()
                                                                      if v is not None})).json()

    def iter_jobs(self, state: str | None = None, submitter: str | None = None, solver: str | None = None,
                  page_size: int = 100) -> Iterator[dict]:
        """Every job that matches, newest first, a page at a time; each once, whatever is indexed meanwhile."""
        cursor = None
        while True:
            page = self.jobs_page(state, submitter, solver, page_size, cursor)
            yield from page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def job(self, job_id: int) -> dict:
        """The job as indexed. With a key the read is signed, so a job's solver sees its own checkpoints
        in full while they are withheld from verifiers (backend/disclosure.py)."""
        path = f"{API_PREFIX}/jobs/{job_id}"
        headers = self._signed("GET", path) if self.private_key and self.domain else None
        return self._check(self.http.get(path, headers=headers)).json()

    def job_overview(self, job_id: int) -> dict:
        """Everything the dashboard shows of a job (backend/dashboard/views.py JobView): the job, its spec, chain
        events with block times, the sealed sample, each audit, each dispute round by round, the index's clock."""
        return self._check(self.http.get(f"{API_PREFIX}/jobs/{job_id}/overview")).json()

    def outputs(self, job_id: int, offset: int = 0, limit: int = 100) -> dict:
        """A page of an inference job's outputs with proofs; check them with pinpoint.inference."""
        params = {"offset": offset, "limit": limit}
        return self._check(self.http.get(f"{API_PREFIX}/jobs/{job_id}/outputs", params=params)).json()

    # --- artifacts ---------------------------------------------------------------------------------

    chunk_bytes = 16 << 20
    """Chunk size of a chunked upload: the most of an artifact this client holds in memory while uploading it."""
    chunked_above = 64 << 20
    """Artifacts larger than this go up in chunks (resumable); smaller ones in one request."""
    attempts = 5
    """Tries of an upload or download interrupted by a dropped connection, each resuming where the last stopped."""
    download_dir: Path | None = None
    """Where `download_artifact` streams to before reading the bytes (default: the system's temporary folder;
    set a disk folder where that is a RAM disk, or the artifact is in memory twice)."""

    def upload_artifact(self, data: bytes | bytearray | memoryview | os.PathLike) -> str:
        """Upload `data` (bytes, or a file's path: streamed from disk) as a signed request (the uploader solves
        an open job or holds funds); its id. Above `chunked_above` bytes it goes up in chunks, resuming after
        a dropped connection; an artifact the coordinator holds already is not sent again."""
        if isinstance(data, (bytes, bytearray, memoryview)):
            view = memoryview(data).cast("B")
            return self._upload(sha256_hex(view), view.nbytes, lambda offset, n: view[offset:offset + n])
        path = Path(data)
        with open(path, "rb") as file:
            def read(offset: int, n: int) -> bytes:
                file.seek(offset)
                return file.read(n)
            return self._upload("0x" + hash_file(path).hexdigest(), path.stat().st_size, read)

    def _upload(self, digest: str, size: int, read) -> str:
        """Upload `size` bytes that hash to `digest`, `read(offset, n)` giving them a chunk at a time."""
        if size <= self.chunked_above:
            path = f"{API_PREFIX}/artifacts/{digest}"
            headers = self._signed("PUT", path, digest=bytes.fromhex(digest[2:]))
            self._check(self.http.put(path, content=bytes(read(0, size)),
                                      headers=headers | {"Content-Type": "application/octet-stream"}))
            return digest
        base = f"{API_PREFIX}/artifacts/{digest}/upload"
        for attempt in range(self.attempts):
            try:
                start = json.dumps({"size": size}).encode()
                state = self._check(self.http.post(base, content=start, headers=self._signed("POST", base, start)
                                                   | {"Content-Type": "application/json"})).json()
                while not state["complete"]:
                    offset = state["offset"]
                    chunk = bytes(read(offset, min(self.chunk_bytes, size - offset)))
                    chunk_hash = hashlib.sha256(chunk).digest()
                    path = f"{base}?offset={offset}"
                    headers = self._signed("PUT", path, digest=chunk_hash) | {
                        "Content-Type": "application/octet-stream", CONTENT_SHA256: chunk_hash.hex()}
                    state = self._check(self.http.put(path, content=chunk, headers=headers)).json()
                    del chunk
                return digest
            except (httpx.TransportError, CoordinatorError) as exc:
                # A dropped connection or a chunk that raced another: ask where the upload stands and go on.
                if attempt == self.attempts - 1 or (isinstance(exc, CoordinatorError) and exc.status != 409):
                    raise CoordinatorError(f"upload of {digest}: {exc}", getattr(exc, "status", None)) from None
                log.warning("upload of %s interrupted (%s); resuming", digest, exc)
        raise AssertionError("unreachable")

    def publish_checkpoint(self, job_id: int, data: bytes | os.PathLike) -> str:
        """Make a checkpoint of `job_id` (this client's key solves it) available; its id. With a host of its own
        (`self.host`), the solver serves it and declares where to the coordinator (a signed request); if the
        coordinator keeps every checkpoint itself (409), or without a host, it is uploaded."""
        if self.host is None:
            return self.upload_artifact(data)
        digest = self.host.put(data)
        path, body = f"{API_PREFIX}/artifacts/{digest}/sources", json.dumps({"job_id": job_id, "url": self.host.url}).encode()
        try:
            self._check(self.http.post(path, content=body, headers=self._signed("POST", path, body)
                                       | {"Content-Type": "application/json"}))
        except CoordinatorError as exc:
            if exc.status != 409:
                raise
            self.upload_artifact(self.host.path(digest))
        return digest

    def holds_artifact(self, digest: str) -> bool:
        """Whether the store serves the artifact (its first byte is asked for, not the whole)."""
        response = self.http.get(f"{API_PREFIX}/artifacts/{digest}", headers={"Range": "bytes=0-0"})
        if response.status_code in (404, 416):  # 416: an empty artifact, which is there
            return response.status_code == 416
        self._check(response)
        return True

    def download_artifact(self, digest: str) -> bytes:
        """The artifact's bytes, hash-checked. Streamed to a temporary file first (resumable, never in memory
        twice); for artifacts too large to hold at all, use `download_artifact_to`."""
        with tempfile.TemporaryDirectory(prefix="pinpoint-download-", dir=self.download_dir) as folder:
            return self.download_artifact_to(digest, Path(folder) / digest).read_bytes()

    def download_artifact_to(self, digest: str, target: os.PathLike) -> Path:
        """Stream the artifact into `target`, hashing as it writes: into `target`.partial first, resumed with an
        HTTP Range after a dropped connection (or in a later call), renamed to `target` only when the hash
        matches. Raises HashMismatch (and deletes the partial file) when it does not."""
        target = Path(target)
        partial = target.with_name(target.name + ".partial")
        partial.parent.mkdir(parents=True, exist_ok=True)
        hasher = hash_file(partial) if partial.exists() else hashlib.sha256()
        with open(partial, "ab") as file:
            for attempt in range(self.attempts):
                offset = file.tell()
                try:
                    with self.http.stream("GET", f"{API_PREFIX}/artifacts/{digest}",
                                          headers={"Range": f"bytes={offset}-"} if offset else None) as response:
                        if response.status_code == 416:  # nothing after `offset`: the partial file is whole
                            break
                        if response.is_error:
                            response.read()
                            if not offset:
                                partial.unlink()  # nothing came: leave nothing behind
                            self._check(response)
                        if response.status_code == 200 and offset:  # the server ignored the range: start over
                            file.seek(0)
                            file.truncate()
                            hasher = hashlib.sha256()
                        for block in response.iter_bytes():  # as they arrive: a dropped connection loses none
                            file.write(block)
                            hasher.update(block)
                    break
                except httpx.TransportError as exc:
                    file.flush()
                    if attempt == self.attempts - 1:
                        raise CoordinatorError(f"download of {digest} failed after {self.attempts} tries: {exc}") from None
                    log.warning("download of %s interrupted at %s bytes (%s); resuming", digest, file.tell(), exc)
        if "0x" + hasher.hexdigest() != digest:
            partial.unlink()
            raise HashMismatch(f"artifact {digest} arrived with hash 0x{hasher.hexdigest()}")
        os.replace(partial, target)
        return target

    # --- signed worker reports ---------------------------------------------------------------------

    def _report(self, kind: str, job_id: int, body: dict) -> dict:
        path, content = f"{API_PREFIX}/jobs/{job_id}/{kind}", json.dumps(body).encode()
        headers = self._signed("POST", path, content) | {"Content-Type": "application/json"}
        return self._check(self.http.post(path, content=content, headers=headers)).json()

    def report_checkpoint(self, job_id: int, index: int, step: int, state_hash: str, artifact: str, loss: float | None):
        body = {"index": index, "step": step, "state_hash": state_hash, "artifact": artifact, "loss": loss}
        try:
            return self._report("checkpoints", job_id, body)
        except CoordinatorError as exc:
            if exc.status == 409:
                raise ReportConflict(f"job {job_id}: the coordinator holds other hashes for our checkpoint {index}: {exc}") from None
            raise

    def report_verdict(self, job_id: int, interval: int, agrees: bool, detail: str):
        return self._report("verdicts", job_id, {"interval": interval, "agrees": agrees, "detail": detail})

    # --- a swarm round's rendezvous (worker/round_exchange.py) --------------------------------------

    def declare_round_peer(self, swarm_id: int, round_: int, slot: int, job_id: int, address: str) -> list[dict]:
        """Say where this replica (the solver of `job_id`, slot `slot`'s share) takes part in the round's exchange;
        the round's peers so far, by slot."""
        path = f"{API_PREFIX}/swarms/{swarm_id}/rounds/{round_}/peers/{slot}"
        body = json.dumps({"job_id": job_id, "address": address}).encode()
        headers = self._signed("PUT", path, body) | {"Content-Type": "application/json"}
        return self._check(self.http.put(path, content=body, headers=headers)).json()["peers"]

    def round_peers(self, swarm_id: int, round_: int) -> list[dict]:
        return self._check(self.http.get(f"{API_PREFIX}/swarms/{swarm_id}/rounds/{round_}/peers")).json()["peers"]
