// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ICredits} from "./ICredits.sol";
import {IStepVerifier} from "./IStepVerifier.sol";

/// @title IRefereeCourt
/// @notice v1 step verifier: a stake-weighted panel of bonded referees per request, answering by
///         commit-reveal; the answer with the most revealed stake is the verdict. Wrong, unrevealed and
///         silent panel members lose their whole bond to the two parties of the request.
/// @dev The rules, and why:
///      - Registry with history. A referee's stake is checkpointed by block number, per referee and in
///        total. `requestExit` stops it counting at once, but it stays slashable for `exitDelay` seconds.
///      - Panel fixed before anyone can react. A request reads stakes as they were at `snapshotBlock`
///        (the block before the request's), so nothing registered in or after the request's block counts;
///        the seed is the hash of `seedBlock` (the block after the request's), which did not exist when
///        the stakes were fixed. `draw` fixes the seed and opens the commit window.
///      - Stake-weighted seats. A referee with snapshot stake s sits iff keccak(seed, referee) % T <
///        panelSize * s (T: total snapshot stake), or surely if panelSize * s >= T: the expected number of
///        seats is about panelSize, and splitting stake across addresses buys no weight (below the sure
///        seat cap). The request's solver and challenger never sit.
///      - Commit-reveal. Panel members commit keccak256(abi.encode(requestId, referee, answer, salt)) within
///        `answerWindow` after the draw and reveal within the next `answerWindow`, so nobody copies.
///        A reveal adds the referee's snapshot stake to its answer's tally; the leader is tracked as reveals
///        arrive (no loop over referees). Ties: the answer that led first keeps the lead.
///      - Decision. After the reveal window anyone calls `decide`: the leading answer is PROPOSED, and either
///        party may `appeal` it within `answerWindow` (with `appealBond`: minBond * the next panel size).
///        An appeal opens a new round with a larger expected panel (2 * previous + 1: 3 -> 7 -> 15), from a
///        fresh snapshot and seed, with its own tally; at most MAX_APPEALS per request. `decide` after an
///        unappealed appeal window finalizes: the proposed verdict goes to the game (`stepVerified`).
///        A round where nobody revealed is redrawn (fresh snapshot, fresh seed), up to MAX_ROUNDS rounds in
///        all (appeals included); after the last empty round, or when nobody but the parties has stake at the
///        snapshot (after one `answerWindow`), the last proposed verdict stands (final), or with none the
///        request is abandoned (`stepUnresolved`: no winner, the game refunds the challenger).
///      - Appeal bonds settle at finalization: an appeal against an answer that is not the final verdict
///        gets its bond back; a frivolous one (the verdict it appealed stands) pays it to the other party.
///      - Slashing. After the decision anyone calls `slash(requestId, referee)` for a panel member (of any
///        round of the request, appeal rounds included) that revealed another answer than the FINAL verdict
///        (so a captured panel overturned on appeal is slashed, its honest minority is not), committed without revealing,
///        or never committed. The whole bond it had at that round's snapshot (capped by what it still holds,
///        counted or exiting) goes half to the solver and half to the challenger (odd wei to the
///        challenger), never to the caller: a silent referee gains nothing by reporting itself.
///        Silence is slashed even when the request ends abandoned; the parties of the dispute are not
///        (without a verdict nobody in the game loses).
///      - Referees are not paid in this version: revealing the verdict only keeps the bond.
///      Limits: the producer of `seedBlock` can bias the draw (withhold a block); a coalition holding the
///      larger revealed stake on the last appeal panel (expected 15 seats of stake-weighted draws, i.e. near
///      a majority of all referee stake) decides the verdict. Stake exited at a round's snapshot stays
///      slashable for `exitDelay`, which the constructor holds at 4 * MAX_ROUNDS * answerWindow or more: the
///      longest a request can stay open (draw, commit, reveal and appeal windows of every round), so a
///      member of an early, overturned panel cannot withdraw before the final verdict.
///      Accounting invariant: address(this).balance == totalStake() + totalExiting() + totalAppealBonds()
///      + totalCredits() (totalBonds() is the sum of the first three).
interface IRefereeCourt is IStepVerifier, ICredits {
    /// @notice One step (or availability) request and the state of its current round.
    struct Request {
        uint256 disputeId;
        uint256 jobId;
        uint64 step;
        bytes32 preStateHash;
        bytes32 preStateArtifact;
        address solver;
        address challenger;
        /// @dev An availability check: no step to run; the panel fetches `preStateArtifact`, checks it is
        ///      the checkpoint at `step` and answers its state hash (which must equal `preStateHash`).
        bool availability;
        /// @dev Stakes count as of this block (the one before the request's, or before the last rearm or round).
        uint64 snapshotBlock;
        /// @dev The block whose hash seeds the current round's panel.
        uint64 seedBlock;
        /// @dev When the current round was armed; `draw` is due within answerWindow after it.
        uint64 armedAt;
        /// @dev keccak256(abi.encode(blockhash(seedBlock), requestId, round)); zero until drawn.
        bytes32 seed;
        /// @dev The current round, 1..MAX_ROUNDS.
        uint64 round;
        /// @dev Panel members commit while block.timestamp <= commitDeadline (zero until drawn).
        uint64 commitDeadline;
        /// @dev Then reveal while block.timestamp <= revealDeadline; `decide` after it.
        uint64 revealDeadline;
        /// @dev The answer with the most revealed stake so far in this round, and that stake.
        bytes32 leadingAnswer;
        uint256 leadingStake;
        /// @dev Appeals made so far (0..MAX_APPEALS); the current round's expected panel is panelSizeOf.
        uint64 appeals;
        /// @dev A verdict was proposed (by the latest round with reveals); `proposed` is valid iff set.
        bool hasProposal;
        bytes32 proposed;
        /// @dev The proposal can be appealed while block.timestamp <= appealDeadline; zero while none awaits.
        uint64 appealDeadline;
        /// @dev Decided: answered (`hasVerdict`) or abandoned.
        bool done;
        bool hasVerdict;
        /// @dev The verdict sent to the game (valid iff hasVerdict; zero is a real answer: unavailable).
        bytes32 verdict;
    }

