// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

import {IDisputeGame} from "./interfaces/IDisputeGame.sol";
import {IRefereeCourt} from "./interfaces/IRefereeCourt.sol";
import {IStepVerifier} from "./interfaces/IStepVerifier.sol";

/// @title RefereeCourt
/// @notice v1 step verifier: bonded referees, one drawn per request from a block hash that did not exist
///         when the request was made; a silent referee is slashed and replaced; a request no referee can
///         be drawn for is abandoned after `answerWindow` (the dispute ends with no winner).
contract RefereeCourt is IRefereeCourt, Ownable, ReentrancyGuard {
    /// @inheritdoc IRefereeCourt
    uint256 public immutable minBond;

    /// @inheritdoc IRefereeCourt
    uint64 public immutable answerWindow;

    /// @inheritdoc IRefereeCourt
    address public game;

    /// @inheritdoc IRefereeCourt
    uint256 public requestCount;

    /// @inheritdoc IRefereeCourt
    uint256 public totalBonds;

    /// @inheritdoc IRefereeCourt
    uint256 public totalCredits;

    /// @inheritdoc IRefereeCourt
    mapping(address account => uint256 amount) public credits;

    /// @inheritdoc IRefereeCourt
    mapping(address referee => uint256 bond) public bondOf;

    /// @inheritdoc IRefereeCourt
    mapping(address referee => uint256 count) public openDraws;

    address[] private _referees;
    /// @dev Position in `_referees` plus one (0: not a referee), for O(1) removal.
    mapping(address referee => uint256 position) private _positions;

    mapping(uint256 requestId => Request) private _requests;

    /// @param minBond_ The smallest bond a referee registers with (wei).
    /// @param answerWindow_ Seconds a drawn referee has to answer.
    constructor(uint256 minBond_, uint64 answerWindow_) Ownable(msg.sender) {
        minBond = minBond_;
        answerWindow = answerWindow_;
    }

    /// @inheritdoc IRefereeCourt
    function setGame(address game_) external onlyOwner {
        // INVARIANT: the game is a real contract address.
        if (game_ == address(0)) revert ZeroAddress();
        // INVARIANT: who may ask for steps never changes under an open dispute.
        if (game != address(0)) revert GameAlreadySet(game);
        game = game_;
        emit GameSet(game_);
    }

    /// @inheritdoc IRefereeCourt
    function register() external payable {
        // INVARIANT: every referee has at least minBond to lose by staying silent.
        if (msg.value < minBond) revert BondTooLow(msg.value, minBond);
        // INVARIANT: one seat (and one chance per draw) per address.
        if (_positions[msg.sender] != 0) revert AlreadyRegistered(msg.sender);
        _referees.push(msg.sender);
        _positions[msg.sender] = _referees.length;
        bondOf[msg.sender] = msg.value;
        totalBonds += msg.value;
        emit RefereeRegistered(msg.sender, msg.value);
    }

    /// @inheritdoc IRefereeCourt
    function deregister() external {
        // INVARIANT: only a referee leaves the set.
        if (_positions[msg.sender] == 0) revert NotRegistered(msg.sender);
        // INVARIANT: a drawn referee keeps its bond at stake until it answers or is slashed.
        if (openDraws[msg.sender] != 0) revert RefereeBusy(openDraws[msg.sender]);
        uint256 bond = bondOf[msg.sender];
        _remove(msg.sender);
        bondOf[msg.sender] = 0;
        totalBonds -= bond;
        _credit(msg.sender, bond);
        emit RefereeDeregistered(msg.sender, bond);
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
        requestId = _request(disputeId, jobId, step, preStateHash, preStateArtifact, solver, challenger);
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
        requestId = _request(disputeId, jobId, step, stateHash, artifact, solver, challenger);
        _requests[requestId].availability = true;
    }

    /// @inheritdoc IRefereeCourt
    function draw(uint256 requestId) external {
        Request storage r = _openRequest(requestId);
        // INVARIANT: one referee at a time per request.
        if (r.referee != address(0)) revert AlreadyDrawn(r.referee);
        // INVARIANT: the seed is the hash of a block mined after the request, unknown when it was made.
        if (block.number <= r.drawBlock) revert DrawTooEarly(r.drawBlock);
        bytes32 seed = blockhash(r.drawBlock);
        if (seed == bytes32(0)) {
            // Over 256 blocks old: the hash is gone, so draw from the next block instead.
            r.drawBlock = uint64(block.number) + 1;
            emit DrawRearmed(requestId, r.drawBlock);
            return;
        }
        uint256 n = _referees.length;
        // Walk forward past the parties; at most two seats are skipped, so at most three are looked at.
        uint256 start = n == 0 ? 0 : uint256(keccak256(abi.encode(seed, requestId))) % n;
        address referee;
        for (uint256 i = 0; i < n && i < 3; ++i) {
            address candidate = _referees[(start + i) % n];
            // INVARIANT: no party judges its own dispute.
            if (candidate != r.solver && candidate != r.challenger) {
                referee = candidate;
                break;
            }
        }
        if (referee == address(0)) revert NoEligibleReferee();
        uint64 deadline = uint64(block.timestamp) + answerWindow;
        r.referee = referee;
        r.deadline = deadline;
        ++openDraws[referee];
        emit RefereeDrawn(requestId, referee, deadline);
    }

    /// @inheritdoc IRefereeCourt
    function submitStep(uint256 requestId, bytes32 postStateHash) external {
        Request storage r = _openRequest(requestId);
        // INVARIANT: only the drawn referee answers.
        if (msg.sender != r.referee || r.referee == address(0)) revert NotDrawnReferee(r.referee);
        // INVARIANT: an answer counts only inside the referee's window; after it the referee is replaceable.
        if (block.timestamp > r.deadline) revert AnswerWindowClosed(r.deadline);
        r.done = true;
        --openDraws[msg.sender];
        emit StepAnswered(requestId, postStateHash);
        IDisputeGame(game).stepVerified(r.disputeId, postStateHash);
    }

    /// @inheritdoc IRefereeCourt
    function redraw(uint256 requestId) external {
        Request storage r = _openRequest(requestId);
        address referee = r.referee;
        // INVARIANT: only a drawn referee can be late.
        if (referee == address(0)) revert NotDrawn();
        // INVARIANT: the referee keeps its whole window.
        if (block.timestamp <= r.deadline) revert AnswerWindowOpen(r.deadline);
        uint256 amount = bondOf[referee];
        bondOf[referee] = 0;
        totalBonds -= amount;
        --openDraws[referee];
        if (_positions[referee] != 0) _remove(referee);
        _credit(msg.sender, amount);
        r.referee = address(0);
        r.deadline = 0;
        r.drawBlock = uint64(block.number) + 1;
        emit RefereeSlashed(requestId, referee, amount);
    }

    /// @inheritdoc IRefereeCourt
    function abandon(uint256 requestId) external {
        Request storage r = _openRequest(requestId);
        // INVARIANT: a drawn referee answers or is replaced (`redraw`); only an undrawn request is abandoned.
        if (r.referee != address(0)) revert AlreadyDrawn(r.referee);
        uint64 abandonableAt = r.requestedAt + answerWindow;
        // INVARIANT: referees get a whole answer window after the request to register before it is given up.
        if (block.timestamp <= abandonableAt) revert AbandonTooEarly(abandonableAt);
        // INVARIANT: while a referee can be drawn, `draw` is the exit, so no party escapes a verdict here.
        if (_hasEligibleReferee(r)) revert EligibleRefereeExists();
        r.done = true;
        emit RequestAbandoned(requestId, r.disputeId);
        IDisputeGame(game).stepUnresolved(r.disputeId);
    }

    /// @inheritdoc IRefereeCourt
    function claim() external nonReentrant {
        uint256 amount = credits[msg.sender];
        // INVARIANT: a claim pays something.
        if (amount == 0) revert NothingToClaim();
        credits[msg.sender] = 0;
        totalCredits -= amount;
        emit Claimed(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @inheritdoc IRefereeCourt
    function refereeCount() external view returns (uint256) {
        return _referees.length;
    }

    /// @inheritdoc IRefereeCourt
    function isReferee(address account) external view returns (bool) {
        return _positions[account] != 0;
    }

    /// @inheritdoc IRefereeCourt
    function getRequest(uint256 requestId) external view returns (Request memory) {
        return _requests[requestId];
    }

    /// @inheritdoc IRefereeCourt
    function hasEligibleReferee(uint256 requestId) external view returns (bool) {
        return _hasEligibleReferee(_requests[requestId]);
    }

    /// @dev Records a request of the game; the referee is drawn from the hash of the next block.
    function _request(
        uint256 disputeId,
        uint256 jobId,
        uint64 step,
        bytes32 preStateHash,
        bytes32 preStateArtifact,
        address solver,
        address challenger
    ) internal returns (uint256 requestId) {
        // INVARIANT: only the dispute game asks, so every request belongs to a real dispute.
        if (msg.sender != game) revert NotGame(msg.sender);
        requestId = ++requestCount;
        Request storage r = _requests[requestId];
        r.disputeId = disputeId;
        r.jobId = jobId;
        r.step = step;
        r.preStateHash = preStateHash;
        r.preStateArtifact = preStateArtifact;
        r.solver = solver;
        r.challenger = challenger;
        r.drawBlock = uint64(block.number) + 1;
        r.requestedAt = uint64(block.timestamp);
        emit StepRequested(requestId, disputeId, jobId, step, preStateHash, preStateArtifact);
    }

    /// @dev Whether a referee other than the request's parties is registered (the two parties are distinct:
    ///      the game refuses a solver challenging itself), i.e. whether `draw` can pick someone.
    function _hasEligibleReferee(Request storage r) internal view returns (bool) {
        uint256 parties = (_positions[r.solver] != 0 ? 1 : 0) + (_positions[r.challenger] != 0 ? 1 : 0);
        return _referees.length > parties;
    }

    /// @dev The request, which must exist and be unanswered.
    function _openRequest(uint256 requestId) internal view returns (Request storage r) {
        r = _requests[requestId];
        // INVARIANT: actions apply only to requests the game made.
        if (r.drawBlock == 0) revert UnknownRequest(requestId);
        // INVARIANT: a request is answered once.
        if (r.done) revert RequestDone(requestId);
    }

    /// @dev Removes `referee` from the set by moving the last seat into its place.
    function _remove(address referee) internal {
        uint256 index = _positions[referee] - 1;
        address last = _referees[_referees.length - 1];
        _referees[index] = last;
        _positions[last] = index + 1;
        _referees.pop();
        delete _positions[referee];
    }

    /// @dev Adds `amount` to what `account` can claim.
    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        credits[account] += amount;
        totalCredits += amount;
    }
}
