"""`make bench`: measures what Pinpoint costs, side by side in one run, and writes
`bench/results.json` (machine-readable) and `BENCHMARKS.md` (a summary for people).

    python -m bench.run [--repeats 5]
    python -m bench.run --only-gas            # `make bench-gas`: the two gas items below alone

- gas of every market transaction, and the honest path's total, on a real Anvil chain with the deployed contracts;
- gas per dispute move, and total gas, rounds and wall time of complete disputes, judged by a referee and by the
  on-chain operator game (bench/disputes.py);
- the time overhead of commitments (checkpoint snapshot + state hash + safetensors + Merkle root) over
  the same training without them, alternating the two variants and taking medians;
- the verifier's cost at the default sample rate, for training and for inference, with the detection
  probability it buys; the state hash's throughput against plain sha256 (bench/hashing.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench.disputes import measure_disputes
from bench.hashing import run as measure_hashing
from bench.load import markdown as load_markdown
from bench.load import run as measure_load
from bench.repops import markdown as repops_markdown
from bench.repops import measure as measure_repops
from bench.scale import SIZES as SCALE_SIZES
from bench.scale import publish as publish_scale
from bench.scale import run as measure_scale
from pinpoint.chain import Chain
from pinpoint.economics import default_samples, detection_probability
from pinpoint.inference import (
    input_hash,
    inputs_artifact,
    leaf_state_hash,
    output_artifact,
    output_hash,
)
from pinpoint.localnet import ANVIL_KEYS, LocalStack, free_port
from pinpoint.merkle import checkpoint_root, checkpoint_tree
from pinpoint.sampling import audit_commitment, sampled_intervals
from pinpoint.spec import (
    example_inference_spec,
    example_mlp_spec,
    example_transformer_spec,
)
from pinpoint.tensors import float32_tensor
from worker.engine.checkpoint import save_checkpoint
from worker.engine.inference import InferenceEngine
from worker.engine.replay import replay_interval
from worker.engine.training import RECOMMENDED_CHECKPOINT_INTERVAL, Trainer
from worker.referee import answer_alone

HERE = Path(__file__).parent
ETHER = 10**18


HONEST_CHECKPOINTS = 16


def measure_gas() -> dict[str, int]:
    """Gas used by each market and audit transaction along the honest path of a job of HONEST_CHECKPOINTS
    checkpoints (its total too: post, bid, award, the progress roots, submit, seal, the audit's fund, commit,
    reveal and settle, finalize, both claims) and the two exits."""
    with LocalStack(Path(tempfile.mkdtemp(prefix="pinpoint-bench-")), chain_port=free_port(), api_port=free_port()) as stack:
        stack.start_chain()
        stack.deploy()
        submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
        solver = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[2])
        verifier = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[3])
        w3 = submitter.w3

        def advance(seconds: int) -> None:
            w3.provider.make_request("evm_increaseTime", [seconds])
            w3.provider.make_request("evm_mine", [])

        def gas(receipt) -> int:
            return receipt["gasUsed"]

        spec_hash = "0x" + os.urandom(32).hex()
        terms = dict(max_price=ETHER // 10, required_stake=ETHER, bidding_seconds=60, execution_seconds=600,
                     challenge_seconds=60, samples=2)
        result = {"Staking.deposit": gas(solver.transact("Staking", "deposit", value=3 * ETHER)),
                  "Audit.register (verifier stake)": gas(verifier.transact("Audit", "register", value=ETHER))}
        advance(2)  # the verifier's stake counts for results submitted from now on
        count = HONEST_CHECKPOINTS
        receipt = submitter.transact("Market", "postJob", spec_hash, count, 8, 2, terms["required_stake"], 60, 600, 60,
                                     value=terms["max_price"])
        result["Market.postJob"] = gas(receipt)
        job_id = submitter.market.events.JobPosted().process_receipt(receipt)[0]["args"]["jobId"]
        result["Market.bid (first)"] = gas(solver.transact("Market", "bid", job_id, ETHER // 20))
        result["Market.bid (lowering own bid)"] = gas(solver.transact("Market", "bid", job_id, ETHER // 25))
        advance(61)
        result["Market.closeBidding (award)"] = gas(solver.transact("Market", "closeBidding", job_id))
        hashes = [os.urandom(32) for _ in range(count + 1)]
        # As a solver does (worker/solver.py): a root per checkpoint but the last, which the final root commits.
        progress = [gas(solver.transact("Market", "postProgress", job_id, i, checkpoint_tree(job_id, hashes[: i + 1], 8).root))
                    for i in range(1, count)]
        result["Market.postProgress (progress root)"] = round(statistics.mean(progress))
        tree = checkpoint_tree(job_id, hashes, 8)
        result["Market.submitResult"] = gas(solver.transact("Market", "submitResult", job_id, tree.root))
        advance(1)
        advance(1)
        result[f"Market.sealSample (2 of {count})"] = gas(verifier.transact("Market", "sealSample", job_id))
        result["Audit.fund"] = gas(submitter.transact("Audit", "fund", job_id, value=ETHER // 100))
        sample = verifier.market.functions.sampledIntervals(job_id).call()
        ends, salt = [hashes[i + 1] for i in sample], os.urandom(32)
        commitment = audit_commitment(job_id, verifier.address, salt, ends)
        bond = verifier.audit.functions.auditBond().call()
        result["Audit.commit"] = gas(verifier.transact("Audit", "commit", job_id, commitment, value=bond))
        advance(verifier.audit.functions.commitWindow().call() + 1)
        proofs = [[bytes.fromhex(p[2:]) for p in tree.get_proof(i + 1)] for i in sample]
        result["Audit.reveal (2 proofs)"] = gas(verifier.transact("Audit", "reveal", job_id, salt, ends, proofs))
        advance(61)
        result["Market.finalize"] = gas(solver.transact("Market", "finalize", job_id))
        result["Market.claim"] = gas(solver.transact("Market", "claim"))
        result["Market.claim (submitter's refund)"] = gas(submitter.transact("Market", "claim"))
        advance(verifier.audit.functions.revealWindow().call() + 1)
        result["Audit.settle (1 verifier)"] = gas(submitter.transact("Audit", "settle", job_id))
        result["Audit.claim"] = gas(verifier.transact("Audit", "claim"))
        honest = [name for name in result if name.split(".")[0] in ("Market", "Audit") and "register" not in name
                  and "lowering" not in name]
        result[f"Honest path of a {count}-checkpoint job (total)"] = (
            sum(result[name] for name in honest if "postProgress" not in name) + sum(progress))

        referee = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[4])
        result.update(availability_path(submitter, solver, verifier, referee, spec_hash, terms, advance))

        unbid = submitter.post_job(spec_hash, 8, 8, **terms)
        advance(61)
        result["Market.closeBidding (no bids: cancel)"] = gas(submitter.transact("Market", "closeBidding", unbid))
        silent = submitter.post_job(spec_hash, 8, 8, **terms)
        solver.transact("Market", "bid", silent, ETHER // 20)
        advance(61)
        solver.transact("Market", "closeBidding", silent)
        advance(601)
        result["Market.reportMissedDeadline (slash)"] = gas(submitter.transact("Market", "reportMissedDeadline", silent))
        return result


def availability_path(submitter: Chain, solver: Chain, verifier: Chain, referee: Chain, spec_hash: str, terms: dict,
                      advance) -> dict:
    """Gas of a demanded checkpoint that the solver serves (a referee attests the bytes), and of the end of a
    job that no drawn verifier approved."""
    referee.transact("RefereeCourt", "register", value=referee.court.functions.minBond().call())
    job_id = submitter.post_job(spec_hash, 8, 8, **terms)
    solver.transact("Market", "bid", job_id, ETHER // 20)
    advance(61)
    solver.transact("Market", "closeBidding", job_id)
    hashes = [os.urandom(32) for _ in range(9)]
    tree = checkpoint_tree(job_id, hashes, 8)
    solver.transact("Market", "submitResult", job_id, tree.root)
    advance(1)
    advance(1)  # the seed block exists, and calls see it
    verifier.transact("Market", "sealSample", job_id)
    advance(verifier.audit.functions.commitWindow().call() + 1)
    result = {}
    receipt = verifier.transact("DisputeGame", "challengeAvailability", job_id, 5,
                                value=verifier.game.functions.availabilityBond().call())
    result["DisputeGame.challengeAvailability"] = receipt["gasUsed"]
    dispute_id = verifier.game.functions.disputeCount().call()
    proof = [bytes.fromhex(p[2:]) for p in tree.get_proof(5)]
    result["DisputeGame.answerAvailability"] = solver.transact(
        "DisputeGame", "answerAvailability", dispute_id, hashes[5], proof, os.urandom(32))["gasUsed"]
    request_id = referee.court.functions.requestCount().call()
    advance(1)
    advance(1)
    for step, used in answer_alone(referee, request_id, hashes[5], advance).items():  # a panel of one
        result[f"RefereeCourt.{step} (availability)"] = used
    advance(terms["challenge_seconds"] + 1)
    result["Market.finalize (nobody approved: unverified)"] = submitter.transact("Market", "finalize", job_id)["gasUsed"]
    result["DisputeGame.releaseBond"] = submitter.transact("DisputeGame", "releaseBond", dispute_id)["gasUsed"]
    return result


def commitment_overhead(spec, repeats: int) -> dict:
    """Training with checkpoints committed (snapshot, state hash, safetensors bytes, Merkle root) vs without.

    Two measures from the same run: the A/B ratio of whole runs with and without commitments (best of
    `repeats`, CPU time: interference only ever adds time), and the direct share, the time spent inside
    the commitment work itself over the rest of the run, which the noise of a shared machine barely moves.
    """
    job_id = 1

    def with_commitments() -> tuple[float, float]:
        trainer = Trainer(spec)
        hashes: list[bytes] = []
        leaf_cache: list = []
        spent = 0.0
        snapshot = trainer.snapshot

        def timed_snapshot():
            nonlocal spent
            start = time.process_time()
            checkpoint = snapshot()  # copies the state and computes its canonical hash
            spent += time.process_time() - start
            return checkpoint

        def commit(checkpoint, _loss):
            nonlocal spent
            start = time.process_time()
            save_checkpoint(checkpoint)
            hashes.append(checkpoint.state_hash)
            checkpoint_root(job_id, hashes, spec.checkpoint_interval, leaf_cache)
            spent += time.process_time() - start

        trainer.snapshot = timed_snapshot
        start = time.process_time()
        trainer.run(on_checkpoint=commit)
        return time.process_time() - start, spent

    def without() -> float:
        trainer = Trainer(spec, capture_checkpoints=False)
        start = time.process_time()
        trainer.run()
        return time.process_time() - start

    with_commitments(), without()  # warm-up: allocator, caches, lazy imports
    plain, committed, direct = [], [], []
    for _ in range(repeats):  # alternate, so drift on a shared machine hits both sides alike
        plain.append(without())
        total, spent = with_commitments()
        committed.append(total)
        direct.append(spent / (total - spent))
    base, full = min(plain), min(committed)
    return {
        "model": spec.model.name,
        "steps": spec.steps,
        "checkpoint_interval": spec.checkpoint_interval,
        "direct_overhead_percent": round(100 * statistics.median(direct), 2),
        "train_cpu_seconds_best": round(base, 4),
        "train_with_commitments_cpu_seconds_best": round(full, 4),
        "ab_overhead_ratio": round(full / base, 4),
        "ab_overhead_percent": round(100 * (full / base - 1), 2),
        "repeats": repeats,
    }


def verifier_cost(spec, repeats: int) -> dict:
    """Replaying the default sample of intervals vs training the whole job, timed in the same run."""
    samples = default_samples(spec.checkpoint_count)
    checkpoints: list = []
    train, replay = [], []
    for _ in range(repeats):
        checkpoints.clear()
        start = time.perf_counter()
        Trainer(spec).run(on_checkpoint=lambda checkpoint, _loss: checkpoints.append(checkpoint))
        train.append(time.perf_counter() - start)
        sampled = sampled_intervals(os.urandom(32), spec.checkpoint_count, samples)
        start = time.perf_counter()
        for interval in sampled:
            replay_interval(spec, checkpoints[interval])
        replay.append(time.perf_counter() - start)
    base, check = statistics.median(train), statistics.median(replay)
    return {
        "model": spec.model.name,
        "checkpoint_count": spec.checkpoint_count,
        "sampled_intervals": samples,
        "train_seconds_median": round(base, 4),
        "replay_seconds_median": round(check, 4),
        "verifier_cost_ratio": round(check / base, 4),
        "detection_probability_one_faked_interval": round(detection_probability(spec.checkpoint_count, samples, 1), 4),
    }


def inference_verifier_cost(count: int, repeats: int) -> dict:
    """An inference job's verifier recomputing the default sample of inputs (a fresh engine, artifacts
    loaded) vs the solver computing and committing every output, timed in the same run."""
    trainer = Trainer(example_mlp_spec())
    trainer.train_until(64)
    weights = save_checkpoint(trainer.snapshot())
    inputs = inputs_artifact(float32_tensor(torch.randn(count, 16, generator=torch.Generator().manual_seed(3)).tolist()))
    spec = example_inference_spec(hashlib.sha256(weights).hexdigest(), hashlib.sha256(inputs).hexdigest(), count)
    samples = default_samples(count)
    solve, check = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        engine = InferenceEngine(spec).load(weights, inputs)
        hashes = [engine.leaf_state_hash(0)]
        for index in range(count):
            row, output = engine.record(index)
            output_artifact(engine.spec_hash, index, row, output)  # what the solver uploads
            hashes.append(leaf_state_hash(engine.spec_hash, input_hash(row), output_hash(output)))
        checkpoint_root(1, hashes, 1)
        solve.append(time.perf_counter() - start)
        start = time.perf_counter()
        engine = InferenceEngine(spec).load(weights, inputs)
        for index in sampled_intervals(os.urandom(32), count, samples):
            engine.leaf_state_hash(index + 1)
        check.append(time.perf_counter() - start)
    base, replay = statistics.median(solve), statistics.median(check)
    return {
        "model": spec.model.name,
        "inputs": count,
        "sampled_inputs": samples,
        "solve_seconds_median": round(base, 4),
        "recompute_seconds_median": round(replay, 4),
        "verifier_cost_ratio": round(replay / base, 4),
        "detection_probability_one_wrong_output": round(detection_probability(count, samples, 1), 4),
    }


def write_markdown(results: dict, path: Path, only: tuple[str, ...] = ()) -> None:
    """BENCHMARKS.md from `results`: every section `make bench` writes, or with `only` (headings' starts) just
    those sections and the heading line, leaving the rest of the file as it is."""
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {results['machine']['platform']} ({results['machine']['cpus']} CPUs), "
        f"torch {results['machine']['torch']}, {results['machine']['date']}. Machine-readable: `bench/results.json`."
        + (f" Gas and disputes re-measured {results['machine']['gas_date']} (`make bench-gas`)."
           if "gas_date" in results["machine"] else ""),
        "",
        "## Gas per market transaction (Anvil, Solidity 0.8.28)",
        "",
        "| transaction | gas |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {gas:,} |" for name, gas in results["gas"].items()]
    lines += ["", f"The honest path's total is every transaction of one job from its post to the last claim, with "
              f"{HONEST_CHECKPOINTS - 1} progress roots (the last checkpoint's root is the final root); the goal of "
              f"issue 14 is 400k + 30k a root = {400_000 + 30_000 * HONEST_CHECKPOINTS:,}."]
    lines += [
        "",
        "## Disputes",
        "",
        "Complete disputes on Anvil with synthetic state hashes (the bisection does not care what a state is):",
        "a cheating solver, an honest challenger, 16 segments a round (pinpoint/bisection.py). `referee`: the",
        "court's referee answers the pinpointed step. `operator game`: the job's submitter registered its program",
        "(the reproducible profile), the trajectories pass through one real traced step of the example MLP at the",
        "cheated step, and the router's operator game decides it on chain with no referee registered. Gas",
        "includes each transaction's 21k; serve includes opening the operator game (about 270k).",
        "",
        ("| adjudicated by | interval (steps) | rounds | total gas | challenge | rounds' gas | serve | adjudication "
         "| wall time (s) | cheated at step | pinpointed step |"),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {who} | {g['interval_steps']:,} | {g['rounds']} | {g['total_gas']:,} | {g['parts']['challenge']:,} | "
        f"{g['parts']['rounds']:,} | {g['parts']['serve']:,} | {g['parts']['adjudication']:,} | "
        f"{g['wall_seconds']:.2f} | {g['cheated_at_step']} | {g['pinpointed_step']} |"
        for who, key in (("referee", "games"), ("operator game", "games_without_referee"))
        for g in results["disputes"][key]
    ]
    lines += ["", "| dispute move | mean gas |", "| --- | ---: |"]
    lines += [f"| {move} | {gas:,} |" for move, gas in results["disputes"]["gas_per_move"].items()]
    lines += ["", *gas_gap(results)]
    lines += [
        "",
        "## Commitment overhead",
        "",
        "Committing every checkpoint (snapshot + canonical state hash + safetensors serialization + Merkle root",
        "over all checkpoints so far). Direct: CPU time inside that work over the rest of the same run (median).",
        "A/B: whole runs with and without it, alternated, best of the runs in CPU time; on this shared 2-core",
        "machine the A/B figure carries several percent of noise either way.",
        "",
        "| model | steps | checkpoint every | direct overhead | train (CPU s) | with commitments (CPU s) | A/B overhead |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results["commitment_overhead"]:
        lines.append(
            f"| {row['model']} | {row['steps']} | {row['checkpoint_interval']} | {row['direct_overhead_percent']:.2f}% | "
            f"{row['train_cpu_seconds_best']:.3f} | {row['train_with_commitments_cpu_seconds_best']:.3f} | "
            f"{row['ab_overhead_percent']:+.1f}% |"
        )
    v = results["verifier_cost"]
    lines += [
        "",
        "## Verifier cost",
        "",
        f"At the default sample rate ({v['sampled_intervals']} of {v['checkpoint_count']} intervals, "
        "`pinpoint/economics.py`), replaying costs the verifier "
        f"{100 * v['verifier_cost_ratio']:.1f}% of the solver's training time ({v['replay_seconds_median']:.2f} s vs "
        f"{v['train_seconds_median']:.2f} s, {v['model']}, same run), and catches a solver that fakes a single "
        f"interval with probability {v['detection_probability_one_faked_interval']:.2f}; the stake makes even that "
        "a losing bet (see docs/ECONOMICS.md).",
    ]
    i = results["inference_verifier_cost"]
    lines += [
        "",
        f"Inference ({i['model']}, {i['inputs']} inputs): recomputing the default sample of {i['sampled_inputs']} "
        f"inputs, artifacts loaded from scratch, costs {100 * i['verifier_cost_ratio']:.1f}% of the solver's run "
        f"({i['recompute_seconds_median']:.3f} s vs {i['solve_seconds_median']:.3f} s, same run) and catches a "
        f"single wrong output with probability {i['detection_probability_one_wrong_output']:.2f}.",
    ]
    hashing = results["state_hashing"]
    lines += [
        "",
        "## State hashing throughput",
        "",
        "The canonical state hash against plain `hashlib.sha256` over the same bytes in one buffer, same run.",
        "",
        "| measure | value |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} MB/s | {value:,.0f} |" for name, value in hashing["megabytes_per_second"].items()]
    lines += [f"| state hash / plain sha256 | {hashing['state_hash_vs_plain_sha256']:.2f}x |",
              f"| per-entry digests, 2 threads / 1 thread | {hashing['two_threads_vs_one_thread_digest_list']:.2f}x |",
              "", f"Decision: {hashing['decision']}", ""]
    if "load" in results:
        lines += load_markdown(results["load"])
    generated = "\n".join(lines) + "\n"
    if not only:
        path.write_text(keep_other_sections(generated, path))
        return
    mine = sections(generated)
    text = path.read_text()
    text = mine[""] + text[len(sections(text)[""]):]  # the heading line says what was measured when
    path.write_text(text)
    replace_section(path, "".join(body for heading, body in mine.items() if heading.startswith(only)))


def gas_gap(results: dict) -> list[str]:
    """Where the gas goals of issue 14 stand, from the figures measured above."""
    unrefereed = results["disputes"].get("games_without_referee") or []
    widest = max(unrefereed, key=lambda g: g["interval_steps"], default=None)
    honest = next((v for k, v in results["gas"].items() if k.startswith("Honest path")), None)
    if widest is None or honest is None:
        return []
    moves = results["disputes"]["gas_per_move"]
    parts = widest["parts"]
    return [
        ("**Gap (issue 14, item 4).** A bisection round is two transactions of about "
        f"{moves['DisputeGame.reveal'] // 1000}k (`reveal`, 15 hashes) and {moves['DisputeGame.respond'] // 1000}k "
        "(`respond`), each under the 80k goal, and a round cuts the interval 16 ways, so a whole dispute over "
        f"{widest['interval_steps']:,} steps with no referee costs {widest['total_gas']:,} "
        f"(challenge {parts['challenge']:,}, {widest['rounds']} rounds {parts['rounds']:,}, serve and open "
        f"{parts['serve']:,}, the operator game and settlement {parts['adjudication']:,}) against the goal of "
        "2,000,000. Most of what is left is the operator game (bench/repops.py, section Reproducible profile): "
        "three descents of 16-ary trees at two transactions a level, and an `open` that copies the parties, the "
        "program and both state hashes into eleven fresh slots (reading them from the dispute instead would cost "
        "each of the game's twenty-odd moves an external call and cold reads, more than the one copy). "
        "A challenge writes six slots (the disputed "
        "interval, its two hashes, the challenger's hash, which pays the audit's matching reveal) and the job's "
        f"list of disputes, which closing moot disputes needs. The honest path of a {HONEST_CHECKPOINTS}-checkpoint "
        f"job costs {honest:,} against the goal of {400_000 + 30_000 * HONEST_CHECKPOINTS:,} (400k + 30k a root): "
        "every transaction pays 21k before it does anything, a progress root costs "
        f"{results['gas']['Market.postProgress (progress root)']:,} (it checks the solver, its deadline and its "
        "count, and rewrites two slots), and posting the job and its audit's commit, reveal and settlement write "
        "state that must outlive them. The audit now reads seven slots of the job instead of all twenty, and the "
        "last checkpoint's root is no longer posted twice."),
        "",
    ]


def sections(text: str) -> dict[str, str]:
    """A markdown text's `## ` sections by heading (the text before the first one under "")."""
    out, heading = {"": []}, ""
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            heading = line.strip()
            out[heading] = []
        out[heading].append(line)
    return {h: "".join(body) for h, body in out.items()}


def keep_other_sections(generated: str, path: Path) -> str:
    """`generated`, followed by the sections of the file at `path` that other campaigns wrote (make
    test-invariants' figures, ...), so that one campaign never erases another's."""
    ours = sections(generated)
    theirs = sections(path.read_text()) if path.exists() else {}
    kept = [body.rstrip("\n") + "\n" for heading, body in theirs.items() if heading and heading not in ours]
    return generated.rstrip("\n") + "\n" + ("\n" + "\n".join(kept) if kept else "")


def publish(key: str, value: dict, markdown: list[str]) -> None:
    """One campaign's figures into bench/results.json (under `key`) and its sections of BENCHMARKS.md, leaving
    every other campaign's in place."""
    path = HERE / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(dict(results, **{key: value}), indent=2) + "\n")
    replace_section(HERE.parent / "BENCHMARKS.md", "\n".join(markdown))


