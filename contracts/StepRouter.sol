// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {OperatorGame} from "./OperatorGame.sol";
import {IDisputeGame} from "./interfaces/IDisputeGame.sol";
import {IMarket} from "./interfaces/IMarket.sol";
import {IOperatorGame} from "./interfaces/IOperatorGame.sol";
import {IStepRouter} from "./interfaces/IStepRouter.sol";
import {IStepVerifier} from "./interfaces/IStepVerifier.sol";

/// @title StepRouter
/// @notice Sends a disputed step to an operator game when its job has a program, else to the court (IStepRouter).
contract StepRouter is IStepRouter {
    /// @inheritdoc IStepRouter
    IDisputeGame public game;

    /// @inheritdoc IStepRouter
    IStepVerifier public immutable court;

    /// @inheritdoc IStepRouter
    IOperatorGame public immutable operators;

    address private immutable _deployer;

    mapping(address submitter => mapping(bytes32 specHash => Program)) private _programs;

    mapping(uint256 gameId => Adjudication) private _adjudications;

    /// @param court_ The fallback step verifier (its game must be set to this router).
    /// @param moveTimeout Seconds each move of an operator game may take.
    constructor(IStepVerifier court_, uint64 moveTimeout) {
        if (address(court_) == address(0)) revert ZeroAddress();
        court = court_;
        operators = new OperatorGame(address(this), moveTimeout);
        _deployer = msg.sender;
    }

    /// @inheritdoc IStepRouter
    function setGame(IDisputeGame game_) external {
        if (msg.sender != _deployer) revert NotAllowed(msg.sender);
        if (address(game) != address(0)) revert GameAlreadySet();
        if (address(game_) == address(0)) revert ZeroAddress();
        game = game_;
        emit GameSet(address(game_));
    }

    /// @inheritdoc IStepRouter
    function setProgram(bytes32 specHash, bytes32 root, uint32 opCount, uint8 depth) external {
        Program storage program = _programs[msg.sender][specHash];
        // INVARIANT: a program never changes, and applies only to jobs posted after it: no job's terms change.
        if (program.root != bytes32(0)) revert ProgramLocked(specHash);
        // INVARIANT: a program the operator game would refuse to open cannot be registered.
        if (root == bytes32(0) || depth > operators.MAX_TRACE_DEPTH() || opCount < 3 || opCount > uint256(1) << depth) {
            revert BadProgram();
        }
        uint256 firstJob = game.market().jobCount() + 1;
        _programs[msg.sender][specHash] = Program(root, opCount, depth, firstJob);
        emit ProgramSet(msg.sender, specHash, root, opCount, depth, firstJob);
    }

    /// @inheritdoc IStepVerifier
    function requestStep(
        uint256 disputeId,
        uint256 jobId,
        uint64 step,
        bytes32 preStateHash,
        bytes32 preStateArtifact,
        address solver,
        address challenger
    ) external returns (uint256 requestId) {
        if (msg.sender != address(game)) revert NotAllowed(msg.sender);
        Program memory program = programOf(jobId);
        if (program.root == bytes32(0) || step == game.GENESIS_STEP()) {
            return court.requestStep(disputeId, jobId, step, preStateHash, preStateArtifact, solver, challenger);
        }
        bytes32 postStateHash = game.getDispute(disputeId).hiHash;
        requestId = operators.open(
            solver, challenger, program.root, program.opCount, program.depth, preStateHash, postStateHash
        );
        // One slot: settling reads the rest from the dispute, which stays Adjudicating until then.
        _adjudications[requestId] = Adjudication(uint64(disputeId), false);
        emit OperatorGameOpened(disputeId, requestId);
    }

    /// @inheritdoc IStepVerifier
    function requestAvailability(
        uint256 disputeId,
        uint256 jobId,
        uint64 step,
        bytes32 stateHash,
        bytes32 artifact,
        address solver,
        address challenger
    ) external returns (uint256 requestId) {
        if (msg.sender != address(game)) revert NotAllowed(msg.sender);
        return court.requestAvailability(disputeId, jobId, step, stateHash, artifact, solver, challenger);
    }

    /// @inheritdoc IStepRouter
    function settle(uint256 gameId) external {
        Adjudication storage a = _adjudications[gameId];
        // INVARIANT: an operator game's outcome reaches the dispute game once, and only once it exists.
        if (a.disputeId == 0 || a.settled) revert NotSettleable(gameId);
        IOperatorGame.Outcome outcome = operators.outcomeOf(gameId);
        if (outcome == IOperatorGame.Outcome.None) revert NotSettleable(gameId);
        a.settled = true;
        emit Settled(a.disputeId, gameId, outcome);
        if (outcome == IOperatorGame.Outcome.ChallengerWon) {
            // The dispute game's rule: the solver wins iff the answer is its claimed post-state; zero never is.
            return game.stepVerified(a.disputeId, bytes32(0));
        }
        IDisputeGame.Dispute memory d = game.getDispute(a.disputeId);
        if (outcome == IOperatorGame.Outcome.SolverWon) return game.stepVerified(a.disputeId, d.hiHash);
        // Unjudged: the court decides the step.
        // slither-disable-next-line unused-return (the court answers by disputeId; its request id is in its event)
        court.requestStep(a.disputeId, d.jobId, d.lo, d.loHash, d.preStateArtifact, d.solver, d.challenger);
    }

    /// @inheritdoc IStepRouter
    function stepVerified(uint256 disputeId, bytes32 postStateHash) external {
        if (msg.sender != address(court)) revert NotAllowed(msg.sender);
        game.stepVerified(disputeId, postStateHash);
    }

    /// @inheritdoc IStepRouter
    function stepUnresolved(uint256 disputeId) external {
        if (msg.sender != address(court)) revert NotAllowed(msg.sender);
        game.stepUnresolved(disputeId);
    }

    /// @inheritdoc IStepRouter
    function programOf(uint256 jobId) public view returns (Program memory program) {
        (address submitter, bytes32 specHash) = game.market().specOf(jobId);
        program = _programs[submitter][specHash];
        if (jobId < program.firstJob) delete program; // registered after the job was posted: not its terms
    }

    /// @inheritdoc IStepRouter
    function registered(address submitter, bytes32 specHash) external view returns (Program memory) {
        return _programs[submitter][specHash];
    }

    /// @inheritdoc IStepRouter
    function adjudication(uint256 gameId) external view returns (Adjudication memory) {
        return _adjudications[gameId];
    }
}
