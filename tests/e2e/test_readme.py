"""README.md's "Running each part alone" works as written. Its shell blocks run line by line as a newcomer's
shell runs them (each line sees what the lines before it exported; a line ending in `&` keeps running), from a
checkout of this repository (a folder of links to it), with only HOME changed, in a network namespace of their
own: the ports they name (8545, 6390, 8000) are theirs, beside any other test. The network is live when a job
posted with the CLI gets a bid; `pinpoint dev down` leaves no process, and `pinpoint dev up` and `status` say
what they should along the way."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECTION = "## Running each part alone"
FOLLOWERS = ("pinpoint job watch",)
"""Commands that run until a job ends: the test starts them and moves on, as a reader would switch terminals."""
BID_PLACED = ("from pinpoint.chain import Chain; from pinpoint.settings import get_settings; "
              "print(int(Chain.from_settings(get_settings()).job(1)['solver'], 16) != 0)")
BLOCK_HEIGHT = ("from web3 import Web3; from pinpoint.settings import get_settings; "
                "print(Web3(Web3.HTTPProvider(get_settings().rpc_url)).eth.block_number)")
pytestmark = pytest.mark.e2e


def section_blocks() -> list[list[str]]:
    """The ```sh blocks of the section, each as its lines."""
    section = (REPO / "README.md").read_text().split(f"\n{SECTION}\n", 1)[1].split("\n## ", 1)[0]
    return [block.strip().splitlines() for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)]


def code(line: str) -> str:
    """The line without its comment (README comments start with whitespace and '#')."""
    return re.sub(r"\s+#.*$", "", line).strip()


class Shell:
    """A newcomer's shell inside network namespace `namespace`, in `cwd`: every line is its own bash, started
    from the exports the lines before it left (`export -p`), so `export` and `eval` carry over."""

    def __init__(self, namespace: str, cwd: Path, home: Path):
        self.namespace, self.cwd = namespace, cwd
        self.exports = home / "exports.sh"
        self.exports.write_text("")
        self.logs = home / "logs"
        self.logs.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PINPOINT_", "APE_"))}
        self.env["HOME"] = str(home)
        self.background: list[tuple[str, subprocess.Popen, Path]] = []

    def bash(self, script: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, "bash", "-c", f"source {self.exports}\n{script}"]

    def run(self, line: str, timeout: float = 300) -> str:
        """Run a line to its end; it must succeed. Returns what it printed."""
        script = f"{line}\nstatus=$?\nexport -p > {self.exports}\nexit $status"
        done = subprocess.run(self.bash(script), cwd=self.cwd, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        assert done.returncode == 0, f"`{line}` exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self, line: str) -> subprocess.Popen:
        """Start a line that keeps running (a server, a follower); its output goes to a log."""
        log = self.logs / f"{len(self.background)}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(self.bash(code(line).removesuffix("&")), cwd=self.cwd, env=self.env,
                                       stdout=out, stderr=subprocess.STDOUT)
        self.background.append((line, process, log))
        if port := re.search(r"--port (\d+)", line):  # a server: wait until it listens, as a reader would
            self.wait_until(lambda: self.answers(f"echo > /dev/tcp/127.0.0.1/{port[1]}"), f"`{line}` listening",
                            process, log)
        return process

    def answers(self, script: str) -> bool:
        return subprocess.run(self.bash(script), cwd=self.cwd, env=self.env, capture_output=True, text=True,
                              check=False).returncode == 0

    def run_block(self, lines: list[str], before: dict[str, Callable[[], None]] | None = None) -> dict[str, str]:
        """Run the block's lines; `before[prefix]()` runs before the line starting with that prefix. Returns
        each foreground line's output."""
        outputs = {}
        for line in lines:
            for prefix, check in (before or {}).items():
                if line.startswith(prefix):
                    check()
            if code(line).endswith("&") or line.startswith(FOLLOWERS):
                self.start(line)
            else:
                outputs[line] = self.run(line)
        return outputs

    def wait_until(self, check, what: str, process: subprocess.Popen | None = None, log: Path | None = None,
                   timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                pytest.fail(f"{what}: it exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            if check():
                return
            time.sleep(0.5)
        pytest.fail(f"{what}: not after {timeout:.0f} s" + "".join(
            f"\n--- {line}\n{out.read_text()[-1500:]}" for line, _, out in self.background))

    def wait_until_live(self) -> None:
        """The job the block posted (job 1) gets a bid, and the chain mines while idle: deadlines pass (on a
        chain that mines only when sent a transaction a job would stay in bidding forever)."""
        self.wait_until(lambda: self.answers(f'test "$(python -c "{BID_PLACED}")" = True'), "a bid on job 1")
        height = int(self.run(f'python -c "{BLOCK_HEIGHT}"'))
        self.wait_until(lambda: int(self.run(f'python -c "{BLOCK_HEIGHT}"')) >= height + 3, "blocks on a clock",
                        timeout=30)


def namespace_pids(name: str) -> list[int]:
    listing = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False).stdout
    return [int(pid) for pid in listing.split()]


@pytest.fixture
def namespace():
    """A network namespace with its own loopback; whatever still runs in it is killed afterwards."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("running the README's fixed ports beside other tests needs a network namespace: root and `ip`")
    name = f"pinpoint-readme-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        deadline = time.monotonic() + 10
        while (pids := namespace_pids(name)) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture
def shell(namespace, tmp_path):
    """A shell in a checkout of this repository: links to each of its entries, but state of its own."""
    checkout = tmp_path / "pinpoint"
    checkout.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in (".git", ".pinpoint", "job.json"):
            (checkout / entry.name).symlink_to(entry)
    home = tmp_path / "home"
    home.mkdir()
    shell = Shell(namespace, checkout, home)
    yield shell
    for _, process, _ in shell.background:  # killed with the namespace's processes; reaped here
        process.kill()
        process.wait()


def test_readme_oneCommand_devUp_isLive_andDownLeavesNoProcess(shell, namespace):
    block = section_blocks()[0]
    assert any(line.startswith("pinpoint dev up") for line in block) and block[-1].startswith("pinpoint dev down")

    def live() -> None:
        shell.wait_until_live()
        assert "already up" in shell.run("pinpoint dev up")  # a second `up` says so, and changes nothing
        report = json.loads(shell.run("pinpoint dev status --json"))
        assert report["healthy"] and all(p["alive"] for p in report["processes"])
        assert report["coordinator"]["health"] == "ok" and report["chain"]["block"] > 0
        assert {w["name"] for w in report["workers"]} == {"solver-1", "verifier-1", "referee-1"}
        assert all(int(next(v for k, v in w.items() if k.endswith("_wei"))) > 0 for w in report["workers"])
        assert report["jobs"]["open"] == 1

    outputs = shell.run_block(block, before={"pinpoint dev down": live})

    up = next(out for line, out in outputs.items() if line.startswith("pinpoint dev up"))
    for shown in ("solver-1", "verifier-1", "referee-1", "submitter", "/docs", "logs"):
        assert shown in up
    assert "stopped" in next(out for line, out in outputs.items() if line.startswith("pinpoint dev down"))
    assert namespace_pids(namespace) == [], "`pinpoint dev down` left processes running"
    assert not shell.answers("pinpoint dev status")  # nothing up: it says so, and fails


def test_readme_partByPart_isLive(shell):
    block = section_blocks()[1]
    assert any(line.startswith("anvil") for line in block)

    outputs = shell.run_block(block)
    shell.wait_until_live()

    stake = next(out for line, out in outputs.items() if line.startswith("ape run stake show"))
    assert "free stake" in stake
    watch = next(process for line, process, _ in shell.background if line.startswith("pinpoint job watch"))
    assert watch.poll() in (None, 0)  # following the job (or done with it), not failed
