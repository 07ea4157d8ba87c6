"""The content-addressed artifact store: checkpoint bytes filed under the sha256 of their content.

One interface (`Store`: write in, open, exists, size, delete), two backends:

- `ArtifactStore`, the coordinator's filesystem (the embedded default). Uploads stream through
  `ArtifactWriter` (a temporary file in the store, hashed as it is written, renamed into place only when the
  hash matches), so an artifact is never held in memory whole. A chunked upload appends to a partial file
  (`PartialUpload`) across requests, and is renamed into place the same way once complete.
- `SolverHostedStore`, for scale-out: the same filesystem for uploads, plus an index of checkpoints that
  solvers serve from their own hosts (worker/artifact_server.py) and a bounded cache of what was fetched from
  them. A miss is fetched from a declared host, hash-checked as it streams, and only then cached and served.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pinpoint.client import hash_file

DIGEST = re.compile(r"^0x[0-9a-f]{64}$")
READ = 1 << 20  # bytes read at a time when hashing or copying a file
MIN_RATE = 1 << 20  # bytes per second a solver's host must sustain when the coordinator fetches from it
log = logging.getLogger(__name__)


class ArtifactError(ValueError):
    pass


class OffsetMismatch(ArtifactError):
    """A chunk sent for another offset than the partial upload's end (`offset`: where it ends)."""

    def __init__(self, offset: int, sent: int, busy: bool = False):
        super().__init__("another chunk of this upload is being written; ask for its offset again" if busy else
                         f"this upload has {offset} bytes; a chunk at offset {sent} does not continue it")
        self.offset = offset


def check_digest(digest: str) -> str:
    if not DIGEST.match(digest):
        raise ArtifactError(f"artifact id must be 0x + 64 lowercase hex digits of sha256, got {digest!r}")
    return digest


class ArtifactWriter:
    """One upload in progress: `write` chunks, then `commit` (checks the hash) or `abort`."""

    def __init__(self, target: Path, digest: str):
        self.target, self.digest = target, digest
        target.parent.mkdir(parents=True, exist_ok=True)
        self.file = tempfile.NamedTemporaryFile(dir=target.parent, prefix=".upload-", delete=False)
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.hasher.update(chunk)
        self.file.write(chunk)
        self.size += len(chunk)

    def commit(self) -> bool:
        """Rename into place after checking the hash; False when the artifact was there already."""
        self.file.close()
        actual = "0x" + self.hasher.hexdigest()
        if actual != self.digest:
            os.unlink(self.file.name)
            raise ArtifactError(f"content hashes to {actual}, not {self.digest}")
        if self.target.exists():
            os.unlink(self.file.name)
            return False
        os.replace(self.file.name, self.target)  # a reader never sees half a file
        return True

    def abort(self) -> None:
        self.file.close()
        if os.path.exists(self.file.name):
            os.unlink(self.file.name)


