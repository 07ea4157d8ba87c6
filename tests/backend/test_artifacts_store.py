"""Artifacts at scale (docs/ARTIFACTS.md): chunked, resumable uploads and ranged, resumable downloads over the
real API app, hash-checked as they stream; quotas with chunks. Sizes are small and chunks tiny, so the
protocol runs through many chunks in milliseconds."""

import hashlib
import json
import os
import socket
import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from backend.models import Artifact, ArtifactUpload
from pinpoint.client import (
    CONTENT_SHA256,
    CoordinatorClient,
    CoordinatorError,
    HashMismatch,
)
from tests.backend.scenario import client, fresh_key, signed

CHUNK = 4096


def digest(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def coordinator(api, key: str, sent: list | None = None) -> CoordinatorClient:
    """A client of the in-process app that chunks above 8 KiB; `sent` collects (method, path, Range) of its requests."""
    c = CoordinatorClient(str(api.base_url), key, api.app.state.chain.signing_domain)
    c.http = api
    c.chunk_bytes, c.chunked_above = CHUNK, 2 * CHUNK
    if sent is not None:
        api.event_hooks["request"] = [lambda r: sent.append((r.method, r.url.raw_path.decode(), r.headers.get("range")))]
    return c


def start(api, key: str, data: bytes, size: int | None = None):
    path = f"/v1/artifacts/{digest(data)}/upload"
    body = json.dumps({"size": len(data) if size is None else size}).encode()
    return api.post(path, content=body, headers=signed(api, key, "POST", path, body) | {"Content-Type": "application/json"})


def chunk(api, key: str, data: bytes, offset: int, piece: bytes, signed_piece: bytes | None = None):
    path = f"/v1/artifacts/{digest(data)}/upload?offset={offset}"
    sha = hashlib.sha256(piece if signed_piece is None else signed_piece).digest()
    return api.put(path, content=piece, headers=signed(api, key, "PUT", path, digest=sha) | {CONTENT_SHA256: sha.hex()})


def partials(api) -> list:
    folder = api.app.state.artifacts.root / ".partial"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_chunkedUpload_resumesFromTheServersOffset_andStoresTheRightBytes(api, chain_stack, tmp_path):
    key = fresh_key(client(chain_stack))
    data = os.urandom(10 * CHUNK + 123)
    assert start(api, key, data).json() == {"artifact": digest(data), "size": len(data), "offset": 0, "complete": False}
    for i in range(3):  # an uploader that stopped after three chunks
        assert chunk(api, key, data, i * CHUNK, data[i * CHUNK:(i + 1) * CHUNK]).json()["offset"] == (i + 1) * CHUNK
    assert not api.app.state.artifacts.exists(digest(data)) and len(partials(api)) == 1
    stale = chunk(api, key, data, CHUNK, data[CHUNK:2 * CHUNK])  # a chunk sent twice
    assert stale.status_code == 409 and stale.headers["Upload-Offset"] == str(3 * CHUNK)

    path = tmp_path / "weights.bin"  # the same upload again, from a file: it continues at the server's offset
    path.write_bytes(data)
    sent = []
    assert coordinator(api, key, sent).upload_artifact(path) == digest(data)
    offsets = [int(p.split("offset=")[1]) for m, p, _ in sent if m == "PUT"]
    assert offsets == list(range(3 * CHUNK, len(data), CHUNK))
    assert api.get(f"/v1/artifacts/{digest(data)}").content == data
    assert partials(api) == []
    with api.app.state.sessions() as session:
        assert session.get(Artifact, digest(data)).size == len(data)
        assert session.query(ArtifactUpload).count() == 0
    sent.clear()  # stored already: the next upload sends nothing but the question
    assert coordinator(api, key, sent).upload_artifact(data) == digest(data) and [m for m, _, _ in sent] == ["POST"]


def test_chunkedUpload_wrongChunkOrWrongWhole_isRefused_andNothingIsKept(api, chain_stack):
    key = fresh_key(client(chain_stack))
    data = os.urandom(3 * CHUNK)
    start(api, key, data)
    assert chunk(api, key, data, 0, data[:CHUNK]).status_code == 200
    bad = chunk(api, key, data, CHUNK, os.urandom(CHUNK), signed_piece=data[CHUNK:2 * CHUNK])  # not what was signed
    assert bad.status_code == 422 and "not kept" in bad.json()["detail"]
    assert start(api, key, data).json()["offset"] == CHUNK  # cut back to where the bad chunk started

    unsigned = api.put(f"/v1/artifacts/{digest(data)}/upload?offset={CHUNK}", content=data[CHUNK:2 * CHUNK],
                       headers={CONTENT_SHA256: hashlib.sha256(data[CHUNK:2 * CHUNK]).hexdigest()})
    assert unsigned.status_code == 401
    stranger = fresh_key(client(chain_stack))  # a chunk of an upload nobody authorized
    refused = chunk(api, stranger, data, CHUNK, data[CHUNK:2 * CHUNK])
    assert refused.status_code == 404 and "no upload" in refused.json()["detail"]
    assert chunk(api, key, data, 2 * CHUNK, os.urandom(2 * CHUNK)).status_code == 422  # past the declared size

    lie = os.urandom(3 * CHUNK)  # chunks each as signed, but not the bytes the digest names
    name = digest(data)
    assert chunk(api, key, data, CHUNK, lie[CHUNK:2 * CHUNK]).status_code == 200
    final = chunk(api, key, data, 2 * CHUNK, lie[2 * CHUNK:])
    assert final.status_code == 422 and "not kept" in final.json()["detail"]
    assert not api.app.state.artifacts.exists(name) and partials(api) == []
    with api.app.state.sessions() as session:
        assert session.query(ArtifactUpload).count() == 0 and session.get(Artifact, name) is None
    assert chunk(api, key, data, 0, data[:CHUNK]).status_code == 404  # it must start over


def test_chunkedUploads_countAgainstTheQuota_untilAbandoned(api, chain_stack):
    settings = api.app.state.settings
    settings.upload_quota_bytes = 5 * CHUNK
    try:
        key = fresh_key(client(chain_stack))
        first, second = os.urandom(4 * CHUNK), os.urandom(2 * CHUNK)
        assert start(api, key, first).status_code == 200  # reserved in full before a byte arrives
        refused = start(api, key, second)
        assert refused.status_code == 429 and "in progress" in refused.json()["detail"]
        assert start(api, key, first, size=3 * CHUNK).status_code == 409  # one artifact, one size
        with api.app.state.sessions() as session:  # the first lies idle past the deadline: abandoned
            session.get(ArtifactUpload, (digest(first), key_address(key))).updated_at -= timedelta(
                seconds=settings.upload_idle_seconds + 1)
            session.commit()
        assert start(api, key, second).status_code == 200
        too_big = start(api, key, os.urandom(16), size=settings.max_artifact_bytes + 1)
        assert too_big.status_code == 413
    finally:
        settings.upload_quota_bytes = type(settings).model_fields["upload_quota_bytes"].default


def key_address(key: str) -> str:
    from eth_account import Account

    return Account.from_key(key).address


def test_download_rangeRequests_resume_andAWrongPrefixIsCaught(api, chain_stack, tmp_path):
    key = fresh_key(client(chain_stack))
    data = os.urandom(5 * CHUNK + 7)
    c = coordinator(api, key)
    c.upload_artifact(data)
    url = f"/v1/artifacts/{digest(data)}"
    ranged = api.get(url, headers={"Range": f"bytes={CHUNK}-"})
    assert ranged.status_code == 206 and ranged.content == data[CHUNK:]
    assert ranged.headers["content-range"] == f"bytes {CHUNK}-{len(data) - 1}/{len(data)}"

    target = tmp_path / "ckpt.safetensors"
    (tmp_path / "ckpt.safetensors.partial").write_bytes(data[:2 * CHUNK])  # what an interrupted call left
    sent = []
    assert coordinator(api, key, sent).download_artifact_to(digest(data), target).read_bytes() == data
    assert sent == [("GET", url, f"bytes={2 * CHUNK}-")] and not (tmp_path / "ckpt.safetensors.partial").exists()

    whole = tmp_path / "again.bin"
    (tmp_path / "again.bin.partial").write_bytes(data)  # everything arrived before the rename
    assert c.download_artifact_to(digest(data), whole).read_bytes() == data

    lied = tmp_path / "lied.bin"
    (tmp_path / "lied.bin.partial").write_bytes(os.urandom(CHUNK))  # a prefix that is not the artifact's
    with pytest.raises(HashMismatch):
        c.download_artifact_to(digest(data), lied)
    assert not lied.exists() and not (tmp_path / "lied.bin.partial").exists()
    assert c.download_artifact(digest(data)) == data


class DroppingProxy:
    """A TCP proxy on loopback that cuts its first connection after `cut` bytes of the answer, as a dropped
    connection would, and relays every later one whole."""

    def __init__(self, upstream: tuple[str, int], cut: int):
        self.upstream, self.cut, self.connections = upstream, cut, 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                downstream, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            limit = self.cut if self.connections == 1 else None
            threading.Thread(target=self.relay, args=(downstream, limit), daemon=True).start()

    def relay(self, downstream: socket.socket, limit: int | None) -> None:
        upstream = socket.create_connection(self.upstream)
        threading.Thread(target=self.pipe, args=(downstream, upstream, None), daemon=True).start()
        self.pipe(upstream, downstream, limit)

    @staticmethod
    def pipe(source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := source.recv(65536):
                if limit is not None and sent + len(data) >= limit:
                    sink.sendall(data[:limit - sent])
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.server.close()


def test_download_droppedMidStream_resumesWithARange_overRealHttp(live_api, chain_stack, tmp_path):
    base, app = live_api
    key = fresh_key(client(chain_stack))
    data = os.urandom(3 << 20)
    uploader = CoordinatorClient(base, key, app.state.chain.signing_domain)
    uploader.chunk_bytes, uploader.chunked_above = 1 << 20, 1 << 20
    assert uploader.upload_artifact(data) == digest(data)
    host, port = base.removeprefix("http://").split(":")
    proxy = DroppingProxy((host, int(port)), cut=1 << 20)
    ranges = []
    reader = CoordinatorClient(f"http://127.0.0.1:{proxy.port}")
    reader.http = httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}",
                               event_hooks={"request": [lambda r: ranges.append(r.headers.get("range"))]})
    try:
        target = reader.download_artifact_to(digest(data), tmp_path / "big.bin")
    finally:
        proxy.close()
    assert target.read_bytes() == data
    assert ranges[0] is None and ranges[1].startswith("bytes=") and int(ranges[1][6:-1]) > 0
    assert proxy.connections == 2


