"""Replay: re-execute one interval (or up to any step) from a checkpoint, as a verifier or referee does.

    python -m worker.engine.replay SPEC_JSON_PATH CHECKPOINT_PATH [--to-step N] [--out PATH]

prints the resulting state hash ("0x" + 64 hex digits); with --out also writes the resulting checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pinpoint.spec import JobSpec, parse_spec
from worker.engine.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from worker.engine.training import Trainer


def replay_to_step(spec: JobSpec, start: Checkpoint, step: int) -> Checkpoint:
    """Restore `start` and train to `step` (any step in (start.step, spec.steps]); return the state there."""
    if not start.step < step <= spec.steps:
        raise ValueError(f"step {step} is not after the start checkpoint (step {start.step}) within the job")
    trainer = Trainer(spec)
    trainer.restore(start)
    trainer.train_until(step)
    return trainer.snapshot()


def replay_interval(spec: JobSpec, start: Checkpoint) -> Checkpoint:
    """Train exactly one checkpoint interval from `start`; the result's state hash is what a verifier compares."""
    if start.step % spec.checkpoint_interval:
        raise ValueError(f"start step {start.step} is not on a checkpoint boundary")
    return replay_to_step(spec, start, start.step + spec.checkpoint_interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.engine.replay", description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="job spec JSON file")
    parser.add_argument("checkpoint", type=Path, help="start checkpoint (safetensors)")
    parser.add_argument("--to-step", type=int, default=None, help="replay to this step instead of one interval")
    parser.add_argument("--out", type=Path, default=None, help="write the resulting checkpoint here")
    args = parser.parse_args(argv)
    spec = parse_spec(args.spec.read_bytes())
    start = load_checkpoint(args.checkpoint.read_bytes(), expected_spec_hash=spec.spec_hash())
    end = replay_interval(spec, start) if args.to_step is None else replay_to_step(spec, start, args.to_step)
    if args.out is not None:
        args.out.write_bytes(save_checkpoint(end))
    print(end.state_hash_hex)
    return 0


if __name__ == "__main__":
    sys.exit(main())
