"""Deploy Staking, Market, RefereeCourt, StepRouter (with its OperatorGame), DisputeGame, Audit and Swarm, wire
them, and write the deployment file.

Wiring, once, with no owner left afterwards: the market is the staking contract's one market (the only one
that locks or slashes stake); the game is the market's dispute game; its step verifier is the router, which opens
operator games (its own OperatorGame) for jobs with a registered program and asks the court, whose game it is, for
the rest; the audit is the
market's audit (its windows bound every job's challenge window, and its verifiers' approval decides payment).
The swarm (K replicas in rounds, each round's share a job reserved on the market) is deployed last, over the wired
market, its staking and its audit; it has no owner and nothing to wire.
Every parameter below has a bound the contracts enforce (a constructor reverts beyond it).

    # onto the local node at PINPOINT_RPC_URL (default http://127.0.0.1:8545; pinpoint/ape_cli.py), with the
    # windows of `pinpoint dev up`, then a block a second as a real chain mines:
    ape run deploy --local-windows --block-time 1
    # a dry run on a throwaway anvil that ape starts and stops, on a free port:
    APE_FOUNDRY_HOST=auto ape run deploy
    # any other network: ape run deploy --network <ecosystem:network:provider> --account <alias>

On a local Anvil the deployment mines a block per transaction whatever the node's mining mode (ape waits for
receipts only then); `--block-time N` leaves the node mining a block every N seconds, else as it was.

The deployment file (PINPOINT_DEPLOYMENT_FILE, default $PINPOINT_HOME/deployment.json; see pinpoint/settings.py) is the only thing the
coordinator and workers read: {"chain_id", "block", "contracts": {"Staking": {"address", "abi"}, "Market": ..., "RefereeCourt": ...,
"StepRouter": ..., "OperatorGame": ..., "DisputeGame": ..., "Audit": ..., "Swarm": ...}}; "block" is the block of the first deployment (where an indexer
starts).
"""

import json
from pathlib import Path

import click
from ape import accounts, project
from ape.cli import (
    ConnectedProviderCommand,
    account_option,
    ape_cli_context,
    network_option,
)
from click.core import ParameterSource

from pinpoint.ape_cli import ETHER, mining_per_transaction
from pinpoint.localnet import LOCAL_DEPLOY
from pinpoint.settings import get_settings


def deployment_path() -> Path:
    return Path(get_settings().deployment_file)


def _abi(contract) -> list:
    return [entry.model_dump(mode="json", by_alias=True) for entry in contract.contract_type.abi]


def deployer(cli_ctx, network, account):
    """The given account; on a local network test account 0 when none is given."""
    if account is None:
        if not cli_ctx.provider.network.is_local:
            raise click.UsageError("give --account on a non-local network")
        return accounts.test_accounts[0]
    if not cli_ctx.provider.network.is_local:
        click.confirm(f"Deploy from {account.address} on {network}?", abort=True)
    return account


@click.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.option(
    "--unbonding-delay",
    type=int,
    default=24 * 3600,
    show_default=True,
    help="Seconds between a withdrawal request and the withdrawal.",
)
@click.option("--challenge-bond", type=ETHER, default="0.1", show_default=True,
              help="Ether a challenger posts to open a dispute (goes to the winner).")
@click.option("--clock", type=int, default=24 * 3600, show_default=True,
              help="Seconds on each party's chess clock in a dispute.")
@click.option("--move-timeout", type=click.IntRange(min=1, max=30 * 24 * 3600), default=3600, show_default=True,
              help="Seconds each move of an operator game may take (a disputed step of a job with a program, "
                   "decided on chain without referees); the party that misses it loses.")
@click.option("--referee-bond", type=ETHER, default="0.1", show_default=True,
              help="Least ether a referee stakes (lost if it is silent, hidden or wrong on a panel).")
@click.option("--answer-window", type=int, default=3600, show_default=True,
              help="Seconds to draw a referee panel, then to commit answers, then to reveal them, then to "
                   "appeal the verdict (1 .. 3 days).")
@click.option("--exit-delay", type=int, default=3 * 24 * 3600, show_default=True,
              help="Seconds a referee's stake stays slashable after it asks to exit (>= 20 x answer window: "
                   "4 windows for each of up to 5 rounds of a request, appeals included; <= 60 days).")
@click.option("--panel-size", type=int, default=3, show_default=True,
              help="Expected number of referees on a panel, drawn in proportion to stake (1 .. 8).")
