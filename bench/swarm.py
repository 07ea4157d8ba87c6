"""`make bench-swarm`: one model trained by K replicas over slow links, side by side in one run (issue 13).

Each replica is a process in its own network namespace, joined to the others through veth pairs on a bridge;
each namespace's link is shaped with `tc tbf` to the rate measured (this kernel has no netem). Three ways to
train the same GPT on the same real text (this Python's standard library), at equal samples seen:

    single   one process, batch K x B, no network                          (the baseline's loss and time)
    dp       K replicas, batch B each, gradients all-reduced every step    (plain data parallel, fp32)
    rounds   K replicas, batch B each, H inner steps, then int8 updates exchanged with their hashes committed
             first and a Nesterov outer step (worker/engine/rounds.py, worker/engine/exchange.py)

For each link rate it reports wall time, bytes each replica sent (the kernel's counters of its link), and the
final loss on held-out text; and the slowdown of `rounds` from the fastest link to the slowest. Needs root
(namespaces, tc). Writes bench/results.json (`swarm`), BENCHMARKS.md and bench/swarm.png.

    python -m bench.swarm                      # 1 Gbit/s, 100 Mbit/s, 10 Mbit/s
    python -m bench.swarm --rates 10mbit --steps 32
    python -m bench.swarm loss --seeds 3       # final loss only, over data seeds and H, on loopback (no root)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed as dist

from pinpoint.spec import OuterOptimizerSpec

HERE = Path(__file__).parent
REPO = HERE.parent
BRIDGE, SUBNET = "ppswarm0", "10.77.0"
PORT = 29511
MODEL = {"name": "gpt", "vocab_size": 256, "context": 64, "embed_dim": 128, "heads": 4, "layers": 2}
OUTER = OuterOptimizerSpec()  # the product's outer step, unless told otherwise


# --- the network ------------------------------------------------------------------------------------------

def sh(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


def namespace(rank: int) -> str:
    return f"ppswarm{rank}"


@contextmanager
def network(replicas: int, rate: str):
    """A bridge and one namespace per replica (10.77.0.{rank+1}), each replica's egress shaped to `rate`."""
    teardown(replicas)
    sh("ip", "link", "add", BRIDGE, "type", "bridge")
    sh("ip", "link", "set", BRIDGE, "up")
    for rank in range(replicas):
        ns, inside, outside = namespace(rank), f"ppsw{rank}i", f"ppsw{rank}o"
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", inside, "type", "veth", "peer", "name", outside)
        sh("ip", "link", "set", inside, "netns", ns)
        sh("ip", "link", "set", outside, "master", BRIDGE)
        sh("ip", "link", "set", outside, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{SUBNET}.{rank + 1}/24", "dev", inside)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", inside, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        # tbf: the link's rate, a burst of a few packets, and a queue of at most 100 ms at that rate
        sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", inside, "root", "tbf", "rate", rate,
           "burst", "64kb", "latency", "100ms")
    try:
        yield
    finally:
        teardown(replicas)


def teardown(replicas: int) -> None:
    for rank in range(replicas):
        subprocess.run(["ip", "netns", "del", namespace(rank)], capture_output=True, check=False)
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)


def sent_bytes(rank: int) -> int:
    """Bytes the replica's namespace sent: what the bridge side of its veth pair received."""
    return int(Path(f"/sys/class/net/ppsw{rank}o/statistics/rx_bytes").read_text())


# --- the training -----------------------------------------------------------------------------------------

def corpus() -> tuple[torch.Tensor, torch.Tensor]:
    """Training and held-out tokens: this Python's standard library sources, as bytes."""
    from pinpoint.datasets import stdlib_corpus
    from pinpoint.tensors import read_safetensors

    tensors, _ = read_safetensors(stdlib_corpus(1 << 20))
    tokens = torch.frombuffer(bytearray(tensors["tokens"].data), dtype=torch.uint16).to(torch.int64)
    split = len(tokens) * 9 // 10
    return tokens[:split], tokens[split:]


def build(seed: int = 0) -> torch.nn.Module:
    from pinpoint.spec import GPTSpec
    from worker.engine.models import build_model

    torch.manual_seed(seed)
    return build_model(GPTSpec(**MODEL))


def batch(tokens: torch.Tensor, generator: torch.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    starts = torch.randint(0, len(tokens) - MODEL["context"] - 1, (size,), generator=generator)
    rows = torch.stack([tokens[s:s + MODEL["context"] + 1] for s in starts.tolist()])
    return rows[:, :-1], rows[:, 1:]


def loss_on(model: torch.nn.Module, tokens: torch.Tensor, windows: int = 64) -> float:
    generator = torch.Generator().manual_seed(12345)
    with torch.no_grad():
        inputs, targets = batch(tokens, generator, windows)
        logits = model(inputs)
        return float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)))


