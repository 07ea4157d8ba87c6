"""`pinpoint dev up|down|status|env`: a whole Pinpoint network on this machine, left running.

    pinpoint dev up                       # chain, Redis, contracts, coordinator, a solver, a verifier, a referee
    pinpoint dev up --solvers 2 --verifiers 3 --referees 3
    eval "$(pinpoint dev env)"            # this network's PINPOINT_* settings, with the submitter's key
    pinpoint dev status                   # processes, block height, coordinator readiness, stakes, open jobs
    pinpoint dev down                     # stops every process; logs stay

Everything lives in one folder, wherever the command is run from: ~/.pinpoint/dev, or --home / PINPOINT_HOME.
It holds dev.json (processes, ports, keys), deployment.json, coordinator.db, artifacts/ and logs/. The keys are
Anvil's public development keys: account 0 deploys, 1 submits, 2 and on are the worker hosts (solvers, then
verifiers, then referees), each named by its role (solver-1, verifier-1, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from pinpoint.localnet import (
    ANVIL_KEYS,
    LocalStack,
    StackError,
    port_open,
    recorded_alive,
    stop_recorded,
    worker_roles,
)
from pinpoint.units import format_eth

DEFAULT_HOME = Path("~/.pinpoint/dev")
STATE_FILE = "dev.json"
STALE_SETTINGS = ("PINPOINT_DEPLOYMENT_FILE", "PINPOINT_DATABASE_URL", "PINPOINT_ARTIFACT_DIR")
"""Settings that would point the commands of this network's shell at another network's files."""
OPEN_STATES = ("BIDDING", "RUNNING", "SUBMITTED", "DISPUTED")


def dev_home(option: str | None) -> Path:
    """--home, else PINPOINT_HOME, else ~/.pinpoint/dev; absolute, so it means the same from any folder."""
    return Path(option or os.environ.get("PINPOINT_HOME") or DEFAULT_HOME).expanduser().resolve()


def read_state(home: Path) -> dict | None:
    try:
        return json.loads((home / STATE_FILE).read_text())
    except FileNotFoundError:
        return None


def running_state(home: Path) -> dict | None:
    """The state of the network in `home`, unless there is none or `down` stopped it (then None, said on stderr)."""
    state = read_state(home)
    if state is None or "stopped_at" in state:
        print(f"no dev network is up in {home}" + (f" (stopped at {state['stopped_at']})" if state else "")
              + ": `pinpoint dev up` starts one", file=sys.stderr)
        return None
    return state


def write_state(home: Path, state: dict) -> None:
    path = home / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2) + "\n")
    temporary.replace(path)  # a reader never sees half a file


def account(name: str, role: str, key: str, stake: str | None = None) -> dict:
    from eth_account import Account

    entry = {"name": name, "role": role, "address": Account.from_key(key).address, "key": key}
    return entry | ({"stake": stake} if stake is not None else {})


# --- up ------------------------------------------------------------------------------------------------------

def up(args) -> int:
    home = dev_home(args.home)
    state = read_state(home)
    if state is not None and "stopped_at" not in state:
        alive = [p["name"] for p in state["processes"] if recorded_alive(p)]
        if alive and len(alive) == len(state["processes"]):
            print(f"a dev network is already up in {home} (chain {state['chain_url']}, coordinator "
                  f"{state['coordinator_url']}): `pinpoint dev status` shows it, `pinpoint dev down` stops it")
            return 0
        if alive:
            dead = [p["name"] for p in state["processes"] if p["name"] not in alive]
            print(f"the dev network in {home} is partly down ({', '.join(dead)} stopped; see {home / 'logs'}): "
                  "run `pinpoint dev down`, then `pinpoint dev up`", file=sys.stderr)
            return 1
    elif state is None and ((home / "deployment.json").exists() or (home / "coordinator.db").exists()):
        # `up` starts a fresh chain and clears the index of the old one: never someone else's.
        print(f"{home} holds a deployment or a coordinator database that `pinpoint dev up` did not make; it would "
              "delete them. Give the dev network its own folder: --home DIR (or unset PINPOINT_HOME for "
              f"{DEFAULT_HOME})", file=sys.stderr)
        return 1
    for port, what, option in ((args.chain_port, "chain", "--chain-port"), (args.api_port, "coordinator", "--api-port")):
        if port_open(port):
            print(f"port {port} (the {what}'s) is taken: is another chain, coordinator or demo running? Stop it, "
                  f"or give {option} PORT", file=sys.stderr)
            return 1

    roles = worker_roles(args.solvers, args.verifiers, args.referees)
    home.mkdir(parents=True, exist_ok=True)
    stack = LocalStack(home, chain_port=args.chain_port, api_port=args.api_port, redis_url=args.redis_url,
                       poll_seconds=0.5)
    started = time.monotonic()
    try:
        with stack:  # stops whatever started if anything fails, or on Ctrl-C
            stack.start_all(roles=roles, progress=lambda message: print(f"  {message}", flush=True))
            processes = stack.detach()
    except StackError as exc:
        print(f"pinpoint dev up: {exc}\n(stopped what had started; logs in {stack.logs})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: stopped what had started (logs in {stack.logs})", file=sys.stderr)
        return 130

    state = {
        "home": str(home),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "chain_url": stack.rpc_url,
        "coordinator_url": stack.api_url,
        "redis_url": stack.redis_url,
        "deployment_file": str(stack.deployment_file),
        "logs": str(stack.logs),
        "accounts": [account("deployer", "deployer", ANVIL_KEYS[0]), account("submitter", "submitter", ANVIL_KEYS[1]),
                     *(account(r.name, r.kind, r.key, r.stake) for r in roles)],
        "processes": processes,
    }
    write_state(home, state)
    print(f"up in {time.monotonic() - started:.0f} s\n")
    print(summary(state))
    return 0


def summary(state: dict) -> str:
    """What `up` prints once: who is who (with the keys), where everything is, how to use it."""
    width = max(len(a["name"]) for a in state["accounts"])
    rows = [f"  {'role':<{width}}  {'address':<42}  private key (Anvil's public development keys)"]
    rows += [f"  {a['name']:<{width}}  {a['address']}  {a['key']}" for a in state["accounts"]]
    api = state["coordinator_url"]
    # A network outside the folder a bare `pinpoint dev` resolves to must be named in each command.
    home = "" if Path(state["home"]) == dev_home(None) else f" --home {shlex.quote(state['home'])}"
    usage = {f'eval "$(pinpoint dev env{home})"': "PINPOINT_* of this network, with the submitter's key",
             "pinpoint job example mlp > job.json": "", "pinpoint job submit job.json --max-price 0.05": "",
             "pinpoint job watch 1": "live, until the job ends",
             "ape run stake show --address ADDRESS": "a role's stake, on this chain",
             f"pinpoint dev status{home}": "", f"pinpoint dev down{home}": ""}
    return "\n".join([
        *rows,
        "",
        f"  chain        {state['chain_url']} (Anvil, a block a second)",
        f"  redis        {state['redis_url']}",
        f"  coordinator  {api}   dashboard {api}/   API docs {api}/docs",
        f"  state        {state['home']} ({STATE_FILE}, deployment.json, coordinator.db, artifacts/)",
        f"  logs         {state['logs']}/<name>.log (anvil, valkey, coordinator, indexer, solver-1, ...)",
        "",
        "Use it (from this repository's folder):",
        *(f"  {command:<{len(max(usage, key=len))}}  # {why}" if why else f"  {command}" for command, why in usage.items()),
    ])


# --- down ----------------------------------------------------------------------------------------------------

def down(args) -> int:
    home = dev_home(args.home)
    state = read_state(home)
    if state is None or "stopped_at" in state:
        print(f"no dev network is up in {home}: nothing to stop")
        return 0
    stopped = stop_recorded(state["processes"])
    write_state(home, state | {"stopped_at": datetime.now(UTC).isoformat(timespec="seconds")})
    print(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
    print(f"logs stay in {state['logs']}")
    return 0


# --- status --------------------------------------------------------------------------------------------------

def probe(url: str) -> str:
    """'ok', 'absent' (404: an older coordinator), 'HTTP <code>', or 'unreachable'."""
    try:
        response = httpx.get(url, timeout=3)
    except httpx.HTTPError:
        return "unreachable"
    return "ok" if response.status_code == 200 else "absent" if response.status_code == 404 else f"HTTP {response.status_code}"


def collect(state: dict) -> dict:
    from web3.exceptions import Web3Exception

    from pinpoint.chain import Chain

    report = {
        "home": state["home"], "started_at": state["started_at"],
        "processes": [{"name": p["name"], "pid": p["pid"], "alive": recorded_alive(p), "log": p["log"]}
                      for p in state["processes"]],
        "chain": {"url": state["chain_url"], "block": None, "error": None},
        "coordinator": {"url": state["coordinator_url"], "health": probe(f"{state['coordinator_url']}/health"),
                        "ready": probe(f"{state['coordinator_url']}/ready")},
        "workers": [], "jobs": None,
    }
    try:
        chain = Chain(state["chain_url"], Path(state["deployment_file"]))
        report["chain"]["block"] = chain.w3.eth.block_number
    except (OSError, ValueError, Web3Exception) as exc:  # anvil down or its deployment gone: the report says so
        report["chain"]["error"] = f"{type(exc).__name__}: {exc}"
        return report
    staking, audit, court = chain.staking.functions, chain.audit.functions, chain.court.functions
    for entry in state["accounts"]:
        if entry["role"] == "solver":
            stake = {"free_wei": staking.freeStake(entry["address"]).call(),
                     "locked_wei": staking.lockedStake(entry["address"]).call()}
        elif entry["role"] == "verifier":
            stake = {"registered_wei": audit.stakeOf(entry["address"]).call()}
        elif entry["role"] == "referee":
            stake = {"bond_wei": court.stakeOf(entry["address"]).call()}
        else:
            continue
        report["workers"].append({"name": entry["name"], "role": entry["role"], "address": entry["address"],
                                  **{k: str(v) for k, v in stake.items()}})
    count = chain.market.functions.jobCount().call()
    states = [chain.job(job_id)["state"].name for job_id in range(1, count + 1)]
    report["jobs"] = {"total": count, "open": sum(s in OPEN_STATES for s in states)}
    return report


def healthy(report: dict) -> bool:
    return (all(p["alive"] for p in report["processes"]) and report["chain"]["error"] is None
            and report["coordinator"]["health"] == "ok" and report["coordinator"]["ready"] in ("ok", "absent"))


def render(report: dict) -> str:
    width = max(len(p["name"]) for p in report["processes"])
    lines = [f"dev network in {report['home']}, up since {report['started_at']}"]
    lines += [f"  {p['name']:<{width}}  pid {p['pid']:<7}  {'alive' if p['alive'] else 'DEAD '}  {p['log']}"
              for p in report["processes"]]
    chain = report["chain"]
    lines.append(f"chain        {chain['url']}: " + (f"block {chain['block']}" if chain["error"] is None
                                                      else f"unreachable ({chain['error']})"))
    coordinator = report["coordinator"]
    lines.append(f"coordinator  {coordinator['url']}: /health {coordinator['health']}, /ready {coordinator['ready']}")
    for w in report["workers"]:
        if w["role"] == "solver":
            stake = f"stake {format_eth(w['free_wei'])} free, {format_eth(w['locked_wei'])} locked"
        elif w["role"] == "verifier":
            stake = f"registered {format_eth(w['registered_wei'])}"
        else:
            stake = f"bond {format_eth(w['bond_wei'])}"
        lines.append(f"  {w['name']:<{width}}  {w['address']}  {stake}")
    if report["jobs"] is not None:
        lines.append(f"jobs         {report['jobs']['open']} open of {report['jobs']['total']}")
    return "\n".join(lines)


def status(args) -> int:
    home = dev_home(args.home)
    state = running_state(home)
    if state is None:
        if args.json:
            print(json.dumps({"home": str(home), "up": False}))
        return 1
    report = collect(state)
    print(json.dumps(report | {"up": True, "healthy": healthy(report)}, indent=2) if args.json else render(report))
    return 0 if healthy(report) else 1


# --- env -----------------------------------------------------------------------------------------------------

def env(args) -> int:
    home = dev_home(args.home)
    state = running_state(home)
    if state is None:
        return 1
    names = [a["name"] for a in state["accounts"]]
    if args.role not in names:
        print(f"no role {args.role!r} in this network: one of {', '.join(names)}", file=sys.stderr)
        return 2
    key = next(a for a in state["accounts"] if a["name"] == args.role)
    settings = {"PINPOINT_HOME": state["home"], "PINPOINT_RPC_URL": state["chain_url"],
                "PINPOINT_COORDINATOR_URL": state["coordinator_url"], "PINPOINT_REDIS_URL": state["redis_url"],
                "PINPOINT_PRIVATE_KEY": key["key"]}
    print(f"# the dev network in {state['home']}, as {key['name']} ({key['address']})")
    print("export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in settings.items()))
    print("unset " + " ".join(STALE_SETTINGS))
    return 0


# --- command line --------------------------------------------------------------------------------------------

def count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value}: give 0 to 100")
    return value


def main(argv: list[str] | None = None, prog: str = "pinpoint dev") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{up,down,status,env}")
    home_help = f"the network's folder (default: PINPOINT_HOME, else {DEFAULT_HOME})"

    start = sub.add_parser("up", help="start a local network and leave it running")
    start.add_argument("--solvers", type=count, default=1, help="solver hosts (default 1)")
    start.add_argument("--verifiers", type=count, default=1, help="verifier hosts (default 1)")
    start.add_argument("--referees", type=count, default=1, help="referee hosts (default 1)")
    start.add_argument("--chain-port", type=int, default=8545, help="Anvil's port (default 8545)")
    start.add_argument("--api-port", type=int, default=8000, help="the coordinator's port (default 8000)")
    start.add_argument("--redis-url", help="use this Redis instead of starting the embedded Redis-protocol server")
    stop = sub.add_parser("down", help="stop every process of the network (logs stay)")
    show = sub.add_parser("status", help="each process, the chain, the coordinator, the stakes, open jobs")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    shell = sub.add_parser("env", help='print the network\'s PINPOINT_* settings: eval "$(pinpoint dev env)"')
    shell.add_argument("--as", dest="role", default="submitter",
                       help="whose key goes into PINPOINT_PRIVATE_KEY (default submitter; e.g. solver-1)")
    for command in (start, stop, show, shell):
        command.add_argument("--home", help=home_help)
    args = parser.parse_args(argv)
    return {"up": up, "down": down, "status": status, "env": env}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