@pytest.fixture
def live_api(chain_stack, database_url, tmp_path):
    """The coordinator's app served by a real uvicorn on a loopback port (streaming and dropped connections
    need a real socket); its indexer does not run."""
    import uvicorn

    from backend.app import create_app
    from pinpoint.localnet import free_port
    from pinpoint.settings import Settings

    settings = Settings(home=tmp_path, rpc_url=chain_stack.rpc_url, deployment_file=chain_stack.deployment_file,
                        database_url=database_url, read_cache_seconds=0)
    app = create_app(settings, run_indexer=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = datetime.now(timezone.utc) + timedelta(seconds=20)
    while not server.started:
        assert datetime.now(timezone.utc) < deadline, "uvicorn did not start"
        threading.Event().wait(0.02)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(10)


def test_client_uploadFailure_saysWhy(api, chain_stack):
    broke = fresh_key(client(chain_stack), ether=0)
    with pytest.raises(CoordinatorError, match="wei"):
        coordinator(api, broke).upload_artifact(os.urandom(3 * CHUNK))


def test_client_holdsArtifact_asksForOneByte(api, chain_stack):
    c = coordinator(api, fresh_key(client(chain_stack)), sent := [])
    data = os.urandom(3 * CHUNK)
    c.upload_artifact(data)
    sent.clear()
    assert c.holds_artifact(digest(data)) and sent == [("GET", f"/v1/artifacts/{digest(data)}", "bytes=0-0")]
    assert not c.holds_artifact(digest(b"never uploaded"))


# --- the solver-hosted backend ------------------------------------------------------------------------------


@pytest.fixture
def solvers_api(chain_stack, database_url, tmp_path):
    """The API app with the `solvers` backend: solvers may serve their checkpoints from their own hosts."""
    from fastapi.testclient import TestClient

    from backend.app import create_app
    from pinpoint.settings import Settings

    settings = Settings(home=tmp_path / "coordinator", rpc_url=chain_stack.rpc_url, database_url=database_url,
                        deployment_file=chain_stack.deployment_file, read_cache_seconds=0, artifact_backend="solvers")
    with TestClient(create_app(settings, run_indexer=False)) as api:
        yield api


def running_job(api, solver: str, job_id: int = 7) -> int:
    """A job `solver` runs, as the index holds it (no chain needed for what these routes read)."""
    from backend.models import Job

    with api.app.state.sessions() as session:
        session.add(Job(id=job_id, spec_hash="0x" + "aa" * 32, submitter="0x" + "5b" * 20, state="running",
                        max_price="10", required_stake="40", checkpoint_count=4, checkpoint_interval=2,
                        bidding_deadline=0, solver=solver, updated_block=1))
        session.commit()
    return job_id


@pytest.fixture
def solver_host(tmp_path):
    from pinpoint.localnet import free_port
    from worker.artifact_server import ArtifactHost, serve

    port = free_port()
    host = ArtifactHost(tmp_path / "served", f"http://127.0.0.1:{port}")
    server = serve(host)
    yield host
    server.shutdown()
    server.server_close()


class Liar:
    """A solver's host that lies: wrong bytes for `wrong`, a redirect for `redirected`, 10 MB for anything else."""

    def __init__(self, wrong: str, redirected: str, elsewhere: str):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.endswith(redirected):
                    self.send_response(302)
                    self.send_header("Location", f"{elsewhere}{self.path}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = os.urandom(1000) if self.path.endswith(wrong) else b"x" * 10_000_000
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def declare(api, key: str, artifact: str, job_id: int, url: str):
    path, body = f"/v1/artifacts/{artifact}/sources", json.dumps({"job_id": job_id, "url": url}).encode()
    return api.post(path, content=body, headers=signed(api, key, "POST", path, body) | {"Content-Type": "application/json"})


def test_solverHosted_coordinatorFetchesChecksAndCaches_onAMiss(solvers_api, chain_stack, solver_host):
    api, store = solvers_api, solvers_api.app.state.artifacts
    key = fresh_key(client(chain_stack))
    job_id = running_job(api, key_address(key))
    solver = coordinator(api, key)
    solver.host = solver_host
    data = os.urandom(300_000)
    artifact = solver.publish_checkpoint(job_id, data)
    assert artifact == digest(data) and solver_host.path(artifact).read_bytes() == data
    assert not store.cache.exists(artifact) and not store.file(artifact).exists()  # nothing sent to the coordinator
    solver.report_checkpoint(job_id, 1, 2, "0x" + "ab" * 32, artifact, None)  # accepted: the index names a host

    assert api.get(f"/v1/artifacts/{artifact}").content == data  # fetched, checked, cached, served
    assert store.cache.exists(artifact)
    solver_host.delete(artifact)  # the solver's host goes away: the cache still serves it, and ranges of it
    assert api.get(f"/v1/artifacts/{artifact}", headers={"Range": "bytes=1000-"}).content == data[1000:]

    other = solver.publish_checkpoint(job_id, os.urandom(200_000))
    store.cache_bytes = 250_000  # room for one: the least recently used goes
    assert api.get(f"/v1/artifacts/{other}").status_code == 200
    assert store.cache.exists(other) and not store.cache.exists(artifact)
    assert api.get(f"/v1/artifacts/{artifact}").status_code == 404  # no host serves it any more


def test_solverHosted_untrustedHosts_areRefused(solvers_api, chain_stack, solver_host, caplog):
    api, store = solvers_api, solvers_api.app.state.artifacts
    key = fresh_key(client(chain_stack))
    job_id = running_job(api, key_address(key))
    wrong, redirected, big = (digest(os.urandom(8)) for _ in range(3))
    liar = Liar(wrong, redirected, solver_host.url)
    try:
        for artifact in (wrong, redirected, big):
            assert declare(api, key, artifact, job_id, liar.url).status_code == 201
        store.max_bytes = 1_000_000
        with caplog.at_level("WARNING", logger="backend.artifacts"):
            for artifact in (wrong, redirected, big):
                assert api.get(f"/v1/artifacts/{artifact}").status_code == 404
                assert not store.cache.exists(artifact)
        assert f"refused what {liar.url} served: content hashes to" in caplog.text
        assert f"{liar.url} answered 302" in caplog.text and "more than 1000000 bytes" in caplog.text
    finally:
        liar.close()
    assert list(store.cache.root.rglob(".upload-*")) == []  # nothing half-written kept

    for url in ("https://127.0.0.1:1", "http://127.0.0.1:1/x", "http://user@127.0.0.1:1", "http://127.0.0.1",
                "file:///etc/passwd", "http://127.0.0.1:1?q"):
        assert declare(api, key, wrong, job_id, url).status_code == 422, url
    stranger = fresh_key(client(chain_stack))
    assert declare(api, stranger, wrong, job_id, solver_host.url).status_code == 403  # not this job's solver


def test_artifactServer_servesOnlyWhatItWrote(solver_host, tmp_path):
    data = os.urandom(5000)
    artifact = solver_host.put(data)
    kept = tmp_path / "kept.safetensors"
    kept.write_bytes(os.urandom(100))
    linked = solver_host.put(kept)  # a kept checkpoint: hard-linked, not copied
    assert os.stat(kept).st_ino == os.stat(solver_host.path(linked)).st_ino
    secret = tmp_path / "secret"
    secret.write_bytes(b"key")
    os.symlink(secret, solver_host.root / ("ab" * 32))
    http = httpx.Client(base_url=solver_host.url)
    assert http.get(f"/artifacts/{artifact}").content == data
    ranged = http.get(f"/artifacts/{artifact}", headers={"Range": "bytes=4000-"})
    assert ranged.status_code == 206 and ranged.content == data[4000:]
    assert http.get(f"/artifacts/{artifact}", headers={"Range": "bytes=5000-"}).status_code == 416
    assert http.head(f"/artifacts/{artifact}").headers["content-length"] == "5000"
    for path in ("/artifacts/0x" + "ab" * 32, "/artifacts/../secret", "/artifacts/%2e%2e/secret", "/secret",
                 f"/artifacts/{artifact}?x=1", f"/artifacts/{artifact[2:]}", "/artifacts/0x" + "cd" * 32):
        assert http.get(path).status_code == 404, path


def test_solverWithAHost_uploadsWhereTheCoordinatorKeepsCheckpoints(api, chain_stack, solver_host):
    key = fresh_key(client(chain_stack))
    job_id = running_job(api, key_address(key))
    solver = coordinator(api, key)
    solver.host = solver_host
    data = os.urandom(1000)
    assert declare(api, key, digest(data), job_id, solver_host.url).status_code == 409  # filesystem backend
    assert solver.publish_checkpoint(job_id, data) == digest(data)
    assert api.app.state.artifacts.exists(digest(data))  # uploaded instead


# --- retention ------------------------------------------------------------------------------------------------


def test_retention_deletesExactlyWhatTheRulesAllow(api, chain_stack):
    from backend.models import Checkpoint, Dispute, Job, Spec
    from backend.retention import collect

    store, sessions = api.app.state.artifacts, api.app.state.sessions
    now = datetime.now(timezone.utc)
    blobs: dict[str, str] = {}

    def blob(name: str, uploaded: timedelta | None = None, job_id: int | None = None) -> str:
        data = name.encode() + os.urandom(16)
        store.put(digest(data), data)
        blobs[name] = digest(data)
        if uploaded is not None:
            with sessions() as session:
                session.add(Artifact(digest=digest(data), size=len(data), uploader="0x" + "11" * 20, job_id=job_id,
                                     created_at=now - uploaded))
                session.commit()
        return digest(data)

    day = timedelta(days=1)
    dataset, weights, old_dataset = blob("dataset", 30 * day), blob("weights", 30 * day), blob("old-dataset", 10 * day)
    fresh, stale = blob("fresh-upload", timedelta(hours=1)), blob("stale-upload", 8 * day)
    legacy = blob("file-without-row")  # no row: its file's age counts
    os.utime(store.path(legacy), (0, (now - 9 * day).timestamp()))

    def job(job_id: int, state: str, checkpoints: int, names: list[str], kind: str = "train") -> list[str]:
        body = json.dumps({"kind": kind, "named": [{"sha256": n[2:]} for n in names], "nonce": job_id})
        spec_hash = digest(body.encode())
        reported = [blob(f"job{job_id}-ckpt{i}") for i in range(checkpoints + 1)]
        with sessions() as session:
            session.add(Spec(hash=spec_hash, body=body))
            session.add(Job(id=job_id, spec_hash=spec_hash, submitter="0x" + "5b" * 20, state=state, max_price="1",
                            required_stake="1", checkpoint_count=checkpoints, checkpoint_interval=2, bidding_deadline=0,
                            solver="0x" + "22" * 20, updated_block=1))
            session.flush()
            for i, artifact in enumerate(reported):
                session.add(Checkpoint(job_id=job_id, index=i, step=2 * i, state_hash="0x" + "ab" * 32, artifact=artifact))
            session.commit()
        return reported

    finalized = job(1, "finalized", 2, [old_dataset])
    pre_state = blob("dispute-pre-state", timedelta(hours=1), job_id=1)  # uploaded for job 1, which settled
    disputed = job(2, "slashed", 1, [])  # settled, but a dispute over it is still open
    with sessions() as session:
        session.add(Dispute(id=1, job_id=2, challenger="0x" + "33" * 20, lo=0, hi=2, phase="respond"))
        session.commit()
    running = job(3, "running", 2, [dataset, weights])
    outputs = job(5, "finalized", 2, [], kind="inference")
    unverified = job(6, "unverified", 1, [dataset])

    idle, active = os.urandom(100), os.urandom(100)
    for data, ago in ((idle, timedelta(hours=2)), (active, timedelta(minutes=5))):
        store.start_partial(digest(data), "0x" + "44" * 20)
        with sessions() as session:
            session.add(ArtifactUpload(digest=digest(data), uploader="0x" + "44" * 20, size=1000, updated_at=now - ago))
            session.commit()

    expected = sorted([*finalized[:-1], pre_state, *unverified, old_dataset, stale, legacy])
    before = set(store.digests())
    dry = collect(store, sessions, retention_days=7, upload_idle_seconds=3600, now=now, dry_run=True)
    assert dry.deleted == expected and set(store.digests()) == before

    done = collect(store, sessions, retention_days=7, upload_idle_seconds=3600, now=now)
    assert done.deleted == expected and done.abandoned_uploads == 1
    assert set(store.digests()) == before - set(expected)
    kept = {finalized[-1], *disputed, *running, *outputs, dataset, weights, fresh}
    assert kept == set(store.digests())
    assert partials(api) == [f"{digest(active)[2:]}.{'44' * 20}"]
    with sessions() as session:
        assert [u.digest for u in session.query(ArtifactUpload)] == [digest(active)]
    assert collect(store, sessions, retention_days=7, upload_idle_seconds=3600, now=now).deleted == []  # idempotent


def test_retention_keepsWhatASwarmRoundStartsFrom(api, chain_stack):
    """A live round-1 share names its start, the K updates and its inner checkpoint (not as `sha256` fields):
    all are kept past the retention period. A finalized share keeps its checkpoint 0 with its final checkpoint
    (the next round starts from both, and may be posted after it settled); its other checkpoints go."""
    from backend.models import Checkpoint, Job, Spec
    from backend.retention import collect
    from pinpoint.spec import example_mlp_spec, swarm_round_spec

    store, sessions = api.app.state.artifacts, api.app.state.sessions
    now = datetime.now(timezone.utc)

    def stale_upload() -> str:
        data = os.urandom(64)
        store.put(digest(data), data)
        with sessions() as session:
            session.add(Artifact(digest=digest(data), size=len(data), uploader="0x" + "11" * 20,
                                 created_at=now - timedelta(days=30)))
            session.commit()
        return digest(data)

    def job(job_id: int, state: str, spec) -> list[str]:
        body = spec.canonical_json().decode()
        reported = [stale_upload() for _ in range(spec.checkpoint_count + 1)]
        with sessions() as session:
            session.merge(Spec(hash=spec.spec_hash(), body=body))
            session.add(Job(id=job_id, spec_hash=spec.spec_hash(), submitter="0x" + "5b" * 20, state=state,
                            max_price="1", required_stake="1", checkpoint_count=spec.checkpoint_count,
                            checkpoint_interval=spec.checkpoint_interval, bidding_deadline=0, solver="0x" + "22" * 20,
                            updated_block=1))
            session.flush()
            for i, artifact in enumerate(reported):
                session.add(Checkpoint(job_id=job_id, index=i, step=i * spec.checkpoint_interval,
                                       state_hash="0x" + "ab" * 32, artifact=artifact))
            session.commit()
        return reported

    base = example_mlp_spec()
    share = job(1, "finalized", swarm_round_spec(base, 2, 0, 0))
    start, inner, *updates = (stale_upload() for _ in range(4))
    running = job(2, "running", swarm_round_spec(base, 2, 1, 1, start[2:], [u[2:] for u in updates], inner[2:]))

    done = collect(store, sessions, retention_days=7, upload_idle_seconds=3600, now=now)
    assert sorted(done.deleted) == sorted(share[1:-1])
    assert {share[0], share[-1], start, inner, *updates, *running} <= set(store.digests())


def test_retention_pinsAResultServedOnlyByItsSolver(solvers_api, chain_stack, solver_host):
    from backend.models import ArtifactSource, Checkpoint, Job
    from backend.retention import collect

    api, store, sessions = solvers_api, solvers_api.app.state.artifacts, solvers_api.app.state.sessions
    key = fresh_key(client(chain_stack))
    job_id = running_job(api, key_address(key))
    solver = coordinator(api, key)
    solver.host = solver_host
    middle, final = (solver.publish_checkpoint(job_id, os.urandom(1000)) for _ in range(2))
    assert api.get(f"/v1/artifacts/{middle}").status_code == 200  # cached by a read
    with sessions() as session:
        job = session.get(Job, job_id)
        job.state, job.checkpoint_count = "finalized", 1
        for i, artifact in enumerate((middle, final)):
            session.add(Checkpoint(job_id=job_id, index=i, step=2 * i, state_hash="0x" + "ab" * 32, artifact=artifact))
        session.commit()

    done = collect(store, sessions, retention_days=7, upload_idle_seconds=3600)
    assert done.deleted == [middle] and done.pinned == [final]
    assert store.file(final).exists() and not store.cache.exists(middle)  # in its own files: no cache evicts it
    with sessions() as session:
        assert session.query(ArtifactSource).count() == 0  # settled: the solver need not serve them any more
    solver_host.delete(final)
    assert api.get(f"/v1/artifacts/{final}").status_code == 200


def test_gcCommand_listsWithDryRun_thenDeletes(api, database_url, tmp_path, monkeypatch, capsys):
    from backend.cli import main
    from pinpoint.settings import get_settings

    store = api.app.state.artifacts
    data = os.urandom(64)
    store.put(digest(data), data)  # uploaded long ago, named by no job
    os.utime(store.path(digest(data)), (0, (datetime.now(timezone.utc) - timedelta(days=30)).timestamp()))
    monkeypatch.setenv("PINPOINT_HOME", str(tmp_path))
    monkeypatch.setenv("PINPOINT_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        main(["gc", "--dry-run"])
        assert "would delete 1 artifacts" in capsys.readouterr().out and store.exists(digest(data))
        main(["gc"])
        assert digest(data) in capsys.readouterr().out and not store.exists(digest(data))
    finally:
        get_settings.cache_clear()


def test_jobUploadAllowance_growsWithTheJobsCheckpoints():
    """A solver may upload what its job's spec needs (each checkpoint twice), not a fixed 16 GiB a day: GPT-2
    small with AdamW writes ~1.4 GiB per checkpoint."""
    from backend.api.routes.artifacts import job_upload_bytes
    from pinpoint.resources import estimate_resources
    from pinpoint.spec import GPT2_SMALL, example_gpt_spec

    big = example_gpt_spec(model=GPT2_SMALL, batch_size=1, steps=64, checkpoint_interval=4)
    assert job_upload_bytes(big.canonical_json().decode()) == 2 * 17 * estimate_resources(big).checkpoint_bytes > 16 << 30
    assert job_upload_bytes(None) == 0  # a job whose spec this coordinator never stored gets the fixed quota
