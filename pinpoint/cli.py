"""`pinpoint-job`: the submitter's command line.

    pinpoint-job example mlp > job.json                       # a valid spec to start from
    pinpoint-job submit job.json --max-price 0.05              # store the spec, escrow, post on chain
    pinpoint-job status 1                                      # state, bids, checkpoints, loss, verdicts
    pinpoint-job upload weights.safetensors                    # store an artifact; prints its id
    pinpoint-job example inference --weights 0x.. --inputs 0x.. --count 32 > infer.json
    pinpoint-job outputs 2                                     # outputs, each proven against the chain
    pinpoint-job claim                                         # collect refunds and slashed stakes
    pinpoint-job dataset text notes/ -o data.safetensors       # your text as byte-level tokens (vocab 256)
    pinpoint-job dataset stdlib -o stdlib.safetensors          # real text: this Python's standard library
    pinpoint-job dataset features data.npz -o data.safetensors --classes 10   # (or images) from an .npz
    pinpoint-job weights my_model.safetensors -o init.safetensors --spec job.json   # your weights, checked
    pinpoint-job example gpt --init 0x.. --trainable 'blocks.11.*' > tune.json        # fine-tune them
    pinpoint-job result 3 -o final.safetensors                 # the final checkpoint, proven against the chain

Chain, coordinator and key come from PINPOINT_* settings (pinpoint/settings.py) or the options.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pinpoint.chain import Chain, ChainError
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.inference import OutputProofError, checked_outputs
from pinpoint.settings import get_settings
from pinpoint.spec import (
    InferenceSpec,
    SpecError,
    example_cnn_spec,
    example_gpt_spec,
    example_inference_spec,
    example_mlp_spec,
    example_transformer_spec,
    parse_spec,
)
from pinpoint.tensors import SafetensorsError

ETHER = 10**18


def ether(text: str) -> int:
    """'0.05' -> wei; refuses zero, negative and sub-wei amounts."""
    try:
        wei = Decimal(text) * ETHER
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount of ether: {text!r}") from None
    if wei <= 0 or wei != wei.to_integral_value():
        raise argparse.ArgumentTypeError(f"amount must be a positive number of ether with at most 18 decimals: {text}")
    return int(wei)


def show(wei: int | str | None) -> str:
    return "-" if wei is None else f"{Decimal(int(wei)) / ETHER} ETH"


def submit(args, settings) -> int:
    spec = parse_spec(Path(args.spec).read_bytes())
    accepted = CoordinatorClient(settings.coordinator_url).submit_spec(spec)
    chain = Chain.from_settings(settings, private_key=args.key)
    minimum = chain.minimum_challenge_seconds()
    challenge = minimum if args.challenge is None else args.challenge
    if challenge < minimum:
        raise ChainError(f"--challenge {challenge} s is shorter than this market's minimum of {minimum} s (the "
                         "audit's commit and reveal windows, which every review must hold)")
    job_id = chain.post_job(
        accepted["spec_hash"], spec.checkpoint_count, spec.checkpoint_interval, max_price=args.max_price,
        samples=args.samples, required_stake=args.stake, bidding_seconds=args.bidding,
        execution_seconds=args.execution, challenge_seconds=challenge,
    )
    print(json.dumps({"job_id": job_id, "spec_hash": accepted["spec_hash"], "escrow_wei": str(args.max_price)}))
    return 0


def status(args, settings) -> int:
    chain = Chain.from_settings(settings)
    job = chain.job(args.job_id)
    if job["state"].name == "NONE":
        print(f"no job {args.job_id} on chain", file=sys.stderr)
        return 1
    print(f"job {args.job_id}: {job['state'].name.lower()}")
    print(f"  spec {job['specHash']}, escrow {show(job['maxPrice'])}, stake required {show(job['requiredStake'])}")
    if int(job["solver"], 16):
        print(f"  solver {job['solver']} at {show(job['price'])}")
    print(f"  progress {job['checkpointsDone']}/{job['checkpointCount']} checkpoints, root {job['progressRoot']}")
    try:
        view = CoordinatorClient(settings.coordinator_url).job(args.job_id)
    except CoordinatorError as exc:
        print(f"  (coordinator: {exc})")
        return 0
    print(f"  bids: {len(view['bids'])}; final loss: {view['final_loss'] if view['final_loss'] is not None else '-'}")
    for verdict in view["verdicts"]:
        print(f"  verdict on interval {verdict['interval']}: {'agrees' if verdict['agrees'] else 'DISAGREES'} ({verdict['detail']})")
    return 0


def upload(args, settings) -> int:
    """Uploads are signed by the uploader's key (it needs funds on chain, or an open job it solves)."""
    chain = Chain.from_settings(settings, private_key=args.key)
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
              "for (see `pinpoint-job status`)", file=sys.stderr)
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
        print(f"job {args.job_id} is a training job; its checkpoints are in `pinpoint-job status`", file=sys.stderr)
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
    chain = Chain.from_settings(settings, private_key=args.key)
    claimed = chain.claim_credits()
    print(f"claimed {show(claimed)} to {chain.address}" if claimed else f"nothing to claim for {chain.address}")
    return 0


