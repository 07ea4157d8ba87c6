"""The command line as a user meets it: amounts in exact ether, keys in encrypted files, a live view of a job,
and one line (never a traceback) for every mistake a user can make."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from pinpoint import keys
from pinpoint.cli.watch import countdown, render
from pinpoint.localnet import ANVIL_KEYS, free_port
from pinpoint.units import format_eth, parse_eth

BIN = Path(sys.executable).parent


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_formatEth_isExact_andParsesBack(wei):
    text = format_eth(wei)
    assert "e" not in text.lower().removesuffix(" eth") and text.endswith(" ETH")
    assert (parse_eth(text) if wei > 0 else -parse_eth(text.lstrip("-"), allow_zero=True)) == wei


def test_parseEth_refusesWhatIsNotAnAmount():
    assert parse_eth("0.05") == 5 * 10**16 and parse_eth("1e-18") == 1 and parse_eth("2 ETH") == 2 * 10**18
    assert format_eth(1) == "0.000000000000000001 ETH" and format_eth(None) == "-" and format_eth(0, sign=True) == "+0 ETH"
    for bad, why in [("abc", "not an amount"), ("-1", "more than zero"), ("0", "more than zero"),
                     ("1e-19", "18 decimals"), ("inf", "not an amount"), ("NaN", "not an amount")]:
        with pytest.raises(ValueError, match=why):
            parse_eth(bad)


@pytest.fixture
def keystore(tmp_path, monkeypatch):
    monkeypatch.setenv("PINPOINT_KEYSTORE_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("APE_DATA_FOLDER", str(tmp_path / "ape"))
    monkeypatch.setenv(keys.PASSWORD_VARIABLE, "correct horse")
    return tmp_path


def test_accounts_areEncrypted_foundByName_andNeverOverwritten(keystore):
    saved = keys.save("alice", ANVIL_KEYS[1], "correct horse")
    path = Path(saved["file"])
    assert ANVIL_KEYS[1][2:] not in path.read_text() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert keys.load("alice") == ANVIL_KEYS[1]
    with pytest.raises(keys.AccountError, match="cannot decrypt"):
        keys.load("alice", "wrong")
    with pytest.raises(keys.AccountError, match="exists"):
        keys.save("alice", ANVIL_KEYS[2], "x")
    with pytest.raises(keys.AccountError, match="no account named 'bob'.*known: alice"):
        keys.load("bob")
    with pytest.raises(keys.AccountError, match="must be"):
        keys.load("../alice")
    # an account made by ape (`ape accounts generate`) is found too: the same keystore format
    (keystore / "ape" / "accounts").mkdir(parents=True)
    (keystore / "ape" / "accounts" / "carol.json").write_text(json.dumps(Account.encrypt(ANVIL_KEYS[3], "pw")))
    assert [a["name"] for a in keys.accounts()] == ["alice", "carol"]
    assert keys.load("carol", "pw") == ANVIL_KEYS[3]


def test_privateKey_precedence(keystore):
    keys.save("alice", ANVIL_KEYS[1], "correct horse")

    class Settings:
        private_key, account = None, "alice"

    assert keys.private_key(Settings) == ANVIL_KEYS[1]  # PINPOINT_ACCOUNT
    assert keys.private_key(Settings, account="alice", key=ANVIL_KEYS[2]) == ANVIL_KEYS[2]  # --key first
    Settings.private_key = ANVIL_KEYS[4]
    assert keys.private_key(Settings) == ANVIL_KEYS[4]  # the raw variable before the named account


def test_accountCommand_importsFromStdin_andLists(keystore):
    env = dict(os.environ)
    done = subprocess.run([BIN / "pinpoint", "account", "import", "dave"], input=ANVIL_KEYS[5] + "\n", env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    listed = json.loads(subprocess.run([BIN / "pinpoint", "account", "list", "--json"], env=env, capture_output=True,
                                       text=True).stdout)
    assert [(a["name"], a["address"]) for a in listed] == [("dave", Account.from_key(ANVIL_KEYS[5]).address.lower())]
    bad = subprocess.run([BIN / "pinpoint", "account", "import", "eve"], input="0x1234\n", env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "private key is malformed" in bad.stderr and "Traceback" not in bad.stderr


@pytest.fixture
def nothing_running(tmp_path):
    """Settings that point at a chain and a coordinator that are not there, with a deployment file."""
    compiled = json.loads((Path(__file__).parents[2] / ".build" / "__local__.json").read_text())["contractTypes"]
    deployment = {"chain_id": 31337, "contracts": {name: {"address": "0x" + "11" * 20, "abi": compiled[name]["abi"]}
                                                    for name in ("Staking", "Market", "DisputeGame", "Audit")}}
    (tmp_path / "deployment.json").write_text(json.dumps(deployment))
    return dict(os.environ, PINPOINT_HOME=str(tmp_path), PINPOINT_RPC_URL=f"http://127.0.0.1:{free_port()}",
                PINPOINT_COORDINATOR_URL=f"http://127.0.0.1:{free_port()}", PINPOINT_PRIVATE_KEY="")


@pytest.mark.parametrize("command, expected", [
    (["job", "status", "1"], "cannot reach the chain"),
    (["job", "list"], "cannot reach the coordinator"),
    (["job", "watch", "1"], "cannot reach the coordinator"),
    (["job", "--key", "0x1234", "claim"], "private key is malformed"),
    (["job", "--account", "nobody", "claim"], "no account named 'nobody'"),
    (["job", "upload", "/no/such/file"], "no such file"),
    (["job", "submit", "/no/such/spec.json", "--max-price", "0.1"], "no such file"),
    (["job", "submit", "x.json", "--max-price", "0.1 wei"], "not an amount of ether"),
    (["jobs", "--state", "nonsense"], "invalid choice"),
    (["nonsense"], "unknown command"),
])
def test_mistakes_sayWhatIsWrong_withoutATraceback(nothing_running, command, expected):
    done = subprocess.run([BIN / "pinpoint", *command], env=nothing_running, capture_output=True, text=True, timeout=120)
    assert done.returncode in (1, 2), done
    assert expected in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("command", [["job", "status", "1"], ["coordinator", "serve", "--port", "1"],
                                     ["coordinator", "index"]])
def test_missingDeployment_saysWhatToRun(tmp_path, command):
    env = dict(os.environ, PINPOINT_HOME=str(tmp_path))
    done = subprocess.run([BIN / "pinpoint", *command], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "no deployment file" in done.stderr and "pinpoint dev up" in done.stderr
    assert "Traceback" not in done.stderr


def overview(**job) -> dict:
    base = dict(id=7, state="running", spec_hash="0x" + "ab" * 32, submitter="0x" + "01" * 20, solver="0x" + "02" * 20,
                max_price=str(5 * 10**16), price=str(10**16), required_stake=str(5 * 10**17), checkpoint_count=8,
                checkpoints_done=2, bidding_deadline=100, execution_deadline=1000, challenge_deadline=None,
                solver_payout=None, submitter_refund=None, slashed=None, bids=[], verdicts=[],
                checkpoints=[{"index": i, "loss": loss} for i, loss in enumerate([None, 2.5, 1.25])])
    return {"job": base | job, "chain_time": 448, "sampled_intervals": None, "commit_deadline": None,
            "audits": [], "disputes": []}


def test_watch_rendersProgressDeadlinesAuditsDisputesAndPayouts():
    lines = render(overview())
    text = "\n".join(lines)
    assert "job 7 · running" in lines[0] and "bid 0.01 ETH of max 0.05 ETH" in text and "stake 0.5 ETH" in text
    assert "2/8" in text and "loss 1.2500 (first 2.5000)" in text
    assert "execution ends in 9m 12s" in text and "bidding" not in text.split("deadlines")[1]  # passed: not shown
    late = "\n".join(render(overview(execution_deadline=400)))
    assert "execution ended 48s ago" in late  # the current phase's deadline, passed: the job can move on
    view = overview(state="slashed", solver_payout="0", slashed=str(5 * 10**17))
    view["audits"] = [{"verifier": "0x" + "03" * 20, "committed": True, "revealed": True, "agreed": False,
                       "first_mismatch": 3, "outcome": "paid", "amount": str(10**15)}]
    view["disputes"] = [{"id": 1, "kind": "fault", "challenger": "0x" + "03" * 20, "phase": "done", "solver_won": False,
                         "bisection": [{"round": 0, "lo": 0, "hi": 64}, {"round": 1, "lo": 32, "hi": 64}]}]
    text = "\n".join(render(view))
    assert "DISAGREED at interval 3" in text and "paid 0.001 ETH" in text and "challenger won" in text
    assert "round 1: steps 32..64" in text and "stake slashed 0.5 ETH" in text and "deadlines" not in text
    assert countdown(None, 5) == "-" and countdown(3700, 0) == "in 1h 01m"


def test_configProfiles_fillWhatTheEnvironmentLeavesOut(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[default]\ncoordinator_url = "http://default:1"\n\n[testnet]\nrpc_url = "http://rpc.test:8545"\n'
                      'account = "alice"\n')
    env = dict(os.environ, PINPOINT_CONFIG=str(config), PINPOINT_RPC_URL="")
    env.pop("PINPOINT_RPC_URL")

    def show(*args, **extra):
        done = subprocess.run([BIN / "pinpoint", *args, "config", "show", "--json"], env=env | extra,
                              capture_output=True, text=True)
        return json.loads(done.stdout) if done.returncode == 0 else done.stderr

    assert show()["coordinator_url"] == "http://default:1" and show()["rpc_url"] == "http://127.0.0.1:8545"
    testnet = show("--profile", "testnet")
    assert (testnet["rpc_url"], testnet["account"], testnet["coordinator_url"]) == (
        "http://rpc.test:8545", "alice", "http://127.0.0.1:8000")  # a profile is whole: no mixing with [default]
    assert show("--profile", "testnet", PINPOINT_RPC_URL="http://env:1")["rpc_url"] == "http://env:1"  # env first
    assert show(PINPOINT_PRIVATE_KEY=ANVIL_KEYS[1])["private_key"] == "(set)"  # never printed
    assert "no profile 'nope'" in show("--profile", "nope") and "it has: default, testnet" in show("--profile", "nope")
    bad = show(PINPOINT_POLL_SECONDS="soon")
    assert "PINPOINT_POLL_SECONDS" in bad and "Traceback" not in bad


@pytest.mark.parametrize("line, expected", [
    ("pinpoint jo", {"job", "jobs"}),
    ("pinpoint job wa", {"watch"}),
    ("pinpoint --profile x job li", {"list"}),
    ("pinpoint account ", {"new", "import", "list"}),
])
def test_shellCompletion_completesGroupsCommandsAndOptions(line, expected, tmp_path):
    out = tmp_path / "completions"
    env = dict(os.environ, COMP_LINE=line, COMP_POINT=str(len(line)), _ARGCOMPLETE="1", _ARGCOMPLETE_IFS="\n")
    # argcomplete answers on file descriptor 8 (and debugs on 9), as the shell's completion function reads it
    subprocess.run(["bash", "-c", f'"{BIN / "pinpoint"}" 8>"{out}" 9>/dev/null'], env=env, check=True)
    assert expected <= {word.strip() for word in out.read_text().split("\n") if word.strip()}


def test_watch_showsHostileTextAsText():
    view = overview(state="disputed")
    view["disputes"] = [{"id": 1, "kind": "fault", "challenger": "0x" + "03" * 20, "solver_won": None,
                         "phase": "\x1b]0;pwned\x07\x1b[2J", "bisection": []}]
    text = "\n".join(render(view))
    assert "\x1b" not in text and "\x07" not in text and "?]0;pwned??[2J" in text


def test_swarmCli_refusesASpecThatIsAlreadyAShare_andSaysWhenThereIsNoDeployment(tmp_path):
    """`pinpoint swarm post` takes the plain training spec (its steps are each round's); one line for a mistake."""
    from pinpoint.spec import example_mlp_spec, swarm_round_spec

    share = tmp_path / "share.json"
    share.write_bytes(swarm_round_spec(example_mlp_spec(), 2, 0, 0).canonical_json())
    env = dict(os.environ, PINPOINT_HOME=str(tmp_path / "home"), PINPOINT_RPC_URL=f"http://127.0.0.1:{free_port()}")
    posted = subprocess.run([str(BIN / "pinpoint"), "swarm", "post", str(share), "--rounds", "2", "--max-price", "0.01"],
                            env=env, capture_output=True, text=True)
    assert posted.returncode == 1 and "Traceback" not in posted.stderr
    assert "a plain training spec (no `swarm` section" in posted.stderr
    shown = subprocess.run([str(BIN / "pinpoint"), "swarm", "show", "1"], env=env, capture_output=True, text=True)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr and "deploy" in shown.stderr
