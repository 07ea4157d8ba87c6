// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStepVerifier} from "./IStepVerifier.sol";

/// @title IRefereeCourt
/// @notice v1 step verifier: a set of bonded referees. For each request one referee, neither the solver nor
///         the challenger, is drawn from the hash of a block mined after the request; it re-executes the
///         single step from the agreed pre-state and answers before its deadline. A referee that stays
///         silent loses its whole bond to whoever triggers the redraw, and another one is drawn.
/// @dev The draw is unpredictable to the parties: the hash of `drawBlock` did not exist when the request
///      was made, so neither party could choose when to ask to land on a friendly referee. Its limit: the
///      producer of `drawBlock` can bias it (withhold a block); a commit-reveal draw can replace it later.
///      If no one draws within 256 blocks the hash is gone and the draw re-arms on the next block.
///      Every state has an exit: a request no referee can be drawn for (every referee is a party, or there are
///      none, e.g. after the last one was slashed) is abandoned by anyone once `answerWindow` seconds have
///      passed since the request (`abandon`); the dispute then ends with no winner (`stepUnresolved`).
///      Accounting invariant: address(this).balance == totalBonds() + totalCredits().
interface IRefereeCourt is IStepVerifier {
    /// @notice One step request and the referee drawn for it.
    struct Request {
        uint256 disputeId;
        uint256 jobId;
        uint64 step;
        bytes32 preStateHash;
        bytes32 preStateArtifact;
        address solver;
        address challenger;
        /// @dev The block whose hash draws the referee (the one after the request or the last redraw).
        uint64 drawBlock;
        /// @dev Zero until drawn (and again after a redraw).
        address referee;
        /// @dev The drawn referee answers while block.timestamp <= deadline.
        uint64 deadline;
        bool done;
        /// @dev When the game made the request; `abandon` is possible once block.timestamp > requestedAt +
        ///      answerWindow (and no referee can be drawn).
        uint64 requestedAt;
        /// @dev An availability check: no step to run; the referee fetches `preStateArtifact`, checks it is
        ///      the checkpoint at `step` and answers its state hash (which must equal `preStateHash`).
        bool availability;
    }

    /// @notice The zero address was given where an address is required.
    error ZeroAddress();
    /// @notice The dispute game can be set only once.
    error GameAlreadySet(address game);
    /// @notice The caller is not the dispute game.
    error NotGame(address caller);
    /// @notice The bond sent is below the minimum.
    error BondTooLow(uint256 sent, uint256 minBond);
    /// @notice The caller is already a referee.
    error AlreadyRegistered(address referee);
    /// @notice The caller is not a referee.
    error NotRegistered(address account);
    /// @notice The referee is drawn for `openRequests` unanswered requests and cannot leave yet.
    error RefereeBusy(uint256 openRequests);
    /// @notice No request has this id.
    error UnknownRequest(uint256 requestId);
    /// @notice The request was answered already.
    error RequestDone(uint256 requestId);
    /// @notice The draw needs the hash of `drawBlock`: wait until a later block.
    error DrawTooEarly(uint64 drawBlock);
    /// @notice A referee (`referee`) is already drawn for the request.
    error AlreadyDrawn(address referee);
    /// @notice No referee is drawn for the request: call `draw` first.
    error NotDrawn();
    /// @notice Every referee is a party to the dispute (or there are none).
    error NoEligibleReferee();
    /// @notice Only the drawn referee (`referee`) answers.
    error NotDrawnReferee(address referee);
    /// @notice The answer window ended at `deadline`.
    error AnswerWindowClosed(uint64 deadline);
    /// @notice The drawn referee can answer until `deadline`.
    error AnswerWindowOpen(uint64 deadline);
    /// @notice The caller has no credit to claim.
    error NothingToClaim();
    /// @notice A request can be abandoned only after block.timestamp > `abandonableAt` (request time + answerWindow).
    error AbandonTooEarly(uint64 abandonableAt);
    /// @notice A referee who is not a party is registered: draw one (`draw`) instead of abandoning.
    error EligibleRefereeExists();

