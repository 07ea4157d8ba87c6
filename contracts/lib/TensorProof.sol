// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title TensorProof
/// @notice One float32 element of a tensor, proven against the tensor's element root (pinpoint/tensor_merkle.py):
///         the n elements little-endian in 32-byte words of 8, leaf = keccak256(word), a positional binary tree
///         over the leaves padded with zeros to a power of two, root = keccak256(uint256 n, tree root).
library TensorProof {
    error ElementProofInvalid(uint256 index);

    /// @notice The 32 bits of element `index` of the tensor committed by `root` with `count` elements, given its
    ///         `word` and sibling `path` (lowest first); reverts with ElementProofInvalid if they do not lead there.
    function element(bytes32 root, uint256 count, uint256 index, bytes32 word, bytes32[] calldata path)
        internal
        pure
        returns (uint32)
    {
        uint256 position = index / 8;
        uint256 words = (count + 7) / 8;
        if (index >= count || path.length != _depth(words)) revert ElementProofInvalid(index);
        bytes32 node = keccak256(abi.encodePacked(word));
        for (uint256 level; level < path.length; ++level) {
            node = position & 1 == 1 ? hashPair(path[level], node) : hashPair(node, path[level]);
            position >>= 1;
        }
        if (keccak256(abi.encode(count, node)) != root) revert ElementProofInvalid(index);
        uint256 bytesFromLeft = (index % 8) * 4; // little-endian element: its first byte is the lowest
        uint256 raw = uint256(word) >> (224 - bytesFromLeft * 8);
        return uint32(raw & 0xff) << 24 | uint32(raw >> 8 & 0xff) << 16 | uint32(raw >> 16 & 0xff) << 8
            | uint32(raw >> 24 & 0xff);
    }

    /// @notice keccak256(left || right), hashed in scratch space (no memory allocated per node of a path).
    function hashPair(bytes32 left, bytes32 right) internal pure returns (bytes32 node) {
        assembly ("memory-safe") {
            mstore(0x00, left)
            mstore(0x20, right)
            node := keccak256(0x00, 0x40)
        }
    }

    /// @dev ceil(log2(words)): the number of siblings on a path.
    function _depth(uint256 words) private pure returns (uint256 depth) {
        while ((1 << depth) < words) ++depth;
    }
}
