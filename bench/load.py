"""The coordinator under load: a real coordinator (`pinpoint-coordinator serve`, uvicorn, N processes) over
a real chain deployment and a real database (SQLite, PostgreSQL), hammered by a load generator on the same
machine.

    python -m bench.load [--seconds 10]      # also part of `make bench`

For each database and process count it measures `GET /jobs/{id}` (a job with 8 checkpoints, a bid and
verdicts) and `POST /jobs` (a new spec each time) at 64 and 256 keep-alive connections: requests per
second, p50 and p99 latency, and every status that came back (errors are anything but 2xx; 429 and 503
are back-pressure with Retry-After, counted apart). The load generator is asyncio over raw sockets
(uvloop): light enough that it, not the server, is rarely the bottleneck, but it shares the two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import uvloop

from backend.db import make_engine, migrate, session_factory
from backend.models import Bid, Checkpoint, Job, Verdict
from pinpoint.localnet import LocalStack, free_port
from pinpoint.spec import example_mlp_spec

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
JOBS = 200


def seed(database_url: str) -> None:
    """JOBS jobs as the indexer would have left them: each with a bid, 8 checkpoints and 2 verdicts."""
    engine = make_engine(database_url)
    migrate(engine)
    with session_factory(engine)() as session:
        for job_id in range(1, JOBS + 1):
            session.add(Job(id=job_id, spec_hash="0x" + "ab" * 32, submitter="0x" + "11" * 20, state="submitted",
                            max_price=str(10**17), required_stake=str(10**18), checkpoint_count=8,
                            checkpoint_interval=8, bidding_deadline=1, solver="0x" + "22" * 20, price=str(10**16),
                            execution_deadline=2, checkpoints_done=8, updated_block=1))
            session.add(Bid(job_id=job_id, solver="0x" + "22" * 20, price=str(10**16), block_number=1))
            for index in range(9):
                session.add(Checkpoint(job_id=job_id, index=index, step=8 * index, state_hash="0x" + f"{index:064x}",
                                       artifact="0x" + f"{index + 1:064x}", loss=1.0 / (index + 1)))
            for interval in (2, 5):
                session.add(Verdict(job_id=job_id, verifier="0x" + "33" * 20, interval=interval, agrees=True,
                                    detail="replayed"))
        session.commit()
    engine.dispose()


def requests_for(kind: str, port: int):
    """An endless supply of raw HTTP/1.1 requests of one kind."""
    host = f"Host: 127.0.0.1:{port}\r\n"
    n = 0
    while True:
        n += 1
        if kind == "get":
            yield f"GET /v1/jobs/{n % JOBS + 1} HTTP/1.1\r\n{host}\r\n".encode()
        else:
            body = _spec_with_seed(n)
            yield (f"POST /v1/jobs HTTP/1.1\r\n{host}Content-Type: application/json\r\nContent-Length: {len(body)}"
                   "\r\n\r\n").encode() + body


_TEMPLATE = example_mlp_spec(seed=123456789).canonical_json()


def _spec_with_seed(n: int) -> bytes:
    """A distinct valid spec without pydantic in the load generator's loop."""
    return _TEMPLATE.replace(b'"seed":123456789', b'"seed":%d' % n, 1)


async def hammer(port: int, kind: str, connections: int, seconds: float) -> dict:
    supply = requests_for(kind, port)
    latencies: list[float] = []
    statuses: Counter = Counter()
    deadline = time.perf_counter() + seconds

    async def one_connection() -> None:
        reader = writer = None
        while time.perf_counter() < deadline:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                request = next(supply)
                started = time.perf_counter()
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                statuses[int(head[9:12])] += 1
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, asyncio.LimitOverrunError):
                statuses["connection error"] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    elapsed = time.perf_counter() - began
    ok = sum(n for status, n in statuses.items() if isinstance(status, int) and 200 <= status < 300)
    pushed_back = statuses.get(429, 0) + statuses.get(503, 0)
    latencies.sort()
    quantile = lambda q: round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else None  # noqa: E731
    return {"requests_per_s": round(ok / elapsed), "p50_ms": quantile(0.5), "p99_ms": quantile(0.99),
            "ok": ok, "pushed_back": pushed_back, "errors": sum(statuses.values()) - ok - pushed_back,
            "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)}}


def postgres_database() -> tuple[str, callable]:
    name = f"pinpoint_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def run(seconds: float = 10, workers: tuple[int, ...] = (1, 2), connections: tuple[int, ...] = (64, 256)) -> dict:
    results = {"seconds_per_point": seconds, "jobs": JOBS, "points": []}
    with LocalStack(Path(tempfile.mkdtemp(prefix="pinpoint-load-")), chain_port=free_port()) as stack:
        stack.home.mkdir(parents=True, exist_ok=True)
        stack.start_chain()
        stack.deploy()
        for database in ("sqlite", "postgresql"):
            for processes in workers:
                if database == "sqlite":
                    url, drop = f"sqlite:///{stack.home / f'load-{processes}.db'}", (lambda: None)
                else:
                    url, drop = postgres_database()
                seed(url)
                stack.api_port = free_port()
                stack.env.update(PINPOINT_DATABASE_URL=url, PINPOINT_WRITE_RATE="0")  # one client: no rate limit
                server = stack.start_coordinator(f"coordinator-{database}-{processes}", workers=processes)
                try:
                    for kind, label in (("get", "GET /jobs/{id}"), ("post", "POST /jobs")):
                        for n in connections:
                            point = uvloop.run(hammer(stack.api_port, kind, n, seconds))
                            point = {"database": database, "processes": processes, "route": label, "connections": n,
                                     **point}
                            results["points"].append(point)
                            print(f"  {database:10} {processes} proc  {label:15} {n:3} conns: "
                                  f"{point['requests_per_s']:6} req/s  p50 {point['p50_ms']} ms  p99 {point['p99_ms']} ms"
                                  f"  pushed back {point['pushed_back']}  errors {point['errors']}", flush=True)
                finally:
                    server.terminate()
                    server.wait(30)
                    drop()
    return results


def markdown(load: dict) -> list[str]:
    lines = ["## Coordinator under load", "",
             f"`bench/load.py`: a real coordinator (uvicorn with httptools and uvloop) over a real deployment and "
             f"database with {load['jobs']} indexed jobs, and an asyncio load generator on the same 2 cores, "
             f"{load['seconds_per_point']} s per point. Pushed back: 429/503 with Retry-After. Errors: anything "
             "else that is not 2xx, connection errors included.", "",
             "| database | processes | route | connections | req/s | p50 ms | p99 ms | pushed back | errors |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {p['database']} | {p['processes']} | {p['route']} | {p['connections']} | {p['requests_per_s']:,} | "
              f"{p['p50_ms']} | {p['p99_ms']} | {p['pushed_back']} | {p['errors']} |" for p in load["points"]]
    return lines + [""]


def main(argv: list[str] | None = None) -> None:
    """`make bench-load`: only this campaign, merged into bench/results.json and BENCHMARKS.md."""
    from bench.run import publish

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="seconds per measured point (default 10)")
    args = parser.parse_args(argv)
    load = run(args.seconds)
    publish("load", load, markdown(load))


if __name__ == "__main__":
    main()