    event GameSet(address indexed game);
    event RefereeRegistered(address indexed referee, uint256 bond);
    event RefereeDeregistered(address indexed referee, uint256 bond);
    event StepRequested(
        uint256 indexed requestId,
        uint256 indexed disputeId,
        uint256 jobId,
        uint64 step,
        bytes32 preStateHash,
        bytes32 preStateArtifact
    );
    /// @notice The hash of the old draw block was gone (over 256 blocks): the draw uses `drawBlock` now.
    event DrawRearmed(uint256 indexed requestId, uint64 drawBlock);
    event RefereeDrawn(uint256 indexed requestId, address indexed referee, uint64 deadline);
    event StepAnswered(uint256 indexed requestId, bytes32 postStateHash);
    /// @notice The drawn referee did not answer in time and lost its bond, `amount`, to the caller of `redraw`.
    event RefereeSlashed(uint256 indexed requestId, address indexed referee, uint256 amount);
    event Claimed(address indexed account, uint256 amount);
    /// @notice No referee could be drawn for the request: it is closed unanswered and its dispute ends with no winner.
    event RequestAbandoned(uint256 indexed requestId, uint256 indexed disputeId);

    /// @notice Sets the dispute game, once. Owner only.
    function setGame(address game) external;

    /// @notice Joins the referee set with msg.value (>= minBond) as bond.
    function register() external payable;

    /// @notice Leaves the referee set; the bond is credited back. Not while drawn for an open request.
    function deregister() external;

    /// @notice Draws the referee of a request from the hash of its draw block. Anyone, once
    ///         block.number > drawBlock. Re-arms (drawBlock = next block) when that hash is gone.
    function draw(uint256 requestId) external;

    /// @notice The drawn referee answers the true post-state hash (0: pre-state unavailable or wrong),
    ///         until its deadline; the answer goes to the dispute game at once.
    function submitStep(uint256 requestId, bytes32 postStateHash) external;

    /// @notice After the deadline without an answer: slashes the drawn referee's whole bond to the caller
    ///         (keeper reward), removes it from the set and arms a new draw on the next block. Anyone.
    function redraw(uint256 requestId) external;

    /// @notice The exit when no referee can be drawn: closes the request unanswered and calls
    ///         `IDisputeGame.stepUnresolved`, which ends the dispute with no winner (the challenger's bond is
    ///         credited back, nobody is slashed, the job returns to Submitted with the rest of its challenge
    ///         window). Anyone, once block.timestamp > requestedAt + answerWindow, while no referee is drawn
    ///         and no registered referee is eligible (all are parties to the dispute, or there are none).
    /// @dev Requiring that no referee is eligible means a party cannot escape a verdict by abandoning a
    ///      request that merely has not been drawn yet: while an eligible referee exists, `draw` is the exit.
    function abandon(uint256 requestId) external;

    /// @notice Pays the caller its whole credit.
    function claim() external;

    /// @notice The dispute game allowed to request steps (zero until set).
    function game() external view returns (address);

    /// @notice The smallest bond a referee registers with.
    function minBond() external view returns (uint256);

    /// @notice Seconds a drawn referee has to answer.
    function answerWindow() external view returns (uint64);

    function refereeCount() external view returns (uint256);

    function isReferee(address account) external view returns (bool);

    function bondOf(address referee) external view returns (uint256);

    /// @notice Number of unanswered requests `referee` is drawn for.
    function openDraws(address referee) external view returns (uint256);

    function getRequest(uint256 requestId) external view returns (Request memory);

    /// @notice Whether a registered referee other than the request's solver and challenger exists (so
    ///         `draw` can succeed and `abandon` is refused).
    function hasEligibleReferee(uint256 requestId) external view returns (bool);

    /// @notice Number of requests; also the id of the latest one (ids start at 1).
    function requestCount() external view returns (uint256);

    function credits(address account) external view returns (uint256);

    function totalBonds() external view returns (uint256);

    function totalCredits() external view returns (uint256);
}
