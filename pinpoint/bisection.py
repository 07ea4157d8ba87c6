"""The dispute game's rounds (contracts/DisputeGame.sol), for the parties that play them.

Each round cuts the disputed steps [lo, hi] into n = min(ARITY, hi - lo) segments: the solver reveals its state
hashes at the n - 1 inner points, and the challenger picks a segment whose start it agrees with and whose end
it disputes, which becomes the new [lo, hi]. An interval of 2^16 steps takes 4 rounds instead of halving's 16.
"""

from __future__ import annotations

ARITY = 16  # DisputeGame.ARITY


def points(lo: int, hi: int) -> list[int]:
    """The steps whose state hashes the solver reveals in a round over [lo, hi] (DisputeGame.points)."""
    count = min(ARITY, hi - lo)
    return [lo + (hi - lo) * j // count for j in range(1, count)]


def pick_segment(ours: list[bytes], revealed: list[bytes]) -> int:
    """The honest challenger's pick: the first segment whose end it disagrees with. Its start is then the last
    point it agrees with (or lo, agreed already); the last segment's end is hi, disputed from the start."""
    return next((j for j, (mine, theirs) in enumerate(zip(ours, revealed, strict=True)) if mine != theirs), len(ours))


def narrow(lo: int, hi: int, segment: int) -> tuple[int, int]:
    """[lo, hi] after the challenger picks `segment` (DisputeGame.respond)."""
    ends = [lo, *points(lo, hi), hi]
    return ends[segment], ends[segment + 1]


def max_rounds(steps: int) -> int:
    """The most rounds a dispute over `steps` steps takes (DisputeGame.maxRounds)."""
    rounds, reach = 0, 1
    while reach < steps:
        rounds, reach = rounds + 1, reach * ARITY
    return rounds
