"""Deterministic training: a Trainer runs a JobSpec and emits a checkpoint every `checkpoint_interval` steps.

Same spec (including its execution profile) => same bytes => same state hashes, run to run and process to
process. The batch of step s depends only on (spec.seed, s), so training can resume from any checkpoint.
Every state holds the spec hash (entry `spec.hash`), so its state hash binds the spec: two specs never
share a state hash, even where they compute the same weights (worker/engine/state.py).

    trainer = Trainer(spec)
    hashes = trainer.run(on_checkpoint=lambda checkpoint, loss: store(checkpoint))   # checkpoints 0..n
    Trainer(spec, capture_checkpoints=False).run()                                   # same training, no hashing
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from pinpoint.resources import check_weights_header
from pinpoint.spec import (
    AdamWSpec,
    CharTransformerSpec,
    CNNSpec,
    GPTSpec,
    JobSpec,
    MLPSpec,
    SGDSpec,
    SpecError,
)
from pinpoint.tensors import STATE_TREE_ENTRY, SafetensorsError, read_safetensors
from worker.engine import repops
from worker.engine.artifacts import artifact_bytes
from worker.engine.checkpoint import (
    Checkpoint,
    CheckpointFormatError,
    CheckpointHashMismatch,
    CheckpointSpecMismatch,
    check_spec,
    load_checkpoint,
    make_checkpoint,
)
from worker.engine.datasets import Dataset, materialize
from worker.engine.models import build_model
from worker.engine.rounds import UpdateInvalid, load_update, outer_step
from worker.engine.state import SPEC_ENTRY, embedded_spec_hash, spec_entry

RECOMMENDED_CHECKPOINT_INTERVAL = 64
"""The default checkpoint interval: what `make bench` measures the commitment overhead at (target <= 3%).

Specs choose their own `checkpoint_interval`; 64 steps is the recommendation. The example specs in
pinpoint/spec.py use 4 and 8 only so that the test suite stays fast. Why 64: committing a checkpoint
costs a roughly fixed time per checkpoint (one copy of the state, the state hash, the safetensors bytes,
the Merkle root: about 0.5 ms for the example MLP and 2 ms for the example char transformer on one
CPU core), so the overhead is that time over one interval of training; at 64 steps it stays within a few
percent for the small example models and falls with model size (the copy and hash grow with the state,
the training step with state x batch). A dispute over an interval of 64 steps needs ceil(log2(64)) = 6
bisection rounds, and a verifier's spot check replays 64 steps. Much shorter intervals (the example
specs' 4 or 8) cost 10-30% on models this small.

At model scale (`make bench-scale`, BENCHMARKS.md "Cost with model size": GPT decoders of 1M, 10M and 100M
parameters at 2,048 tokens per step, one thread) 64 steps cost 0.06-0.17%: the commitment (10 ms to 1.5 s a
checkpoint) grows with the parameters, an interval's training (15 s to 15 min) with parameters x tokens. So
the constant meets issue 11's 2% at every size; no per-spec recommendation is needed.
"""

OnCheckpoint = Callable[[Checkpoint, "float | None"], None]
"""Called with each checkpoint and the mean training loss of the interval that ended there (None for 0)."""


def _copy_to_cpu(t: torch.Tensor) -> torch.Tensor:
    """One copy of `t` as a contiguous CPU tensor, detached from autograd."""
    return t.detach().to("cpu", copy=True, memory_format=torch.contiguous_format)


CLASSIFIERS = (MLPSpec, CNNSpec)
"""Models trained on (features, labels) examples; the others are language models over a token stream."""


class ProfileMismatch(RuntimeError):
    """This host cannot execute the spec's execution profile (torch version or device)."""


class InitialWeightsInvalid(ValueError):
    """A fine-tuning job's `init` artifact does not hold the model's weights, or a swarm round's start or update
    checkpoints do not hold the model's state: refuse to train."""


def check_profile(spec: JobSpec) -> None:
    """Refuse to run a job whose execution profile this host does not match."""
    profile = spec.profile
    if profile.torch_version != torch.__version__:
        raise ProfileMismatch(
            f"spec pins torch {profile.torch_version}, this host has torch {torch.__version__}: "
            "results would not be comparable"
        )
    if profile.device == "cuda" and not torch.cuda.is_available():
        raise ProfileMismatch("spec needs device 'cuda', but CUDA is not available on this host")


