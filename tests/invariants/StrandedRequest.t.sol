// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarket} from "../../contracts/interfaces/IMarket.sol";
import {IRefereeCourt} from "../../contracts/interfaces/IRefereeCourt.sol";
import {Market} from "../../contracts/Market.sol";
import {Staking} from "../../contracts/Staking.sol";
import {RefereeCourt} from "../../contracts/RefereeCourt.sol";
import {DisputeGame} from "../../contracts/DisputeGame.sol";

import {vm} from "./Vm.sol";
import {Merkle} from "./Merkle.sol";
import {ProtocolHandler} from "./ProtocolHandler.sol";

/// @title StrandedRequest
/// @notice A referee request whose round was armed while referees sat, drawn late after every one of them
///         exited: the exit table promises that `decide` abandons it once nobody can sit.
contract StrandedRequest {
    ProtocolHandler internal h;
    Market internal market;
    RefereeCourt internal court;
    DisputeGame internal game;
    uint256 internal t;
    uint256 internal b;

    function setUp() public {
        h = new ProtocolHandler();
        market = h.market();
        court = h.court();
        game = h.game();
        t = h.time() + 10;
        b = h.blockNumber() + 10;
        _go(0, 0);
    }

    function _go(uint256 dt, uint256 blocks) internal {
        t += dt;
        b += blocks;
        vm.warp(t);
        vm.roll(b);
    }

    function _leaf(uint256 jobId, uint256 index, uint256 at, bytes32 state) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(jobId, index, at, state))));
    }

    function test_requestWhoseRefereesAllExitedIsAbandoned() public {
        address submitter = h.submitters(0);
        address solver = h.solvers(0);
        address challenger = h.challengers(0);
        uint256 stake = market.minimumStake(1e15, 1, 1);
        vm.prank(submitter);
        uint256 jobId = market.postJob{value: 1e15}(keccak256("spec"), 1, 2, 1, stake, 1 hours, 1 hours, 3 hours);
        Staking staking = Staking(payable(address(market.staking())));
        vm.prank(solver);
        staking.deposit{value: stake}();
        vm.prank(solver);
        market.bid(jobId, 1e15);
        _go(1 hours + 1, 1);
        market.closeBidding(jobId);
        bytes32[] memory leaves = new bytes32[](2);
        leaves[0] = _leaf(jobId, 0, 0, keccak256("s0"));
        leaves[1] = _leaf(jobId, 1, 2, keccak256("s2"));
        vm.prank(solver);
        market.submitResult(jobId, Merkle.root(leaves));
        _go(12, 2);
        market.sealSample(jobId);
        _go(1 hours + 1, 1);
        bytes32[] memory p0 = Merkle.proof(leaves, 0);
        bytes32[] memory p1 = Merkle.proof(leaves, 1);
        uint256 bond = game.challengeBond();
        vm.prank(challenger);
        uint256 disputeId = game.challenge{value: bond}(
            jobId, 0, keccak256("s0"), p0, keccak256("s2"), p1, keccak256("other")
        );
        bytes32[] memory revealed = new bytes32[](1); // points: step 1 of [0, 2]
        revealed[0] = keccak256("s1");
        vm.prank(solver);
        game.reveal(disputeId, revealed);
        vm.prank(challenger);
        game.respond(disputeId, revealed, 1); // agrees at step 1, disputes step 2
        vm.prank(solver);
        game.serveState(disputeId, keccak256("bytes"));
        uint256 requestId = game.getDispute(disputeId).requestId;

        // Every referee who sat at the snapshot exits before the round is drawn, and the round goes late.
        for (uint256 i; i < 3; ++i) {
            address referee = h.referees(i);
            vm.prank(referee);
            court.requestExit();
        }
        _go(2 hours, 1);
        (bool drawn,) = address(court).call(abi.encodeCall(court.draw, (requestId)));
        require(!drawn, "nobody can sit: the draw fails");
        // The exit: with nobody to sit, `decide` abandons the request once the round's window is over.
        _go(1 hours + 1, 1);
        court.decide(requestId);
        require(court.getRequest(requestId).done, "request abandoned");
        require(market.jobState(jobId) == IMarket.JobState.Submitted, "job back under review");
    }
}
