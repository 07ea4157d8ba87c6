"""The on-chain float32 arithmetic (contracts/lib/Float32.sol) against torch, bit for bit: every edge value with every
other (zeros, subnormals, the normal range's ends, infinities, NaNs), random bit patterns, nearby exponents
(cancellation), exact rounding ties, and whole dot products accumulated in the reproducible profile's order."""

import numpy as np
import pytest
import torch

from worker.engine import repops

ADD, SUB, MUL, MUL_ADD, RELU, DIV, SQRT, RELU_GRAD = range(8)
BATCH = 800  # operations per eth_call (well under the call's gas cap)

EDGES = np.array([
    0x0000_0000, 0x8000_0000,  # +0, -0
    0x0000_0001, 0x8000_0001, 0x0000_0002, 0x007f_ffff, 0x807f_ffff, 0x0040_0000,  # subnormals
    0x0080_0000, 0x8080_0000, 0x0080_0001, 0x0100_0000,  # smallest normals
    0x3f80_0000, 0xbf80_0000, 0x3f80_0001, 0x3f7f_ffff, 0x4000_0000, 0x3400_0000, 0x3300_0000,  # 1, -1, 1+ulp, ...
    0x7f7f_ffff, 0xff7f_ffff, 0x7f00_0000, 0x7e80_0000,  # largest finite
    0x7f80_0000, 0xff80_0000,  # infinities
    0x7fc0_0000, 0xffc0_0000, 0x7f80_0001, 0x7fff_ffff,  # NaNs (quiet, negative, signalling, payload)
], dtype=np.uint32)


@pytest.fixture(scope="module")
def harness(owner, project):
    return owner.deploy(project.Float32Harness)


def floats(bits: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(bits, dtype=np.uint32).view(np.float32).copy())


def bits_of(values: torch.Tensor) -> np.ndarray:
    return values.numpy().view(np.uint32)


def on_chain(harness, op: int, a: np.ndarray, b: np.ndarray | None = None, c: np.ndarray | None = None) -> np.ndarray:
    out = []
    for start in range(0, len(a), BATCH):
        part = slice(start, start + BATCH)
        args = [[int(x) for x in arr[part]] if arr is not None else [] for arr in (a, b, c)]
        out.extend(harness.run(op, *args))
    return np.array(out, dtype=np.uint32)


def assert_same(got: np.ndarray, want: np.ndarray, *inputs: np.ndarray) -> None:
    """Equal bits, or both NaN (payloads are the hardware's; the library makes one canonical NaN)."""
    nan_got = (got & 0x7FFF_FFFF) > 0x7F80_0000
    nan_want = (want & 0x7FFF_FFFF) > 0x7F80_0000
    wrong = np.flatnonzero(~((got == want) | (nan_got & nan_want)))
    assert wrong.size == 0, f"{wrong.size} of {got.size} differ; first: inputs " + ", ".join(
        hex(int(x[wrong[0]])) for x in inputs) + f" -> chain {hex(int(got[wrong[0]]))}, torch {hex(int(want[wrong[0]]))}"


def edge_pairs() -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(EDGES, EDGES)
    return a.ravel(), b.ravel()