class PartialUpload:
    """One chunk appended to a chunked upload's partial file: `write` its bytes, then `finish` (checks the
    chunk's hash against the signed one; a wrong chunk is cut off again) or `abort`.

    The whole upload's hash is carried from chunk to chunk while this process holds it (`_hashers`); after a
    restart, or when another process took the previous chunk, the partial file is re-hashed from disk, since
    hash state cannot be saved. An exclusive lock on the file keeps two chunks of one upload from interleaving.
    """

    _hashers: dict[Path, tuple[tuple, hashlib._Hash]] = {}  # partial file -> (its stat when hashed, hash state)
    _lock = threading.Lock()

    def __init__(self, path: Path, offset: int):
        self.path, self.offset, self._start = path, offset, offset
        self.file = open(path, "r+b")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self.file.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise OffsetMismatch(path.stat().st_size, offset, busy=True) from None
            raise
        stat = os.fstat(self.file.fileno())
        if stat.st_size != offset:
            self.file.close()
            raise OffsetMismatch(stat.st_size, offset)
        with self._lock:
            hashed, hasher = self._hashers.pop(path, (None, None))
        if hasher is None or hashed != self._identity(stat):  # another process wrote it since: hash from disk
            hasher = hash_file(path, limit=offset)
        self.hasher, self.chunk_hasher = hasher, hashlib.sha256()
        self.file.seek(offset)

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.hasher.update(chunk)
        self.chunk_hasher.update(chunk)
        self.offset += len(chunk)

    def finish(self, chunk_sha256: str) -> str:
        """Keep the chunk if it hashes to `chunk_sha256` (hex); the whole upload's hash so far ('0x' + hex)."""
        start = self._start
        if self.chunk_hasher.hexdigest() != chunk_sha256:
            self.abort()
            raise ArtifactError(f"the chunk at offset {start} hashes to {self.chunk_hasher.hexdigest()}, not the "
                                f"signed {chunk_sha256}; it was not kept")
        self.file.flush()
        os.fsync(self.file.fileno())
        identity = self._identity(os.fstat(self.file.fileno()))
        self.file.close()
        digest = "0x" + self.hasher.hexdigest()
        with self._lock:
            if len(self._hashers) >= 10_000:  # abandoned uploads' states: dropping them costs only a re-hash
                self._hashers.clear()
            self._hashers[self.path] = (identity, self.hasher.copy())
        return digest

    def abort(self) -> None:
        """Cut the partial file back to where this chunk started."""
        if not self.file.closed:
            self.file.truncate(self._start)
            self.file.close()

    @staticmethod
    def _identity(stat: os.stat_result) -> tuple:
        """What changes whenever anyone writes the file: a kept hash state is reused only for the same one."""
        return stat.st_ino, stat.st_size, stat.st_mtime_ns

    @classmethod
    def forget(cls, path: Path) -> None:
        with cls._lock:
            cls._hashers.pop(path, None)


class Store(Protocol):
    """What the API needs of an artifact store (both backends): stream in, stream out, exists, size, delete.
    Every digest is '0x' + sha256 hex of the bytes."""

    def writer(self, digest: str) -> ArtifactWriter: ...
    def put(self, digest: str, data: bytes) -> bool: ...
    def open(self, digest: str) -> BinaryIO: ...
    def local_path(self, digest: str) -> Path | None: ...
    def exists(self, digest: str) -> bool: ...
    def size(self, digest: str) -> int | None: ...
    def delete(self, digest: str) -> bool: ...
    def digests(self) -> Iterator[str]: ...


