"""A solver serves the checkpoints it committed from its own host (the coordinator's `solvers` backend,
docs/ARTIFACTS.md): a small read-only HTTP server inside the solver's worker process.

`ArtifactHost` files bytes under their sha256 in one folder that only this solver writes; `serve` answers
`GET`/`HEAD /artifacts/0x<sha256>` (with `Range: bytes=N-`) from that folder and nothing else: the path must
be exactly a digest, the file a regular file (no links), so no request can name anything outside it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from pinpoint.client import hash_file

log = logging.getLogger(__name__)
ROUTE = re.compile(r"^/artifacts/(0x[0-9a-f]{64})$")
RANGE = re.compile(r"^bytes=(\d+)-$")


class ArtifactHost:
    """Artifacts this solver serves, at `url` (the http://host:port it declares to the coordinator)."""

    def __init__(self, root: Path, url: str):
        self.root, self.url = Path(root), url
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path | None:
        """The served file of `digest`; None when this host does not serve it (or `digest` is not one)."""
        if not re.fullmatch(r"0x[0-9a-f]{64}", digest):
            return None
        path = self.root / digest[2:]
        try:
            return path if os.path.isfile(path) and not os.path.islink(path) else None
        except OSError:
            return None

    def put(self, data: bytes | os.PathLike) -> str:
        """Serve `data` (bytes, or a file: hard-linked when it can be, so a kept checkpoint costs no second
        copy on disk); its id '0x' + sha256."""
        if isinstance(data, (bytes, bytearray, memoryview)):
            digest = "0x" + hashlib.sha256(data).hexdigest()
            if self.path(digest) is None:
                with tempfile.NamedTemporaryFile(dir=self.root, prefix=".put-", delete=False) as file:
                    file.write(data)
                os.replace(file.name, self.root / digest[2:])
            return digest
        source = Path(data)
        digest = "0x" + hash_file(source).hexdigest()
        if self.path(digest) is None:
            temporary = self.root / f".put-{os.getpid()}-{threading.get_ident()}"
            temporary.unlink(missing_ok=True)
            try:
                os.link(source, temporary)
            except OSError:  # another filesystem: copy
                shutil.copyfile(source, temporary)
            os.replace(temporary, self.root / digest[2:])
        return digest

    def delete(self, digest: str) -> bool:
        path = self.path(digest)
        if path is None:
            return False
        path.unlink()
        return True


def host_for(settings, address: str) -> ArtifactHost | None:
    """The solver's host of its checkpoints when `settings.artifact_serve_url` is set (None: it uploads them)."""
    if not settings.artifact_serve_url:
        return None
    return ArtifactHost(settings.home / "served" / address.lower(), settings.artifact_serve_url)


class _Handler(BaseHTTPRequestHandler):
    host: ArtifactHost  # set on the subclass `serve` makes
    server_version = "pinpoint-artifacts"

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        match = ROUTE.match(self.path)
        path = self.host.path(match.group(1)) if match else None
        if path is None:
            self.send_error(404, "no such artifact here")
            return
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            start = 0
            wanted = RANGE.match(self.headers.get("Range", ""))
            if wanted:
                start = int(wanted.group(1))
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            else:
                self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size - start))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if body:
                file.seek(start)
                shutil.copyfileobj(file, self.wfile, 1 << 20)

    def log_message(self, format: str, *args) -> None:
        log.debug("artifact server: " + format, *args)


def serve(host: ArtifactHost, bind: str | None = None) -> ThreadingHTTPServer:
    """Serve `host`'s artifacts on `bind` (host:port; by default those of its URL) from a daemon thread; stop
    it with `.shutdown()`."""
    if bind:
        address, _, port = bind.rpartition(":")
    else:
        parts = urlsplit(host.url)
        address, port = parts.hostname or "", parts.port
    handler = type("Handler", (_Handler,), {"host": host})
    server = ThreadingHTTPServer((address.strip("[]"), int(port)), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="artifact-server", daemon=True).start()
    log.info("serving checkpoints from %s on %s:%s (declared as %s)", host.root, address, port, host.url)
    return server
