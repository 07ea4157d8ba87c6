"""The initial state (leaf 0) is a pure function of the spec, so nobody takes it on trust.

No step leads to it, so bisection cannot reach it: a solver that trains honestly from a state of its own choosing
(weights with a backdoor, say) replays correctly in every interval. So every verifier recomputes it from the spec
(the model drawn from the seed, or the starting weights the spec names by hash) and compares it with the committed
leaf 0; on a difference it opens a genesis dispute (DisputeGame.challengeGenesis), and a referee answers the
request for step GENESIS_STEP with the same function.
"""

from __future__ import annotations

from pinpoint.spec import AnySpec, InferenceSpec
from worker.engine.training import Trainer
from worker.inference import Download, expected_leaf_state_hash

GENESIS_STEP = 2**64 - 1
"""DisputeGame.GENESIS_STEP: the step a genesis dispute asks the step verifier for."""


def genesis_state_hash(spec: AnySpec, download: Download) -> bytes:
    """The honest state hash of leaf 0: for training, the state right after initialization (and after loading
    the spec's starting weights, fetched by hash); for inference, the model leaf."""
    if isinstance(spec, InferenceSpec):
        return expected_leaf_state_hash(spec, 0, download)
    return Trainer(spec).initial_checkpoint().state_hash
