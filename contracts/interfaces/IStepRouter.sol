// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDisputeGame} from "./IDisputeGame.sol";
import {IOperatorGame} from "./IOperatorGame.sol";
import {IStepVerifier} from "./IStepVerifier.sol";

/// @title IStepRouter
/// @notice The dispute game's step verifier that needs no referee where it can: a job whose submitter registered
///         its spec's *program* (the reproducible profile's operators, pinpoint/step_game.py) before posting it has
///         each disputed step decided by an operator game (IOperatorGame), down to one float32 operation executed
///         on chain.
///         Everything else goes to the fallback court (IRefereeCourt), whose answers the router passes on: jobs
///         without a program, the initial state, availability, and the operators the chain does not execute
///         (an Unjudged game).
/// @dev The court's game must be this router. The operator game is deployed by the router (its only opener).
interface IStepRouter is IStepVerifier {
    /// @notice A program: its root, how many of its leaves are operators (pre- and post-state included), the
    ///         depth of its tree (program and traces), and the first job id it applies to (the next job posted
    ///         when it was registered: a job's terms never change after it is posted).
    struct Program {
        bytes32 root;
        uint32 opCount;
        uint8 depth;
        uint256 firstJob;
    }

    /// @notice What an operator game was opened for, so that an Unjudged one can go to the court.
    struct Adjudication {
        /// @dev The dispute whose step the game decides (its ends, parties and served state are read from it).
        uint64 disputeId;
        bool settled;
    }

    error ZeroAddress();
    /// @notice Only the dispute game asks for steps; only the court answers the court's requests.
    error NotAllowed(address caller);
    /// @notice The game is set once.
    error GameAlreadySet();
    /// @notice A submitter registers a spec's program once.
    error ProgramLocked(bytes32 specHash);
    /// @notice The program's shape is out of the operator game's bounds.
    error BadProgram();
    /// @notice The operator game has not ended, or was already settled.
    error NotSettleable(uint256 gameId);

    event GameSet(address indexed game);
    event ProgramSet(address indexed submitter, bytes32 indexed specHash, bytes32 root, uint32 opCount, uint8 depth,
        uint256 firstJob);
    /// @notice A step of dispute `disputeId` goes to operator game `gameId`.
    event OperatorGameOpened(uint256 indexed disputeId, uint256 indexed gameId);
    /// @notice Operator game `gameId` ended; Unjudged went on to the court.
    event Settled(uint256 indexed disputeId, uint256 indexed gameId, IOperatorGame.Outcome outcome);

    /// @notice Registers, once, the program of spec `specHash` for the caller's jobs posted from now on. Solvers
    ///         check it against the spec before they bid (it is part of the job's terms) and refuse a job whose
    ///         program is not its spec's.
    function setProgram(bytes32 specHash, bytes32 root, uint32 opCount, uint8 depth) external;

    /// @notice Passes operator game `gameId`'s outcome to the dispute game (anyone, once the game has ended):
    ///         the solver's claimed post-state if it won, none if it lost; Unjudged asks the court instead.
    function settle(uint256 gameId) external;

    /// @notice The court's answer to a request the router passed on. Court only.
    function stepVerified(uint256 disputeId, bytes32 postStateHash) external;

    /// @notice The court could not adjudicate. Court only.
    function stepUnresolved(uint256 disputeId) external;

    /// @notice Sets the dispute game, once (deployer only).
    function setGame(IDisputeGame game_) external;

    function game() external view returns (IDisputeGame);
    function court() external view returns (IStepVerifier);
    function operators() external view returns (IOperatorGame);
    /// @notice The program job `jobId`'s disputed steps are played over (root zero: none, the court decides).
    function programOf(uint256 jobId) external view returns (Program memory);

    /// @notice What `submitter` registered for `specHash` (whichever jobs it applies to).
    function registered(address submitter, bytes32 specHash) external view returns (Program memory);
    function adjudication(uint256 gameId) external view returns (Adjudication memory);
}
