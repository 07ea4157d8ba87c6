"""The replicas of a round exchange their updates over torch.distributed (gloo on CPU hosts, NCCL on GPU hosts),
committing each update's hash before any update is used.

    group: every replica in replica order (rank r is replica r), already initialized (`dist.init_process_group`).
    1. each replica commits update_hash(its update)   -> everyone holds all K commitments
    2. each replica sends its update's bytes          -> everyone holds all K updates
    3. each replica checks every update against its commitment; a mismatch names the replica (UpdateMismatch)

In the market the commitments are on chain and the bytes are artifacts verifiers can fetch; `commit` is the
hook for that (by default the commitments are exchanged over the same group, which is all a test needs).
Every replica has the same parameters, so every update is the same number of bytes: one fixed-size buffer
per replica, gathered with `all_gather`, and nothing a replica sends can make another allocate more.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist

from worker.engine.rounds import CompressedUpdate, update_hash


class UpdateMismatch(ValueError):
    """A replica's update bytes do not hash to what it committed: that replica deviated."""

    def __init__(self, replica: int):
        super().__init__(f"replica {replica}'s update does not match the hash it committed")
        self.replica = replica


def encode(update: CompressedUpdate) -> torch.Tensor:
    """One uint8 buffer: every int8 code, then every float32 scale (little-endian), parameters in name order."""
    names = sorted(update.codes)
    codes = [update.codes[n].reshape(-1).view(torch.uint8) for n in names]
    scales = [update.scales[n].reshape(1).view(torch.uint8) for n in names]
    return torch.cat(codes + scales)


def decode(buffer: torch.Tensor, shapes: dict[str, torch.Size]) -> CompressedUpdate:
    """The update `encode` wrote, for parameters of these shapes."""
    names, offset, codes, scales = sorted(shapes), 0, {}, {}
    expected = sum(shape.numel() for shape in shapes.values()) + 4 * len(names)
    if buffer.dtype != torch.uint8 or buffer.numel() != expected:
        raise ValueError(f"an update buffer of {buffer.numel()} bytes, {expected} expected")
    for name in names:
        size = shapes[name].numel()
        codes[name] = buffer[offset:offset + size].view(torch.int8).reshape(shapes[name]).clone()
        offset += size
    for name in names:
        scales[name] = buffer[offset:offset + 4].clone().view(torch.float32).reshape(())
        offset += 4
    return CompressedUpdate(codes, scales)


def all_gather(outputs: list[torch.Tensor], tensor: torch.Tensor, group=None) -> None:
    """`dist.all_gather` over the default group (None), or over a group made directly from a store
    (`dist.ProcessGroupGloo`: a host may be in several rounds' groups at once, and has no default group)."""
    if group is None:
        dist.all_gather(outputs, tensor)
    else:
        group.allgather([outputs], [tensor]).wait()


def world_size(group=None) -> int:
    return dist.get_world_size() if group is None else group.size()


def gather_commitments(digest: bytes, world: int, group=None) -> list[bytes]:
    mine = torch.frombuffer(bytearray(digest), dtype=torch.uint8)
    everyone = [torch.empty(32, dtype=torch.uint8) for _ in range(world)]
    all_gather(everyone, mine, group)
    return [bytes(t.tolist()) for t in everyone]


def exchange(update: CompressedUpdate, shapes: dict[str, torch.Size], group=None,
             commit: Callable[[bytes], list[bytes]] | None = None, send: CompressedUpdate | None = None
             ) -> list[CompressedUpdate]:
    """Every replica's update, in replica order, each checked against the hash its replica committed first.
    `send` (tests only) sends other bytes than the committed update: a replica that deviates."""
    world = world_size(group)
    commitments = (commit or (lambda digest: gather_commitments(digest, world, group)))(update_hash(update))
    mine = encode(send if send is not None else update)
    buffers = [torch.empty_like(mine) for _ in range(world)]
    all_gather(buffers, mine, group)
    updates = [decode(buffer, shapes) for buffer in buffers]
    for replica, (received, committed) in enumerate(zip(updates, commitments, strict=True)):
        if update_hash(received) != committed:
            raise UpdateMismatch(replica)
    return updates
