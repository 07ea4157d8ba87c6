// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice The few Foundry cheatcodes the invariant suite uses, at the standard cheatcode address (forge-std on
///         npm is an old unofficial copy, so the suite does without it).
interface Vm {
    function warp(uint256 timestamp) external;
    function roll(uint256 blockNumber) external;
    function deal(address account, uint256 balance) external;
    function prank(address sender) external;
    function label(address account, string calldata name) external;
    function writeLine(string calldata path, string calldata data) external;
    function toString(uint256 value) external pure returns (string memory);
    function envOr(string calldata name, string calldata defaultValue) external view returns (string memory);
}

// The address of the cheatcodes: address(uint160(uint256(keccak256("hevm cheat code")))).
Vm constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

/// @notice What forge reads from a test contract's `targetContracts`, `excludeSelectors` and friends.
struct FuzzSelector {
    address addr;
    bytes4[] selectors;
}
