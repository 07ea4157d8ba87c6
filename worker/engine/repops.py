"""The reproducible execution profile (`profile.ops: "reproducible"`): every operation of a training step runs in a
fixed, documented order, so that a spec gives the same bits at any thread count and on any host, and one operation
of a disputed step can be re-executed on chain (contracts/lib/Float32.sol) bit for bit.

The order (docs/PROTOCOL.md, "Reproducible profile"):
- Elementwise float32 operations (add, sub, mul, div, sqrt, relu, comparisons) are IEEE-754 operations rounded to
  nearest, ties to even, each rounded on its own: no fused multiply-add, no flush to zero. Their bits depend on
  nothing but their inputs.
- A sum over a dimension (`tree_sum`): the entries, padded with +0 to a power of two, are added in adjacent pairs
  (entry 2i with entry 2i + 1), level by level, until one is left. A fixed binary tree: its depth (log2 n) is how
  many moves the on-chain bisection over one sum takes, and a kernel streaming k in order can merge pairs as they
  complete, keeping log2 n partial sums.
- A matrix product C = A @ B (`matmul`): each product A[m, k] * B[k, n] is rounded, then the K products are summed
  by `tree_sum`. No BLAS: a library's blocking and thread split never enter.
- sqrt, exp and log (`sqrt`, `exp`, `log`) are computed in float64 and rounded once to float32. torch's float32
  kernels for them are not correctly rounded and differ between CPU capabilities (this host's AVX-512 sqrt is
  off in 17% of random inputs); the float64 route gives the correctly rounded float32 (sqrt always: a float's
  root is never within a double's ulp of a rounding boundary; exp and log in all of 2M inputs tested, bar a few
  known hard cases in theory). sqrt is judged on chain; exp and log by the referee.

Supported so far: the MLP (`ReproLinear` in worker/engine/models.py), cross-entropy, AdamW and SGD. The optimizers
keep torch's state names (`step`, `exp_avg`, `exp_avg_sq`, `momentum_buffer`), so checkpoints keep their format.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable

import torch
from torch import Tensor

PRODUCTS_PER_CHUNK = 1 << 18
"""How many rounded products `matmul` holds at once (1 MiB, about a core's L2): rows of A are taken in chunks that
hold this many products of one block of k."""

K_BLOCK = 32
"""Leaves of one self-contained subtree of the sum: `matmul` reduces each block of 32 products of k while they are
in cache, then sums the block totals by the same tree (the same additions in the same order)."""


def f32(x: float) -> float:
    """`x` rounded to the nearest float32 (as a Python float): every scalar constant of the profile is one."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def sqrt(x: Tensor) -> Tensor:
    return x.double().sqrt().float()


def exp(x: Tensor) -> Tensor:
    return x.double().exp().float()


def log(x: Tensor) -> Tensor:
    return x.double().log().float()


def tree_sum(x: Tensor, dim: int = 0) -> Tensor:
    """Sum over `dim` in the profile's fixed pairwise order (see the module docstring); the dimension goes away."""
    x = x.movedim(dim, 0)
    n = x.shape[0]
    width = 1 << (n - 1).bit_length()
    if width != n:
        x = torch.cat([x, x.new_zeros((width - n, *x.shape[1:]))])
    while x.shape[0] > 1:
        x = x[0::2] + x[1::2]
    return x[0]


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """(M, K) @ (K, N) -> (M, N): rounded products summed over k by `tree_sum`. K is padded with +0 in both operands
    (a padded product is +0, as tree_sum pads); the tree over a power of two splits into subtrees of K_BLOCK leaves,
    each reduced on its own (1.2-2.5x faster than one pass over all K x M x N products at 256-1024 wide; the same bits)."""
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul needs (M, K) @ (K, N), got {tuple(a.shape)} @ {tuple(b.shape)}")
    (m, k), n = a.shape, b.shape[1]
    width = 1 << (k - 1).bit_length()
    if width != k:
        a, b = torch.cat([a, a.new_zeros(m, width - k)], 1), torch.cat([b, b.new_zeros(width - k, n)])
    block = min(K_BLOCK, width)
    blocks = [b[j:j + block, None, :] for j in range(0, width, block)]  # each (block, 1, N)
    out = []
    for chunk in a.split(max(1, PRODUCTS_PER_CHUNK // (block * max(1, n)))):
        columns = chunk.t()  # (K, m)
        totals = [tree_sum(columns[j * block:(j + 1) * block, :, None] * rows, 0) for j, rows in enumerate(blocks)]
        out.append(tree_sum(torch.stack(totals), 0))  # (m, N)
    return torch.cat(out) if len(out) > 1 else out[0]


class LinearFunction(torch.autograd.Function):
    """y = x @ W^T + b with the profile's products, and its gradients: dx = g @ W, dW = g^T @ x, db = sum of g over
    the batch (each a `matmul` or `tree_sum`)."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        y = matmul(x, weight.t())
        return y + bias if bias is not None else y

    @staticmethod
    def backward(ctx, g: Tensor):
        x, weight = ctx.saved_tensors
        dx = matmul(g, weight) if ctx.needs_input_grad[0] else None
        dw = matmul(g.t(), x) if ctx.needs_input_grad[1] else None
        db = tree_sum(g, 0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return dx, dw, db


class CrossEntropyFunction(torch.autograd.Function):
    """Mean cross-entropy of logits (B, C) against labels (B,). Forward: s = z - max_row(z), e = exp(s),
    S = tree_sum(e over classes), loss_i = log(S) - s[i, y_i], loss = tree_sum(loss_i) / B. Backward:
    dz = (e / S - onehot(y)) / B, times the upstream gradient."""

    @staticmethod
    def forward(ctx, logits: Tensor, labels: Tensor) -> Tensor:
        shifted = logits - logits.amax(dim=1, keepdim=True)  # (B, C); the max is exact in any order
        exps = exp(shifted)
        sums = tree_sum(exps, 1)  # (B,)
        losses = log(sums) - shifted.gather(1, labels[:, None])[:, 0]  # (B,)
        ctx.save_for_backward(exps, sums, labels)
        return tree_sum(losses, 0) / logits.shape[0]

    @staticmethod
    def backward(ctx, g: Tensor):
        exps, sums, labels = ctx.saved_tensors
        onehot = torch.zeros_like(exps).scatter_(1, labels[:, None], 1.0)
        return (exps / sums[:, None] - onehot) / exps.shape[0] * g, None


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    return CrossEntropyFunction.apply(logits, labels)


class AdamW(torch.optim.Optimizer):
    """AdamW with the profile's documented update of each element (constants rounded to float32 first), the bias
    corrections from running powers beta^t kept in the state, so that one step is the same operators at any t:

        step = step + 1;  beta1_power = beta1_power * beta1;  beta2_power = beta2_power * beta2
        p = p * (1 - lr * wd)
        m = m + (g - m) * (1 - beta1)
        v = v * beta2 + (g * g) * (1 - beta2)
        p = p - ((m / (sqrt(v) / sqrt(1 - beta2_power) + eps)) * lr) / (1 - beta1_power)

    The state exists from step 0 (zeros, step 0, powers 1): every state of a job has the same entries.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, betas: tuple[float, float], eps: float,
                 weight_decay: float):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": torch.tensor(0.0), "exp_avg": torch.zeros_like(p),
                                 "exp_avg_sq": torch.zeros_like(p), "beta1_power": torch.tensor(1.0),
                                 "beta2_power": torch.tensor(1.0)}

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                state["step"] += 1
                state["beta1_power"].mul_(f32(beta1))
                state["beta2_power"].mul_(f32(beta2))
                g, m, v = p.grad, state["exp_avg"], state["exp_avg_sq"]
                p.mul_(f32(1 - lr * decay))
                m.add_((g - m) * f32(1 - beta1))
                v.mul_(f32(beta2)).add_((g * g) * f32(1 - beta2))
                denom = sqrt(v) / sqrt(1 - state["beta2_power"]) + f32(eps)
                p.sub_(((m / denom) * f32(lr)) / (1 - state["beta1_power"]))


class SGD(torch.optim.Optimizer):
    """SGD with optional momentum, each element as: b = b * momentum + g, from b = 0 (kept in the state from step 0,
    so that every state of a job has the same entries); p = p - lr * b (without momentum b = g)."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float):
        super().__init__(params, {"lr": lr, "momentum": momentum})
        if momentum:
            for group in self.param_groups:
                for p in group["params"]:
                    self.state[p] = {"momentum_buffer": torch.zeros_like(p)}

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                direction = p.grad
                if momentum:
                    direction = self.state[p]["momentum_buffer"].mul_(f32(momentum)).add_(p.grad)
                p.sub_(direction * f32(lr))
