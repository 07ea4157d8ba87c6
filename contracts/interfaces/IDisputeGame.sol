// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ICredits} from "./ICredits.sol";
import {IMarket} from "./IMarket.sol";
import {IStepVerifier} from "./IStepVerifier.sol";

/// @title IDisputeGame
/// @notice Proves a wrong checkpoint without replaying the job. The challenger names checkpoint `index`,
///         which it agrees with, and checkpoint `index + 1`, which it disputes (both proven against the
///         solver's final root); the parties narrow the steps in between, ARITY ways a round (the solver
///         reveals its state hashes at the points that cut [lo, hi] into up to ARITY segments, the challenger
///         picks a segment whose start it agrees with and whose end it disputes) until one step is left; the
///         solver serves
///         its state before that step and the step verifier computes the true state after it. The solver
///         wins iff that equals its claim. Each party has a chess clock; running out loses.
/// @dev Bisection invariant: the parties agree on `loHash` at step `lo` and disagree on step `hi`, where
///      the solver claims `hiHash`. Each round divides hi - lo by up to ARITY, so a game takes at most
///      ceil(log_ARITY(interval)) rounds of two transactions (`maxRounds`). The challenger's bond goes to the winner: back to an honest challenger (which is also paid
///      half the slashed stake by the market), or to the solver it wrongly challenged.
///      An availability dispute (`challengeAvailability`) demands one checkpoint: the solver must answer
///      within its clock with the checkpoint's state hash, proven against its final root, and the id of
///      bytes that the step verifier then fetches and hashes (v1: a drawn referee attests it; a DA layer
///      can replace it behind IStepVerifier). Unanswered or unfetchable: the solver is slashed as a cheater.
///      Every state has an exit: Reveal/Respond/Serve end by `claimTimeout`; Adjudicating ends by the step
///      verifier's answer (`stepVerified`) or, when it cannot answer (no referee can be drawn), by
///      `stepUnresolved`: no winner, the bond back to the challenger, nobody slashed.
///      Accounting invariant: address(this).balance == totalBonds() + totalCredits().
interface IDisputeGame is ICredits {
    /// @notice Where a dispute stands. Reveal: the solver's move; Respond: the challenger's; Serve: the
    ///         solver's (one step left); Adjudicating: the step verifier's.
    enum Phase {
        None,
        Reveal,
        Respond,
        Serve,
        Adjudicating,
        Resolved
    }

    /// @notice What a dispute is about: a wrong checkpoint (bisection), an unavailable one, or a wrong initial
    ///         state (leaf 0, which no step leads to: the step verifier recomputes it from the spec).
    enum Kind {
        Fault,
        Availability,
        Genesis
    }

    /// @notice One dispute, packed so that a challenge writes six slots. lo/hi are step numbers; the clocks
    ///         are the seconds each party has left as of `turnStart` (the clock of the party whose turn it is
    ///         runs from there). Its bond is `bondOf(disputeId)`.
    struct Dispute {
        address solver;
        uint64 lo;
        Phase phase;
        Kind kind;
        bool solverWon;
        /// @dev Resolved with no winner: the step verifier could not adjudicate (`stepUnresolved`);
        ///      solverWon is false but the solver was not slashed.
        bool abandoned;
        address challenger;
        uint64 hi;
        /// @dev Fault: the agreed checkpoint (interval `index` is disputed); Availability: the demanded one.
        uint32 index;
        uint64 jobId;
        uint64 solverClock;
        uint64 challengerClock;
        uint64 turnStart;
        /// @dev The state hash both parties agree on at step `lo`.
        bytes32 loHash;
        /// @dev The solver's claimed state hash at step `hi`.
        bytes32 hiHash;
        /// @dev keccak256 of the state hashes the solver revealed at `points(disputeId)` (Respond phase).
        bytes32 revealed;
        /// @dev Fault: the challenger's state hash at checkpoint index + 1.
        bytes32 challengerHash;
        /// @dev sha256 of the safetensors bytes of the solver's state at step `lo` (Serve phase).
        bytes32 preStateArtifact;
        /// @dev The step verifier's request id (Adjudicating phase).
        uint256 requestId;
        /// @dev An answered availability demand: the bond waits for the job's outcome (`releaseBond`).
        bool bondHeld;
    }

