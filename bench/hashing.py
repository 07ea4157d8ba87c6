"""State hashing throughput: `state_hash` vs plain `hashlib.sha256` over the same bytes in one buffer.

    python -m bench.hashing [--megabytes 64] [--repeats 7]

The state is seeded and realistic: a few hundred float32 tensors of mixed sizes (a handful of large
matrices, many mid-sized ones, small biases and scalars, an int64 cursor and a uint8 RNG state), about
64 MB in all. The plain baseline hashes ONE contiguous buffer holding exactly the canonical encoding
(headers and data), so both produce the same digest, which the benchmark checks.

Also measured, as a candidate that would CHANGE the hash definition (not adopted; see `run()`'s
`decision`): sha256 over the name-ordered list of per-entry digests, each sha256(header || data), hashed
on 1 and on 2 threads (hashlib releases the GIL for buffers over 2 KiB, so threads can hash different
tensors at once). Variants alternate within each repeat; numbers are medians.

`checkpoint_costs(spec)` breaks one checkpoint's commitment cost into its parts for a real job.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import torch

from worker.engine.state import entry_header, hashable_view, state_hash


def realistic_state(megabytes: float = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    """~`megabytes` MB of seeded training state in a few hundred entries of mixed sizes."""
    g = torch.Generator().manual_seed(seed)
    budget = int(megabytes * 1_000_000) // 4  # float32 elements
    tensors: dict[str, torch.Tensor] = {
        "cursor.step": torch.tensor(1000, dtype=torch.int64),
        "rng.cpu": torch.randint(0, 256, (5056,), dtype=torch.uint8, generator=g),
    }
    # Layer sizes as in a transformer: per layer 4 matrices of 1/8 .. 1/64 of the budget and their biases,
    # layer norms, then the optimizer's two moments and step per parameter (AdamW), hence 3 copies.
    layers, width = 12, int((budget / 3 / 12 / 12) ** 0.5)
    params: dict[str, tuple[int, ...]] = {"model.embedding.weight": (4 * width, width)}
    for i in range(layers):
        for name, shape in (("qkv.weight", (3 * width, width)), ("proj.weight", (width, width)),
                            ("fc.weight", (4 * width, width)), ("out.weight", (width, 4 * width)),
                            ("qkv.bias", (3 * width,)), ("proj.bias", (width,)), ("fc.bias", (4 * width,)),
                            ("out.bias", (width,)), ("ln1.weight", (width,)), ("ln1.bias", (width,)),
                            ("ln2.weight", (width,)), ("ln2.bias", (width,))):
            params[f"model.blocks.{i}.{name}"] = shape
    for k, (name, shape) in enumerate(params.items()):
        tensors[name] = torch.randn(shape, generator=g)
        tensors[f"optim.{k}.exp_avg"] = torch.randn(shape, generator=g)
        tensors[f"optim.{k}.exp_avg_sq"] = torch.rand(shape, generator=g)
        tensors[f"optim.{k}.step"] = torch.tensor(1000.0)
    return tensors


def canonical_buffer(tensors: dict[str, torch.Tensor]) -> bytes:
    """The exact byte stream `state_hash` digests, in one contiguous buffer."""
    parts = []
    for name in sorted(tensors):
        parts += [entry_header(name, tensors[name]), hashable_view(tensors[name])]
    return b"".join(parts)


def digest_list_hash(tensors: dict[str, torch.Tensor], threads: int = 1) -> bytes:
    """CANDIDATE definition (not the canonical one): sha256 over the name-ordered per-entry digests
    sha256(header || data); with threads > 1 the entries are split into size-balanced groups."""
    names = sorted(tensors)

    def entry_digest(name: str) -> bytes:
        h = hashlib.sha256(entry_header(name, tensors[name]))
        h.update(hashable_view(tensors[name]))
        return h.digest()

    if threads <= 1:
        return hashlib.sha256(b"".join(entry_digest(n) for n in names)).digest()
    groups: list[list[str]] = [[] for _ in range(threads)]
    loads = [0] * threads
    for name in sorted(names, key=lambda n: -tensors[n].nbytes):  # greedy: largest to the lightest group
        i = loads.index(min(loads))
        groups[i].append(name)
        loads[i] += tensors[name].nbytes
    digests: dict[str, bytes] = {}

    def work(group: list[str]) -> None:
        for name in group:
            digests[name] = entry_digest(name)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, groups))
    return hashlib.sha256(b"".join(digests[n] for n in names)).digest()


def run(megabytes: float = 64, repeats: int = 7) -> dict:
    """Throughput (MB/s of tensor data, medians over alternating repeats) of the canonical `state_hash`
    and of plain sha256 over the same bytes in one buffer; also the per-entry-digest candidate."""
    tensors = realistic_state(megabytes)
    buffer = canonical_buffer(tensors)
    data_bytes = sum(t.nbytes for t in tensors.values())
    if hashlib.sha256(buffer).digest() != state_hash(tensors):
        raise AssertionError("state_hash does not digest the canonical buffer")
    if digest_list_hash(tensors, 1) != digest_list_hash(tensors, 2):
        raise AssertionError("the per-entry-digest candidate depends on the thread count")
    variants = {
        "plain_sha256_one_buffer": lambda: hashlib.sha256(buffer).digest(),
        "state_hash": lambda: state_hash(tensors),
        "digest_list_1_thread": lambda: digest_list_hash(tensors, 1),
        "digest_list_2_threads": lambda: digest_list_hash(tensors, 2),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for fn in variants.values():  # warm-up: page in the buffers, start the thread pool machinery
        fn()
    for r in range(repeats):
        for k in (list(variants) if r % 2 == 0 else list(reversed(variants))):
            start = time.perf_counter()
            variants[k]()
            times[k].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    mbps = {k: round(data_bytes / 1e6 / t, 1) for k, t in med.items()}
    plain = med["plain_sha256_one_buffer"]
    ratio = {k: round(plain / t, 3) for k, t in med.items()}  # throughput relative to plain sha256 (>1: faster)
    return {
        "entries": len(tensors),
        "data_megabytes": round(data_bytes / 1e6, 2),
        "repeats": repeats,
        "cpus": os.cpu_count(),
        "megabytes_per_second": mbps,
        "throughput_vs_plain_sha256": ratio,
        "state_hash_vs_plain_sha256": ratio["state_hash"],
        "two_threads_vs_one_thread_digest_list": round(med["digest_list_1_thread"] / med["digest_list_2_threads"], 3),
        "decision": ("the canonical state hash stays ONE sha256 stream (worker/engine/state.py): it runs at "
                     "about plain sha256 speed on one core, while hashing on 2 threads needs a different "
                     "definition (per-entry digests) whose gain is small and erratic on a shared 2-core "
                     "machine and negligible at the engine's checkpoint sizes (well under 1 MB: ~0.2 ms)"),
    }


def checkpoint_costs(spec, repeats: int = 50) -> dict:
    """Median milliseconds of each part of committing one checkpoint of `spec` (after one interval)."""
    from pinpoint.merkle import checkpoint_root
    from worker.engine.checkpoint import make_checkpoint, save_checkpoint
    from worker.engine.training import Trainer

    trainer = Trainer(spec)
    trainer.train_until(spec.checkpoint_interval)
    tensors = trainer.state_tensors()
    checkpoint = make_checkpoint(1, trainer.step, tensors, trainer.spec_hash)
    hashes = [checkpoint.state_hash] * (spec.checkpoint_count + 1)
    cache: list[bytes] = []
    checkpoint_root(1, hashes[:-1], spec.checkpoint_interval, cache)
    parts = {
        "snapshot_copy": trainer.state_tensors,
        "state_hash": lambda: state_hash(tensors),
        "safetensors_bytes": lambda: save_checkpoint(checkpoint),
        "merkle_root_last": lambda: checkpoint_root(1, hashes, spec.checkpoint_interval, list(cache)),
    }
    out = {}
    for name, fn in parts.items():
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        out[name + "_ms"] = round(1e3 * statistics.median(samples), 3)
    out["total_ms"] = round(sum(out.values()), 3)
    out["entries"], out["state_bytes"] = len(tensors), sum(t.nbytes for t in tensors.values())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hashing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.megabytes, args.repeats), indent=2))


if __name__ == "__main__":
    main()
