"""`pinpoint job` (also `pinpoint-job`): the submitter's command line.

    pinpoint job example mlp > job.json                       # a valid spec to start from
    pinpoint job submit job.json --max-price 0.05              # store the spec, escrow, post on chain
    pinpoint job status 1                                      # one snapshot: state, deadlines, audits
    pinpoint job watch 1                                       # live until it ends
    pinpoint job list --state running                          # the market (also `pinpoint jobs`)
    pinpoint job upload weights.safetensors                    # store an artifact; prints its id
    pinpoint job example inference --weights 0x.. --inputs 0x.. --count 32 > infer.json
    pinpoint job outputs 2                                     # outputs, each proven against the chain
    pinpoint job claim                                         # collect refunds and slashed stakes
    pinpoint job dataset text notes/ -o data.safetensors       # your text as byte-level tokens (vocab 256)
    pinpoint job dataset stdlib -o stdlib.safetensors          # real text: this Python's standard library
    pinpoint job dataset features data.npz -o data.safetensors --classes 10   # (or images) from an .npz
    pinpoint job weights my_model.safetensors -o init.safetensors --spec job.json   # your weights, checked
    pinpoint job example gpt --init 0x.. --trainable 'blocks.11.*' > tune.json        # fine-tune them
    pinpoint job result 3 -o final.safetensors                 # the final checkpoint, proven against the chain

Chain, coordinator and key come from the options, PINPOINT_* settings or the config profile
(`pinpoint config show`); keys best from an account (`pinpoint account`, --account or PINPOINT_ACCOUNT).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from pathlib import Path

from pinpoint import keys
from pinpoint.chain import Chain, ChainError
from pinpoint.cli.errors import UserError, guarded
from pinpoint.cli.watch import duration, render, watch
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.economics import job_economics
from pinpoint.inference import checked_outputs
from pinpoint.settings import get_settings
from pinpoint.spec import (
    InferenceSpec,
    JobSpec,
    example_cnn_spec,
    example_gpt_spec,
    example_inference_spec,
    example_mlp_spec,
    example_transformer_spec,
    parse_spec,
)
from pinpoint.units import ether, format_eth


def signer(args, settings) -> str | None:
    return keys.private_key(settings, args.key, args.account)


def submit(args, settings) -> int:
    spec = parse_spec(Path(args.spec).read_bytes())
    accepted = CoordinatorClient(settings.coordinator_url).submit_spec(spec)
    chain = Chain.from_settings(settings, private_key=signer(args, settings))
    minimum = chain.minimum_challenge_seconds()
    challenge = minimum if args.challenge is None else args.challenge
    if challenge < minimum:
        raise ChainError(f"--challenge {challenge} s is shorter than this market's minimum of {minimum} s (the "
                         "audit's commit and reveal windows, which every review must hold)")
    program = register_program(chain, spec, accepted["spec_hash"])
    job_id = chain.post_job(
        accepted["spec_hash"], spec.checkpoint_count, spec.checkpoint_interval, max_price=args.max_price,
        samples=args.samples, required_stake=args.stake, bidding_seconds=args.bidding,
        execution_seconds=args.execution, challenge_seconds=challenge,
    )
    reward = job_economics(args.max_price, spec.checkpoint_count, args.samples).verifier_reward
    if args.json:
        print(json.dumps({"job_id": job_id, "spec_hash": accepted["spec_hash"], "escrow_wei": str(args.max_price),
                          "verifier_reward_wei": str(reward), "total_wei": str(args.max_price + reward),
                          "program": program and "0x" + program.hex()}))
    else:
        print(f"job {job_id} posted: spec {accepted['spec_hash']}.\n"
              f"  it costs you {format_eth(args.max_price + reward)} plus gas: {format_eth(args.max_price)} escrowed "
              f"(the solver's bid is paid from it, the rest comes back) and {format_eth(reward)} for the verifiers "
              "who check the work.\n"
              f"  bidding closes in {duration(args.bidding)}; the winner then has up to {duration(args.execution)} to "
              f"train; after its result, a review of {duration(challenge)} before anyone can finalize it.\n"
              f"  follow it live: pinpoint job watch {job_id}")
        if program:
            print(f"  its program 0x{program.hex()} is registered: a disputed step is decided on chain, no referee")
    return 0


def register_program(chain: Chain, spec, spec_hash: str) -> bytes | None:
    """For an MLP job on the reproducible profile: register its spec's program for this key's jobs (once per spec),
    so that a disputed step is decided by an operator game on chain with no referee (docs/PROTOCOL.md, "Operator
    game"). Returns the program's root; None for other specs (the referee court decides their disputes)."""
    if chain.router is None or not isinstance(spec, JobSpec) or spec.profile.ops != "reproducible":
        return None
    try:
        from worker.engine.operator_game import spec_program  # torch: only where the engine is installed
    except ImportError:
        print("  (the engine is not installed here: no program registered; the referee court decides disputes)",
              file=sys.stderr)
        return None
    program = spec_program(spec)
    if program is None:
        return None
    registered = chain.struct("StepRouter", "registered", chain.address, spec_hash)
    if int(registered["root"], 16) == 0:
        chain.transact("StepRouter", "setProgram", spec_hash, *program)
    elif bytes.fromhex(registered["root"][2:]) != program[0]:
        raise UserError(f"this key registered another program for spec {spec_hash}: solvers refuse such a job")
    return program[0]


def status(args, settings) -> int:
    """One snapshot of the job: the chain's state and the coordinator's overview (deadlines, audits, disputes)."""
    chain = Chain.from_settings(settings)
    job = chain.job(args.job_id)
    if job["state"].name == "NONE":
        raise UserError(f"no job {args.job_id} on chain (`pinpoint jobs list` shows the market)")
    on_chain = {"state": job["state"].name.lower(), "spec_hash": job["specHash"], "progress_root": job["progressRoot"],
                "final_root": job["finalRoot"], "checkpoints_done": job["checkpointsDone"]}
    try:
        view = CoordinatorClient(settings.coordinator_url).job_overview(args.job_id)
    except CoordinatorError as exc:
        if args.json:
            print(json.dumps({"chain": on_chain, "overview": None, "coordinator_error": str(exc)}))
        else:
            print(f"job {args.job_id}: {on_chain['state']} on chain, {job['checkpointsDone']}/{job['checkpointCount']} "
                  f"checkpoints; the coordinator does not show it ({exc})")
        return 0
    if args.json:
        print(json.dumps({"chain": on_chain, "overview": view}))
        return 0
    print("\n".join(render(view)))
    if view["job"]["state"] != on_chain["state"]:
        print(f"  (the chain says {on_chain['state']}: the coordinator has not indexed the latest blocks yet)")
    return 0


def watch_job(args, settings) -> int:
    """The job live until it ends: redrawn in place on a terminal, one snapshot per change otherwise."""
    client = CoordinatorClient(settings.coordinator_url)
    view = watch(lambda: client.job_overview(args.job_id), interval=args.interval, as_json=args.json)
    return 0 if view["job"]["state"] == "finalized" else 1


def list_jobs(args, settings) -> int:
    pages = CoordinatorClient(settings.coordinator_url).iter_jobs(args.state, args.submitter, args.solver)
    jobs = list(itertools.islice(pages, args.limit))
    if args.json:
        print(json.dumps(jobs))
        return 0
    if not jobs:
        print("no jobs" + (f" in state {args.state}" if args.state else ""))
    for job in jobs:
        price = format_eth(job["price"]) if job.get("price") else f"max {format_eth(job['max_price'])}"
        print(f"{job['id']:>6}  {job['state']:<10}  {job['checkpoints_done']:>4}/{job['checkpoint_count']:<4}  "
              f"{price:<28}  solver {job['solver'] or '-'}")
    return 0


def upload(args, settings) -> int:
    """Uploads are signed by the uploader's key (it needs funds on chain, or an open job it solves)."""
    chain = Chain.from_settings(settings, private_key=signer(args, settings))
    print(CoordinatorClient.for_chain(settings.coordinator_url, chain).upload_artifact(Path(args.file)))  # streamed; chunked when large
    return 0


def result(args, settings) -> int:
    """Write a finished training job's final checkpoint, after checking it against the chain: the coordinator's
    checkpoint hashes must rebuild the final root on chain, and the downloaded bytes must hash to the last one."""
    from pinpoint.merkle import checkpoint_tree
    from pinpoint.tensors import read_safetensors, state_hash, write_safetensors

    chain = Chain.from_settings(settings)
    job = chain.job(args.job_id)
    if job["state"].name != "FINALIZED":
        print(f"job {args.job_id} is {job['state'].name.lower()}: only a finalized job's result is verified and paid "
              "for (see `pinpoint job status`)", file=sys.stderr)
        return 1
    client = CoordinatorClient(settings.coordinator_url)
    view = client.job(args.job_id)
    hashes = [c["state_hash"] for c in sorted(view["checkpoints"], key=lambda c: c["index"])]
    if checkpoint_tree(args.job_id, hashes, job["checkpointInterval"]).root != job["finalRoot"]:
        print(f"the coordinator's checkpoints of job {args.job_id} do not rebuild its final root {job['finalRoot']}: "
              "it is behind or wrong; try again later or another coordinator", file=sys.stderr)
        return 1
    final = max(view["checkpoints"], key=lambda c: c["index"])
    blob = client.download_artifact(final["artifact"])
    tensors, _ = read_safetensors(blob)
    if "0x" + state_hash(tensors).hex() != final["state_hash"]:
        print(f"the final checkpoint's bytes ({final['artifact']}) do not hold the committed state "
              f"{final['state_hash']}: demand it on chain (`ape run dispute demand`)", file=sys.stderr)
        return 1
    if args.weights_only:  # the model's entries alone: an `init` for the next job, a third of the size with AdamW
        blob = write_safetensors({name: t for name, t in tensors.items() if name.startswith("model.")})
    Path(args.output).write_bytes(blob)
    print(json.dumps({"job_id": args.job_id, "state_hash": final["state_hash"], "final_root": job["finalRoot"],
                      "step": final["step"], "file": args.output, "bytes": len(blob),
                      "sha256": "0x" + hashlib.sha256(blob).hexdigest()}, indent=2))
    return 0


def make_weights(args) -> int:
    """Write a weights artifact from a safetensors file: a plain state dict (names as the model's parameters)
    or a checkpoint (its `model.*` entries); float32 only; checked against the spec's model if given."""
    from pinpoint.resources import check_weights_header
    from pinpoint.tensors import read_safetensors, write_safetensors

    tensors, _ = read_safetensors(Path(args.file).read_bytes())
    if any(name.startswith("model.") for name in tensors):
        weights = {name: t for name, t in tensors.items() if name.startswith("model.")}
    else:
        weights = {f"model.{name}": t for name, t in tensors.items()}
    if not weights:
        raise ValueError(f"{args.file} holds no tensors")
    if other := sorted({t.dtype for t in weights.values()} - {"float32"}):
        raise ValueError(f"{args.file} holds {', '.join(other)} tensors; weights are float32: convert them first")
    if args.spec:
        spec = parse_spec(Path(args.spec).read_bytes())
        check_weights_header(spec.model, {n: (t.dtype, t.shape) for n, t in weights.items()}, "init")
    blob = write_safetensors(weights)
    Path(args.output).write_bytes(blob)
    print(json.dumps({"artifact": "0x" + hashlib.sha256(blob).hexdigest(), "bytes": len(blob), "tensors": len(weights),
                      "init": {"sha256": hashlib.sha256(blob).hexdigest()}}, indent=2))
    return 0


def outputs(args, settings) -> int:
    """Print every output of an inference job, each proven against the final root read from the chain."""
    chain = Chain.from_settings(settings)
    job = chain.job(args.job_id)
    if not int(job["finalRoot"], 16):
        print(f"job {args.job_id} is {job['state'].name.lower()}: no final root on chain yet", file=sys.stderr)
        return 1
    client = CoordinatorClient(settings.coordinator_url)
    spec = client.spec(job["specHash"])
    if not isinstance(spec, InferenceSpec):
        print(f"job {args.job_id} is a training job; its checkpoints are in `pinpoint job status`", file=sys.stderr)
        return 1
    results = checked_outputs(client, spec, args.job_id, job["finalRoot"])
    state = job["state"].name.lower()
    if args.json:
        print(json.dumps({"job_id": args.job_id, "state": state, "final_root": job["finalRoot"], "outputs": [
            {"index": r.index, "proven": r.proven, "values": r.output.values() if r.proven else None,
             "problem": r.problem} for r in results]}))
    else:
        print(f"job {args.job_id} ({state}), final root {job['finalRoot']}:")
        for r in results:
            print(f"  input {r.index}: " + (f"{_brief(r.output.values())}  proven" if r.proven else r.problem))
    if state != "finalized":
        why = {"slashed": "proven wrong: do not use them",
               "unverified": "what the solver committed, but no verifier approved them (you were refunded)"}
        print(f"note: job {args.job_id} is {state}; its outputs are {why.get(state, 'not final yet')}", file=sys.stderr)
    return 0 if state == "finalized" and all(r.proven for r in results) else 1


def _brief(values, width: int = 72) -> str:
    text = json.dumps(values, separators=(",", ":"), default=str)
    return text if len(text) <= width else text[:width - 3] + "..."


def claim(args, settings) -> int:
    chain = Chain.from_settings(settings, private_key=signer(args, settings))
    claimed = chain.claim_credits()
    print(f"claimed {format_eth(claimed)} to {chain.address}" if claimed else f"nothing to claim for {chain.address}")
    return 0


def make_dataset(args) -> int:
    """Write a dataset artifact (safetensors, nothing executable) and print its sha256 and the spec's
    `dataset` entry; upload it with `pinpoint job upload`, then POST a spec naming it."""
    import numpy as np

    from pinpoint.datasets import (
        dataset_spec,
        features_artifact,
        images_artifact,
        stdlib_corpus,
        text_artifact,
        text_of,
    )

    if args.kind == "text":
        blob, facts = text_artifact(b"".join(text_of(Path(p)) for p in args.paths)), {"vocab_size": 256}
    elif args.kind == "stdlib":
        blob, facts = stdlib_corpus(args.max_bytes), {"vocab_size": 256}
    else:
        if len(args.paths) != 1 or args.classes is None:
            raise UserError(f"give one .npz file (arrays '{args.kind}' and 'labels') and --classes")
        with np.load(args.paths[0], allow_pickle=False) as arrays:
            build = features_artifact if args.kind == "features" else images_artifact
            blob, facts = build(arrays[args.kind], arrays["labels"]), {"classes": args.classes}
    Path(args.output).write_bytes(blob)
    print(json.dumps({"artifact": "0x" + dataset_spec(blob)["sha256"], "bytes": len(blob),
                      "dataset": dataset_spec(blob, **facts)}, indent=2))
    return 0


def print_example(args, parser) -> int:
    if args.model == "inference":
        if not (args.weights and args.inputs and args.count):
            parser.error("example inference needs --weights, --inputs and --count")
        spec = example_inference_spec(args.weights, args.inputs, args.count, model=args.arch)
    else:
        examples = {"mlp": example_mlp_spec, "char_transformer": example_transformer_spec, "gpt": example_gpt_spec,
                    "cnn": example_cnn_spec}
        tuning = {"init": {"sha256": args.init.removeprefix("0x")}} if args.init else {}
        if args.trainable:
            tuning["trainable"] = args.trainable
        spec = examples[args.model](**tuning)
    print(spec.model_dump_json(indent=2, exclude_none=True))
    return 0


def build_parser(prog: str = "pinpoint-job") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--account", help="sign with this account's key file (`pinpoint account`; default: "
                        "PINPOINT_ACCOUNT)")
    parser.add_argument("--key", help="a raw private key (prefer --account: argv is visible to other users; default: "
                        "PINPOINT_PRIVATE_KEY)")
    sub = parser.add_subparsers(dest="command", required=True)
    example = sub.add_parser("example", help="print a valid example spec")
    example.add_argument("model", choices=["mlp", "char_transformer", "gpt", "cnn", "inference"])
    example.add_argument("--weights", help="inference: weights artifact id (0x + sha256), e.g. a training job's "
                         "final checkpoint")
    example.add_argument("--inputs", help="inference: inputs artifact id (a safetensors file with one tensor "
                         "`inputs`, one row per input)")
    example.add_argument("--count", type=int, help="inference: number of inputs (rows)")
    example.add_argument("--arch", choices=["mlp", "char_transformer", "gpt", "cnn"], default="mlp",
                         help="inference: the example architecture the weights are for (default mlp)")
    example.add_argument("--init", help="training: start from this weights artifact (0x + sha256; a previous job's "
                         "final checkpoint, or `pinpoint job weights` output)")
    example.add_argument("--trainable", action="append", metavar="GLOB", help="training: train only parameters "
                         "whose names match (repeatable; e.g. 'blocks.11.*'); the others stay as loaded")
    post = sub.add_parser("submit", help="store a spec with the coordinator and post the job on chain")
    post.add_argument("spec", help="path of the spec JSON")
    post.add_argument("--max-price", type=ether, required=True, help="escrow, in ether: the most you pay")
    post.add_argument("--samples", type=int, help="intervals verifiers replay (default: pinpoint.economics."
                      "default_samples, about a tenth)")
    post.add_argument("--stake", type=ether, help="stake a solver must lock, in ether (default and least: the "
                      "economics' minimum for the price and sample size, and never less than the price; the "
                      "market enforces it)")
    post.add_argument("--bidding", type=int, default=60, help="bidding window, seconds (default 60)")
    post.add_argument("--execution", type=int, default=3600, help="time the solver has after the award (default 3600)")
    post.add_argument("--challenge", type=int, help="review window in seconds, from the seal of the sample (default "
                      "and least: the market's minimum, its audit's commit + reveal windows)")
    post.add_argument("--json", action="store_true", help="machine-readable output")
    state = sub.add_parser("status", help="show a job as the chain and the coordinator see it")
    state.add_argument("job_id", type=int)
    state.add_argument("--json", action="store_true", help="machine-readable output")
    live = sub.add_parser("watch", help="follow a job live until it ends: progress, loss, deadlines, audits, "
                          "disputes, payouts")
    live.add_argument("job_id", type=int)
    live.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    live.add_argument("--json", action="store_true", help="one JSON object per change")
    listing = sub.add_parser("list", help="the market's jobs, newest first")
    listing.add_argument("--state", choices=["bidding", "running", "submitted", "disputed", "finalized", "cancelled",
                                             "failed", "slashed", "unverified"])
    listing.add_argument("--submitter", metavar="ADDRESS", help="only this submitter's jobs")
    listing.add_argument("--solver", metavar="ADDRESS", help="only the jobs this solver won")
    listing.add_argument("--limit", type=int, default=50, help="at most this many, newest first (default 50)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    put = sub.add_parser("upload", help="store a file (weights, inputs) with the coordinator; prints its artifact id")
    put.add_argument("file")
    put.add_argument("--account", default=argparse.SUPPRESS,  # SUPPRESS: one given before the command still counts
                     help="the uploader's account (default: PINPOINT_ACCOUNT)")
    put.add_argument("--key", default=argparse.SUPPRESS, help="the uploader's raw private key")
    out = sub.add_parser("outputs", help="an inference job's outputs, each checked against the on-chain root")
    out.add_argument("job_id", type=int)
    out.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_parser("claim", help="withdraw your credit from the market (refunds, payouts, slashed stakes)")
    data = sub.add_parser("dataset", help="write a dataset artifact (safetensors); prints its sha256 and the "
                          "spec's dataset entry")
    data.add_argument("kind", choices=["text", "stdlib", "features", "images"],
                      help="text: files or folders as byte-level tokens (vocab 256); stdlib: this Python's own "
                      "standard library sources (its hash depends on the Python build); features, images: an .npz "
                      "with float32 'features' (N, F) or uint8 'images' (N, [C,] H, W) and int64 'labels' (N,)")
    data.add_argument("paths", nargs="*", help="text: files or folders (folders: every file, sorted); "
                      "features/images: one .npz")
    data.add_argument("-o", "--output", required=True, help="where to write the .safetensors file")
    data.add_argument("--classes", type=int, help="features/images: number of classes (labels in [0, classes))")
    data.add_argument("--max-bytes", type=int, default=1 << 20, help="stdlib: corpus size (whole files, default 1 MiB)")
    weights = sub.add_parser("weights", help="write a weights artifact (model.* float32 entries) from a state dict "
                             "or a checkpoint; prints its sha256 and the spec's init entry")
    weights.add_argument("file", help="a .safetensors file: parameter names as the model's (a plain state dict) or a "
                         "checkpoint's model.* entries")
    weights.add_argument("-o", "--output", required=True, help="where to write the weights artifact")
    weights.add_argument("--spec", help="check the weights against this spec's model (names, shapes)")
    res = sub.add_parser("result", help="write a finalized training job's final checkpoint, proven against the chain")
    res.add_argument("job_id", type=int)
    res.add_argument("-o", "--output", required=True, help="where to write the checkpoint (.safetensors)")
    res.add_argument("--weights-only", action="store_true", help="only the model's weights (the init of a next job)")
    return parser


def main(argv: list[str] | None = None, prog: str = "pinpoint-job") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.command == "dataset" and args.kind == "text" and not args.paths:
        parser.error("dataset text needs files or folders")
    offline = {"weights": make_weights, "dataset": make_dataset, "example": lambda a: print_example(a, parser)}
    if args.command in offline:
        def run_offline() -> int:
            try:
                return offline[args.command](args)
            except (ValueError, KeyError) as exc:  # bad files or arrays: the message names what is wrong
                raise UserError(str(exc)) from None

        return guarded(f"{prog} {args.command}", run_offline)
    commands = {"submit": submit, "status": status, "watch": watch_job, "list": list_jobs, "upload": upload,
                "outputs": outputs, "claim": claim, "result": result}
    return guarded(f"{prog} {args.command}", lambda: commands[args.command](args, get_settings()))


if __name__ == "__main__":
    sys.exit(main())
