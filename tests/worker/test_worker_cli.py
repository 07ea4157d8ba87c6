"""`pinpoint worker` as an operator meets it: mistakes are one line that says what to do, never a traceback,
and the misbehaviour switches the tests use are not offered in its help."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

BIN = Path(sys.executable).parent


@pytest.fixture
def env(chain_stack, tmp_path):
    return dict(chain_stack.env, PINPOINT_HOME=str(tmp_path), PINPOINT_DEPLOYMENT_FILE=str(chain_stack.deployment_file),
                PINPOINT_KEYSTORE_DIR=str(tmp_path / "keys"))


@pytest.mark.parametrize("role", ["solver", "referee"])
def test_unfundedAccount_isToldToFundIt_beforeAnythingStarts(env, role):
    key = "0x" + bytes(Account.create().key).hex()  # a fresh key: no ether at all
    done = subprocess.run([BIN / "pinpoint", "worker", role, "--key", key, "--stake", "0.5"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done
    assert "not enough ether" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "celery" not in done.stderr.lower()  # nothing was started for an account that cannot stake


@pytest.mark.parametrize("args, expected", [
    (["--key", "0xnothex"], "private key is malformed"),
    (["--account", "ghost"], "no account named 'ghost'"),
    ([], "a key is needed"),
    (["--key", "0x" + "11" * 32, "--stake", "lots"], "not an amount of ether"),
])
def test_mistakes_areOneLine(env, args, expected):
    env = {k: v for k, v in env.items() if k not in ("PINPOINT_PRIVATE_KEY", "PINPOINT_ACCOUNT")}
    done = subprocess.run([BIN / "pinpoint", "worker", "verifier", *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode in (1, 2) and expected in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_testOnlyMisbehaviour_isNotInTheHelp():
    shown = subprocess.run([BIN / "pinpoint", "worker", "--help"], capture_output=True, text=True, env=os.environ).stdout
    assert "--account" in shown and "--stake" in shown
    assert not {"--cheat", "--lie", "--lazy"} & set(shown.split())
