// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Credits} from "./Credits.sol";
import {IDisputeGame} from "./interfaces/IDisputeGame.sol";
import {IMarket} from "./interfaces/IMarket.sol";
import {IStepVerifier} from "./interfaces/IStepVerifier.sol";

/// @title DisputeGame
/// @notice ARITY-way bisection over the steps between two checkpoints, then one step adjudicated by the step
///         verifier; chess clocks so that no dispute can stall; the loser's bond goes to the winner.
///         Every state has an exit: the parties' clocks (`claimTimeout`), the verifier's answer
///         (`stepVerified`), or its no-verdict exit (`stepUnresolved`, no winner, bond back).
/// @dev Must be the market's dispute game and the step verifier's game.
contract DisputeGame is IDisputeGame, Credits {
    /// @inheritdoc IDisputeGame
    IMarket public immutable market;

    /// @inheritdoc IDisputeGame
    IStepVerifier public immutable stepVerifier;

    /// @inheritdoc IDisputeGame
    uint256 public immutable challengeBond;

    /// @inheritdoc IDisputeGame
    uint64 public immutable clockDuration;

    /// @inheritdoc IDisputeGame
    uint256 public immutable availabilityBond;

    /// @inheritdoc IDisputeGame
    uint256 public disputeCount;

    /// @inheritdoc IDisputeGame
    uint256 public totalBonds;

    /// @inheritdoc IDisputeGame
    uint64 public constant MAX_CLOCK = 30 days;

    /// @inheritdoc IDisputeGame
    uint64 public constant GENESIS_STEP = type(uint64).max;

    /// @inheritdoc IDisputeGame
    uint64 public constant ARITY = 16;

    /// @inheritdoc IDisputeGame
    mapping(uint256 jobId => uint256 disputeId) public decisiveDispute;

    mapping(uint256 disputeId => Dispute) private _disputes;

    mapping(uint256 jobId => uint256[] disputeIds) private _heldBonds;

    mapping(uint256 jobId => uint256[] disputeIds) private _disputesOf;

    /// @param market_ The market whose results are disputed; this game must be set as its dispute game.
    /// @param stepVerifier_ Adjudicates the final single step.
    /// @param challengeBond_ Wei a challenger posts, exactly; it goes to the winner.
    /// @param clockDuration_ Seconds on each party's chess clock.
    constructor(IMarket market_, IStepVerifier stepVerifier_, uint256 challengeBond_, uint64 clockDuration_) {
        // INVARIANT: the game acts on a real market and a real step verifier.
        if (address(market_) == address(0) || address(stepVerifier_) == address(0)) revert ZeroAddress();
        // INVARIANT: a challenge always risks something, so challenging honest solvers has a price.
        if (challengeBond_ == 0) revert ZeroChallengeBond();
        // INVARIANT: each party gets time to move.
        if (clockDuration_ == 0) revert ZeroClockDuration();
        // INVARIANT: a dispute, and so the job it holds open, ends in bounded time.
        if (clockDuration_ > MAX_CLOCK) revert ClockTooLong(clockDuration_, MAX_CLOCK);
        market = market_;
        stepVerifier = stepVerifier_;
        challengeBond = challengeBond_;
        clockDuration = clockDuration_;
        // A tenth: demanding data is cheap for an honest verifier; a frivolous demand still loses it.
        availabilityBond = challengeBond_ / 10 == 0 ? 1 : challengeBond_ / 10;
    }

    /// @inheritdoc IDisputeGame
    function challenge(
        uint256 jobId,
        uint64 index,
        bytes32 agreedHash,
        bytes32[] calldata agreedProof,
        bytes32 solverHash,
        bytes32[] calldata solverProof,
        bytes32 challengerHash
    ) external payable returns (uint256 disputeId) {
        disputeId = ++disputeCount;
        Dispute storage d = _disputes[disputeId];
        // The only external call is the immutable market's openDispute (ours, wired at construction; it calls
        // nothing but the audit's window getter), so nothing can re-enter before the dispute is written.
        // slither-disable-next-line reentrancy-no-eth
        _openInterval(d, jobId, index, agreedHash, agreedProof, solverHash, solverProof);
        // INVARIANT: a dispute needs a disagreement.
        if (challengerHash == solverHash) revert NoDisagreement();
        d.challengerHash = challengerHash;
        _start(disputeId, d, d.hi - d.lo > 1 ? Phase.Reveal : Phase.Serve);
        emit DisputeOpened(disputeId, jobId, msg.sender, d.lo, d.hi, challengerHash);
    }

    /// @inheritdoc IDisputeGame
    function challengeGenesis(uint256 jobId, bytes32 solverHash, bytes32[] calldata solverProof, bytes32 challengerHash)
        external
        payable
        returns (uint256 disputeId)
    {
        // The external calls are to the immutable market (openDispute, as in `challenge`) and the immutable step
        // verifier (the court: it records the request and calls nothing back), both ours, wired at construction.
        // slither-disable-next-line reentrancy-no-eth
        (address solver,,) = _openChallenge(jobId, challengeBond);
        // INVARIANT: the disputed hash is the solver's own leaf 0, and there is a disagreement.
        if (!market.verifyCheckpoint(jobId, 0, 0, solverHash, solverProof)) revert BadGenesisProof();
        if (challengerHash == solverHash) revert NoDisagreement();
        disputeId = ++disputeCount;
        Dispute storage d = _disputes[disputeId];
        d.kind = Kind.Genesis;
        d.jobId = uint64(jobId); // the job exists (the market opened its dispute), so its id is at most jobCount
        d.solver = solver;
        d.hiHash = solverHash;
        d.challengerHash = challengerHash;
        // Nobody moves: the step verifier recomputes the state from the spec, which both parties hold.
        _start(disputeId, d, Phase.Adjudicating);
        uint256 requestId =
            stepVerifier.requestStep(disputeId, jobId, GENESIS_STEP, bytes32(0), bytes32(0), solver, msg.sender);
        d.requestId = requestId;
        emit GenesisChallenged(disputeId, jobId, msg.sender, solverHash, challengerHash, requestId);
    }

    /// @inheritdoc IDisputeGame
    function challengeAvailability(uint256 jobId, uint64 index) external payable returns (uint256 disputeId) {
        (address solver, uint64 checkpointCount, uint64 checkpointInterval) = _openChallenge(jobId, availabilityBond);
        // INVARIANT: only a checkpoint the job commits to can be demanded.
        if (index > checkpointCount) revert CheckpointOutOfRange(index, checkpointCount);
        disputeId = ++disputeCount;
        Dispute storage d = _disputes[disputeId];
        d.kind = Kind.Availability;
        d.jobId = uint64(jobId); // the job exists (the market opened its dispute), so its id is at most jobCount
        d.solver = solver;
        d.index = uint32(index); // at most checkpointCount <= MAX_CHECKPOINT_COUNT = 2^20
        d.lo = index * checkpointInterval;
        d.hi = d.lo;
        _start(disputeId, d, Phase.Serve);
        emit AvailabilityChallenged(disputeId, jobId, msg.sender, index);
    }

    /// @inheritdoc IDisputeGame
    function answerAvailability(uint256 disputeId, bytes32 stateHash, bytes32[] calldata proof, bytes32 artifact)
        external
    {
        Dispute storage d = _move(disputeId, Phase.Serve);
        if (d.kind != Kind.Availability) revert WrongKind(Kind.Availability, d.kind);
        // INVARIANT: the answer is the solver's own commitment, and names the bytes to fetch.
        if (!market.verifyCheckpoint(d.jobId, d.index, d.lo, stateHash, proof)) revert BadCheckpointProof();
        if (artifact == bytes32(0)) revert EmptyArtifact();
        d.loHash = stateHash;
        d.hiHash = stateHash;
        d.preStateArtifact = artifact;
        d.phase = Phase.Adjudicating;
        uint256 requestId =
            stepVerifier.requestAvailability(disputeId, d.jobId, d.lo, stateHash, artifact, d.solver, d.challenger);
        d.requestId = requestId;
        emit AvailabilityAnswered(disputeId, d.index, stateHash, artifact, requestId);
    }

    /// @inheritdoc IDisputeGame
    function reveal(uint256 disputeId, bytes32[] calldata hashes) external {
        Dispute storage d = _move(disputeId, Phase.Reveal);
        uint256 count = _segments(d);
        // INVARIANT: one hash per point, so the challenger's pick is over exactly the round's segments.
        if (hashes.length != count - 1) revert WrongPointCount(hashes.length, count - 1);
        // Only their hash is stored (one slot, overwritten each round): the event carries the hashes.
        d.revealed = keccak256(abi.encodePacked(hashes));
        d.phase = Phase.Respond;
        emit Revealed(disputeId, d.lo, d.hi, hashes);
    }

    /// @inheritdoc IDisputeGame
    function respond(uint256 disputeId, bytes32[] calldata hashes, uint256 segment) external {
        Dispute storage d = _move(disputeId, Phase.Respond);
        // INVARIANT: the new ends are the solver's own revealed hashes (or the old, agreed and disputed ends).
        if (keccak256(abi.encodePacked(hashes)) != d.revealed) revert NotRevealed();
        uint256 count = hashes.length + 1;
        if (segment >= count) revert SegmentOutOfRange(segment, count);
        // Keep the invariant: agreed at lo, disputed at hi.
        (uint64 lo, uint64 span) = (d.lo, d.hi - d.lo);
        if (segment > 0) d.loHash = hashes[segment - 1];
        if (segment < count - 1) d.hiHash = hashes[segment];
        d.lo = _point(lo, span, segment, count);
        d.hi = _point(lo, span, segment + 1, count);
        d.phase = d.hi - d.lo == 1 ? Phase.Serve : Phase.Reveal;
        emit Responded(disputeId, segment, d.lo, d.hi);
    }

    /// @inheritdoc IDisputeGame
    function serveState(uint256 disputeId, bytes32 preStateArtifact) external {
        Dispute storage d = _move(disputeId, Phase.Serve);
        if (d.kind != Kind.Fault) revert WrongKind(Kind.Fault, d.kind);
        // INVARIANT: the solver names the bytes it serves.
        if (preStateArtifact == bytes32(0)) revert EmptyArtifact();
        d.preStateArtifact = preStateArtifact;
        d.phase = Phase.Adjudicating;
        uint256 requestId =
            stepVerifier.requestStep(disputeId, d.jobId, d.lo, d.loHash, preStateArtifact, d.solver, d.challenger);
        d.requestId = requestId;
        emit StateServed(disputeId, d.lo, preStateArtifact, requestId);
    }

    /// @inheritdoc IDisputeGame
    function stepVerified(uint256 disputeId, bytes32 postStateHash) external {
        // INVARIANT: only the step verifier adjudicates the step.
        if (msg.sender != address(stepVerifier)) revert NotStepVerifier(msg.sender);
        if (_closedAsMoot(disputeId)) return;
        Dispute storage d = _disputeIn(disputeId, Phase.Adjudicating);
        // A zero answer means the solver did not serve its pre-state: the solver loses.
        _resolve(disputeId, d, postStateHash != bytes32(0) && postStateHash == d.hiHash);
    }

    /// @inheritdoc IDisputeGame
    function stepUnresolved(uint256 disputeId) external {
        // INVARIANT: only the step verifier can say it cannot adjudicate.
        if (msg.sender != address(stepVerifier)) revert NotStepVerifier(msg.sender);
        if (_closedAsMoot(disputeId)) return;
        Dispute storage d = _disputeIn(disputeId, Phase.Adjudicating);
        if (_moot(d)) return _abandon(disputeId, d);
        // INVARIANT: without a verdict nobody loses anything: the bond goes back to the challenger and the
        // market is told the solver won (no slash; the deadline never moved).
        _abandon(disputeId, d);
        market.resolveDispute(d.jobId, true, d.challenger);
    }

    /// @inheritdoc IDisputeGame
    function closeMoot(uint256 disputeId) external {
        Dispute storage d = _disputes[disputeId];
        // INVARIANT: only an open dispute whose job another dispute decided is closed this way.
        if (d.phase == Phase.None || d.phase == Phase.Resolved || !_moot(d)) revert NotMoot(disputeId);
        _abandon(disputeId, d);
    }

    /// @inheritdoc IDisputeGame
    function claimTimeout(uint256 disputeId) external {
        Dispute storage d = _disputes[disputeId];
        if (d.phase == Phase.None) revert UnknownDispute(disputeId);
        (address mover, uint64 clock) = _turn(d);
        // INVARIANT: only a running clock can run out (the step verifier has its own deadlines).
        if (mover == address(0)) revert NoClockRunning(d.phase);
        uint64 elapsed = uint64(block.timestamp) - d.turnStart;
        // INVARIANT: a party loses on time only once its whole clock is used up.
        if (elapsed <= clock) revert ClockNotExpired(clock - elapsed);
        _resolve(disputeId, d, mover == d.challenger);
    }

    /// @inheritdoc IDisputeGame
    function releaseBond(uint256 disputeId) external {
        Dispute storage d = _disputes[disputeId];
        if (!d.bondHeld) revert NoBondHeld(disputeId);
        IMarket.JobState state = market.jobState(d.jobId);
        // INVARIANT: the bond follows the job's outcome, so it waits for it.
        if (
            state != IMarket.JobState.Finalized && state != IMarket.JobState.Unverified
                && state != IMarket.JobState.Slashed
        ) revert JobNotSettled(state);
        d.bondHeld = false;
        uint256 bond = bondOf(disputeId);
        totalBonds -= bond;
        // Approved by a drawn verifier: the data was out during the audit, so the demand was frivolous.
        address to = state == IMarket.JobState.Finalized ? d.solver : d.challenger;
        _credit(to, bond);
        emit BondReleased(disputeId, to, bond);
    }

    /// @inheritdoc IDisputeGame
    function heldBonds(uint256 jobId) external view returns (uint256[] memory) {
        return _heldBonds[jobId];
    }

    /// @inheritdoc IDisputeGame
    function disputesOf(uint256 jobId) external view returns (uint256[] memory) {
        return _disputesOf[jobId];
    }

    /// @inheritdoc IDisputeGame
    function getDispute(uint256 disputeId) external view returns (Dispute memory) {
        return _disputes[disputeId];
    }

    /// @inheritdoc IDisputeGame
    function points(uint256 disputeId) external view returns (uint64[] memory steps) {
        Dispute storage d = _disputes[disputeId];
        if (d.hi <= d.lo) return steps;
        uint256 count = _segments(d);
        steps = new uint64[](count - 1);
        for (uint256 j = 1; j < count; ++j) {
            steps[j - 1] = _point(d.lo, d.hi - d.lo, j, count);
        }
    }

    /// @inheritdoc IDisputeGame
    function bondOf(uint256 disputeId) public view returns (uint256) {
        return _disputes[disputeId].kind == Kind.Availability ? availabilityBond : challengeBond;
    }

    /// @inheritdoc IDisputeGame
    function clocks(uint256 disputeId) external view returns (uint64 solverLeft, uint64 challengerLeft) {
        Dispute storage d = _disputes[disputeId];
        (solverLeft, challengerLeft) = (d.solverClock, d.challengerClock);
        (address mover, uint64 clock) = _turn(d);
        if (mover == address(0)) return (solverLeft, challengerLeft);
        uint64 elapsed = uint64(block.timestamp) - d.turnStart;
        uint64 left = elapsed >= clock ? 0 : clock - elapsed;
        if (mover == d.solver) solverLeft = left;
        else challengerLeft = left;
    }

    /// @inheritdoc IDisputeGame
    function maxRounds(uint64 steps) public pure returns (uint64 rounds) {
        for (uint256 reach = 1; reach < steps; reach *= ARITY) ++rounds;
    }

    /// @dev How many segments this round cuts [lo, hi] into: ARITY, or one per step when fewer are left.
    function _segments(Dispute storage d) internal view returns (uint256) {
        uint64 span = d.hi - d.lo;
        return span < ARITY ? span : ARITY;
    }

    /// @dev Point `j` of `count` cutting `span` steps from `lo` (j = 0: lo, j = count: lo + span); strictly
    ///      increasing in j because count <= span.
    function _point(uint64 lo, uint64 span, uint256 j, uint256 count) internal pure returns (uint64) {
        return lo + uint64(uint256(span) * j / count);
    }

    /// @dev Opens the job's dispute in the market and fills `d` with the interval between checkpoints
    ///      `index` (agreed) and `index + 1` (disputed), both proven against the solver's final root.
    function _openInterval(
        Dispute storage d,
        uint256 jobId,
        uint64 index,
        bytes32 agreedHash,
        bytes32[] calldata agreedProof,
        bytes32 solverHash,
        bytes32[] calldata solverProof
    ) internal {
        (address solver, uint64 checkpointCount, uint64 checkpointInterval) = _openChallenge(jobId, challengeBond);
        // INVARIANT: the disputed checkpoint index + 1 exists.
        if (index >= checkpointCount) revert IndexOutOfRange(index, checkpointCount);
        uint64 lo = index * checkpointInterval;
        uint64 hi = lo + checkpointInterval;
        // INVARIANT: both ends of the interval are the solver's own commitments.
        if (!market.verifyCheckpoint(jobId, index, lo, agreedHash, agreedProof)) revert BadAgreedProof();
        if (!market.verifyCheckpoint(jobId, index + 1, hi, solverHash, solverProof)) revert BadDisputedProof();
        d.jobId = uint64(jobId); // the job exists (the market opened its dispute), so its id is at most jobCount
        d.solver = solver;
        d.index = uint32(index); // below checkpointCount <= MAX_CHECKPOINT_COUNT = 2^20
        d.lo = lo;
        d.hi = hi;
        d.loHash = agreedHash;
        d.hiHash = solverHash;
    }

    /// @dev Takes exactly `bond` and opens a dispute of `jobId` in the market (only a Submitted or Disputed job
    ///      inside its challenge window), for anyone but its solver; the job's solver and checkpoints.
    function _openChallenge(uint256 jobId, uint256 bond)
        internal
        returns (address solver, uint64 checkpointCount, uint64 checkpointInterval)
    {
        // INVARIANT: bonds match exactly, so the ledger always equals the balance.
        if (msg.value != bond) revert WrongBond(msg.value, bond);
        (solver, checkpointCount, checkpointInterval) = market.openDispute(jobId);
        // INVARIANT: a solver cannot dispute (and so delay) its own result.
        if (msg.sender == solver) revert SolverCannotChallenge();
    }

    /// @dev Starts the clocks of a new dispute opened by msg.sender and takes its bond.
    function _start(uint256 disputeId, Dispute storage d, Phase phase) internal {
        d.challenger = msg.sender;
        d.solverClock = clockDuration;
        d.challengerClock = clockDuration;
        d.turnStart = uint64(block.timestamp);
        d.phase = phase;
        _disputesOf[d.jobId].push(disputeId);
        totalBonds += msg.value;
    }

    /// @dev The dispute, which must exist and be in `expected`; the caller must be the party to move and
    ///      within its clock, which is charged the time since `turnStart`; the next turn starts now.
    function _move(uint256 disputeId, Phase expected) internal returns (Dispute storage d) {
        d = _disputeIn(disputeId, expected);
        (address mover, uint64 clock) = _turn(d);
        // INVARIANT: the parties move in turn: the solver reveals and serves, the challenger responds.
        if (msg.sender != mover) revert NotYourTurn(mover);
        uint64 elapsed = uint64(block.timestamp) - d.turnStart;
        // INVARIANT: a move counts only within the mover's clock; after it the other party has won.
        if (elapsed > clock) revert ClockExpired();
        if (mover == d.solver) d.solverClock = clock - elapsed;
        else d.challengerClock = clock - elapsed;
        d.turnStart = uint64(block.timestamp);
    }

    /// @dev The dispute, which must exist and be in phase `expected`.
    function _disputeIn(uint256 disputeId, Phase expected) internal view returns (Dispute storage d) {
        d = _disputes[disputeId];
        // INVARIANT: moves apply only to disputes that were opened.
        if (d.phase == Phase.None) revert UnknownDispute(disputeId);
        // INVARIANT: each move is valid in exactly one phase.
        if (d.phase != expected) revert WrongPhase(expected, d.phase);
    }

    /// @dev The party whose clock runs now and its clock as of turnStart (zero address: no clock runs).
    function _turn(Dispute storage d) internal view returns (address mover, uint64 clock) {
        if (d.phase == Phase.Reveal || d.phase == Phase.Serve) return (d.solver, d.solverClock);
        if (d.phase == Phase.Respond) return (d.challenger, d.challengerClock);
        return (address(0), 0);
    }

    /// @dev Ends the dispute: the bond goes to the winner and the market settles the job.
    function _resolve(uint256 disputeId, Dispute storage d, bool solverWins) internal {
        // Another dispute already slashed the solver: this one has nothing left to decide.
        if (_moot(d)) return _abandon(disputeId, d);
        d.phase = Phase.Resolved;
        d.solverWon = solverWins;
        if (!solverWins) decisiveDispute[d.jobId] = disputeId;
        if (solverWins && d.kind == Kind.Availability) {
            // Whether the data was out before the demand cannot be shown on chain; the job's end tells:
            // held until then (`releaseBond`).
            d.bondHeld = true;
            _heldBonds[d.jobId].push(disputeId);
        } else {
            uint256 bond = bondOf(disputeId);
            totalBonds -= bond;
            _credit(solverWins ? d.solver : d.challenger, bond);
        }
        market.resolveDispute(d.jobId, solverWins, d.challenger);
        emit DisputeResolved(disputeId, d.jobId, solverWins);
    }

    /// @dev Ends the dispute with no winner: the bond goes back to the challenger.
    function _abandon(uint256 disputeId, Dispute storage d) internal {
        d.phase = Phase.Resolved;
        d.abandoned = true;
        uint256 bond = bondOf(disputeId);
        totalBonds -= bond;
        _credit(d.challenger, bond);
        emit DisputeAbandoned(disputeId, d.jobId);
    }

    /// @dev Whether another dispute of the same job already slashed its solver.
    function _moot(Dispute storage d) internal view returns (bool) {
        return market.jobState(d.jobId) == IMarket.JobState.Slashed;
    }

    /// @dev Whether the dispute was closed (abandoned) before its step verifier answered.
    function _closedAsMoot(uint256 disputeId) internal view returns (bool) {
        Dispute storage d = _disputes[disputeId];
        return d.phase == Phase.Resolved && d.abandoned;
    }
}