def replace_section(path: Path, generated: str) -> None:
    """Put `generated` (one or more `## ` sections) in place of the sections of the same headings."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    current, new = sections(text), sections(generated)
    for heading, body in new.items():
        if heading:
            current[heading] = body.rstrip("\n") + "\n\n"
    path.write_text("".join(current.values()).rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="alternating repetitions per variant")
    parser.add_argument("--only-gas", action="store_true",
                        help="re-measure only the gas of transactions and disputes (`make bench-gas`, a few minutes), "
                             "keeping every other figure of bench/results.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.only_gas:
        results = json.loads((HERE / "results.json").read_text())
        print("measuring gas on Anvil ...", flush=True)
        results["gas"] = measure_gas()
        print("playing disputes on Anvil ...", flush=True)
        results["disputes"] = measure_disputes()
        results["machine"]["gas_date"] = time.strftime("%Y-%m-%d")
        (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        write_markdown(results, HERE.parent / "BENCHMARKS.md", only=("## Gas per market", "## Disputes"))
        print(json.dumps({k: results[k] for k in ("gas", "disputes")}, indent=2))
        return
    print("measuring gas on Anvil ...", flush=True)
    gas = measure_gas()
    print("playing disputes on Anvil ...", flush=True)
    disputes = measure_disputes()
    print("measuring commitment overhead ...", flush=True)
    overhead = [
        commitment_overhead(example_mlp_spec(steps=2048, checkpoint_interval=RECOMMENDED_CHECKPOINT_INTERVAL), args.repeats),
        commitment_overhead(example_transformer_spec(steps=768, checkpoint_interval=RECOMMENDED_CHECKPOINT_INTERVAL), args.repeats),
    ]
    print("measuring verifier cost ...", flush=True)
    verifier = verifier_cost(example_transformer_spec(steps=1024, checkpoint_interval=RECOMMENDED_CHECKPOINT_INTERVAL), 3)
    inference = inference_verifier_cost(256, 3)
    print("measuring state hashing throughput ...", flush=True)
    hashing = measure_hashing()
    print("loading the coordinator ...", flush=True)
    load = measure_load()
    print("measuring cost with model size (bench/scale.py) ...", flush=True)
    scale = measure_scale(list(SCALE_SIZES))
    print("measuring the reproducible profile's cost (bench/repops.py) ...", flush=True)
    reproducible = measure_repops(repeats=5)
    results = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "date": time.strftime("%Y-%m-%d")},
        "gas": gas,
        "disputes": disputes,
        "commitment_overhead": overhead,
        "state_hashing": hashing,
        "verifier_cost": verifier,
        "inference_verifier_cost": inference,
        "load": load,
        "scale": scale,
    }
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results, HERE.parent / "BENCHMARKS.md")
    publish_scale(scale)  # its own section of BENCHMARKS.md, and the plot
    publish("reproducible_profile", reproducible, repops_markdown(reproducible))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