    /// @notice One round's draw, kept for slashing its silent panel members later.
    struct Round {
        bytes32 seed;
        uint64 snapshotBlock;
        /// @dev The expected panel size the round was drawn with.
        uint256 panelSize;
    }

    /// @notice One appeal of a request: who, the bond it holds until finalization, the answer appealed against.
    struct Appeal {
        address appellant;
        uint256 bond;
        bytes32 against;
    }

    /// @notice A referee's answer in one round of a request.
    struct Vote {
        bytes32 commitment;
        bool revealed;
        bytes32 answer;
    }

    /// @notice The zero address was given where an address is required.
    error ZeroAddress();
    /// @notice The caller is not the dispute game.
    error NotGame(address caller);
    /// @notice The minimum bond must be positive.
    error ZeroMinBond();
    /// @notice `answerWindow` must be in [1, MAX_ANSWER_WINDOW].
    error AnswerWindowOutOfRange(uint64 answerWindow);
    /// @notice `exitDelay` must be in [4 * MAX_ROUNDS * answerWindow, MAX_EXIT_DELAY].
    error ExitDelayOutOfRange(uint64 exitDelay);
    /// @notice `panelSize` must be in [1, MAX_PANEL_SIZE].
    error PanelSizeOutOfRange(uint256 panelSize);
    /// @notice Registering needs some value.
    error NoFunds();
    /// @notice The referee's stake after this registration would be below the minimum.
    error BondTooLow(uint256 stake, uint256 minBond);
    /// @notice The caller has no counted stake.
    error NotRegistered(address account);
    /// @notice The caller has no exiting stake.
    error NoPendingExit();
    /// @notice Exiting stake can be withdrawn from `availableAt`.
    error ExitNotReady(uint64 availableAt);
    /// @notice No request has this id.
    error UnknownRequest(uint256 requestId);
    /// @notice The request was decided already.
    error RequestDone(uint256 requestId);
    /// @notice The request is not decided yet.
    error NotDecided(uint256 requestId);
    /// @notice The draw needs the hash of `seedBlock`: wait until a later block.
    error DrawTooEarly(uint64 seedBlock);
    /// @notice This round's panel is drawn already.
    error AlreadyDrawn(uint256 requestId);
    /// @notice The panel is not drawn yet: call `draw` first.
    error NotDrawn(uint256 requestId);
    /// @notice Nobody but the request's parties had stake at the snapshot.
    error NoEligibleReferee();
    /// @notice The caller is not on the current round's panel.
    error NotOnPanel(address account);
    /// @notice A commitment must be non-zero.
    error EmptyCommitment();
    /// @notice The caller committed already in this round.
    error AlreadyCommitted();
    /// @notice The caller did not commit in this round.
    error NotCommitted();
    /// @notice The caller revealed already.
    error AlreadyRevealed();
    /// @notice The revealed answer and salt do not hash to the commitment.
    error CommitmentMismatch();
    /// @notice The commit window ended at `commitDeadline`.
    error CommitClosed(uint64 commitDeadline);
    /// @notice Reveals open after `commitDeadline`.
    error CommitOpen(uint64 commitDeadline);
    /// @notice The reveal window ended at `revealDeadline`.
    error RevealClosed(uint64 revealDeadline);
    /// @notice `decide` is possible once block.timestamp > `at`.
    error DecideTooEarly(uint64 at);
    /// @notice The referee was slashed for this request already.
    error AlreadySlashed(address referee);
    /// @notice The referee sat on no panel of this request, or answered the verdict.
    error NotSlashable(address referee);
    /// @notice No proposed verdict awaits appeals.
    error NothingToAppeal(uint256 requestId);
    /// @notice The appeal window ended at `appealDeadline`.
    error AppealClosed(uint64 appealDeadline);
    /// @notice Only the request's solver or challenger appeals.
    error NotParty(address account);
    /// @notice MAX_APPEALS (or MAX_ROUNDS) reached.
    error NoAppealLeft(uint256 requestId);
    /// @notice An appeal carries exactly `appealBond`.
    error WrongAppealBond(uint256 value, uint256 appealBond);

