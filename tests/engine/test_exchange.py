"""Replicas exchange their updates over torch.distributed (gloo, real processes on loopback): each commits its
update's hash first, every replica ends the round with the same global weights (the same ones one process
computes from the same updates), and a replica that sends other bytes than it committed is named."""

import multiprocessing

import pytest
import torch
import torch.distributed as dist

from pinpoint.localnet import free_port
from worker.engine.exchange import UpdateMismatch, decode, encode, exchange
from worker.engine.rounds import compress, outer_step, replica_update
from worker.engine.state import state_hash

REPLICAS = 3
SHAPES = {"layer.weight": torch.Size((64, 33)), "layer.bias": torch.Size((33,))}


def weights(seed: int, scale: float = 1.0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {name: scale * torch.randn(shape, generator=generator) for name, shape in SHAPES.items()}


def local_weights(replica: int) -> dict[str, torch.Tensor]:
    start = weights(0)
    return {name: start[name] + noise for name, noise in weights(100 + replica, 0.01).items()}


def replica(rank: int, port: int, cheater: int | None, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=REPLICAS)
    try:
        update = replica_update(weights(0), local_weights(rank))
        lie = None
        if rank == cheater:  # commits its update, then sends a different one
            lie = compress({name: 2 * t for name, t in weights(7, 0.01).items()})
        try:
            updates = exchange(update, SHAPES, send=lie)
        except UpdateMismatch as exc:
            results.put((rank, "mismatch", exc.replica))
            return
        new_weights, _ = outer_step(weights(0), {}, updates, lr=0.7, mu=0.9)
        results.put((rank, "weights", state_hash(new_weights).hex()))
    finally:
        dist.destroy_process_group()


def run_round(cheater: int | None = None) -> dict[int, tuple]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    port = free_port()
    processes = [context.Process(target=replica, args=(rank, port, cheater, results)) for rank in range(REPLICAS)]
    for process in processes:
        process.start()
    outcome = {}
    for _ in processes:
        rank, kind, value = results.get(timeout=120)
        outcome[rank] = (kind, value)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    return outcome


def test_encode_decode_roundTrip():
    update = replica_update(weights(0), local_weights(1))
    buffer = encode(update)
    assert buffer.dtype == torch.uint8 and buffer.numel() == update.nbytes()
    again = decode(buffer, SHAPES)
    assert all(torch.equal(again.codes[n], update.codes[n]) and torch.equal(again.scales[n], update.scales[n])
               for n in SHAPES)
    with pytest.raises(ValueError, match="expected"):
        decode(buffer[:-1], SHAPES)


def test_replicas_endTheRoundWithTheSameWeights_asOneProcessComputes():
    outcome = run_round()
    updates = [replica_update(weights(0), local_weights(r)) for r in range(REPLICAS)]
    expected = state_hash(outer_step(weights(0), {}, updates, lr=0.7, mu=0.9)[0]).hex()
    assert outcome == {rank: ("weights", expected) for rank in range(REPLICAS)}


def test_aReplicaSendingOtherBytesThanItCommitted_isNamedByEveryone():
    assert run_round(cheater=1) == {rank: ("mismatch", 1) for rank in range(REPLICAS)}
