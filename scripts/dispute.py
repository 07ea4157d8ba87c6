"""Play the dispute game named by the deployment file (see scripts/deploy.py and contracts/README.md).

    ape run dispute open JOB_ID INDEX AGREED_HASH AGREED_PROOF_JSON SOLVER_HASH SOLVER_PROOF_JSON CHALLENGER_HASH
    ape run dispute open --from-file challenge.json   # {"job_id", "index", "agreed_hash", "agreed_proof",
                                                      #  "solver_hash", "solver_proof", "challenger_hash"}
    ape run dispute demand JOB_ID INDEX               # demand checkpoint INDEX: the solver must serve it
    ape run dispute show DISPUTE_ID
    ape run dispute reveal DISPUTE_ID HASH...         # the solver: its state hashes at the round's points
    ape run dispute respond DISPUTE_ID SEGMENT        # the challenger: the first segment whose end it disputes
    ape run dispute serve DISPUTE_ID ARTIFACT         # the solver: sha256 of its pre-state's safetensors bytes
    ape run dispute timeout DISPUTE_ID                # anyone, once the party to move ran out of clock
    ape run dispute claim                             # your credit (bonds won)

A move that is not allowed now (wrong phase, not your turn, clock run out) is refused before anything is sent,
with the reason. On a local network test account 0 is used when --account is not given, on the node at
PINPOINT_RPC_URL (default http://127.0.0.1:8545; APE_FOUNDRY_HOST overrides it, see pinpoint/ape_cli.py).
"""

import json
from pathlib import Path

import click
from ape import Contract, chain
from ape.cli import (
    ConnectedProviderCommand,
    account_option,
    ape_cli_context,
    network_option,
)

from pinpoint.ape_cli import explained, require_code, signer
from pinpoint.settings import get_settings
from pinpoint.units import format_eth

PHASES = ["None", "Reveal", "Respond", "Serve", "Adjudicating", "Resolved"]
NONE, REVEAL, RESPOND, SERVE, ADJUDICATING, RESOLVED = range(6)
MOVES = {REVEAL: ("solver", "reveal"), RESPOND: ("challenger", "respond"), SERVE: ("solver", "serve")}


def deployment() -> dict:
    path = get_settings().deployment_file
    if not path.is_file():
        raise click.ClickException(f"no deployment file at {path}: run `ape run deploy` first")
    deployed = json.loads(path.read_text())
    if "DisputeGame" not in deployed["contracts"]:
        raise click.ClickException(f"{path} has no DisputeGame: redeploy with `ape run deploy`")
    return deployed


def contract(name: str):
    entry = deployment()["contracts"][name]
    require_code(name, entry["address"])
    return Contract(entry["address"], abi=entry["abi"])


def game_contract():
    return contract("DisputeGame")


ether = format_eth