def random_pairs(seed: int, n: int = 1600) -> tuple[np.ndarray, np.ndarray]:
    """Half uniform bit patterns (every exponent, NaNs included), half pairs within 30 binades of each other, of
    either sign (carries, cancellation down to zero, sticky bits)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    b = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    near = slice(n // 2, n)
    exp_a = (a[near] >> 23) & 0xFF
    exp_b = np.clip(exp_a.astype(np.int64) + rng.integers(-30, 31, n - n // 2), 0, 254).astype(np.uint32)
    b[near] = (b[near] & 0x807F_FFFF) | (exp_b << 23)
    a[near] = np.where((a[near] >> 23 & 0xFF) == 0xFF, a[near] & 0x807F_FFFF, a[near])  # finite
    return a, b


def ties(seed: int, n: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """a + b exactly halfway between two floats: b is half an ulp of a, so the result rounds to even."""
    rng = np.random.default_rng(seed)
    a = (rng.integers(25, 250, n).astype(np.uint32) << 23) | rng.integers(0, 1 << 23, n).astype(np.uint32)
    half_ulp_exponent = (a >> 23) - 24  # ulp of a is 2^(e-150) = 2^((e-23)-127); half of it one binade lower
    b = (half_ulp_exponent.astype(np.uint32) << 23) | (rng.integers(0, 2, n).astype(np.uint32) << 31)
    return a, b


CASES = {"edges": edge_pairs, "random": lambda: random_pairs(1), "near": lambda: random_pairs(2), "ties": lambda: ties(3)}


@pytest.mark.parametrize("case", CASES)
def test_add_sub_mul_div_match_torch(harness, case):
    a, b = CASES[case]()
    x, y = floats(a), floats(b)
    assert_same(on_chain(harness, ADD, a, b), bits_of(x + y), a, b)
    assert_same(on_chain(harness, SUB, a, b), bits_of(x - y), a, b)
    assert_same(on_chain(harness, MUL, a, b), bits_of(x * y), a, b)
    assert_same(on_chain(harness, DIV, a, b), bits_of(x / y), a, b)


def test_sqrt_and_the_relu_gradient_match_torch(harness):
    a, b = random_pairs(8)
    values = np.concatenate([EDGES, a, a & 0x7FFF_FFFF, np.arange(1, 200, dtype=np.uint32)])  # subnormals too
    # the profile's sqrt (float64, rounded once) is IEEE's correctly rounded one, as numpy's is; torch's float32
    # kernel is not (AVX-512 hosts: about 17% of inputs one ulp off)
    assert_same(on_chain(harness, SQRT, values), bits_of(repops.sqrt(floats(values))), values)
    with np.errstate(invalid="ignore"):
        assert_same(on_chain(harness, SQRT, values), np.sqrt(values.view(np.float32)).view(np.uint32), values)
    grads, outputs = edge_pairs()
    grads, outputs = np.concatenate([grads, a]), np.concatenate([outputs, b])
    want = bits_of(torch.ops.aten.threshold_backward(floats(grads), floats(outputs), 0))
    assert_same(on_chain(harness, RELU_GRAD, grads, outputs), want, grads, outputs)


def test_products_into_and_below_the_subnormals_match_torch(harness):
    rng = np.random.default_rng(4)
    n = 800
    # exponents summing to around -126..-180: results subnormal, rounded to a subnormal, or flushed to zero by rounding
    ea = rng.integers(1, 60, n).astype(np.uint32)
    eb = rng.integers(0, 60, n).astype(np.uint32)
    a = (ea << 23) | rng.integers(0, 1 << 23, n).astype(np.uint32) | (rng.integers(0, 2, n).astype(np.uint32) << 31)
    b = (eb << 23) | rng.integers(0, 1 << 23, n).astype(np.uint32)
    assert_same(on_chain(harness, MUL, a, b), bits_of(floats(a) * floats(b)), a, b)


def test_mul_add_rounds_twice_and_relu_matches_torch(harness):
    a, b = random_pairs(5, 800)
    c, _ = random_pairs(6, 800)
    want = bits_of(floats(c) + floats(a) * floats(b))  # two torch ops: product rounded, then sum rounded
    assert_same(on_chain(harness, MUL_ADD, a, b, c), want, a, b, c)
    values = np.concatenate([EDGES, a])
    assert_same(on_chain(harness, RELU, values), bits_of(torch.relu(floats(values))), values)


def test_dot_products_match_the_engines_reproducible_matmul(harness):
    """One output element of a matrix product, computed on chain in the profile's pairwise order, is the bit the
    engine's `repops.matmul` computes (K a power of two and not). Summed in another order (torch's own product)
    some differ: the order is part of what the chain checks."""
    rng = np.random.default_rng(7)
    for k in (1, 5, 64, 100):
        rows = torch.from_numpy(rng.standard_normal((12, k)).astype(np.float32))
        cols = torch.from_numpy(rng.standard_normal((k, 3)).astype(np.float32))
        engine = bits_of(repops.matmul(rows, cols)).ravel()
        chain = np.array([harness.dot([int(x) for x in bits_of(r)], [int(x) for x in bits_of(c)])
                          for r in rows for c in cols.t().contiguous()], dtype=np.uint32)
        assert_same(chain, engine)
    assert any(engine != bits_of(rows @ cols).ravel()), "this sample cannot tell summation orders apart"


def test_one_operation_costs_little_gas(harness):
    """An on-chain judgement executes one operation: a few thousand gas, against the 2M a whole dispute may take."""
    one, three = 0x3F80_0000, 0x4040_0000
    expected = {ADD: 0x4080_0000, SUB: 0xC000_0000, MUL: three, MUL_ADD: 0x40C0_0000, RELU: one, DIV: 0x3EAA_AAAB,
                SQRT: one, RELU_GRAD: one}
    for op, want in expected.items():
        result, gas = harness.measure(op, one, three, three)
        assert result == want
        assert gas < 10_000, f"operation {op} took {gas} gas"


@pytest.mark.parametrize("count", [1, 9, 1000])
def test_elements_proven_off_chain_are_proven_on_chain_and_tampering_reverts(harness, count):
    """pinpoint/tensor_merkle.py and contracts/lib/TensorProof.sol agree: each element's proof gives its bits on
    chain (a proof is log2(count / 8) siblings: a few thousand gas); a changed word or another index reverts."""
    from ape.exceptions import ContractLogicError
    from eth_utils import keccak

    from pinpoint.tensor_merkle import element_proof, element_root

    refused = "0x" + keccak(b"ElementProofInvalid(uint256)")[:4].hex()  # a library's error: ape shows its selector

    values = np.random.default_rng(count).standard_normal(count).astype(np.float32)
    root = element_root(values)
    for index in sorted({0, count // 2, count - 1}):
        word, path = element_proof(values, index)
        value, gas = harness.element(root, count, index, word, path)
        assert value == values.view(np.uint32)[index]
        assert gas < 30_000
    word, path = element_proof(values, count - 1)
    with pytest.raises(ContractLogicError, match=refused):
        harness.element(root, count, count - 1, bytes([word[0] ^ 1]) + word[1:], path)
    with pytest.raises(ContractLogicError, match=refused):
        harness.element(root, count, count, word, path)