def train(mode: str, rank: int, world: int, steps: int, batch_size: int, inner_steps: int, seed: int = 0,
          held_out_windows: int = 64, outer_lr: float = OUTER.lr, outer_momentum: float = OUTER.momentum) -> dict:
    """Train as replica `rank` of `world` (single: the one process, with world x batch_size examples a step);
    `seed` draws the data order (seed 0 is the rates table's)."""
    from worker.engine.exchange import exchange
    from worker.engine.rounds import outer_step, replica_update

    torch.set_num_threads(1)
    train_tokens, held_out = corpus()
    model = build()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(1000 * (seed + 1) + rank)  # each replica its own stream of the data
    per_step = batch_size * (world if mode == "single" else 1)
    shapes = {n: p.shape for n, p in model.named_parameters()}
    global_weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    momentum: dict[str, torch.Tensor] = {}
    started = time.perf_counter()
    for step in range(steps):
        inputs, targets = batch(train_tokens, generator, per_step)
        optimizer.zero_grad()
        logits = model(inputs)
        torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)).backward()
        if mode == "dp":  # every gradient, every step, in one fp32 bucket
            flat = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
            dist.all_reduce(flat)
            flat /= world
            offset = 0
            for p in model.parameters():
                p.grad.copy_(flat[offset:offset + p.numel()].reshape(p.shape))
                offset += p.numel()
        optimizer.step()
        if mode == "rounds" and (step + 1) % inner_steps == 0:
            local = {n: p.detach().clone() for n, p in model.named_parameters()}
            updates = exchange(replica_update(global_weights, local), shapes)
            global_weights, momentum = outer_step(global_weights, momentum, updates, lr=outer_lr, mu=outer_momentum)
            with torch.no_grad():
                for n, p in model.named_parameters():
                    p.copy_(global_weights[n])
    return {"seconds": time.perf_counter() - started, "loss": loss_on(model, held_out, held_out_windows),
            "parameters": sum(p.numel() for p in model.parameters())}


def replica_main(args: argparse.Namespace) -> None:
    dist.init_process_group("gloo", init_method=args.master or f"tcp://{SUBNET}.1:{PORT}", rank=args.rank,
                            world_size=args.world)
    try:
        result = train(args.mode, args.rank, args.world, args.steps, args.batch, args.inner_steps, args.seed,
                       args.held_out_windows, args.outer_lr, args.outer_momentum)
    finally:
        dist.destroy_process_group()
    Path(args.out).write_text(json.dumps(result))


def run_replicas(mode: str, rate: str, args: argparse.Namespace) -> dict:
    with network(args.replicas, rate), tempfile.TemporaryDirectory() as folder:
        before = [sent_bytes(r) for r in range(args.replicas)]
        processes = [subprocess.Popen(
            ["ip", "netns", "exec", namespace(r), sys.executable, "-m", "bench.swarm", "replica", "--mode", mode,
             "--rank", str(r), "--world", str(args.replicas), "--steps", str(args.steps), "--batch", str(args.batch),
             "--inner-steps", str(args.inner_steps), "--out", f"{folder}/{r}.json"], cwd=REPO,
            env=dict(os.environ, GLOO_SOCKET_IFNAME=f"ppsw{r}i")) for r in range(args.replicas)]
        for process in processes:
            if process.wait(timeout=3600) != 0:
                raise RuntimeError(f"a {mode} replica failed at {rate}")
        sent = [sent_bytes(r) - before[r] for r in range(args.replicas)]
        results = [json.loads(Path(f"{folder}/{r}.json").read_text()) for r in range(args.replicas)]
    return {"seconds": max(r["seconds"] for r in results), "loss": results[0]["loss"],
            "bytes_per_replica": max(sent), "parameters": results[0]["parameters"]}


LOSS_WINDOWS = 1024
"""Held-out windows of the loss campaign: enough that the measurement's own noise is well under the 2% asked."""