class ArtifactStore:
    """The coordinator's filesystem: `root/ab/abcd...` per artifact, `root/.partial/` for chunked uploads."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def file(self, digest: str) -> Path:
        """Where this store files `digest`'s bytes."""
        check_digest(digest)
        return self.root / digest[2:4] / digest[2:]

    def path(self, digest: str) -> Path:
        """A file to read `digest`'s bytes from (it exists when `exists` says so)."""
        return self.file(digest)

    def writer(self, digest: str) -> ArtifactWriter:
        return ArtifactWriter(self.file(digest), digest)

    def put(self, digest: str, data: bytes) -> bool:
        """Store `data` under `digest` after checking the hash; returns False when it was already there."""
        writer = self.writer(digest)
        try:
            writer.write(data)
        except BaseException:
            writer.abort()
            raise
        return writer.commit()

    def open(self, digest: str) -> BinaryIO:
        return open(self.file(digest), "rb")

    def local_path(self, digest: str) -> Path | None:
        """A file holding the artifact's bytes, to serve (with Range) or read; None when it is not here."""
        path = self.file(digest)
        return path if path.exists() else None

    def exists(self, digest: str) -> bool:
        return self.file(digest).exists()

    def size(self, digest: str) -> int | None:
        path = self.file(digest)
        return path.stat().st_size if path.exists() else None

    def delete(self, digest: str) -> bool:
        try:
            self.file(digest).unlink()
            return True
        except FileNotFoundError:
            return False

    def modified(self, digest: str) -> datetime | None:
        """When the artifact's file was last written (or, in a cache, last used)."""
        path = self.file(digest)
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc) if path.exists() else None

    def pin(self, digest: str) -> bool:
        """Whether the artifact is in this store's own files (for good: no cache evicts them)."""
        return self.exists(digest)

    def digests(self) -> Iterator[str]:
        """Every complete artifact here (partial uploads and temporary files are not)."""
        for shard in sorted(self.root.glob("[0-9a-f][0-9a-f]")):
            for path in sorted(shard.iterdir()):
                if DIGEST.match("0x" + path.name):
                    yield "0x" + path.name

    # --- chunked uploads ------------------------------------------------------------------------------

    def partial_path(self, digest: str, uploader: str) -> Path:
        """One partial file per artifact and uploader: nobody can append to, or block, another's upload."""
        check_digest(digest)
        return self.root / ".partial" / f"{digest[2:]}.{uploader.lower().removeprefix('0x')}"

    def start_partial(self, digest: str, uploader: str) -> int:
        """Create the partial file if it is missing; the bytes it holds."""
        path = self.partial_path(digest, uploader)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as file:
            return file.tell()

    def append(self, digest: str, uploader: str, offset: int) -> PartialUpload:
        path = self.partial_path(digest, uploader)
        if not path.exists():
            raise ArtifactError(f"no upload of {digest} by {uploader} in progress")
        return PartialUpload(path, offset)

    def commit_partial(self, digest: str, uploader: str, upload_hash: str) -> bool:
        """Move a complete partial upload into place if it hashed to `digest`; otherwise delete it and raise.
        False when the artifact was there already."""
        path, target = self.partial_path(digest, uploader), self.file(digest)
        PartialUpload.forget(path)
        if upload_hash != digest:
            path.unlink(missing_ok=True)
            raise ArtifactError(f"the upload hashes to {upload_hash}, not {digest}; it was not kept")
        if target.exists():
            path.unlink(missing_ok=True)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        return True

    def drop_partial(self, digest: str, uploader: str) -> None:
        path = self.partial_path(digest, uploader)
        PartialUpload.forget(path)
        path.unlink(missing_ok=True)


class SourceError(ArtifactError):
    """A declared solver host that is not a plain http://host:port."""


