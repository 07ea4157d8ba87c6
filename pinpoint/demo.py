"""`make demo`: one training job through the whole product on this machine.

Starts a local chain, an embedded Redis-protocol server, the coordinator, a solver, a verifier and a
referee; uploads a real dataset (this Python's standard library sources, as byte-level tokens) and submits a
small GPT training job on it through the REST API, escrows its payment on chain, shows progress while it
trains, and ends with a summary: job state, on-chain roots, verdicts, disputes, payouts, stakes, loss plot.

    python -m pinpoint.demo                     # an honest solver: verified, finalized, paid
    python -m pinpoint.demo --model mlp         # the synthetic example MLP instead (a second or so of training)
    python -m pinpoint.demo --cheat perturb_once@13   # a cheating solver: disputed, pinpointed, slashed
    python -m pinpoint.demo --false-challenge   # a lying verifier: the honest solver wins its bond
    python -m pinpoint.demo --inference         # then run the trained model on 32 inputs, outputs proven
    python -m pinpoint.demo --inference --cheat perturb_output@5   # a wrong output: disputed, slashed
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pinpoint.chain import Chain, JobState
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.datasets import dataset_spec, stdlib_corpus
from pinpoint.economics import job_economics
from pinpoint.inference import checked_outputs, inputs_artifact
from pinpoint.localnet import ANVIL_KEYS, LOCAL_REVIEW_SECONDS, LocalStack, StackError
from pinpoint.spec import (
    SpecError,
    example_gpt_spec,
    example_inference_spec,
    example_mlp_spec,
    example_transformer_spec,
    parse_spec,
)
from pinpoint.tensors import float32_tensor
from pinpoint.units import format_eth
from worker.cheats import INFERENCE_CHEATS
from worker.engine.datasets import materialize

ETHER = 10**18
OUTCOMES = {0: "forfeited its {} bond", 1: "got its {} bond back", 2: "paid {} (bond + share of the pot)"}
"""How an audit settled (IAudit.Outcome)."""
ENDED = (JobState.FINALIZED, JobState.CANCELLED, JobState.FAILED, JobState.SLASHED, JobState.UNVERIFIED)
INFERENCE_INPUTS = 32
MAX_PRICE = ETHER // 20  # escrowed by the submitter; the stake and sample size follow (pinpoint.economics)


eth = format_eth


def bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // max(total, 1)
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


def post_job(stack: LocalStack, spec, bidding_seconds: int, challenge_seconds: int,
             samples: int | None = None) -> tuple[int, Chain]:
    submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
    accepted = CoordinatorClient(stack.api_url).submit_spec(spec)
    print(f"  spec stored by the coordinator as {accepted['spec_hash']}")
    # The stake is what the default sample asks for, also when a scenario samples more (which would let the
    # market accept less): a cheater then loses a stake worth showing.
    stake = job_economics(MAX_PRICE, accepted["checkpoint_count"]).required_stake
    job_id = submitter.post_job(
        accepted["spec_hash"], accepted["checkpoint_count"], accepted["checkpoint_interval"], max_price=MAX_PRICE,
        bidding_seconds=bidding_seconds, execution_seconds=600, challenge_seconds=challenge_seconds, samples=samples,
        required_stake=stake,
    )
    job = submitter.job(job_id)
    print(f"  job {job_id} posted on chain with {eth(MAX_PRICE)} escrowed, {eth(job['requiredStake'])} stake required, "
          f"{job['sampleCount']} of {job['checkpointCount']} intervals to be spot-checked")
    print(f"  watch it live in a browser: {stack.api_url}/#/jobs/{job_id}")
    return job_id, submitter


def follow(stack: LocalStack, job_id: int, chain: Chain, timeout: float, work: str = "training") -> dict:
    """Print the job's progress until it is finalized (or ends otherwise); returns the coordinator's view."""
    client = CoordinatorClient(stack.api_url)
    shown_state, shown_checkpoints, shown_verdicts, shown_disputes = None, -1, 0, {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        on_chain = chain.job(job_id)
        try:
            view = client.job(job_id)
        except Exception:
            view = None
        state = on_chain["state"].name.lower()
        if state != shown_state:
            print(f"  job {job_id}: {state}" + (f" (solver {on_chain['solver']}, price {eth(on_chain['price'])})" if state == "running" else ""))
            shown_state = state
        if view:
            reported = len(view["checkpoints"])
            step = max(1, view["checkpoint_count"] // 10)  # about ten progress lines per job
            if reported != shown_checkpoints and reported and ((reported - 1) % step == 0 or reported == view["checkpoint_count"] + 1):
                last = view["checkpoints"][-1]
                loss = "" if last["loss"] is None else f" loss {last['loss']:.4f}"
                print(f"  {work} {bar(reported - 1, view['checkpoint_count'])} step {last['step']}{loss}")
                shown_checkpoints = reported
            for verdict in view["verdicts"][shown_verdicts:]:
                print(f"  verifier {verdict['verifier'][:10]}… interval {verdict['interval']}: "
                      f"{'agrees' if verdict['agrees'] else 'DISAGREES'} ({verdict['detail']})")
            shown_verdicts = len(view["verdicts"])
            for d in view["disputes"]:
                what = {"availability": f"checkpoint at step {d['lo']} demanded",
                        "genesis": "the initial state questioned"}.get(d.get("kind"),
                                                                       f"steps {d['lo']}..{d['hi']} after {d['rounds']} rounds")
                line = (f"  dispute {d['id']}: {what}, {d['phase']}"
                        + ("" if d["solver_won"] is None else f": {'solver' if d['solver_won'] else 'challenger'} wins"))
                if shown_disputes.get(d["id"]) != line:
                    print(line)
                    shown_disputes[d["id"]] = line
            if on_chain["state"] in ENDED and view["state"] == state:
                return view
        time.sleep(0.5)
    raise StackError(f"job {job_id} did not finish within {timeout:.0f} s (logs in {stack.logs})")


def plot_loss(view: dict, path: Path) -> Path | None:
    points = [(c["step"], c["loss"]) for c in view["checkpoints"] if c["loss"] is not None]
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(*zip(*points), marker="o")
    ax.set(xlabel="step", ylabel="mean training loss of the interval", title=f"job {view['id']}: training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def wait_for_audits(chain: Chain, job_id: int, timeout: float = 90) -> list[dict]:
    """Until the keeper has settled the job's audits (after the reveal window); returns what each got."""
    deadline = time.monotonic() + timeout
    while not chain.audit.functions.settled(job_id).call():
        if time.monotonic() > deadline:
            return []
        time.sleep(0.5)
    return [dict(e.args) for e in chain.audit.events.AuditSettled().get_logs(from_block=0, argument_filters={"jobId": job_id})]


