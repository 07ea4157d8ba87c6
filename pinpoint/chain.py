"""The contract bindings every service uses: web3.py over the deployment file that `ape run deploy` writes.

`Chain` reads contract state, sends signed transactions (turning custom-error reverts into readable
`ChainError`s) and decodes event logs. ape stays the operator and test tool; services only need web3.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak
from web3 import Web3
from web3._utils.events import get_event_data
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError
from web3.middleware import SignAndSendRawMiddlewareBuilder

from pinpoint.economics import job_economics
from pinpoint.signing import SigningDomain


NONCE_RACE = ("nonce", "already imported", "replacement transaction")
"""What a node answers when two senders with one key used the same nonce."""

error_listeners: list[Callable[[str], None]] = []
"""Told the kind of every failed chain request: `unreachable` (no answer), `reverted` (a transaction the
contracts refused), `failed` (any other); the coordinator's and the workers' metrics count them."""


def _chain_error(kind: str) -> None:
    for listener in error_listeners:
        listener(kind)


class _Provider(Web3.HTTPProvider):
    """web3's HTTP provider, telling `error_listeners` when the node does not answer."""

    def _make_request(self, method, request_data):
        try:
            return super()._make_request(method, request_data)
        except OSError:  # requests' connection errors and timeouts are OSErrors
            _chain_error("unreachable")
            raise


class JobState(IntEnum):
    """Mirror of `IMarket.JobState`."""

    NONE = 0
    BIDDING = 1
    RUNNING = 2
    SUBMITTED = 3
    FINALIZED = 4
    CANCELLED = 5
    FAILED = 6
    DISPUTED = 7
    SLASHED = 8
    UNVERIFIED = 9


class SwarmState(IntEnum):
    """Mirror of `ISwarm.SwarmState`."""

    NONE = 0
    BIDDING = 1
    RUNNING = 2
    COMPLETED = 3
    CANCELLED = 4
    ENDED = 5


class Phase(IntEnum):
    """Mirror of `IDisputeGame.Phase`."""

    NONE = 0
    REVEAL = 1
    RESPOND = 2
    SERVE = 3
    ADJUDICATING = 4
    RESOLVED = 5


class DisputeKind(IntEnum):
    """Mirror of `IDisputeGame.Kind`."""

    FAULT = 0
    AVAILABILITY = 1
    GENESIS = 2


