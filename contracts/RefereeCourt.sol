// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";

import {Credits} from "./Credits.sol";
import {IDisputeGame} from "./interfaces/IDisputeGame.sol";
import {IRefereeCourt} from "./interfaces/IRefereeCourt.sol";
import {IStepVerifier} from "./interfaces/IStepVerifier.sol";

/// @title RefereeCourt
/// @notice v1 step verifier: a stake-weighted panel per request, drawn from stakes fixed before the seed
///         existed, answering by commit-reveal; wrong or silent panel members are slashed to the parties.
///         See IRefereeCourt for the rules.
contract RefereeCourt is IRefereeCourt, Ownable, Credits {
    using Checkpoints for Checkpoints.Trace208;

    /// @inheritdoc IRefereeCourt
    uint64 public constant MAX_APPEALS = 2;
    /// @inheritdoc IRefereeCourt
    uint64 public constant MAX_ROUNDS = 3 + MAX_APPEALS;
    /// @inheritdoc IRefereeCourt
    uint256 public constant MAX_PANEL_SIZE = 8;
    /// @inheritdoc IRefereeCourt
    uint64 public constant MAX_ANSWER_WINDOW = 3 days;
    /// @inheritdoc IRefereeCourt
    uint64 public constant MAX_EXIT_DELAY = 60 days;

    /// @inheritdoc IRefereeCourt
    uint256 public immutable minBond;
    /// @inheritdoc IRefereeCourt
    uint64 public immutable answerWindow;
    /// @inheritdoc IRefereeCourt
    uint64 public immutable exitDelay;
    /// @inheritdoc IRefereeCourt
    uint256 public immutable panelSize;

    /// @inheritdoc IRefereeCourt
    address public game;
    /// @inheritdoc IRefereeCourt
    uint256 public requestCount;
    /// @inheritdoc IRefereeCourt
    uint256 public refereeCount;
    /// @inheritdoc IRefereeCourt
    uint256 public totalStake;
    /// @inheritdoc IRefereeCourt
    uint256 public totalExiting;
    /// @inheritdoc IRefereeCourt
    uint256 public totalAppealBonds;
    /// @inheritdoc IRefereeCourt
    mapping(uint256 requestId => mapping(address referee => bool)) public slashed;

    /// @dev Counted stake by block number, per referee and in total: panels read it as of the past.
    mapping(address referee => Checkpoints.Trace208) private _stakes;
    Checkpoints.Trace208 private _totalStake;
    mapping(address referee => uint256) private _exiting;
    mapping(address referee => uint64) private _exitAt;

    mapping(uint256 requestId => Request) private _requests;
    mapping(uint256 requestId => mapping(uint64 round => Round)) private _rounds;
    mapping(uint256 requestId => mapping(uint64 round => mapping(address referee => Vote))) private _votes;
    mapping(uint256 requestId => mapping(uint64 round => mapping(bytes32 answer => uint256 stake))) private _tally;
    mapping(uint256 requestId => mapping(uint64 appeal => Appeal)) private _appeals;

    /// @param minBond_ The least stake a referee holds after registering (wei, > 0).
    /// @param answerWindow_ Seconds to draw a round, then to commit, then to reveal, then to appeal (1 .. 3 days).
    /// @param exitDelay_ Seconds exiting stake stays slashable (4 * MAX_ROUNDS * answerWindow .. 60 days).
    /// @param panelSize_ Expected panel seats per round (1 .. 8).
    constructor(uint256 minBond_, uint64 answerWindow_, uint64 exitDelay_, uint256 panelSize_) Ownable(msg.sender) {
        // INVARIANT: every seat has something to lose.
        if (minBond_ == 0) revert ZeroMinBond();
        // INVARIANT: every deadline is a real point in the future, and a dispute ends within weeks.
        if (answerWindow_ == 0 || answerWindow_ > MAX_ANSWER_WINDOW) revert AnswerWindowOutOfRange(answerWindow_);
        // INVARIANT: stake stays slashable until the final verdict of any request it sat on. A seat is read
        // from a snapshot taken when its round is armed, so stake that sits exited at or after that moment;
        // each round takes at most four windows (draw, commit, reveal, appeal) and a request at most
        // MAX_ROUNDS rounds, and every round is judged against the final verdict: a member of an early,
        // overturned panel must still hold its stake when the last round ends.
        if (exitDelay_ < 4 * MAX_ROUNDS * uint256(answerWindow_) || exitDelay_ > MAX_EXIT_DELAY) {
            revert ExitDelayOutOfRange(exitDelay_);
        }
        // INVARIANT: a bounded expected panel, so the parties can count on at most a few seats to answer.
        if (panelSize_ == 0 || panelSize_ > MAX_PANEL_SIZE) revert PanelSizeOutOfRange(panelSize_);
        minBond = minBond_;
        answerWindow = answerWindow_;
        exitDelay = exitDelay_;
        panelSize = panelSize_;
    }

    /// @inheritdoc IRefereeCourt
    function setGame(address game_) external onlyOwner {
        // INVARIANT: the game is a real contract address.
        if (game_ == address(0)) revert ZeroAddress();
        game = game_;
        // Least authority: nothing is left for an owner to do, so there is none (a second call reverts).
        _transferOwnership(address(0));
        emit GameSet(game_);
    }

    // --- registry ------------------------------------------------------------------------------------

    /// @inheritdoc IRefereeCourt
    function register() external payable {
        // INVARIANT: a registration adds stake.
        if (msg.value == 0) revert NoFunds();
        uint256 before = _stakes[msg.sender].latest();
        uint256 stake = before + msg.value;
        // INVARIANT: every counted seat has at least minBond to lose.
        if (stake < minBond) revert BondTooLow(stake, minBond);
        if (before == 0) ++refereeCount;
        _setStake(msg.sender, stake, totalStake + msg.value);
        emit RefereeRegistered(msg.sender, msg.value, stake);
    }

    /// @inheritdoc IRefereeCourt
    function requestExit() external {
        uint256 stake = _stakes[msg.sender].latest();
        // INVARIANT: only counted stake exits.
        if (stake == 0) revert NotRegistered(msg.sender);
        --refereeCount;
        _setStake(msg.sender, 0, totalStake - stake);
        // INVARIANT: stake stays slashable for exitDelay, longer than any panel it can sit on is open.
        uint64 availableAt = uint64(block.timestamp) + exitDelay;
        _exiting[msg.sender] += stake;
        _exitAt[msg.sender] = availableAt;
        totalExiting += stake;
        emit ExitRequested(msg.sender, stake, availableAt);
    }

    /// @inheritdoc IRefereeCourt
    function withdraw() external {
        uint256 amount = _exiting[msg.sender];
        // INVARIANT: only exiting stake is withdrawn.
        if (amount == 0) revert NoPendingExit();
        // INVARIANT: exiting stake is withdrawn only after the exit delay (it is slashable until then).
        if (block.timestamp < _exitAt[msg.sender]) revert ExitNotReady(_exitAt[msg.sender]);
        _exiting[msg.sender] = 0;
        totalExiting -= amount;
        _credit(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    // --- requests ------------------------------------------------------------------------------------

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
        // INVARIANT: a round's panel is drawn once.
        if (r.seed != bytes32(0)) revert AlreadyDrawn(requestId);
        // INVARIANT: the seed is the hash of a block mined after the stakes were fixed.
        if (block.number <= r.seedBlock) revert DrawTooEarly(r.seedBlock);
        bytes32 hash = blockhash(r.seedBlock);
        if (hash == bytes32(0) || block.timestamp > r.armedAt + answerWindow) {
            // The hash is gone (over 256 blocks), or the round waited too long to be drawn: exiting stake
            // might leave before this panel closes. Read stakes and the seed anew.
            _arm(r);
            // INVARIANT: re-arming is for a round someone can sit on; otherwise `decide` abandons it.
            // slither-disable-next-line incorrect-equality (a sum of stake, not a balance: zero means nobody can sit)
            if (_eligibleStake(r) == 0) revert NoEligibleReferee();
            emit DrawRearmed(requestId, r.snapshotBlock, r.seedBlock);
            return;
        }
        // INVARIANT: a round is drawn only if someone but the parties can sit; else `decide` abandons it.
        // slither-disable-next-line incorrect-equality (a sum of stake, not a balance: zero means nobody can sit)
        if (_eligibleStake(r) == 0) revert NoEligibleReferee();
        bytes32 seed = keccak256(abi.encode(hash, requestId, r.round));
        uint64 commitDeadline = uint64(block.timestamp) + answerWindow;
        uint64 revealDeadline = commitDeadline + answerWindow;
        r.seed = seed;
        r.commitDeadline = commitDeadline;
        r.revealDeadline = revealDeadline;
        _rounds[requestId][r.round] = Round({seed: seed, snapshotBlock: r.snapshotBlock, panelSize: _panelSizeOf(r.appeals)});
        emit PanelDrawn(requestId, r.round, seed, commitDeadline, revealDeadline);
    }

    /// @inheritdoc IRefereeCourt
    function commitAnswer(uint256 requestId, bytes32 commitment) external {
        Request storage r = _drawnRequest(requestId);
        // INVARIANT: every commitment precedes every reveal, so nobody commits after seeing an answer.
        if (block.timestamp > r.commitDeadline) revert CommitClosed(r.commitDeadline);
        // INVARIANT: only seats drawn from the snapshot answer; never a party.
        if (!_onPanel(r, r.seed, r.snapshotBlock, _panelSizeOf(r.appeals), msg.sender)) revert NotOnPanel(msg.sender);
        // INVARIANT: a hash of nothing binds nothing.
        if (commitment == bytes32(0)) revert EmptyCommitment();
        Vote storage vote = _votes[requestId][r.round][msg.sender];
        // INVARIANT: one answer per seat and round.
        if (vote.commitment != bytes32(0)) revert AlreadyCommitted();
        vote.commitment = commitment;
        emit AnswerCommitted(requestId, msg.sender, commitment);
    }

    /// @inheritdoc IRefereeCourt
    function revealAnswer(uint256 requestId, bytes32 answer, bytes32 salt) external {
        Request storage r = _drawnRequest(requestId);
        // INVARIANT: nobody reveals while others can still commit (they would copy).
        if (block.timestamp <= r.commitDeadline) revert CommitOpen(r.commitDeadline);
        // INVARIANT: the tally is final once the reveal window closes.
        if (block.timestamp > r.revealDeadline) revert RevealClosed(r.revealDeadline);
        Vote storage vote = _votes[requestId][r.round][msg.sender];
        // INVARIANT: only a committed seat reveals (commitments are accepted from panel members only).
        if (vote.commitment == bytes32(0)) revert NotCommitted();
        // INVARIANT: a stake is counted once.
        if (vote.revealed) revert AlreadyRevealed();
        // INVARIANT: a referee reveals exactly what it committed to before any answer was visible.
        if (keccak256(abi.encode(requestId, msg.sender, answer, salt)) != vote.commitment) {
            revert CommitmentMismatch();
        }
        vote.revealed = true;
        vote.answer = answer;
        uint256 stake = _stakes[msg.sender].upperLookupRecent(uint48(r.snapshotBlock));
        uint256 tallied = _tally[requestId][r.round][answer] + stake;
        _tally[requestId][r.round][answer] = tallied;
        // Strictly more stake takes the lead: on a tie the answer that led first keeps it.
        if (tallied > r.leadingStake) {
            r.leadingStake = tallied;
            r.leadingAnswer = answer;
        }
        emit AnswerRevealed(requestId, msg.sender, answer, stake);
    }

    /// @inheritdoc IRefereeCourt
    function decide(uint256 requestId) external {
        Request storage r = _openRequest(requestId);
        if (r.appealDeadline != 0) {
            // INVARIANT: both parties had the whole appeal window.
            if (block.timestamp <= r.appealDeadline) revert DecideTooEarly(r.appealDeadline);
            _finalize(requestId, r);
            return;
        }
        if (r.seed == bytes32(0)) {
            uint64 abandonableAt = r.armedAt + answerWindow;
            // INVARIANT: while someone but the parties can sit, `draw` is the exit, so no party escapes a
            // verdict by abandoning an undrawn round. A late round is drawn from a fresh snapshot (`draw`
            // re-arms it), so once the window is over the fresh one counts too: a round whose referees all
            // left before it was drawn is abandoned, not stranded until someone registers.
            if (
                _eligibleStake(r) != 0
                    && (block.timestamp <= abandonableAt || _eligibleStakeAt(r, uint64(block.number) - 1) != 0)
            ) revert NotDrawn(requestId);
            // INVARIANT: referees registered before the snapshot get a whole window before it is given up.
            if (block.timestamp <= abandonableAt) revert DecideTooEarly(abandonableAt);
            // An appeal nobody can sit on leaves the proposed verdict standing.
            if (r.hasProposal) _finalize(requestId, r);
            else _abandon(requestId, r);
            return;
        }
        // INVARIANT: every panel member had the whole reveal window.
        if (block.timestamp <= r.revealDeadline) revert DecideTooEarly(r.revealDeadline);
        if (r.leadingStake != 0) {
            // The leading answer is proposed; either party may appeal it to a larger panel until the deadline.
            uint64 deadline = uint64(block.timestamp) + answerWindow;
            r.hasProposal = true;
            r.proposed = r.leadingAnswer;
            r.appealDeadline = deadline;
            emit VerdictProposed(requestId, r.round, r.leadingAnswer, deadline);
        } else if (r.round < MAX_ROUNDS) {
            // Nobody revealed: a fresh panel (same size) from fresh stakes (the silent ones stay slashable).
            ++r.round;
            _arm(r);
            emit RoundEmpty(requestId, r.round, r.snapshotBlock, r.seedBlock);
        } else if (r.hasProposal) {
            // An appeal round that stayed empty: the proposed verdict stands.
            _finalize(requestId, r);
        } else {
            _abandon(requestId, r);
        }
    }

    /// @inheritdoc IRefereeCourt
    function appeal(uint256 requestId) external payable {
        Request storage r = _openRequest(requestId);
        // INVARIANT: only a proposed verdict is appealed, and only while its appeal window is open.
        if (r.appealDeadline == 0) revert NothingToAppeal(requestId);
        if (block.timestamp > r.appealDeadline) revert AppealClosed(r.appealDeadline);
        // INVARIANT: only the parties, who lose or win by the verdict, appeal it.
        if (msg.sender != r.solver && msg.sender != r.challenger) revert NotParty(msg.sender);
        // INVARIANT: a bounded number of rounds, so slashing stays O(1) and a dispute ends.
        uint64 index = r.appeals;
        if (index >= MAX_APPEALS || r.round >= MAX_ROUNDS) revert NoAppealLeft(requestId);
        // INVARIANT: an appeal costs what its larger panel puts at stake (returned if it overturns the verdict).
        uint256 bond = minBond * _panelSizeOf(index + 1);
        if (msg.value != bond) revert WrongAppealBond(msg.value, bond);
        _appeals[requestId][index] = Appeal({appellant: msg.sender, bond: bond, against: r.proposed});
        totalAppealBonds += bond;
        r.appeals = index + 1;
        r.appealDeadline = 0;
        ++r.round;
        _arm(r);
        emit VerdictAppealed(requestId, msg.sender, r.proposed, r.round, _panelSizeOf(index + 1), bond);
    }

    /// @inheritdoc IRefereeCourt
    function slash(uint256 requestId, address referee) external {
        Request storage r = _requests[requestId];
        // INVARIANT: only requests the game made have panels.
        if (r.seedBlock == 0) revert UnknownRequest(requestId);
        // INVARIANT: a wrong answer is known only once the verdict is.
        if (!r.done) revert NotDecided(requestId);
        // INVARIANT: one fault, one slash.
        if (slashed[requestId][referee]) revert AlreadySlashed(referee);
        // slither-disable-next-line uninitialized-local (starts at zero on purpose: the largest stake owed)
        uint256 owed;
        // At most MAX_ROUNDS rounds: O(1).
        for (uint64 round = 1; round <= r.round; ++round) {
            Round storage d = _rounds[requestId][round];
            if (d.seed == bytes32(0) || !_onPanel(r, d.seed, d.snapshotBlock, d.panelSize, referee)) continue;
            Vote storage vote = _votes[requestId][round][referee];
            // Silent, committed but hidden, or revealed another answer than the final verdict (whatever its
            // own round proposed: a captured panel overturned on appeal is judged by the appeal's verdict).
            bool faulty = !vote.revealed || !r.hasVerdict || vote.answer != r.verdict;
            if (!faulty) continue;
            uint256 stake = _stakes[referee].upperLookupRecent(uint48(d.snapshotBlock));
            if (stake > owed) owed = stake;
        }
        // INVARIANT: only a panel member that failed its seat is slashed; revealing the verdict keeps the bond.
        if (owed == 0) revert NotSlashable(referee);
        slashed[requestId][referee] = true;
        uint256 amount = _take(referee, owed);
        // INVARIANT: the bond goes to the parties, never to the caller: reporting yourself gains nothing.
        uint256 half = amount / 2;
        _credit(r.solver, half);
        _credit(r.challenger, amount - half);
        emit RefereeSlashed(requestId, referee, amount);
    }

    // --- views ---------------------------------------------------------------------------------------

    /// @inheritdoc IRefereeCourt
    function isReferee(address account) external view returns (bool) {
        return _stakes[account].latest() != 0;
    }

    /// @inheritdoc IRefereeCourt
    function stakeOf(address referee) external view returns (uint256) {
        return _stakes[referee].latest();
    }

    /// @inheritdoc IRefereeCourt
    function stakeAt(address referee, uint256 blockNumber) external view returns (uint256) {
        return _stakes[referee].upperLookupRecent(uint48(blockNumber));
    }

    /// @inheritdoc IRefereeCourt
    function totalStakeAt(uint256 blockNumber) external view returns (uint256) {
        return _totalStake.upperLookupRecent(uint48(blockNumber));
    }

    /// @inheritdoc IRefereeCourt
    function exitingOf(address referee) external view returns (uint256 amount, uint64 availableAt) {
        return (_exiting[referee], _exitAt[referee]);
    }

    /// @inheritdoc IRefereeCourt
    function onPanel(uint256 requestId, address account) external view returns (bool) {
        Request storage r = _requests[requestId];
        return r.seed != bytes32(0) && _onPanel(r, r.seed, r.snapshotBlock, _panelSizeOf(r.appeals), account);
    }

    /// @inheritdoc IRefereeCourt
    function onPanelInRound(uint256 requestId, uint64 round, address account) external view returns (bool) {
        Round storage d = _rounds[requestId][round];
        return d.seed != bytes32(0) && _onPanel(_requests[requestId], d.seed, d.snapshotBlock, d.panelSize, account);
    }

    /// @inheritdoc IRefereeCourt
    function eligibleStake(uint256 requestId) external view returns (uint256) {
        Request storage r = _requests[requestId];
        return r.seedBlock == 0 ? 0 : _eligibleStake(r);
    }

    /// @inheritdoc IRefereeCourt
    function getRequest(uint256 requestId) external view returns (Request memory) {
        return _requests[requestId];
    }

    /// @inheritdoc IRefereeCourt
    function getRound(uint256 requestId, uint64 round) external view returns (Round memory) {
        return _rounds[requestId][round];
    }

    /// @inheritdoc IRefereeCourt
    function getVote(uint256 requestId, uint64 round, address referee) external view returns (Vote memory) {
        return _votes[requestId][round][referee];
    }

    /// @inheritdoc IRefereeCourt
    function tally(uint256 requestId, bytes32 answer) external view returns (uint256) {
        return _tally[requestId][_requests[requestId].round][answer];
    }

    /// @inheritdoc IRefereeCourt
    function tallyInRound(uint256 requestId, uint64 round, bytes32 answer) external view returns (uint256) {
        return _tally[requestId][round][answer];
    }

    /// @inheritdoc IRefereeCourt
    function getAppeal(uint256 requestId, uint64 index) external view returns (Appeal memory) {
        return _appeals[requestId][index];
    }

    /// @inheritdoc IRefereeCourt
    function panelSizeOf(uint256 requestId) external view returns (uint256) {
        return _panelSizeOf(_requests[requestId].appeals);
    }

    /// @inheritdoc IRefereeCourt
    function appealBond(uint256 requestId) external view returns (uint256) {
        return minBond * _panelSizeOf(_requests[requestId].appeals + 1);
    }

    /// @inheritdoc IRefereeCourt
    function totalBonds() external view returns (uint256) {
        return totalStake + totalExiting + totalAppealBonds;
    }

    // --- internals -----------------------------------------------------------------------------------

    /// @dev Records a request of the game and arms its first round.
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
        r.round = 1;
        _arm(r);
        emit StepRequested(requestId, disputeId, jobId, step, preStateHash, preStateArtifact);
    }

    /// @dev Arms the current round: stakes as of the previous block (so nothing registered in this block or
    ///      later counts), the seed from the next block's hash; clears the draw.
    function _arm(Request storage r) internal {
        r.snapshotBlock = uint64(block.number) - 1;
        r.seedBlock = uint64(block.number) + 1;
        r.armedAt = uint64(block.timestamp);
        r.seed = bytes32(0);
        r.commitDeadline = 0;
        r.revealDeadline = 0;
        r.leadingAnswer = bytes32(0);
        r.leadingStake = 0;
    }

    /// @dev Expected seats after `appeals` appeals: panelSize, then 2 * previous + 1 (3 -> 7 -> 15).
    function _panelSizeOf(uint64 appeals) internal view returns (uint256 size) {
        size = panelSize;
        for (uint64 i = 0; i < appeals; ++i) {
            size = 2 * size + 1;
        }
    }

    /// @dev Closes the request with the proposed verdict; settles the appeal bonds (at most MAX_APPEALS): an
    ///      appeal against another answer than the final verdict won its bond back, a frivolous one pays it to
    ///      the other party. Then the verdict goes to the game.
    function _finalize(uint256 requestId, Request storage r) internal {
        bytes32 verdict = r.proposed;
        r.done = true;
        r.hasVerdict = true;
        r.verdict = verdict;
        r.appealDeadline = 0;
        uint64 appeals = r.appeals;
        for (uint64 i = 0; i < appeals; ++i) {
            Appeal storage a = _appeals[requestId][i];
            totalAppealBonds -= a.bond;
            address to = a.against != verdict ? a.appellant : (a.appellant == r.solver ? r.challenger : r.solver);
            _credit(to, a.bond);
            emit AppealSettled(requestId, i, to, a.bond);
        }
        emit StepAnswered(requestId, verdict);
        IDisputeGame(game).stepVerified(r.disputeId, verdict);
    }

    /// @dev Closes the request without a verdict; the game ends the dispute with no winner.
    function _abandon(uint256 requestId, Request storage r) internal {
        r.done = true;
        emit RequestAbandoned(requestId, r.disputeId);
        IDisputeGame(game).stepUnresolved(r.disputeId);
    }

    /// @dev Whether `account` sits on the panel drawn with `seed` from the stakes at `snapshotBlock`.
    function _onPanel(Request storage r, bytes32 seed, uint64 snapshotBlock, uint256 size, address account)
        internal
        view
        returns (bool)
    {
        // INVARIANT: no party judges its own dispute.
        if (account == r.solver || account == r.challenger) return false;
        uint256 stake = _stakes[account].upperLookupRecent(uint48(snapshotBlock));
        if (stake == 0) return false;
        uint256 weight = stake * size;
        uint256 total = _totalStake.upperLookupRecent(uint48(snapshotBlock));
        return weight >= total || uint256(keccak256(abi.encode(seed, account))) % total < weight;
    }

    /// @dev Snapshot stake of everyone but the parties in the current round.
    function _eligibleStake(Request storage r) internal view returns (uint256) {
        return _eligibleStakeAt(r, r.snapshotBlock);
    }

    /// @dev Stake of everyone but the request's parties as of block `snapshotBlock`.
    function _eligibleStakeAt(Request storage r, uint64 snapshotBlock) internal view returns (uint256) {
        uint48 at = uint48(snapshotBlock);
        return _totalStake.upperLookupRecent(at) - _stakes[r.solver].upperLookupRecent(at)
            - _stakes[r.challenger].upperLookupRecent(at);
    }

    /// @dev Takes up to `owed` from the referee's bond, exiting stake first, then counted stake.
    function _take(address referee, uint256 owed) internal returns (uint256 amount) {
        uint256 exiting = _exiting[referee];
        uint256 fromExiting = owed < exiting ? owed : exiting;
        if (fromExiting != 0) {
            _exiting[referee] = exiting - fromExiting;
            totalExiting -= fromExiting;
        }
        uint256 counted = _stakes[referee].latest();
        uint256 rest = owed - fromExiting;
        uint256 fromCounted = rest < counted ? rest : counted;
        if (fromCounted != 0) {
            if (fromCounted == counted) --refereeCount;
            _setStake(referee, counted - fromCounted, totalStake - fromCounted);
        }
        amount = fromExiting + fromCounted;
    }

    /// @dev The request, which must exist and be undecided.
    function _openRequest(uint256 requestId) internal view returns (Request storage r) {
        r = _requests[requestId];
        // INVARIANT: actions apply only to requests the game made.
        if (r.seedBlock == 0) revert UnknownRequest(requestId);
        // INVARIANT: a request is decided once.
        if (r.done) revert RequestDone(requestId);
    }

    /// @dev The request, which must be open with its current round drawn.
    function _drawnRequest(uint256 requestId) internal view returns (Request storage r) {
        r = _openRequest(requestId);
        // INVARIANT: answers belong to a drawn panel.
        if (r.seed == bytes32(0)) revert NotDrawn(requestId);
    }

    function _setStake(address referee, uint256 stake, uint256 total) internal {
        // Checkpoints.push returns the previous and new values, which are not needed here.
        // slither-disable-next-line unused-return
        _stakes[referee].push(uint48(block.number), uint208(stake));
        // slither-disable-next-line unused-return
        _totalStake.push(uint48(block.number), uint208(total));
        totalStake = total;
    }
}