def staked(chain: Chain, account: str) -> int:
    """Solver stake in the staking contract plus verifier stake in the audit registry."""
    staking = chain.staking.functions
    return (staking.freeStake(account).call() + staking.lockedStake(account).call()
            + chain.audit.functions.stakeOf(account).call())


def summarize(stack: LocalStack, job_id: int, chain: Chain, view: dict, audits: list[dict], accounts: dict,
              holdings_before: dict) -> None:
    job = chain.job(job_id)
    print("\n=== summary ===")
    print(f"job {job_id}: {job['state'].name.lower()}")
    print(f"  spec hash      {job['specHash']}")
    print(f"  progress root  {job['progressRoot']} ({job['checkpointsDone']} checkpoints)")
    print(f"  final root     {job['finalRoot']}")
    sample = chain.market.functions.sampledIntervals(job_id).call() if job["sampleSealedAt"] else []
    print(f"  sample         intervals {sorted(sample)} of {job['checkpointCount']}, drawn on chain from block "
          f"{job['sampleBlock']} (mined after the final root)")
    for v in view["verdicts"]:
        print(f"  verdict        interval {v['interval']}: {'agrees' if v['agrees'] else 'disagrees'} ({v['verifier']})")
    for a in audits:
        entry = chain.audit.functions.getEntry(job_id, a["verifier"]).call()
        outcome = OUTCOMES[a["outcome"]].format(eth(a["amount"]))
        print(f"  audit          {a['verifier'][:10]}… committed, {'revealed' if entry[1] else 'never revealed'}, "
              f"{'agreed' if entry[2] else 'disagreed'}: {outcome}")
    for d in view["disputes"]:
        if d.get("kind") == "availability":
            served = "served (its bond waits for the job's end)" if d["solver_won"] else "not served: the solver is slashed"
            print(f"  dispute {d['id']}      checkpoint at step {d['lo']} demanded: {served}")
            continue
        winner = "solver (the challenger's bond goes to it)" if d["solver_won"] else "challenger (the solver is slashed)"
        if d.get("kind") == "genesis":
            print(f"  dispute {d['id']}      the initial state, recomputed from the spec by the referees; winner: {winner}")
            continue
        print(f"  dispute {d['id']}      pinpointed step {d['lo']} -> {d['hi']} in {d['rounds']} rounds; winner: {winner}")
    if job["state"] == JobState.SLASHED:
        print(f"  slashed        {eth(view['slashed'])} of the solver's stake: half to the challenger, half to the submitter")
        print(f"  escrow         {eth(job['maxPrice'])} returned to the submitter; the solver is paid nothing")
    elif job["state"] == JobState.UNVERIFIED:
        print("  unverified     no drawn verifier approved the result in its window")
        print(f"  escrow         {eth(job['maxPrice'])} returned to the submitter; the solver is paid nothing")
    else:
        print(f"  solver paid    {eth(view['solver_payout'])} (its bid)")
        print(f"  refund         {eth(view['submitter_refund'])} of {eth(job['maxPrice'])} escrow to the submitter")
    if view["final_loss"] is not None:
        print(f"  final loss     {view['final_loss']:.4f}")
    print("  since the job was posted (gas included):")
    print(f"    {'':<10} {'wallet':>26}  {'stake':>26}  {'total':>26}")
    for role, account in accounts.items():
        wallet = chain.balance(account) - holdings_before[role][0]
        stake = staked(chain, account) - holdings_before[role][1]
        print(f"    {role:<10} " + "  ".join(f"{format_eth(x, sign=True):>26}" for x in (wallet, stake, wallet + stake)))
    plot = plot_loss(view, stack.home / f"job-{job_id}-loss.png")
    if plot:
        print(f"  loss curve     {plot}")