def run_local(mode: str, args: argparse.Namespace, seed: int, inner_steps: int) -> float:
    """Held-out loss of `mode` with the replicas as processes on loopback (the loss does not depend on the link)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        processes = [subprocess.Popen(
            [sys.executable, "-m", "bench.swarm", "replica", "--mode", mode, "--rank", str(r), "--world",
             str(args.replicas), "--steps", str(args.steps), "--batch", str(args.batch), "--inner-steps",
             str(inner_steps), "--seed", str(seed), "--held-out-windows", str(LOSS_WINDOWS), "--outer-lr",
             str(args.outer_lr), "--outer-momentum", str(args.outer_momentum), "--master",
             f"tcp://127.0.0.1:{port}", "--out", f"{folder}/{r}.json"], cwd=REPO,
            env=dict(os.environ, GLOO_SOCKET_IFNAME="lo")) for r in range(args.replicas)]
        for process in processes:
            if process.wait(timeout=3600) != 0:
                raise RuntimeError(f"a {mode} replica failed")
        return json.loads(Path(f"{folder}/0.json").read_text())["loss"]


def loss_campaign(args: argparse.Namespace) -> dict:
    """Final held-out loss of the three ways over `args.seeds` data orders, rounds at each H of
    `args.inner_steps_list`: the 2% goal is a claim about means, not one draw."""
    import statistics

    runs = []
    for seed in range(args.seeds):
        row = {"seed": seed, "single": train("single", 0, args.replicas, args.steps, args.batch, 0, seed, LOSS_WINDOWS)["loss"],
               "dp": run_local("dp", args, seed, 0)}
        for inner in args.inner_steps_list:
            row[f"rounds_h{inner}"] = run_local("rounds", args, seed, inner)
        print(f"  {row}", flush=True)
        runs.append(row)
    ways = [key for key in runs[0] if key != "seed"]
    mean = {way: statistics.fmean(r[way] for r in runs) for way in ways}
    spread = {way: statistics.stdev(r[way] for r in runs) if len(runs) > 1 else 0.0 for way in ways}
    # Paired by data order: the single solver's own loss moves by several percent from one order to another.
    paired = {way: [r[way] / r["single"] - 1 for r in runs] for way in ways if way != "single"}
    vs_single = {way: statistics.fmean(values) for way, values in paired.items()}
    vs_single_sd = {way: statistics.stdev(values) if len(values) > 1 else 0.0 for way, values in paired.items()}
    return {"replicas": args.replicas, "steps": args.steps, "batch_per_replica": args.batch, "seeds": args.seeds,
            "outer_lr": args.outer_lr, "outer_momentum": args.outer_momentum,
            "held_out_windows": LOSS_WINDOWS, "inner_steps": args.inner_steps_list, "runs": runs, "mean": mean,
            "stdev": spread, "vs_single": vs_single, "vs_single_stdev": vs_single_sd}


def loss_markdown(result: dict) -> list[str]:
    lines = ["## Final loss of K replicas in rounds, over data orders", "",
             (f"The same GPT and text as above, {result['steps']} steps, {result['replicas']} replicas of batch "
              f"{result['batch_per_replica']} (the single solver: batch {result['replicas'] * result['batch_per_replica']}),"
              f" {result['seeds']} data orders, held-out loss over {result['held_out_windows']} windows "
              "(`python -m bench.swarm loss`; replicas on loopback: the loss does not depend on the link). `rounds_hH`: "
              f"an int8 update exchange and a Nesterov outer step (lr {result['outer_lr']}, momentum "
              f"{result['outer_momentum']}) every H steps, each replica's AdamW going on across rounds, as the product's "
              "shares do."), "",
             "| how | mean loss | spread (sd) | vs single solver, paired by data order (mean ± sd) |",
             "| --- | --- | --- | --- |"]
    for way, mean in result["mean"].items():
        versus = ("-" if way == "single" else
                  f"{100 * result['vs_single'][way]:+.1f}% ± {100 * result['vs_single_stdev'][way]:.1f}%")
        lines.append(f"| {way} | {mean:.4f} | {result['stdev'][way]:.4f} | {versus} |")
    lines.append("")
    return lines


def run(args: argparse.Namespace) -> dict:
    print(f"single solver, batch {args.replicas} x {args.batch}, {args.steps} steps ...", flush=True)
    single = train("single", 0, args.replicas, args.steps, args.batch, args.inner_steps)
    rows = []
    for rate in args.rates:
        for mode in ("dp", "rounds"):
            print(f"{mode} at {rate} ...", flush=True)
            rows.append({"mode": mode, "rate": rate, **run_replicas(mode, rate, args)})
            print(f"  {rows[-1]}", flush=True)
    rounds = [row for row in rows if row["mode"] == "rounds"]
    return {
        "replicas": args.replicas, "steps": args.steps, "batch_per_replica": args.batch,
        "inner_steps": args.inner_steps, "model": MODEL, "parameters": single["parameters"],
        "single": single, "runs": rows,
        "rounds_slowdown_slowest_link": rounds[-1]["seconds"] / rounds[0]["seconds"],
        "rounds_loss_vs_single": rounds[-1]["loss"] / single["loss"] - 1,
    }


def markdown(result: dict) -> list[str]:
    lines = ["## Training on K replicas over slow links", "",
             (f"A {result['parameters']:,}-parameter GPT on the standard library's text, {result['steps']} steps, "
             f"{result['replicas']} replicas of batch {result['batch_per_replica']} (the single solver: batch "
             f"{result['replicas'] * result['batch_per_replica']}), each replica in its own network namespace with its "
             f"link shaped by `tc tbf`; `rounds` exchanges int8 updates every {result['inner_steps']} steps "
             "(`make bench-swarm`, bench/swarm.py). Loss on held-out text at equal samples seen."), "",
             "| how | link | wall time | sent per replica | held-out loss |", "| --- | --- | --- | --- | --- |",
             f"| single solver | - | {result['single']['seconds']:.1f} s | 0 | {result['single']['loss']:.4f} |"]
    lines += [f"| {row['mode']} | {row['rate']} | {row['seconds']:.1f} s | {row['bytes_per_replica'] / 1e6:.2f} MB | "
              f"{row['loss']:.4f} |" for row in result["runs"]]
    lines += ["", (f"`rounds` on the slowest link took {result['rounds_slowdown_slowest_link']:.2f}x its time on the "
                   f"fastest (goal: at most 1.2x); its loss is {100 * result['rounds_loss_vs_single']:+.1f}% of the "
                   "single solver's (goal: within 2%) in this one run per way; the single solver's own loss moves by "
                   "several percent with the order of its data, so the loss goal is measured over data orders in "
                   "the next section."), "",
              "![wall time by link](bench/swarm.png)", ""]
    return lines


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    for mode in ("dp", "rounds"):
        rows = [row for row in result["runs"] if row["mode"] == mode]
        axis.plot([row["rate"] for row in rows], [row["seconds"] for row in rows], marker="o", label=mode)
    axis.axhline(result["single"]["seconds"], color="grey", linestyle="--", label="single solver")
    axis.set_ylabel("wall time (s)")
    axis.set_xlabel("link rate per replica")
    axis.set_yscale("log")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.swarm", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("replica", help=argparse.SUPPRESS)  # one replica, inside its namespace
    one.add_argument("--mode", choices=["dp", "rounds"], required=True)
    one.add_argument("--out", required=True)
    one.add_argument("--rank", type=int, required=True)
    one.add_argument("--world", type=int, required=True)
    one.add_argument("--seed", type=int, default=0)
    one.add_argument("--held-out-windows", type=int, default=64)
    one.add_argument("--master", default=None, help="rendezvous address (default: the bridge's first address)")
    one.add_argument("--outer-lr", type=float, default=OUTER.lr)
    one.add_argument("--outer-momentum", type=float, default=OUTER.momentum)
    losses = sub.add_parser("loss", help="final loss over data orders and H, on loopback (no root needed)")
    losses.add_argument("--seeds", type=int, default=3)
    losses.add_argument("--inner-steps-list", type=int, nargs="+", default=[8, 16, 32])
    losses.add_argument("--replicas", type=int, default=4)
    losses.add_argument("--outer-lr", type=float, default=OUTER.lr, help=f"the outer step's learning rate (default {OUTER.lr})")
    losses.add_argument("--outer-momentum", type=float, default=OUTER.momentum,
                        help=f"its Nesterov momentum (default {OUTER.momentum}; DiLoCo's: 0.9 with lr 0.7)")
    for each in (parser, one, losses):
        each.add_argument("--steps", type=int, default=96)
        each.add_argument("--batch", type=int, default=16, help="examples per replica and step")
        each.add_argument("--inner-steps", type=int, default=32, help="rounds: steps between exchanges")
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--rates", nargs="+", default=["1gbit", "100mbit", "10mbit"])
    args = parser.parse_args(argv)
    if args.command == "replica":
        return replica_main(args)
    from bench.run import publish

    if args.command == "loss":
        result = loss_campaign(args)
        publish("swarm_loss", result, loss_markdown(result))
        print("\n".join(loss_markdown(result)))
        return None
    if os.geteuid() != 0:
        sys.exit("bench.swarm needs root: network namespaces and tc")
    result = run(args)
    plot(result, HERE / "swarm.png")
    publish("swarm", result, markdown(result))
    print("\n".join(markdown(result)))


if __name__ == "__main__":
    main()