def make_dataset(args) -> int:
    """Write a dataset artifact (safetensors, nothing executable) and print its sha256 and the spec's
    `dataset` entry; upload it with `pinpoint-job upload`, then POST a spec naming it."""
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
            print(f"pinpoint-job dataset {args.kind}: give one .npz file (arrays '{args.kind}' and 'labels') and "
                  "--classes", file=sys.stderr)
            return 2
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
        try:
            spec = example_inference_spec(args.weights, args.inputs, args.count, model=args.arch)
        except SpecError as exc:
            print(f"pinpoint-job example: {exc}", file=sys.stderr)
            return 1
    else:
        examples = {"mlp": example_mlp_spec, "char_transformer": example_transformer_spec, "gpt": example_gpt_spec,
                    "cnn": example_cnn_spec}
        tuning = {"init": {"sha256": args.init.removeprefix("0x")}} if args.init else {}
        if args.trainable:
            tuning["trainable"] = args.trainable
        try:
            spec = examples[args.model](**tuning)
        except SpecError as exc:
            print(f"pinpoint-job example: {exc}", file=sys.stderr)
            return 1
    print(spec.model_dump_json(indent=2, exclude_none=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pinpoint-job", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--key", help="submitter's private key (default: PINPOINT_PRIVATE_KEY)")
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
                         "final checkpoint, or `pinpoint-job weights` output)")
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
    state = sub.add_parser("status", help="show a job as the chain and the coordinator see it")
    state.add_argument("job_id", type=int)
    put = sub.add_parser("upload", help="store a file (weights, inputs) with the coordinator; prints its artifact id")
    put.add_argument("file")
    put.add_argument("--key", default=argparse.SUPPRESS,  # SUPPRESS: a --key before the command still counts
                     help="the uploader's private key (default: PINPOINT_PRIVATE_KEY)")
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
    args = parser.parse_args(argv)

    if args.command == "weights":
        try:
            return make_weights(args)
        except (OSError, ValueError) as exc:
            print(f"pinpoint-job weights: {exc}", file=sys.stderr)
            return 1
    if args.command == "example":
        return print_example(args, parser)
    if args.command == "dataset":
        if args.kind == "text" and not args.paths:
            parser.error("dataset text needs files or folders")
        try:
            return make_dataset(args)
        except (OSError, ValueError, KeyError) as exc:
            print(f"pinpoint-job dataset: {exc}", file=sys.stderr)
            return 1
    settings = get_settings()
    commands = {"submit": submit, "status": status, "upload": upload, "outputs": outputs, "claim": claim, "result": result}
    try:
        return commands[args.command](args, settings)
    except (SpecError, ChainError, CoordinatorError, OutputProofError, SafetensorsError, OSError) as exc:
        print(f"pinpoint-job {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