    /// @notice The zero address was given where a contract address is required.
    error ZeroAddress();
    /// @notice The challenge bond must be positive.
    error ZeroChallengeBond();
    /// @notice The parties' clocks must have a length.
    error ZeroClockDuration();
    /// @notice A challenge must send exactly the challenge bond.
    error WrongBond(uint256 sent, uint256 required);
    /// @notice The solver cannot challenge its own result.
    error SolverCannotChallenge();
    /// @notice The disputed checkpoint `index + 1` must exist: index < checkpointCount.
    error IndexOutOfRange(uint64 index, uint64 checkpointCount);
    /// @notice The agreed checkpoint `index` is not under the solver's final root.
    error BadAgreedProof();
    /// @notice The disputed checkpoint `index + 1` is not under the solver's final root.
    error BadDisputedProof();
    /// @notice The challenger's hash equals the solver's: there is nothing to dispute.
    error NoDisagreement();
    /// @notice A reveal must hold one state hash per point of `points(disputeId)`.
    error WrongPointCount(uint256 given, uint256 expected);
    /// @notice The hashes a response names are not the ones the solver revealed.
    error NotRevealed();
    /// @notice The picked segment does not exist: segment < count.
    error SegmentOutOfRange(uint256 segment, uint256 count);
    /// @notice No dispute has this id.
    error UnknownDispute(uint256 disputeId);
    /// @notice The clock is longer than MAX_CLOCK.
    error ClockTooLong(uint64 clockDuration, uint64 maximum);
    /// @notice The dispute is not moot: it is closed, or its job was not decided by another dispute.
    error NotMoot(uint256 disputeId);
    /// @notice The move belongs to another phase.
    error WrongPhase(Phase expected, Phase actual);
    /// @notice The move is `expected`'s to make.
    error NotYourTurn(address expected);
    /// @notice The mover's clock ran out: anyone can now claim the timeout.
    error ClockExpired();
    /// @notice The clock of the party to move still has `remaining` seconds.
    error ClockNotExpired(uint64 remaining);
    /// @notice No party's clock runs in this phase (Adjudicating waits on the step verifier).
    error NoClockRunning(Phase phase);
    /// @notice The served artifact id is zero.
    error EmptyArtifact();
    /// @notice The caller is not the step verifier.
    error NotStepVerifier(address caller);
    /// @notice The dispute holds no bond waiting for its job's outcome.
    error NoBondHeld(uint256 disputeId);
    /// @notice The job has not reached its outcome (Finalized, Unverified or Slashed).
    error JobNotSettled(IMarket.JobState state);
    /// @notice The move belongs to another kind of dispute.
    error WrongKind(Kind expected, Kind actual);
    /// @notice The solver's initial state hash is not its leaf 0.
    error BadGenesisProof();
    /// @notice The demanded checkpoint does not exist: index <= checkpointCount.
    error CheckpointOutOfRange(uint64 index, uint64 checkpointCount);
    /// @notice The answered state hash is not the solver's leaf for the demanded checkpoint.
    error BadCheckpointProof();

    event DisputeOpened(
        uint256 indexed disputeId,
        uint256 indexed jobId,
        address indexed challenger,
        uint64 lo,
        uint64 hi,
        bytes32 challengerHash
    );
    /// @notice The solver's state hashes at `points(disputeId)` of the round over [lo, hi].
    event Revealed(uint256 indexed disputeId, uint64 lo, uint64 hi, bytes32[] hashes);
    /// @notice The challenger picked `segment`: the dispute is now over [lo, hi].
    event Responded(uint256 indexed disputeId, uint256 segment, uint64 lo, uint64 hi);
    event StateServed(uint256 indexed disputeId, uint64 step, bytes32 preStateArtifact, uint256 requestId);
    event DisputeResolved(uint256 indexed disputeId, uint256 indexed jobId, bool solverWon);
    /// @notice Checkpoint `index` of the job is demanded: the solver must answer within its clock.
    event AvailabilityChallenged(uint256 indexed disputeId, uint256 indexed jobId, address indexed challenger, uint64 index);
    /// @notice A held availability bond went to `to`: the solver if the job was Finalized, else the challenger.
    event BondReleased(uint256 indexed disputeId, address indexed to, uint256 amount);
    /// @notice The solver's initial state (leaf 0, `solverHash`) is disputed: the step verifier recomputes it
    ///         from the spec as the step GENESIS_STEP (request `requestId`).
    event GenesisChallenged(
        uint256 indexed disputeId,
        uint256 indexed jobId,
        address indexed challenger,
        bytes32 solverHash,
        bytes32 challengerHash,
        uint256 requestId
    );
    /// @notice The solver proved the checkpoint's state hash and named its bytes; the step verifier checks them.
    event AvailabilityAnswered(uint256 indexed disputeId, uint64 index, bytes32 stateHash, bytes32 artifact, uint256 requestId);
    /// @notice The dispute ended with no winner and the bond back to the challenger: the step verifier could
    ///         not adjudicate, or another dispute of the same job had already slashed the solver (moot).
    event DisputeAbandoned(uint256 indexed disputeId, uint256 indexed jobId);