def batch_seed(seed: int, step: int, swarm: tuple[int, int] | None = None) -> int:
    """Seed of the batch drawn at `step` (63 bits of sha256 over the job seed and the step; for a swarm round,
    also over (round, replica), so no two replicas or rounds draw the same batches)."""
    text = f"pinpoint.batch/1:{seed}:{step}" if swarm is None else f"pinpoint.swarm-batch/1:{seed}:{swarm[0]}:{swarm[1]}:{step}"
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


OUTER_MOMENTUM = "outer.momentum."
"""Prefix of a swarm round's outer momentum entries, one per float model entry: carried unchanged through the
round's steps, so that any replica's checkpoint 0 holds what the next round's outer step needs."""


class Trainer:
    """Executes one training job; holds model, optimizer and the step cursor."""

    def __init__(self, spec: JobSpec, *, capture_checkpoints: bool = True, dataset: Dataset | None = None,
                 threads: int | None = None):
        """Set up determinism, materialize the dataset (checking its hash) and initialize from `spec.seed`.

        `capture_checkpoints=False` trains identically but never snapshots or hashes (overhead benchmark).
        `threads` overrides the profile's thread count: only the reproducible profile gives the same bits.
        """
        check_profile(spec)
        self.spec = spec
        self.threads = threads or spec.profile.threads
        self.reproducible = spec.profile.ops == "reproducible"
        self.spec_hash = spec.spec_hash()
        self.capture_checkpoints = capture_checkpoints
        self.device = torch.device(spec.profile.device)
        if self.device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # required by deterministic cuBLAS
        self._apply_profile()
        self.data = dataset if dataset is not None else materialize(spec.dataset)
        if isinstance(spec.model, (CharTransformerSpec, GPTSpec)) and spec.model.context >= len(self.data.tokens):
            raise ValueError(f"context {spec.model.context} must be shorter than the corpus ({len(self.data.tokens)})")
        if isinstance(spec.model, GPTSpec) and int(self.data.tokens.max()) >= spec.model.vocab_size:
            raise ValueError(f"token id {int(self.data.tokens.max())} is outside gpt vocab_size {spec.model.vocab_size}")
        torch.manual_seed(spec.seed)
        self.vocab_size = self.data.vocab_size if self.data.tokens is not None else None
        self.model = build_model(spec.model, vocab_size=self.vocab_size, reproducible=self.reproducible).to(self.device)
        for name, parameter in self.model.named_parameters():
            parameter.requires_grad_(spec.trains(name))  # frozen: no gradient, no optimizer state, never changes
        self.optimizer = self._build_optimizer()
        self._inputs, self._targets = self._device_data()
        self._shard = self._shard_range()
        self.step = 0
        self.interval_losses: list[float] = []
        self._init_pending = spec.init is not None  # loaded before the first use, unless a restore comes first
        swarm = spec.swarm
        self.outer_momentum = None if swarm is None else {
            name: torch.zeros_like(t) for name, t in self.model.state_dict().items() if t.is_floating_point()}
        self._round_start_pending = swarm is not None and swarm.round > 0  # the outer step, also deferred

    # ------------------------------------------------------------ setup

    def _apply_profile(self) -> None:
        """Process-global torch settings; reapplied before work in case another Trainer changed them."""
        torch.set_num_threads(self.threads)
        torch.use_deterministic_algorithms(self.spec.profile.deterministic)

    def _load_init(self) -> None:
        """The starting weights of a fine-tuning job (`spec.init`): fetched by content hash, read strictly, every
        parameter present with its shape (a checkpoint's other entries are ignored). Deferred to the first step
        or snapshot so that replaying from a checkpoint never fetches them."""
        self._init_pending = False
        digest = "0x" + self.spec.init.sha256
        try:
            raw, _ = read_safetensors(artifact_bytes(digest, "weights"))
            check_weights_header(self.spec.model, {n: (t.dtype, t.shape) for n, t in raw.items()}, "init", self.vocab_size)
        except (SafetensorsError, SpecError) as exc:
            raise InitialWeightsInvalid(f"init weights {digest}: {exc}") from None
        weights = {name.removeprefix("model."): torch.frombuffer(bytearray(t.data), dtype=torch.float32).reshape(t.shape)
                   for name, t in raw.items() if name.startswith("model.")}
        with torch.no_grad():
            self.model.load_state_dict(weights, strict=True)

    def _checkpoint_artifact(self, digest: str, what: str) -> dict[str, torch.Tensor]:
        """The model entries and outer momentum of a checkpoint named by the sha256 of its bytes, checked
        against this model's state (names, dtypes, shapes)."""
        try:
            tensors = load_checkpoint(artifact_bytes("0x" + digest, "checkpoint")).tensors
        except (CheckpointFormatError, CheckpointHashMismatch) as exc:
            raise InitialWeightsInvalid(f"swarm.{what} 0x{digest}: not a checkpoint: {exc}") from None
        expected = self.model.state_dict()
        for name, t in expected.items():
            got = tensors.get(f"model.{name}")
            if got is None or got.dtype != t.dtype or got.shape != t.shape:
                raise InitialWeightsInvalid(f"swarm.{what} 0x{digest}: entry model.{name} is missing or not "
                                            f"{t.dtype} {tuple(t.shape)}: a state of another model")
        return tensors

    def _load_round_start(self) -> None:
        """The start of a swarm round after the first: the outer step over the previous round's updates (update
        artifacts: the int8-compressed G - L_k of each replica's final weights L_k), combined in replica order
        (pure and elementwise: the same bits on every host, worker/engine/rounds.py). The inner optimizer goes
        on from this replica's final checkpoint of the previous round (`inner`), as in DiLoCo."""
        self._round_start_pending = False
        swarm = self.spec.swarm
        start = self._checkpoint_artifact(swarm.start, "start")
        names = list(self.outer_momentum)
        global_weights = {name: start[f"model.{name}"] for name in names}
        momentum = {}
        for name in names:
            m = start.get(OUTER_MOMENTUM + name)
            if m is None or m.shape != global_weights[name].shape or m.dtype != torch.float32:
                raise InitialWeightsInvalid(f"swarm.start 0x{swarm.start}: no outer momentum for {name}: "
                                            "not checkpoint 0 of a swarm round")
            momentum[name] = m
        shapes = {name: global_weights[name].shape for name in names}
        updates = []
        for k, digest in enumerate(swarm.updates):
            try:
                updates.append(load_update(artifact_bytes("0x" + digest, "update"), shapes))
            except UpdateInvalid as exc:
                raise InitialWeightsInvalid(f"swarm.updates[{k}] 0x{digest}: not an update of this model: {exc}") from None
        weights, self.outer_momentum = outer_step(global_weights, momentum, updates, swarm.outer.lr, swarm.outer.momentum)
        state = {name: start[f"model.{name}"] for name in self.model.state_dict()}  # non-float buffers as they were
        state.update(weights)
        with torch.no_grad():
            self.model.load_state_dict(state, strict=True)
        self._load_inner_optimizer(swarm.inner)

    def _load_inner_optimizer(self, digest: str) -> None:
        """The optimizer state of a checkpoint of this model (its `optim.*` entries), checked against the
        parameters it is for."""
        optim_state: dict[int, dict[str, torch.Tensor]] = {}
        for name, tensor in self._checkpoint_artifact(digest, "inner").items():
            if name.startswith("optim."):
                index, _, key = name.removeprefix("optim.").partition(".")
                optim_state.setdefault(int(index), {})[key] = tensor.clone()
        params = self.optimizer.param_groups[0]["params"]
        for index, entries in optim_state.items():
            shapes = {key: t.shape for key, t in entries.items() if t.dim() > 0}
            if index >= len(params) or any(shape != params[index].shape for shape in shapes.values()):
                raise InitialWeightsInvalid(f"swarm.inner 0x{digest}: optimizer state {index} is not for this "
                                            "model's parameters")
        param_groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": optim_state, "param_groups": param_groups})

    def _ensure_start(self) -> None:
        if self._init_pending:
            self._load_init()
        if self._round_start_pending:
            self._load_round_start()

    def _shard_range(self) -> tuple[int, int]:
        """The [lo, hi) range of example indices (or window offsets) this job draws from: all of them, or for
        a swarm replica its contiguous K-th."""
        count = len(self._inputs) if isinstance(self.spec.model, CLASSIFIERS) else len(self._inputs) - self.spec.model.context
        if self.spec.swarm is None:
            return 0, count
        k, replicas = self.spec.swarm.replica, self.spec.swarm.replicas
        lo, hi = k * count // replicas, (k + 1) * count // replicas
        if hi <= lo:
            raise ValueError(f"the dataset's {count} examples cannot give each of {replicas} replicas a shard")
        return lo, hi

    def _build_optimizer(self) -> torch.optim.Optimizer:
        opt = self.spec.optimizer
        params = [p for p in self.model.parameters() if p.requires_grad]  # in registration order
        foreach = self.device.type == "cuda"  # pinned, not left to torch's heuristics
        if self.reproducible and isinstance(opt, AdamWSpec):
            return repops.AdamW(params, lr=opt.lr, betas=opt.betas, eps=opt.eps, weight_decay=opt.weight_decay)
        if self.reproducible and isinstance(opt, SGDSpec):
            return repops.SGD(params, lr=opt.lr, momentum=opt.momentum)
        if isinstance(opt, AdamWSpec):
            return torch.optim.AdamW(params, lr=opt.lr, betas=opt.betas, weight_decay=opt.weight_decay,
                                     eps=opt.eps, foreach=foreach)
        if isinstance(opt, SGDSpec):
            return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, foreach=foreach)
        raise TypeError(f"no optimizer registered for {type(opt).__name__}")

    def _device_data(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if isinstance(self.spec.model, CLASSIFIERS):
            return self.data.features.to(self.device), self.data.labels.to(self.device)
        return self.data.tokens.to(self.device), None

    # ------------------------------------------------------------ one step

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of `step`, from a generator seeded by (seed, step) alone."""
        swarm = self.spec.swarm
        g = torch.Generator().manual_seed(batch_seed(self.spec.seed, step, swarm and (swarm.round, swarm.replica)))
        B = self.spec.batch_size
        lo, hi = self._shard
        if isinstance(self.spec.model, CLASSIFIERS):
            idx = (torch.randint(0, hi - lo, (B,), generator=g) + lo).to(self.device)  # (B,)
            return self._inputs[idx], self._targets[idx]  # (B, F), (B,)
        T = self.spec.model.context
        offsets = (torch.randint(0, hi - lo, (B,), generator=g) + lo).to(self.device)  # (B,)
        windows = self._inputs.unfold(0, T + 1, 1)[offsets]  # (B, T+1)
        return windows[:, :-1], windows[:, 1:]  # (B, T), (B, T)

    def train_step(self) -> float:
        """One optimizer step at the current cursor; returns the loss before the update."""
        self._ensure_start()
        x, y = self.batch(self.step)
        logits = self.model(x)  # (B, classes) or (B, T, vocab)
        loss_of = repops.cross_entropy if self.reproducible else F.cross_entropy
        loss = loss_of(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return loss.item()

    # ------------------------------------------------------------ state

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """A snapshot (copied to fresh contiguous CPU tensors) of everything needed to continue: see
        worker.engine.checkpoint. Exactly one copy per tensor (`.cpu().clone()` copied accelerator tensors
        twice); the state hash and the safetensors bytes then read these copies in place."""
        self._ensure_start()
        tensors = {f"model.{k}": _copy_to_cpu(v) for k, v in self.model.state_dict().items()}
        if self.outer_momentum is not None:
            tensors.update({OUTER_MOMENTUM + k: _copy_to_cpu(v) for k, v in self.outer_momentum.items()})
        for index, state in self.optimizer.state_dict()["state"].items():
            for key, value in state.items():
                if value is None:
                    continue  # e.g. SGD without momentum
                tensors[f"optim.{index}.{key}"] = (_copy_to_cpu(value) if isinstance(value, torch.Tensor)
                                                   else torch.tensor(value))
        tensors["rng.cpu"] = torch.get_rng_state()  # already a fresh copy
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        tensors["cursor.step"] = torch.tensor(self.step, dtype=torch.int64)
        tensors[SPEC_ENTRY] = spec_entry(self.spec_hash)  # binds the state hash to the spec
        if self.reproducible:  # hashed as a tree of entries, which the operator game opens on chain
            tensors[STATE_TREE_ENTRY] = torch.ones(1, dtype=torch.uint8)
        return tensors

    def snapshot(self) -> Checkpoint:
        """Checkpoint of the current state (index set only on interval boundaries)."""
        interval = self.spec.checkpoint_interval
        index = self.step // interval if self.step % interval == 0 else None
        return make_checkpoint(index, self.step, self.state_tensors(), self.spec_hash)

    def initial_checkpoint(self) -> Checkpoint:
        """Checkpoint 0: the state right after initialization."""
        if self.step != 0:
            raise RuntimeError(f"already trained {self.step} steps")
        return self.snapshot()

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from `checkpoint` (the tensors are copied; the checkpoint stays unchanged). Raises
        CheckpointSpecMismatch for a state of another spec (its embedded `spec.hash` is not this job's)."""
        embedded = embedded_spec_hash(checkpoint.tensors)
        if embedded is None:
            raise CheckpointSpecMismatch(f"the checkpoint has no {SPEC_ENTRY!r} entry: not a state of this job's spec")
        check_spec(embedded, self.spec_hash)
        self._apply_profile()
        self._init_pending = self._round_start_pending = False  # every weight comes from the checkpoint
        groups: dict[str, dict[str, torch.Tensor]] = {"model": {}, "rng": {}, "cursor": {}, "spec": {}, "outer": {}}
        optim_state: dict[int, dict[str, torch.Tensor]] = {}
        for name, tensor in checkpoint.tensors.items():
            kind, _, rest = name.partition(".")
            if kind == "optim":
                index, _, key = rest.partition(".")
                optim_state.setdefault(int(index), {})[key] = tensor.clone()
            elif kind in groups:
                groups[kind][rest] = tensor
            else:
                raise ValueError(f"unexpected checkpoint entry {name!r}")
        self.model.load_state_dict(groups["model"], strict=True)
        if self.outer_momentum is not None:
            momentum = {k.removeprefix("momentum."): v.clone() for k, v in groups["outer"].items()}
            if momentum.keys() != self.outer_momentum.keys():
                raise ValueError("the checkpoint's outer momentum does not cover this model's float entries")
            self.outer_momentum = momentum
        elif groups["outer"]:
            raise ValueError("unexpected outer.* entries in a checkpoint of a job that is not a swarm round")
        param_groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": optim_state, "param_groups": param_groups})
        torch.set_rng_state(groups["rng"]["cpu"].clone())
        if self.device.type == "cuda" and "cuda" in groups["rng"]:
            torch.cuda.set_rng_state(groups["rng"]["cuda"].clone(), self.device)
        self.step = int(groups["cursor"]["step"])
        if self.step != checkpoint.step:
            raise ValueError(f"cursor.step {self.step} != checkpoint step {checkpoint.step}")

    # ------------------------------------------------------------ loops

    def train_until(self, step: int, on_checkpoint: OnCheckpoint | None = None,
                    on_step: Callable[[float], None] | None = None) -> None:
        """Train up to `step`, calling `on_checkpoint(checkpoint, mean interval loss)` at every interval end and
        `on_step(seconds)` after every step (the loss's `.item()` waits for the device, so the time is real)."""
        if not self.step <= step <= self.spec.steps:
            raise ValueError(f"cannot train from step {self.step} to {step} (job has {self.spec.steps} steps)")
        self._apply_profile()
        interval = self.spec.checkpoint_interval
        losses: list[float] = []
        while self.step < step:
            started = time.perf_counter()
            losses.append(self.train_step())
            if on_step is not None:
                on_step(time.perf_counter() - started)
            if self.step % interval == 0:
                mean_loss = sum(losses) / len(losses)
                self.interval_losses.append(mean_loss)
                losses = []
                if self.capture_checkpoints and on_checkpoint is not None:
                    on_checkpoint(self.snapshot(), mean_loss)

    def run(self, on_checkpoint: OnCheckpoint | None = None) -> list[bytes]:
        """The whole job from initialization: checkpoints 0..n go to `on_checkpoint`; returns their state hashes."""
        hashes: list[bytes] = []

        def collect(checkpoint: Checkpoint, loss: float | None) -> None:
            hashes.append(checkpoint.state_hash)
            if on_checkpoint is not None:
                on_checkpoint(checkpoint, loss)

        if self.capture_checkpoints:
            collect(self.initial_checkpoint(), None)
        self.train_until(self.spec.steps, collect)
        return hashes