def hx(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def bytes32(value: str) -> str:
    if not value.startswith("0x") or len(value) != 66:
        raise click.BadParameter(f"{value} is not a 0x-prefixed 32-byte hex hash")
    return value


def turn(d) -> tuple[str, str, int] | None:
    """(role, address, clock as of turnStart) of the party to move; None when no party clock runs."""
    if d.phase not in MOVES:
        return None
    role = MOVES[d.phase][0]
    return (role, d.solver, d.solverClock) if role == "solver" else (role, d.challenger, d.challengerClock)


def seconds_left(d) -> int:
    """Seconds the party to move has left now (negative: ran out that long ago)."""
    _, _, clock = turn(d)
    return clock - (chain.blocks.head.timestamp - d.turnStart)


def outcome(d) -> str:
    """How a Resolved dispute ended; `abandoned` (the court reached no verdict) exists on newer deployments."""
    if getattr(d, "abandoned", False):
        return "abandoned: the court reached no verdict (nobody could sit, or no panel answered); no winner, bond back to the challenger"
    return f"solver won: {d.solverWon}"


def load(game, dispute_id: int):
    d = game.getDispute(dispute_id)
    if d.phase == NONE:
        raise click.ClickException(f"there is no dispute {dispute_id} (disputes 1..{game.disputeCount()})")
    return d


def revealed(game, dispute_id: int) -> list[bytes]:
    """The state hashes the solver revealed in the dispute's latest round (none before its first reveal)."""
    logs = list(game.Revealed.range(deployment()["block"], chain.blocks.head.number + 1,
                                    search_topics={"disputeId": dispute_id}))
    return [bytes(h) for h in logs[-1].hashes] if logs else []


def check_move(game, dispute_id: int, phase: int, sender) -> None:
    """Refuse, with the reason, a move that the game would revert now."""
    d = load(game, dispute_id)
    if d.phase != phase:
        now = turn(d)
        why = (f"it is the {now[0]}'s turn ({now[1]}) to {MOVES[d.phase][1]}" if now
               else f"the dispute is {PHASES[d.phase]}, not {PHASES[phase]}")
        raise click.ClickException(f"cannot {MOVES[phase][1]} now: {why}")
    role, mover, _ = turn(d)
    if sender.address != mover:
        raise click.ClickException(f"it is the {role}'s turn ({mover}) to {MOVES[phase][1]}; you are {sender.address}")
    left = seconds_left(d)
    if left < 0:
        raise click.ClickException(f"your clock ran out {-left} s ago: anyone can now claim the timeout")


@click.group()
def cli():
    """Open and play disputes over checkpoints."""


@cli.command("open", cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.option("--from-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON with job_id, index, agreed_hash, agreed_proof, solver_hash, solver_proof, challenger_hash.")
@click.argument("args", nargs=-1)
def open_dispute(cli_ctx, network, account, from_file, args):
    """Challenge checkpoint INDEX + 1 of JOB_ID, posting the challenge bond."""
    names = ["job_id", "index", "agreed_hash", "agreed_proof", "solver_hash", "solver_proof", "challenger_hash"]
    if from_file:
        fields = json.loads(from_file.read_text())
    elif len(args) == len(names):
        fields = dict(zip(names, args))
        fields["agreed_proof"], fields["solver_proof"] = json.loads(args[3]), json.loads(args[5])
    else:
        raise click.UsageError(f"give --from-file or the {len(names)} arguments {' '.join(n.upper() for n in names)}")
    game = game_contract()
    bond = game.challengeBond()
    sender = signer(cli_ctx, account, f"Post a {ether(bond)} challenge bond")
    with explained("open"):
        tx = game.challenge(
            int(fields["job_id"]), int(fields["index"]), bytes32(fields["agreed_hash"]),
            [bytes32(p) for p in fields["agreed_proof"]], bytes32(fields["solver_hash"]),
            [bytes32(p) for p in fields["solver_proof"]], bytes32(fields["challenger_hash"]),
            sender=sender, value=bond,
        )
    dispute_id = tx.return_value
    d = game.getDispute(dispute_id)
    cli_ctx.logger.success(f"dispute {dispute_id} opened over steps {d.lo}..{d.hi}; next: {PHASES[d.phase]}")


@cli.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.argument("job_id", type=int)
@click.argument("index", type=int)
def demand(cli_ctx, network, account, job_id, index):
    """Demand checkpoint INDEX of JOB_ID on chain, posting the availability bond: the solver must prove its
    state hash and serve its bytes within its clock, or be slashed."""
    game = game_contract()
    bond = game.availabilityBond()
    sender = signer(cli_ctx, account, f"Post a {ether(bond)} availability bond")
    with explained("demand"):
        tx = game.challengeAvailability(job_id, index, sender=sender, value=bond)
    cli_ctx.logger.success(f"dispute {tx.return_value} demands checkpoint {index} of job {job_id}; the solver's clock runs")


@cli.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@click.argument("dispute_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(cli_ctx, network, dispute_id, as_json):
    """Show a dispute: phase, interval, hashes, round, clocks and whose turn it is."""
    game = game_contract()
    d = load(game, dispute_id)
    interval = contract("Market").getJob(d.jobId).checkpointInterval
    first_block = deployment()["block"]
    responses = list(game.Responded.range(first_block, chain.blocks.head.number + 1,
                                          search_topics={"disputeId": dispute_id}))
    solver_left, challenger_left = game.clocks(dispute_id)
    now = turn(d)
    facts = {
        "dispute": dispute_id, "job": d.jobId, "kind": "availability" if getattr(d, "kind", 0) == 1 else "fault",
        "phase": PHASES[d.phase], "outcome": outcome(d) if d.phase == RESOLVED else None,
        "solver": str(d.solver), "challenger": str(d.challenger), "lo": d.lo, "lo_hash": hx(d.loHash), "hi": d.hi,
        "hi_hash": hx(d.hiHash), "round": len(responses) + (d.phase in (REVEAL, RESPOND)),
        "max_rounds": game.maxRounds(interval), "solver_clock": solver_left, "challenger_clock": challenger_left,
        "points": list(game.points(dispute_id)) if d.phase in (REVEAL, RESPOND) else None,
        "revealed": [hx(h) for h in revealed(game, dispute_id)] if d.phase == RESPOND else None,
        "turn": {"party": now[0], "address": str(now[1]), "move": MOVES[d.phase][1],
                 "seconds_left": max(seconds_left(d), 0)} if now else None,
    }
    if as_json:
        click.echo(json.dumps(facts))
        return
    click.echo(f"dispute:      {dispute_id} (job {d.jobId})")
    if facts["kind"] == "availability":
        click.echo(f"kind:         availability of checkpoint {d.index}: the solver must serve it")
    click.echo(f"phase:        {PHASES[d.phase]}" + (f" ({facts['outcome']})" if facts["outcome"] else ""))
    click.echo(f"solver:       {d.solver}")
    click.echo(f"challenger:   {d.challenger}")
    click.echo(f"steps:        lo {d.lo} (agreed {hx(d.loHash)}), hi {d.hi} (solver claims {hx(d.hiHash)})")
    click.echo(f"round:        {facts['round']} of at most {facts['max_rounds']}")
    if d.phase == REVEAL:
        click.echo(f"points:       steps {' '.join(map(str, facts['points']))}: the solver reveals their hashes")
    if d.phase == RESPOND:
        click.echo("revealed:     the solver's hash at each point, where segment j ends (the last segment ends at hi)")
        for j, (step, state_hash) in enumerate(zip(facts["points"], facts["revealed"], strict=True)):
            click.echo(f"  segment {j:2d} ends at step {step}: {state_hash}")
    click.echo(f"clocks:       solver {solver_left} s, challenger {challenger_left} s")
    if now:
        click.echo(f"turn:         the {now[0]} ({now[1]}) to {MOVES[d.phase][1]}, {max(seconds_left(d), 0)} s left")
    elif d.phase == ADJUDICATING:
        click.echo(f"turn:         the step verifier (request {d.requestId}, artifact {hx(d.preStateArtifact)})")


def send_move(cli_ctx, account, dispute_id: int, phase: int, move: str, *args) -> None:
    """Checks that the move is allowed now, then sends it."""
    game = game_contract()
    sender = signer(cli_ctx, account, f"Send {move} for dispute {dispute_id}")
    check_move(game, dispute_id, phase, sender)
    with explained(move):
        getattr(game, move)(dispute_id, *args, sender=sender)
    d = game.getDispute(dispute_id)
    cli_ctx.logger.success(f"{move} sent; dispute {dispute_id} is now {PHASES[d.phase]} over steps {d.lo}..{d.hi}")


@cli.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.argument("dispute_id", type=int)
@click.argument("state_hashes", nargs=-1, required=True, callback=lambda _c, _p, v: [bytes32(h) for h in v])
def reveal(cli_ctx, network, account, dispute_id, state_hashes):
    """The solver reveals its state hashes at the round's points, in order (see `show`)."""
    send_move(cli_ctx, account, dispute_id, REVEAL, "reveal", state_hashes)


@cli.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.argument("dispute_id", type=int)
@click.argument("segment", type=click.IntRange(min=0))
def respond(cli_ctx, network, account, dispute_id, segment):
    """The challenger picks the segment it disputes: it agrees with the state at its start and not at its end
    (honestly, the first one whose end it disagrees with; `show` lists them)."""
    send_move(cli_ctx, account, dispute_id, RESPOND, "respond", revealed(game_contract(), dispute_id), segment)


@cli.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.argument("dispute_id", type=int)
@click.argument("artifact", callback=lambda _c, _p, v: bytes32(v))
def serve(cli_ctx, network, account, dispute_id, artifact):
    """The solver names the uploaded artifact holding its state at step lo."""
    send_move(cli_ctx, account, dispute_id, SERVE, "serveState", artifact)


@cli.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.argument("dispute_id", type=int)
def timeout(cli_ctx, network, account, dispute_id):
    """Ends the dispute against the party whose clock ran out."""
    game = game_contract()
    d = load(game, dispute_id)
    now = turn(d)
    if now is None:
        raise click.ClickException(f"no clock runs: the dispute is {PHASES[d.phase]}")
    left = seconds_left(d)
    if left >= 0:
        raise click.ClickException(f"the {now[0]}'s clock still has {left} s")
    sender = signer(cli_ctx, account, f"Claim the timeout of dispute {dispute_id}")
    with explained("timeout"):
        game.claimTimeout(dispute_id, sender=sender)
    winner = "solver" if game.getDispute(dispute_id).solverWon else "challenger"
    cli_ctx.logger.success(f"dispute {dispute_id} resolved: the {winner} won (the {now[0]} ran out of clock)")


@cli.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
def claim(cli_ctx, network, account):
    """Withdraws your credit (bonds won) from the dispute game."""
    game = game_contract()
    sender = signer(cli_ctx, account, "Claim")
    amount = game.credits(sender)
    if amount == 0:
        raise click.ClickException(f"{sender.address} has no credit in the dispute game")
    with explained("claim"):
        game.claim(sender=sender)
    cli_ctx.logger.success(f"claimed {ether(amount)}")