    /// @notice Opens a dispute over checkpoint `index + 1` of a Submitted (or already Disputed) job, inside
    ///         its challenge window, with msg.value == challengeBond. Any number of disputes of one job may
    ///         be open at once, so nobody can keep an honest challenger out; the first that proves the
    ///         solver wrong slashes it, and the others become moot (`closeMoot`: bonds back).
    /// @param index The last checkpoint the challenger agrees with (0 = the initial state).
    /// @param agreedHash The solver's state hash at checkpoint `index`, with its proof against the final root.
    /// @param solverHash The solver's state hash at checkpoint `index + 1`, with its proof.
    /// @param challengerHash The challenger's (different) state hash at checkpoint `index + 1`.
    function challenge(
        uint256 jobId,
        uint64 index,
        bytes32 agreedHash,
        bytes32[] calldata agreedProof,
        bytes32 solverHash,
        bytes32[] calldata solverProof,
        bytes32 challengerHash
    ) external payable returns (uint256 disputeId);

    /// @notice Disputes the solver's initial state (leaf 0) of a Submitted (or already Disputed) job, in the
    ///         same window and with the same bond as `challenge`. No step leads to it, so nothing is bisected:
    ///         the step verifier recomputes it from the spec alone (the model drawn from the seed, or the
    ///         starting weights the spec names by hash) as the step GENESIS_STEP, and the solver wins iff the
    ///         answer is `solverHash`. Without this, a solver could train honestly from a state of its choosing
    ///         (weights with a backdoor, say) and every interval would replay.
    /// @param solverHash The solver's state hash at checkpoint 0, with its proof against the final root.
    /// @param challengerHash The challenger's (different) initial state hash.
    function challengeGenesis(uint256 jobId, bytes32 solverHash, bytes32[] calldata solverProof, bytes32 challengerHash)
        external
        payable
        returns (uint256 disputeId);

    /// @notice Demands checkpoint `index` of a Submitted job (in the same window as `challenge`), with
    ///         msg.value == availabilityBond: the job moves to Disputed and the solver's clock runs (phase
    ///         Serve). Unanswered or unfetchable: the solver is slashed and the bond returned. Answered: the
    ///         job goes on, and the bond is held until the job ends (`releaseBond`): nobody can show on chain
    ///         whether the data was out before the demand, but the audit can: if a drawn verifier approved
    ///         the result (Finalized) the data was out and the demand frivolous, so the solver gets the bond;
    ///         otherwise (Unverified, Slashed) the challenger gets it back.
    function challengeAvailability(uint256 jobId, uint64 index) external payable returns (uint256 disputeId);

    /// @notice The solver's answer to an availability dispute: the checkpoint's state hash with its proof
    ///         against the final root, and the id (sha256) of its bytes in the artifact store. The step
    ///         verifier fetches them; the solver wins iff it reports that they hash to `stateHash`.
    ///         Phase Serve, within the solver's clock.
    function answerAvailability(uint256 disputeId, bytes32 stateHash, bytes32[] calldata proof, bytes32 artifact)
        external;

    /// @notice Pays out the held bond of an answered availability demand once its job has ended: to the solver
    ///         if the job was Finalized, else back to the challenger. Anyone may call.
    function releaseBond(uint256 disputeId) external;

    /// @notice The availability disputes of `jobId` whose bonds were ever held (released ones included).
    function heldBonds(uint256 jobId) external view returns (uint256[] memory);

    /// @notice The solver reveals its state hashes at `points(disputeId)`, in order (only their keccak256 is
    ///         stored; the event carries them). Phase Reveal, within its clock.
    function reveal(uint256 disputeId, bytes32[] calldata hashes) external;

