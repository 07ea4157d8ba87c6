"""The reproducible profile (worker/engine/repops.py): its products and sums follow the documented order (checked
against an independent numpy float32 reference), its gradients and optimizers are AdamW's, SGD's and cross-entropy's,
and a job gives the same state hashes at 1, 2 and 4 threads, replayed from a checkpoint at another thread count."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pinpoint.spec import SpecError, example_gpt_spec, example_mlp_spec, parse_spec
from worker.engine import repops
from worker.engine.training import Trainer

REPRODUCIBLE = {"ops": "reproducible"}


def reference_sum(values: list[np.float32]) -> np.float32:
    """The documented tree, one float32 addition at a time: pad with +0 to a power of two, add 2i and 2i + 1."""
    width = 1 << (len(values) - 1).bit_length()
    level = list(values) + [np.float32(0.0)] * (width - len(values))
    while len(level) > 1:
        level = [np.float32(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def reference_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([[reference_sum([np.float32(a[m, k] * b[k, n]) for k in range(a.shape[1])])
                      for n in range(b.shape[1])] for m in range(a.shape[0])], dtype=np.float32)


@pytest.mark.parametrize("k", [1, 2, 3, 7, 64, 100])
def test_matmul_and_tree_sum_follow_the_documented_order(k):
    rng = np.random.default_rng(k)
    a = (rng.standard_normal((5, k)) * 1e3 ** rng.integers(-2, 3, (5, k))).astype(np.float32)  # mixed magnitudes
    b = rng.standard_normal((k, 4)).astype(np.float32)
    got = repops.matmul(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert got.view(np.uint32).tolist() == reference_matmul(a, b).view(np.uint32).tolist()
    sums = repops.tree_sum(torch.from_numpy(a), 1).numpy()
    assert sums.view(np.uint32).tolist() == np.array([reference_sum(list(row)) for row in a]).view(np.uint32).tolist()


def test_matmul_bits_do_not_depend_on_chunking_or_threads(monkeypatch):
    a, b = torch.randn(300, 257), torch.randn(257, 33)
    whole = repops.matmul(a, b)
    monkeypatch.setattr(repops, "PRODUCTS_PER_CHUNK", repops.K_BLOCK * 33 * 7)  # 7 rows a chunk
    assert torch.equal(repops.matmul(a, b), whole)
    threads = torch.get_num_threads()
    try:
        for n in (1, 2, 4):
            torch.set_num_threads(n)
            assert torch.equal(repops.matmul(a, b), whole)
    finally:
        torch.set_num_threads(threads)
    assert torch.allclose(whole, a @ b, rtol=1e-4, atol=1e-4)


def test_linear_and_cross_entropy_compute_torchs_values_and_gradients():
    torch.manual_seed(0)
    x = torch.randn(16, 10, requires_grad=True)
    w = torch.randn(6, 10, requires_grad=True)
    b = torch.randn(6, requires_grad=True)
    labels = torch.randint(0, 6, (16,))
    ours = repops.cross_entropy(repops.LinearFunction.apply(x, w, b), labels)
    ours_grads = torch.autograd.grad(ours, (x, w, b))
    theirs = F.cross_entropy(F.linear(x, w, b), labels)
    theirs_grads = torch.autograd.grad(theirs, (x, w, b))
    assert torch.allclose(ours, theirs, rtol=1e-5)
    for mine, torchs in zip(ours_grads, theirs_grads, strict=True):
        assert torch.allclose(mine, torchs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_optimizers_update_as_torchs_and_keep_its_state_names(name):
    torch.manual_seed(1)
    start = torch.randn(40)
    ours, theirs = start.clone().requires_grad_(), start.clone().requires_grad_()
    if name == "adamw":
        mine = repops.AdamW([ours], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
        torchs = torch.optim.AdamW([theirs], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, foreach=False)
    else:
        mine = repops.SGD([ours], lr=0.05, momentum=0.9)
        torchs = torch.optim.SGD([theirs], lr=0.05, momentum=0.9, foreach=False)
    for step in range(5):
        grad = torch.randn(40)
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        mine.step()
        torchs.step()
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert torchs.state_dict()["state"][0].keys() <= mine.state_dict()["state"][0].keys()  # and beta powers


@pytest.mark.parametrize("optimizer", [None, {"name": "sgd", "lr": 0.05, "momentum": 0.9}])
def test_a_reproducible_job_gives_the_same_hashes_at_any_thread_count(optimizer):
    """Recomputed at 1, 2 and 4 threads, and replayed from checkpoint 3 at another count: the same state hashes."""
    overrides = {"profile": REPRODUCIBLE, "model": {"hidden_dim": 96}, "batch_size": 256, "steps": 32}
    spec = example_mlp_spec(**overrides)
    if optimizer:
        spec = parse_spec({**spec.model_dump(mode="json"), "optimizer": optimizer})
    kept = {}
    hashes = {n: Trainer(spec, threads=n).run(on_checkpoint=lambda c, _: kept.setdefault(c.index, c))
              for n in (1, 2, 4)}
    assert hashes[1] == hashes[2] == hashes[4]
    replay = Trainer(spec, threads=3)
    replay.restore(kept[3])
    replay.train_until(4 * spec.checkpoint_interval)
    assert replay.snapshot().state_hash == hashes[1][4]
    native = parse_spec({**spec.model_dump(mode="json"), "profile": {**spec.profile.model_dump(), "ops": "native"}})
    assert hashes[1] != Trainer(native).run(), "the profile's order is not torch's: the bits differ"


def test_the_profile_is_in_the_spec_hash_only_when_reproducible():
    native = example_mlp_spec()
    assert b'"ops"' not in native.canonical_json()  # specs from before the field keep their hashes
    assert example_mlp_spec(profile={"ops": "native"}).spec_hash() == native.spec_hash()
    assert b'"ops":"reproducible"' in example_mlp_spec(profile=REPRODUCIBLE).canonical_json()
    with pytest.raises(SpecError, match="profile.ops: 'reproducible' runs model 'mlp' so far, not 'gpt'"):
        example_gpt_spec(profile=REPRODUCIBLE)


def test_sqrt_exp_and_log_are_rounded_once_from_float64():
    """Correctly rounded, so the same on every host: numpy's float32 sqrt is IEEE's, and exp and log match float64
    results rounded once (torch's own float32 kernels do not, and differ between CPU capabilities)."""
    rng = np.random.default_rng(3)
    positive = np.abs(rng.standard_normal(100_000) * 10).astype(np.float32) + np.float32(1e-6)
    values = torch.from_numpy(positive)
    assert np.array_equal(repops.sqrt(values).numpy().view(np.uint32), np.sqrt(positive).view(np.uint32))
    for ours, reference in ((repops.exp, np.exp), (repops.log, np.log)):
        want = reference(positive.astype(np.float64)).astype(np.float32)
        assert np.array_equal(ours(values).numpy().view(np.uint32), want.view(np.uint32))