    event GameSet(address indexed game);
    event RefereeRegistered(address indexed referee, uint256 amount, uint256 stake);
    event ExitRequested(address indexed referee, uint256 amount, uint64 availableAt);
    event Withdrawn(address indexed referee, uint256 amount);
    event StepRequested(
        uint256 indexed requestId,
        uint256 indexed disputeId,
        uint256 jobId,
        uint64 step,
        bytes32 preStateHash,
        bytes32 preStateArtifact
    );
    /// @notice The round was not drawn in time (or the seed hash is gone): it reads stakes and the seed anew.
    event DrawRearmed(uint256 indexed requestId, uint64 snapshotBlock, uint64 seedBlock);
    event PanelDrawn(uint256 indexed requestId, uint64 round, bytes32 seed, uint64 commitDeadline, uint64 revealDeadline);
    event AnswerCommitted(uint256 indexed requestId, address indexed referee, bytes32 commitment);
    event AnswerRevealed(uint256 indexed requestId, address indexed referee, bytes32 answer, uint256 stake);
    /// @notice Nobody revealed in the round: a new one is armed.
    event RoundEmpty(uint256 indexed requestId, uint64 nextRound, uint64 snapshotBlock, uint64 seedBlock);
    /// @notice The round's leading answer is proposed; the parties may appeal it until `appealDeadline`.
    event VerdictProposed(uint256 indexed requestId, uint64 round, bytes32 answer, uint64 appealDeadline);
    /// @notice A party appealed `against`: round `round` is armed with an expected `panelSize` seats.
    event VerdictAppealed(
        uint256 indexed requestId, address indexed appellant, bytes32 against, uint64 round, uint256 panelSize, uint256 bond
    );
    /// @notice Appeal `index`'s bond went to `to` (back to the appellant if it overturned, else to the other party).
    event AppealSettled(uint256 indexed requestId, uint64 index, address indexed to, uint256 bond);
    /// @notice The verdict, sent to the game.
    event StepAnswered(uint256 indexed requestId, bytes32 postStateHash);
    /// @notice No verdict: the request is closed and its dispute ends with no winner.
    event RequestAbandoned(uint256 indexed requestId, uint256 indexed disputeId);
    /// @notice `amount` of the referee's bond went to the request's parties.
    event RefereeSlashed(uint256 indexed requestId, address indexed referee, uint256 amount);

    /// @notice Sets the dispute game, once, and renounces ownership in the same call (the court has no
    ///         owner afterwards). Owner only.
    function setGame(address game) external;

    /// @notice Adds msg.value to the caller's stake; the stake after it must be >= minBond. It counts for
    ///         requests made from the next block on.
    function register() external payable;

    /// @notice Stops the caller's whole stake counting now; it can be withdrawn after `exitDelay` and
    ///         stays slashable until then.
    function requestExit() external;

    /// @notice Credits the caller's exiting stake once its exit delay has passed (then `claim`).
    function withdraw() external;

    /// @notice Fixes the current round's seed from the hash of `seedBlock` and opens the commit window.
    ///         Anyone, once block.number > seedBlock. If the hash is gone (over 256 blocks) or the round was
    ///         armed over answerWindow ago, re-arms instead: fresh snapshot, fresh seed block (so exiting
    ///         stake is still locked while the panel is open).
    function draw(uint256 requestId) external;

    /// @notice A panel member commits keccak256(abi.encode(requestId, msg.sender, answer, salt)) until the
    ///         commit deadline. `answer` is the true post-state hash (0: pre-state unavailable or wrong).
    function commitAnswer(uint256 requestId, bytes32 commitment) external;

    /// @notice Reveals the committed answer after the commit deadline and until the reveal deadline; adds
    ///         the referee's snapshot stake to the answer's tally.
    function revealAnswer(uint256 requestId, bytes32 answer, bytes32 salt) external;