    /// @notice The challenger picks segment `segment` of the round: with p_0 = lo, p_1..p_{n-1} = points and
    ///         p_n = hi, it agrees with the state at p_segment and disputes the one at p_{segment+1}, which
    ///         become the new lo and hi. `hashes` are the solver's revealed ones (checked against their hash).
    ///         Phase Respond, within its clock. One step left -> Serve, else -> Reveal.
    function respond(uint256 disputeId, bytes32[] calldata hashes, uint256 segment) external;

    /// @notice The solver names the artifact holding its state at step `lo` (uploaded to the artifact
    ///         store) and the step goes to the step verifier. Phase Serve, within its clock.
    function serveState(uint256 disputeId, bytes32 preStateArtifact) external;

    /// @notice The step verifier's answer: the solver wins iff postStateHash != 0 && == hiHash. An answer
    ///         for a dispute already closed as moot is ignored (the step verifier is never stranded).
    function stepVerified(uint256 disputeId, bytes32 postStateHash) external;

    /// @notice The step verifier's exit when it cannot answer (v1: no referee other than the parties exists):
    ///         the dispute is Resolved with `abandoned` set and no winner. The challenger's bond is credited
    ///         back to it, and the market treats the job as if the solver had won (nobody is slashed without
    ///         a verdict; the challenge deadline never moved, so others could challenge meanwhile). Step
    ///         verifier only, phase Adjudicating; ignored for a dispute already closed as moot.
    function stepUnresolved(uint256 disputeId) external;

    /// @notice Closes an open dispute whose job another dispute already slashed: no winner, the bond back to
    ///         the challenger (its claim may have been right; the solver is punished once). Anyone may call.
    function closeMoot(uint256 disputeId) external;

    /// @notice When the party to move (solver in Reveal/Serve, challenger in Respond) has used up its
    ///         clock, the other party wins. Anyone may call.
    function claimTimeout(uint256 disputeId) external;

    function market() external view returns (IMarket);

    function stepVerifier() external view returns (IStepVerifier);

    /// @notice The bond a challenger posts, exactly.
    function challengeBond() external view returns (uint256);

    /// @notice The bond of an availability challenge: challengeBond / 10 (at least 1 wei): demanding data
    ///         is cheap for an honest verifier, and a frivolous demand still loses it.
    function availabilityBond() external view returns (uint256);

    /// @notice Seconds on each party's clock when a dispute opens.
    function clockDuration() external view returns (uint64);

    function getDispute(uint256 disputeId) external view returns (Dispute memory);

    /// @notice Number of disputes; also the id of the latest one (ids start at 1).
    function disputeCount() external view returns (uint256);

    /// @notice The dispute that slashed `jobId`'s solver (0 if none).
    function decisiveDispute(uint256 jobId) external view returns (uint256 disputeId);

    /// @notice Every dispute ever opened over `jobId`, oldest first (the market counts the open ones).
    function disputesOf(uint256 jobId) external view returns (uint256[] memory);

    /// @notice The step a genesis dispute asks the step verifier for: "the initial state, from the spec".
    function GENESIS_STEP() external view returns (uint64);

    /// @notice The longest clock a deployment may give each party (30 days): bounds how long a dispute,
    ///         and so the job it holds, can last.
    function MAX_CLOCK() external view returns (uint64);

    /// @notice The steps whose state hashes the solver reveals next: lo + (hi - lo) * j / n for j = 1..n-1,
    ///         where n = min(ARITY, hi - lo) segments.
    function points(uint256 disputeId) external view returns (uint64[] memory);

    /// @notice The most segments a round cuts [lo, hi] into (16).
    function ARITY() external view returns (uint64);

    /// @notice What the dispute's challenger posted: challengeBond, or availabilityBond for an availability
    ///         dispute.
    function bondOf(uint256 disputeId) external view returns (uint256);

    /// @notice Seconds each party has left now, counting the running turn.
    function clocks(uint256 disputeId) external view returns (uint64 solverLeft, uint64 challengerLeft);

    function totalBonds() external view returns (uint256);

    /// @notice Most rounds a dispute over `steps` steps can take: ceil(log_ARITY(steps)).
    function maxRounds(uint64 steps) external pure returns (uint64);
}
