// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice A binary Merkle tree over a handful of leaves, hashed as OpenZeppelin's MerkleProof verifies (sorted
///         pairs): an odd node is carried up unhashed. Enough for the suite's checkpoint commitments.
library Merkle {
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function _up(bytes32[] memory layer) private pure returns (bytes32[] memory next) {
        uint256 n = layer.length;
        next = new bytes32[]((n + 1) / 2);
        for (uint256 i; i < n / 2; ++i) {
            next[i] = hashPair(layer[2 * i], layer[2 * i + 1]);
        }
        if (n % 2 == 1) next[n / 2] = layer[n - 1];
    }

    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory layer = leaves;
        while (layer.length > 1) {
            layer = _up(layer);
        }
        return layer[0];
    }

    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory siblings) {
        siblings = new bytes32[](16);
        uint256 count;
        bytes32[] memory layer = leaves;
        while (layer.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < layer.length) siblings[count++] = layer[sibling];
            index /= 2;
            layer = _up(layer);
        }
        assembly {
            mstore(siblings, count)
        }
    }
}
