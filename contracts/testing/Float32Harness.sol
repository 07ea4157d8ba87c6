// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Float32} from "../lib/Float32.sol";
import {TensorProof} from "../lib/TensorProof.sol";

/// @title Float32Harness
/// @notice For tests only: the Float32 library over arrays, so that a property test checks thousands of cases
///         against torch in one call; TensorProof's element proofs; and the gas of each.
contract Float32Harness {
    enum Op {
        Add,
        Sub,
        Mul,
        MulAdd,
        Relu,
        Div,
        Sqrt,
        ReluGrad
    }

    function run(Op op, uint32[] calldata a, uint32[] calldata b, uint32[] calldata c)
        external
        pure
        returns (uint32[] memory out)
    {
        out = new uint32[](a.length);
        for (uint256 i; i < a.length; ++i) {
            out[i] = _one(op, a[i], b.length > 0 ? b[i] : 0, c.length > 0 ? c[i] : 0);
        }
    }

    /// @notice sum over k of a[k] * b[k] in the reproducible profile's order (worker/engine/repops.py): the rounded
    ///         products, padded with +0 to a power of two, added in adjacent pairs (2i with 2i + 1) until one is left.
    function dot(uint32[] calldata a, uint32[] calldata b) external pure returns (uint32) {
        uint256 width = 1;
        while (width < a.length) width <<= 1;
        uint32[] memory level = new uint32[](width);
        for (uint256 k; k < a.length; ++k) {
            level[k] = Float32.mul(a[k], b[k]);
        }
        for (; width > 1; width >>= 1) {
            for (uint256 i; i < width >> 1; ++i) {
                level[i] = Float32.add(level[2 * i], level[2 * i + 1]);
            }
        }
        return level[0];
    }

    /// @notice An element proven against its tensor's root (reverts if the proof does not lead there), and the gas.
    function element(bytes32 root, uint256 count, uint256 index, bytes32 word, bytes32[] calldata path)
        external
        view
        returns (uint32 value, uint256 gasUsed)
    {
        uint256 before = gasleft();
        value = TensorProof.element(root, count, index, word, path);
        gasUsed = before - gasleft();
    }

    /// @notice The result of one operation and the gas it took.
    function measure(Op op, uint32 a, uint32 b, uint32 c) external view returns (uint32 out, uint256 gasUsed) {
        uint256 before = gasleft();
        out = _one(op, a, b, c);
        gasUsed = before - gasleft();
    }

    function _one(Op op, uint32 a, uint32 b, uint32 c) private pure returns (uint32) {
        if (op == Op.Add) return Float32.add(a, b);
        if (op == Op.Sub) return Float32.sub(a, b);
        if (op == Op.Mul) return Float32.mul(a, b);
        if (op == Op.MulAdd) return Float32.mulAdd(c, a, b);
        if (op == Op.Div) return Float32.div(a, b);
        if (op == Op.Sqrt) return Float32.sqrt(a);
        if (op == Op.ReluGrad) return Float32.reluGrad(a, b);
        return Float32.relu(a);
    }
}
