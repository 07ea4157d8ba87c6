"""`pinpoint-job`: bad input is refused with a message that says what is wrong, before anything is sent."""

import argparse
import json

import pytest

from pinpoint.cli.job import main
from pinpoint.spec import parse_spec
from pinpoint.units import ether


def test_ether_parsesAmounts_andRefusesNonsense():
    assert ether("0.05") == 5 * 10**16 and ether("1") == 10**18
    for bad in ("0", "-1", "abc", "0.0000000000000000001"):
        with pytest.raises(argparse.ArgumentTypeError):
            ether(bad)


def test_example_printsAValidSpec(capsys):
    assert main(["example", "char_transformer"]) == 0
    assert parse_spec(capsys.readouterr().out).model.name == "char_transformer"


def test_submit_badSpec_namesTheField(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PINPOINT_COORDINATOR_URL", "http://127.0.0.1:9")  # never reached
    main(["example", "mlp"])
    spec = json.loads(capsys.readouterr().out)
    spec["batch_size"] = 0
    path = tmp_path / "job.json"
    path.write_text(json.dumps(spec))
    assert main(["submit", str(path), "--max-price", "0.01", "--stake", "0.1"]) == 1
    assert "batch_size" in capsys.readouterr().err


def test_submit_missingFile_saysSo(tmp_path, capsys):
    assert main(["submit", str(tmp_path / "nope.json"), "--max-price", "0.01", "--stake", "0.1"]) == 1
    assert "nope.json" in capsys.readouterr().err


def test_exampleInference_needsItsArtifacts_andNamesABadHash(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["example", "inference", "--count", "3"])
    assert exit_info.value.code == 2 and "needs --weights, --inputs and --count" in capsys.readouterr().err
    assert main(["example", "inference", "--weights", "0x" + "a" * 64, "--inputs", "b" * 64, "--count", "3"]) == 0
    spec = parse_spec(capsys.readouterr().out)
    assert spec.kind == "inference" and spec.checkpoint_count == 3 and spec.weights.sha256 == "a" * 64
    assert main(["example", "inference", "--weights", "0x1234", "--inputs", "b" * 64, "--count", "3"]) == 1
    assert "weights.sha256" in capsys.readouterr().err