class ChainError(RuntimeError):
    """A transaction or call the chain refused; `reason` is the contract's custom error name when known."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason


class DeploymentMissing(FileNotFoundError):
    pass


@dataclass(frozen=True)
class DecodedEvent:
    contract: str
    name: str
    args: dict[str, Any]
    block_number: int
    log_index: int
    tx_hash: str


def load_deployment(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DeploymentMissing(f"no deployment file at {path}: deploy first (`ape run deploy`, or `pinpoint dev up` "
                                "on this machine)") from None


def _abi_type(param: dict) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + param["type"][5:]
    return param["type"]


def _error_selectors(abi: list[dict]) -> dict[bytes, str]:
    return {
        function_signature_to_4byte_selector(f"{e['name']}({','.join(_abi_type(i) for i in e['inputs'])})"): e["name"]
        for e in abi
        if e["type"] == "error"
    }


def _plain(value):
    """An event argument as JSON holds it: bytes as 0x-hex, arrays and tuples as lists."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class Chain:
    """One connection to the chain, optionally with a signing key."""

    def __init__(self, rpc_url: str, deployment_file: Path, private_key: str | None = None):
        self.w3 = Web3(_Provider(rpc_url, request_kwargs={"timeout": 30}))
        self.deployment = load_deployment(deployment_file)
        self.contracts = {
            name: self.w3.eth.contract(address=Web3.to_checksum_address(info["address"]), abi=info["abi"])
            for name, info in self.deployment["contracts"].items()
        }
        self.staking = self.contracts["Staking"]
        self.market = self.contracts["Market"]
        self.game = self.contracts.get("DisputeGame")
        self.court = self.contracts.get("RefereeCourt")
        self.router = self.contracts.get("StepRouter")
        self.operators = self.contracts.get("OperatorGame")
        self.audit = self.contracts.get("Audit")
        self.swarm = self.contracts.get("Swarm")
        self._errors: dict[bytes, str] = {}
        # By emitter and topic: two contracts may declare one signature with other indexed arguments.
        self._events: dict[tuple[str, bytes], tuple[str, dict]] = {}
        for name, contract in self.contracts.items():
            self._errors.update(_error_selectors(contract.abi))
            for item in contract.abi:
                if item["type"] == "event":
                    signature = f"{item['name']}({','.join(_abi_type(i) for i in item['inputs'])})"
                    self._events[(contract.address.lower(), keccak(text=signature))] = (name, item)
        self.account = None
        if private_key:
            self.account = Account.from_key(private_key)
            self.w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(self.account), layer=0)
            self.w3.eth.default_account = self.account.address

    @classmethod
    def from_settings(cls, settings, private_key: str | None = None) -> "Chain":
        """A client signing with `private_key`, else with the configured key."""
        return cls(settings.rpc_url, settings.deployment_file, private_key or settings.private_key)

    @property
    def signing_domain(self) -> SigningDomain:
        """The deployment that requests signed for the coordinator are bound to (pinpoint.signing)."""
        return SigningDomain(int(self.deployment["chain_id"]), self.market.address)

    @property
    def address(self) -> str:
        if self.account is None:
            raise ChainError("this chain client has no key; set PINPOINT_PRIVATE_KEY")
        return self.account.address

    # --- reads -------------------------------------------------------------------------------------

    def job(self, job_id: int, block: int | str = "latest") -> dict[str, Any]:
        """The job as of `block` (the indexer reads a job as its event left it)."""
        job = self.struct("Market", "getJob", job_id, block=block)
        job["state"] = JobState(job["state"])
        return job

    def get_swarm(self, swarm_id: int, block: int | str = "latest") -> dict[str, Any]:
        """The swarm (`ISwarm.getSwarm`) as of `block`, its state a `SwarmState` (not `swarm`: that name is the
        contract, as `market` is the market's)."""
        swarm = self.struct("Swarm", "getSwarm", swarm_id, block=block)
        swarm["state"] = SwarmState(swarm["state"])
        return swarm

    def struct(self, contract: str, function: str, *args, block: int | str = "latest") -> dict[str, Any]:
        """Call a view returning one struct, as a dict keyed by field name (bytes32 as 0x-hex)."""
        fn_abi = next(f for f in self.contracts[contract].abi if f.get("name") == function)
        values = getattr(self.contracts[contract].functions, function)(*args).call(block_identifier=block)
        return {
            f["name"]: "0x" + bytes(v).hex() if f["type"] == "bytes32" else v
            for f, v in zip(fn_abi["outputs"][0]["components"], values)
        }

    def dispute(self, dispute_id: int) -> dict[str, Any]:
        dispute = self.struct("DisputeGame", "getDispute", dispute_id)
        dispute["phase"] = Phase(dispute["phase"])
        dispute["kind"] = DisputeKind(dispute["kind"])
        return dispute

    def now(self) -> int:
        """The time the next block will at least have: an idle dev chain mines no blocks, so its latest
        timestamp can lag the wall clock."""
        return max(self.w3.eth.get_block("latest")["timestamp"], int(time.time()))

    def balance(self, address: str) -> int:
        return self.w3.eth.get_balance(Web3.to_checksum_address(address))

    # --- writes ------------------------------------------------------------------------------------

    def transact(self, contract: str, function: str, *args, value: int = 0, retries: int = 3) -> dict:
        """Send a signed transaction and wait for it; raises ChainError naming the custom error on revert."""
        fn = getattr(self.contracts[contract].functions, function)(*args)
        for attempt in range(retries):
            try:
                tx_hash = fn.transact({"from": self.address, "value": value})
                receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
                if receipt["status"] != 1:
                    _chain_error("reverted")
                    raise ChainError(f"{contract}.{function} reverted in tx {tx_hash.hex()}")
                return receipt
            except ContractCustomError as exc:
                data = exc.data if isinstance(exc.data, str) else str(exc.args[0])
                name = self._errors.get(bytes.fromhex(data.removeprefix("0x")[:8]), "unknown error")
                _chain_error("reverted")
                raise ChainError(f"{contract}.{function} reverted: {name}", reason=name) from None
            except ContractLogicError as exc:
                _chain_error("reverted")
                raise ChainError(f"{contract}.{function} reverted: {exc}") from None
            except (ValueError, Web3RPCError) as exc:
                # Two processes sharing a key (daemon and Celery task) can race for a nonce: retry.
                if not any(s in str(exc).lower() for s in NONCE_RACE) or attempt == retries - 1:
                    _chain_error("failed")
                    raise ChainError(f"{contract}.{function} failed: {exc}") from None
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def post_job(self, spec_hash: str, checkpoint_count: int, checkpoint_interval: int, *, max_price: int,
                 bidding_seconds: int, execution_seconds: int, challenge_seconds: int, samples: int | None = None,
                 required_stake: int | None = None, verifier_reward: int | None = None) -> int:
        """Post a job escrowing `max_price`; returns its id. By default the sample size, the stake and the
        verifiers' reward (funded into the Audit contract) are what pinpoint.economics asks for."""
        terms = job_economics(max_price, checkpoint_count, samples)
        stake = terms.required_stake if required_stake is None else required_stake
        receipt = self.transact(
            "Market", "postJob", spec_hash, checkpoint_count, checkpoint_interval, terms.samples, stake,
            bidding_seconds, execution_seconds, challenge_seconds, value=max_price,
        )
        job_id = self.market.events.JobPosted().process_receipt(receipt)[0]["args"]["jobId"]
        reward = terms.verifier_reward if verifier_reward is None else verifier_reward
        if reward and self.audit is not None:
            self.transact("Audit", "fund", job_id, value=reward)
        return job_id

    def minimum_challenge_seconds(self) -> int:
        """The shortest challenge window the market accepts: the audit's commit plus reveal windows."""
        return self.market.functions.minimumChallengeDuration().call()

    def claim_credits(self) -> int:
        """Withdraw this key's credit from every contract that pays out (market, game, court, audit)."""
        total = 0
        for name in ("Market", "DisputeGame", "RefereeCourt", "Audit"):
            contract = self.contracts.get(name)
            credit = contract.functions.credits(self.address).call() if contract is not None else 0
            if credit:
                self.transact(name, "claim")
                total += credit
        return total

    # --- events ------------------------------------------------------------------------------------

    def events(self, from_block: int, to_block: int) -> list[DecodedEvent]:
        """All events of the deployed contracts in [from_block, to_block], in chain order."""
        logs = self.w3.eth.get_logs(
            {
                "address": [c.address for c in self.contracts.values()],
                "fromBlock": from_block,
                "toBlock": to_block,
            }
        )
        decoded = []
        for log in logs:
            contract, abi = self._events.get((log["address"].lower(), bytes(log["topics"][0])), (None, None))
            if abi is None:
                continue
            data = get_event_data(self.w3.codec, abi, log)
            args = {k: _plain(v) for k, v in data["args"].items()}
            decoded.append(
                DecodedEvent(contract, data["event"], args, log["blockNumber"], log["logIndex"],
                             Web3.to_hex(log["transactionHash"]))
            )
        return decoded