def check_source(url: str) -> str:
    """A solver's declared artifact host, normalized: exactly http://host:port, nothing else (no path, query,
    user or fragment), so the coordinator only ever asks it `GET /artifacts/<digest>`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SourceError(f"artifact source {url!r} is not a URL") from None
    if parts.scheme != "http" or not parts.hostname or port is None or parts.username or parts.password \
            or parts.path not in ("", "/") or parts.query or parts.fragment or len(url) > 200:
        raise SourceError(f"artifact source must be http://host:port and nothing more, got {url!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"http://{host}:{port}"


class SolverHostedStore(ArtifactStore):
    """Uploads as on the filesystem; solver-hosted checkpoints through the index (models.ArtifactSource) and a
    cache of at most `cache_bytes` under `root/cache`, fetched on a miss.

    A solver's host is untrusted: only the http://host:port it declared in a signed report is asked, for one
    fixed path; redirects are not followed; a response is cut off past `max_bytes` or after `timeout` seconds
    of silence; bytes that fail the hash are refused and logged, and the next host (if any) is tried."""

    def __init__(self, root: Path, sessions: sessionmaker[Session], cache_bytes: int, max_bytes: int,
                 timeout: float = 30.0):
        super().__init__(root)
        self.cache = ArtifactStore(self.root / "cache")
        self.sessions, self.cache_bytes, self.max_bytes = sessions, cache_bytes, max_bytes
        self.http = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)
        self.timeout = timeout
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def sources(self, digest: str) -> list[str]:
        from backend.models import ArtifactSource

        with self.sessions() as session:
            return list(session.scalars(select(ArtifactSource.url).where(ArtifactSource.digest == digest)
                                        .order_by(ArtifactSource.created_at)))

    def local_path(self, digest: str) -> Path | None:
        """The artifact's file here: uploaded, cached, or fetched now from a solver that serves it."""
        for store in (self, self.cache):
            path = store.file(digest)
            if path.exists():
                os.utime(path)  # recently used: evicted last
                return path
        return self.fetch(digest)

    def path(self, digest: str) -> Path:
        """The artifact's file here, fetched first from a solver's host if need be."""
        return self.local_path(digest) or self.file(digest)

    def open(self, digest: str) -> BinaryIO:
        path = self.local_path(digest)
        if path is None:
            raise FileNotFoundError(f"no artifact {digest} here nor at any host that declared it")
        return open(path, "rb")

    def exists(self, digest: str) -> bool:
        return super().exists(digest) or self.cache.exists(digest) or bool(self.sources(digest))

    def size(self, digest: str) -> int | None:
        return super().size(digest) or self.cache.size(digest)

    def delete(self, digest: str) -> bool:
        return any([super().delete(digest), self.cache.delete(digest)])

    def digests(self) -> Iterator[str]:
        yield from super().digests()
        yield from self.cache.digests()

    def modified(self, digest: str) -> datetime | None:
        return super().modified(digest) or self.cache.modified(digest)

    def pin(self, digest: str) -> bool:
        """Move the artifact from the cache (fetching it first if need be) into the store's own files."""
        target = self.file(digest)
        if target.exists():
            return True
        if not self.cache.exists(digest) and self.fetch(digest) is None:
            log.warning("artifact %s is kept for good but no host serves it now", digest)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.cache.file(digest), target)
        return True

    def fetch(self, digest: str) -> Path | None:
        """Fetch `digest` from the hosts that declared it into the cache; its path, None when none served it."""
        with self._locks_lock:
            lock = self._locks.setdefault(digest, threading.Lock())
        with lock:  # one fetch per artifact at a time: a burst of reads of one checkpoint costs one transfer
            try:
                if self.cache.exists(digest):
                    return self.cache.file(digest)
                for source in self.sources(digest):
                    if self._fetch_from(source, digest):
                        self.evict(keep=digest)
                        return self.cache.file(digest)
                return None
            finally:
                with self._locks_lock:
                    self._locks.pop(digest, None)

    def _fetch_from(self, source: str, digest: str) -> bool:
        writer = self.cache.writer(digest)
        started = time.monotonic()
        try:
            with self.http.stream("GET", f"{source}/artifacts/{digest}") as response:
                if response.status_code != 200:
                    log.warning("artifact %s: %s answered %s", digest, source, response.status_code)
                    writer.abort()
                    return False
                for block in response.iter_raw(READ):
                    writer.write(block)
                    if writer.size > self.max_bytes:
                        raise ArtifactError(f"more than {self.max_bytes} bytes")
                    # A host that trickles bytes is cut off too: it must keep up MIN_RATE after `timeout`.
                    if time.monotonic() - started > self.timeout + writer.size / MIN_RATE:
                        raise ArtifactError(f"slower than {MIN_RATE} bytes/s")
            writer.commit()
            return True
        except ArtifactError as exc:
            log.error("artifact %s: refused what %s served: %s", digest, source, exc)
        except httpx.HTTPError as exc:
            log.warning("artifact %s: %s failed: %s", digest, source, type(exc).__name__)
        writer.abort()
        return False

    def evict(self, keep: str | None = None) -> list[str]:
        """Delete the least recently used cached artifacts until the cache holds at most `cache_bytes`."""
        entries = []
        for digest in self.cache.digests():
            stat = self.cache.file(digest).stat()
            entries.append((stat.st_mtime, stat.st_size, digest))
        total, evicted = sum(size for _, size, _ in entries), []
        for _, size, digest in sorted(entries):
            if total <= self.cache_bytes:
                break
            if digest != keep and self.cache.delete(digest):
                total -= size
                evicted.append(digest)
        return evicted


def open_store(settings, sessions: sessionmaker[Session]) -> ArtifactStore:
    """The store `settings.artifact_backend` names, at `settings.artifact_dir`."""
    if settings.artifact_backend == "solvers":
        return SolverHostedStore(settings.artifact_dir, sessions, settings.artifact_cache_bytes,
                                 settings.max_artifact_bytes, settings.artifact_fetch_timeout)
    return ArtifactStore(settings.artifact_dir)