    /// @notice Anyone, after the reveal window: proposes the leading answer (appealable for answerWindow);
    ///         after an unappealed appeal window, finalizes it (sends it to the game, settles appeal bonds).
    ///         With no reveal, arms a new round or (after MAX_ROUNDS) finalizes the last proposal or, with
    ///         none, abandons the request. Before any draw, does the same for a round nobody but its parties
    ///         can sit on once answerWindow has passed since it was armed (nobody at its snapshot, or, the
    ///         round being late, nobody at the fresh snapshot `draw` would take: its referees all left).
    function decide(uint256 requestId) external;

    /// @notice The solver or challenger, while a proposed verdict's appeal window is open, with exactly
    ///         `appealBond(requestId)`: a new round with a larger panel (2 * previous + 1) judges the step.
    function appeal(uint256 requestId) external payable;

    /// @notice Anyone, after the decision: slashes a panel member that was wrong, unrevealed or silent in
    ///         any round of the request; once per referee and request. Paid to the parties.
    function slash(uint256 requestId, address referee) external;

    function MAX_ROUNDS() external view returns (uint64);

    function MAX_APPEALS() external view returns (uint64);

    function MAX_PANEL_SIZE() external view returns (uint256);

    function MAX_ANSWER_WINDOW() external view returns (uint64);

    function MAX_EXIT_DELAY() external view returns (uint64);

    /// @notice The dispute game allowed to request steps (zero until set).
    function game() external view returns (address);

    /// @notice The least stake a referee holds after registering.
    function minBond() external view returns (uint256);

    /// @notice Seconds to draw a round, then to commit, then to reveal.
    function answerWindow() external view returns (uint64);

    /// @notice Seconds from `requestExit` to when the stake can be withdrawn.
    function exitDelay() external view returns (uint64);

    /// @notice Expected number of panel seats per round.
    function panelSize() external view returns (uint256);

    /// @notice Number of referees with counted stake.
    function refereeCount() external view returns (uint256);

    /// @notice Whether `account` has counted stake now.
    function isReferee(address account) external view returns (bool);

    /// @notice Counted stake of `referee` now.
    function stakeOf(address referee) external view returns (uint256);

    /// @notice Counted stake of `referee` as of the end of block `blockNumber` (< the current block).
    function stakeAt(address referee, uint256 blockNumber) external view returns (uint256);

    /// @notice Total counted stake as of the end of block `blockNumber` (< the current block).
    function totalStakeAt(uint256 blockNumber) external view returns (uint256);

    /// @notice Stake `referee` has exiting (still slashable), and when it can be withdrawn.
    function exitingOf(address referee) external view returns (uint256 amount, uint64 availableAt);

    /// @notice Whether `account` sits on the current round's panel (false until drawn).
    function onPanel(uint256 requestId, address account) external view returns (bool);

    /// @notice Whether `account` sat on the panel of `round` of the request (false if that round was not drawn).
    function onPanelInRound(uint256 requestId, uint64 round, address account) external view returns (bool);

    /// @notice Snapshot stake of everyone but the request's parties in the current round (0: nobody can sit).
    function eligibleStake(uint256 requestId) external view returns (uint256);

    function getRequest(uint256 requestId) external view returns (Request memory);

    function getRound(uint256 requestId, uint64 round) external view returns (Round memory);

    function getVote(uint256 requestId, uint64 round, address referee) external view returns (Vote memory);

    /// @notice Revealed stake behind `answer` in the request's current round.
    function tally(uint256 requestId, bytes32 answer) external view returns (uint256);

    /// @notice Revealed stake behind `answer` in `round` of the request.
    function tallyInRound(uint256 requestId, uint64 round, bytes32 answer) external view returns (uint256);

    /// @notice Appeal `index` (0-based) of the request.
    function getAppeal(uint256 requestId, uint64 index) external view returns (Appeal memory);

    /// @notice Expected panel size of the request's current round (panelSize, then 2 * previous + 1 per appeal).
    function panelSizeOf(uint256 requestId) external view returns (uint256);

    /// @notice The bond the next appeal of the request carries: minBond * the next round's panel size.
    function appealBond(uint256 requestId) external view returns (uint256);

    /// @notice Appeal bonds held until their requests finalize.
    function totalAppealBonds() external view returns (uint256);

    /// @notice Whether `referee` was slashed for the request.
    function slashed(uint256 requestId, address referee) external view returns (bool);

    /// @notice Number of requests; also the id of the latest one (ids start at 1).
    function requestCount() external view returns (uint256);

    /// @notice Sum of counted stake.
    function totalStake() external view returns (uint256);

    /// @notice Sum of exiting stake (not counted, still slashable, not yet withdrawn).
    function totalExiting() external view returns (uint256);

    /// @notice totalStake + totalExiting + totalAppealBonds: every bond held (referees' and appellants').
    function totalBonds() external view returns (uint256);
}