def stdlib_gpt_spec(stack: LocalStack, corpus_bytes: int = 1 << 18):
    """A small GPT on real text nobody here wrote: the standard library's sources (byte-level tokens, vocab 256),
    uploaded by the submitter as a dataset artifact like any user's data."""
    corpus = stdlib_corpus(corpus_bytes)
    submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
    artifact = CoordinatorClient.for_chain(stack.api_url, submitter).upload_artifact(corpus)
    print(f"  uploaded {len(corpus) // 1024} KiB of the standard library's sources as dataset {artifact[:12]}…")
    spec = example_gpt_spec(model={"vocab_size": 256, "context": 64}, steps=64, checkpoint_interval=8, batch_size=16)
    return parse_spec(spec.model_dump(mode="json") | {"dataset": dataset_spec(corpus, vocab_size=256)})


def inference_inputs(count: int) -> tuple[bytes, list[int]]:
    """An inputs artifact of the first `count` points of the example dataset (the training set), and their
    true labels."""
    data = materialize(example_mlp_spec().dataset)
    rows = data.features[:count].tolist()
    return inputs_artifact(float32_tensor(rows)), data.labels[:count].tolist()


def show_outputs(stack: LocalStack, chain: Chain, job_id: int, labels: list[int]) -> None:
    """Fetch the outputs and check every one against the on-chain root, as any client can."""
    client = CoordinatorClient(stack.api_url)
    job = chain.job(job_id)
    results = checked_outputs(client, client.spec(job["specHash"]), job_id, job["finalRoot"])
    proven = [r for r in results if r.proven]
    print(f"  outputs        {len(proven)} of {len(results)} proven against final root {job['finalRoot'][:18]}…")
    correct = 0
    for r in results:
        if not r.proven:
            print(f"    input {r.index:>2}: {r.problem}")
            continue
        logits = r.output.values()
        predicted = max(range(len(logits)), key=logits.__getitem__)
        correct += predicted == labels[r.index]
        if r.index < 8:
            print(f"    input {r.index:>2}: class {predicted} (label {labels[r.index]}), logits "
                  + " ".join(f"{v:+.3f}" for v in logits))
    print(f"    ... {correct} of {len(proven)} proven predictions match the labels (training points)")


def run_job(stack: LocalStack, chain: Chain, spec, args, adversarial: bool, work: str) -> tuple[int, dict, list[dict]]:
    """Post `spec`, follow it to its end, wait for its audits and let everyone claim what they are owed."""
    # The dispute scenarios sample every interval, so the cheat (or the lie) is always found; the honest
    # one samples what the economics ask for (about a tenth: docs/ECONOMICS.md).
    samples = spec.checkpoint_count if adversarial else None
    job_id, _ = post_job(stack, spec, bidding_seconds=6, challenge_seconds=LOCAL_REVIEW_SECONDS, samples=samples)
    view = follow(stack, job_id, chain, args.timeout, work)
    print("  waiting for the verifier's audit to be settled (after its reveal window)")
    audits = wait_for_audits(chain, job_id)
    for key in (ANVIL_KEYS[1], ANVIL_KEYS[3]):  # the submitter and the verifier collect what they are owed
        Chain(stack.rpc_url, stack.deployment_file, key).claim_credits()
    return job_id, view, audits


