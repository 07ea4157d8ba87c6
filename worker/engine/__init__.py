"""Execution engine: model registry, datasets, deterministic training, checkpoints, state hashing, replay.

    from worker.engine.training import Trainer
    Trainer(spec).run(on_checkpoint=lambda checkpoint, loss: ...)
"""
