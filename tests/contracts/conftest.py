"""Fixtures for the contract tests (run with `ape test tests/contracts`; ape starts its own anvil).

Contracts are deployed once per session; ape's isolation snapshots the chain around each test.
"""

import pytest
from audit_helpers import proven_job, register, sampled
from dispute_helpers import ANSWER_WINDOW, CHALLENGE_BOND, CLOCK, EXIT_DELAY, PANEL_SIZE, REFEREE_BOND
from market_helpers import (
    REQUIRED_STAKE,
    UNBONDING_DELAY,
    VERIFIER_DELAY,
    JobFactory,
    deploy_market,
)


@pytest.fixture(scope="session")
def owner(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def submitter(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def solver(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def solver2(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def stranger(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def staking(project, owner):
    return owner.deploy(project.Staking, UNBONDING_DELAY)


@pytest.fixture(scope="session")
def market(project, owner, staking):
    return deploy_market(project, owner, staking)


@pytest.fixture
def staked(staking, solver, solver2):
    """Solvers with enough free stake for two jobs each (per test: session-scoped state would leak)."""
    for account in (solver, solver2):
        staking.deposit(sender=account, value=2 * REQUIRED_STAKE)
    return (solver, solver2)


@pytest.fixture(scope="session")
def jobs(market, submitter, chain):
    return JobFactory(market, submitter, chain)


# --- disputes -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def challenger(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def referees(accounts):
    return accounts[6:9]


@pytest.fixture(scope="session")
def court(project, owner):
    return owner.deploy(project.RefereeCourt, REFEREE_BOND, ANSWER_WINDOW, EXIT_DELAY, PANEL_SIZE)


@pytest.fixture(scope="session")
def game(project, owner, market, court):
    """The dispute game, wired: the market's dispute game and the court's game."""
    game = owner.deploy(project.DisputeGame, market, court, CHALLENGE_BOND, CLOCK)
    market.setDisputeGame(game, sender=owner)
    court.setGame(game, sender=owner)
    return game


@pytest.fixture
def seated(court, referees):
    """Three registered referees with equal stake (per test): each is a sure seat on every panel."""
    for referee in referees:
        court.register(sender=referee, value=REFEREE_BOND)
    return referees


# --- audits -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def audit(project, market):
    """The market's audit, wired by `market`."""
    return project.Audit.at(market.audit())


@pytest.fixture(scope="session")
def verifiers(accounts):
    """Four verifiers: neither the submitter, the solvers, the stranger nor the challenger."""
    return accounts[6:10]


@pytest.fixture
def registered(chain, audit, verifiers):
    """The four verifiers registered with VERIFIER_STAKE each, VERIFIER_DELAY + 1 seconds before the next
    block (per test). Each holds 1/COMMITTEE_SIZE of the stake, so each is drawn for every job submitted from
    then on, except a job it solves."""
    last = register(audit, verifiers)[-1]
    chain.pending_timestamp = last.timestamp + VERIFIER_DELAY + 1
    return verifiers


@pytest.fixture
def honest_job(chain, jobs, market, staked, registered, solver, stranger):
    """A submitted honest job (root over TRUTH) with its sample sealed, its committee the four verifiers."""
    return sampled(chain, market, proven_job(jobs, market, solver), stranger)


# --- swarms -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def swarm(project, owner, market, staking, audit):
    """The swarm over the shared market (deployed after it is wired, as scripts/deploy.py does)."""
    return owner.deploy(project.Swarm, market, staking, audit)