def main(argv: list[str] | None = None, prog: str = "pinpoint-demo") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["gpt", "mlp", "char_transformer"],
                        help="what to train (default: gpt on the standard library's sources; mlp with --inference)")
    parser.add_argument("--home", type=Path, default=Path(".pinpoint/demo"), help="folder for state and logs")
    parser.add_argument("--chain-port", type=int, default=8545)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--timeout", type=float, default=480, help="seconds to wait for the job")
    scenario = parser.add_mutually_exclusive_group()
    scenario.add_argument("--cheat", metavar="NAME@STEP", help="the solver cheats, e.g. perturb_once@13 (see worker/cheats.py)")
    scenario.add_argument("--false-challenge", action="store_true", help="the verifier challenges honest work")
    parser.add_argument("--inference", action="store_true", help="after training, run the trained MLP on "
                        f"{INFERENCE_INPUTS} inputs as an inference job (cheats then apply to it: perturb_output@N)")
    args = parser.parse_args(argv)
    args.model = args.model or ("mlp" if args.inference else "gpt")
    if args.inference and args.model != "mlp":
        parser.error("--inference runs the trained MLP; use --model mlp")
    if bool(args.inference) != bool(args.cheat and args.cheat.split("@")[0] in INFERENCE_CHEATS) and args.cheat:
        parser.error(f"--cheat {args.cheat}: inference cheats ({', '.join(sorted(INFERENCE_CHEATS))}) go with "
                     "--inference, training cheats without it")

    stack = LocalStack(args.home, args.chain_port, args.api_port, redis_url=os.environ.get("REDIS_URL"))
    try:
        with stack:
            print("== starting a local Pinpoint")
            solver_options = ("--cheat", args.cheat) if args.cheat else ()
            verifier_options = ("--lie",) if args.false_challenge else ()
            # A lying verifier approves nothing, and unapproved work is not paid: an honest one checks too.
            stack.start_all(solver_options, verifier_options, progress=lambda msg: print(f"  {msg}"),
                            second_verifier=args.false_challenge)
            chain = Chain(stack.rpc_url, stack.deployment_file)
            accounts = {role: chain.w3.eth.account.from_key(ANVIL_KEYS[i]).address
                        for role, i in (("submitter", 1), ("solver", 2), ("verifier", 3), ("referee", 4))}
            before = {role: (chain.balance(a), staked(chain, a)) for role, a in accounts.items()}
            spec = {"mlp": example_mlp_spec, "char_transformer": example_transformer_spec,
                    "gpt": lambda: stdlib_gpt_spec(stack)}[args.model]()
            print(f"== submitting a {args.model} training job: {spec.steps} steps, checkpoint every {spec.checkpoint_interval}")
            adversarial = bool(args.cheat or args.false_challenge)
            job_id, view, audits = run_job(stack, chain, spec, args, adversarial and not args.inference, "training")
            if args.inference:
                if view["state"] != "finalized":
                    raise StackError(f"the training job ended {view['state']}; there are no weights to run")
                weights = view["checkpoints"][-1]["artifact"]  # the final checkpoint, proven by the final root
                inputs, labels = inference_inputs(INFERENCE_INPUTS)
                submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
                inputs_id = CoordinatorClient.for_chain(stack.api_url, submitter).upload_artifact(inputs)
                spec = example_inference_spec(weights, inputs_id, INFERENCE_INPUTS)
                print(f"== training job {job_id} finalized; submitting an inference job: its final checkpoint "
                      f"{weights[:12]}… on {INFERENCE_INPUTS} inputs {inputs_id[:12]}…")
                job_id, view, audits = run_job(stack, chain, spec, args, adversarial, "inference")
            summarize(stack, job_id, chain, view, audits, accounts, before)
            if args.inference and view["state"] == "finalized":
                show_outputs(stack, chain, job_id, labels)
            print(f"\nlogs: {stack.logs}")
            # A solver that answers every demand (junk_bytes) is not slashed, but nobody approved it in time.
            expected = ("unverified" if args.cheat.startswith("junk_bytes") else "slashed") if args.cheat else "finalized"
            return 0 if view["state"] == expected else 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping every process")
        return 130
    except (StackError, SpecError, CoordinatorError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
