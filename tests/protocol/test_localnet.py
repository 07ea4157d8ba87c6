"""What `pinpoint dev` builds on in pinpoint/localnet.py: named worker roles on Anvil's accounts, and processes
recorded when left running, stopped later from the record alone (with their children), never another process
that took a recorded pid."""

import subprocess
import time

from pinpoint.localnet import (
    ANVIL_KEYS,
    process_identity,
    recorded_alive,
    stop_recorded,
    worker_roles,
)

# Anvil's 10th development account (index 9), as `anvil` lists it.
ANVIL_ADDRESS_9 = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"


def test_workerRoles_areNamedByKind_onAccountsFrom2_inOrder():
    roles = worker_roles(solvers=2, verifiers=3, referees=3)
    assert [r.name for r in roles] == ["solver-1", "solver-2", "verifier-1", "verifier-2", "verifier-3",
                                       "referee-1", "referee-2", "referee-3"]
    assert [r.key for r in roles[:5]] == ANVIL_KEYS[2:7]  # 0 deploys, 1 submits
    assert roles[-1].address == ANVIL_ADDRESS_9  # past the listed keys: derived from Anvil's mnemonic
    assert [r.stake for r in roles] == ["1"] * 5 + ["0.1"] * 3
    assert len({r.key for r in worker_roles(4, 4, 4)}) == 12


def start_group() -> subprocess.Popen:
    """A process with a child in its own session, as LocalStack starts them (a worker and its Celery worker)."""
    return subprocess.Popen(["bash", "-c", "sleep 300 & wait"], start_new_session=True)


def record(process: subprocess.Popen, name: str) -> dict:
    return {"name": name, "pid": process.pid, "started": process_identity(process.pid), "log": "", "command": []}


def group_members(pgid: int) -> list[str]:
    listing = subprocess.run(["ps", "-A", "-o", "pgid=,stat="], capture_output=True, text=True, check=True).stdout
    return [stat for group, stat in (line.split(None, 1) for line in listing.splitlines()) if int(group) == pgid
            and not stat.startswith("Z")]


def test_stopRecorded_stopsEachProcessAndItsChildren_andSaysWhich():
    first, second = start_group(), start_group()
    records = [record(first, "first"), record(second, "second")]
    time.sleep(0.2)  # the children exist
    assert all(recorded_alive(r) for r in records) and group_members(first.pid)

    assert stop_recorded(records, timeout=5) == ["second", "first"]  # reverse start order
    assert (first.wait(), second.wait()) == (-15, -15)  # TERM
    assert group_members(first.pid) == [] and group_members(second.pid) == []  # `sleep` children too
    assert not any(recorded_alive(r) for r in records)
    assert stop_recorded(records) == []  # nothing left to stop


def test_aRecordWhosePidNowNamesAnotherProcess_isNotAlive_andNotStopped():
    process = start_group()
    stale = record(process, "stale") | {"started": "Thu Jan  1 00:00:00 1970"}  # the pid was reused since
    try:
        assert not recorded_alive(stale)
        assert stop_recorded([stale], timeout=1) == []
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()