@click.option("--audit-bond", type=ETHER, default="0.05", show_default=True,
              help="Ether a verifier bonds per audit (lost if it cannot reveal hashes that match).")
@click.option("--commit-window", type=int, default=3600, show_default=True,
              help="Seconds after a sample is sealed in which drawn verifiers commit; challenges open after it.")
@click.option("--reveal-window", type=int, default=3600, show_default=True,
              help="Seconds after the commit window in which verifiers reveal. Every job's challenge window "
                   "must be at least commit + reveal (the market refuses shorter ones).")
@click.option("--verifier-stake", type=ETHER, default="0.1", show_default=True,
              help="Least ether a verifier registers with; audit seats are drawn in proportion to stake.")
@click.option("--verifier-delay", type=int, default=3600, show_default=True,
              help="Seconds before a verifier's stake counts in the draw (and after its exit before it leaves).")
@click.option("--committee-size", type=int, default=3, show_default=True,
              help="Expected number of verifiers drawn per job.")
@click.option("--local-windows", is_flag=True,
              help="Windows for trying things on one machine, those of `pinpoint dev up` and `make demo` ("
                   + ", ".join(f"--{name.replace('_', '-')} {value}" for name, value in LOCAL_DEPLOY.items())
                   + "); options given explicitly still win.")
@click.option("--block-time", type=click.IntRange(min=1), default=None,
              help="Local Anvil only: after deploying, mine a block every N seconds, as a real chain does. "
                   "Deadlines are block timestamps: a chain that mines only when sent a transaction never "
                   "reaches them, and jobs stay in bidding.")
def cli(cli_ctx, network, account, local_windows, block_time, **terms):
    """Deploy Staking, Market, RefereeCourt, StepRouter, DisputeGame, Audit and Swarm and write the deployment file."""
    if local_windows:
        source = click.get_current_context().get_parameter_source
        terms |= {name: value for name, value in LOCAL_DEPLOY.items() if source(name) != ParameterSource.COMMANDLINE}
    with mining_per_transaction(cli_ctx.provider, block_time):
        deploy(cli_ctx, network, account, **terms)


def deploy(cli_ctx, network, account, unbonding_delay, challenge_bond, clock, move_timeout, referee_bond,
           answer_window, audit_bond, commit_window, reveal_window, verifier_stake, verifier_delay, committee_size,
           exit_delay, panel_size):
    account = deployer(cli_ctx, network, account)
    staking = account.deploy(project.Staking, unbonding_delay)
    market = account.deploy(project.Market, staking)
    court = account.deploy(project.RefereeCourt, referee_bond, answer_window, exit_delay, panel_size)
    # The game's step verifier: operator games for jobs with a program, the court for the rest.
    router = account.deploy(project.StepRouter, court, move_timeout)
    game = account.deploy(project.DisputeGame, market, router, challenge_bond, clock)
    audit = account.deploy(project.Audit, market, audit_bond, commit_window, reveal_window,
                           verifier_stake, verifier_delay, committee_size)
    staking.setMarket(market, sender=account)
    market.setDisputeGame(game, sender=account)
    market.setAudit(audit, sender=account)
    court.setGame(router, sender=account)
    router.setGame(game, sender=account)
    operators = project.OperatorGame.at(router.operators())
    swarm = account.deploy(project.Swarm, market, staking, audit)  # checks it is given the market's own
    deploy_block = staking.creation_metadata.block

    deployment = {
        "chain_id": cli_ctx.provider.chain_id,
        "block": deploy_block,
        "contracts": {
            "Staking": {"address": staking.address, "abi": _abi(staking)},
            "Market": {"address": market.address, "abi": _abi(market)},
            "RefereeCourt": {"address": court.address, "abi": _abi(court)},
            "DisputeGame": {"address": game.address, "abi": _abi(game)},
            "StepRouter": {"address": router.address, "abi": _abi(router)},
            "OperatorGame": {"address": operators.address, "abi": _abi(operators)},
            "Audit": {"address": audit.address, "abi": _abi(audit)},
            "Swarm": {"address": swarm.address, "abi": _abi(swarm)},
        },
    }
    path = deployment_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(deployment, indent=2) + "\n")
    cli_ctx.logger.success(
        f"Staking {staking.address}, Market {market.address}, RefereeCourt {court.address}, "
        f"DisputeGame {game.address}, Audit {audit.address}, Swarm {swarm.address} (block {deploy_block}) -> {path}"
    )
