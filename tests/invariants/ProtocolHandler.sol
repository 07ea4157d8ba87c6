// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Staking} from "../../contracts/Staking.sol";
import {Market} from "../../contracts/Market.sol";
import {RefereeCourt} from "../../contracts/RefereeCourt.sol";
import {DisputeGame} from "../../contracts/DisputeGame.sol";
import {Audit} from "../../contracts/Audit.sol";
import {Swarm} from "../../contracts/Swarm.sol";
import {ISwarm} from "../../contracts/interfaces/ISwarm.sol";
import {ICredits} from "../../contracts/interfaces/ICredits.sol";
import {IMarket} from "../../contracts/interfaces/IMarket.sol";
import {IDisputeGame} from "../../contracts/interfaces/IDisputeGame.sol";
import {IRefereeCourt} from "../../contracts/interfaces/IRefereeCourt.sol";

import {vm} from "./Vm.sol";
import {Merkle} from "./Merkle.sol";

/// @title ProtocolHandler
/// @notice Drives all six contracts, deployed and wired as scripts/deploy.py wires them (its default
///         parameters), on behalf of several actors: submitters, solvers (honest or cheating from some step),
///         verifiers (honest, copying the solver or wrong), challengers (honest or frivolous), referees (honest or
///         not), with time and blocks moving forward. Every action is taken by its real sender (prank) with
///         arguments that are mostly valid, so the fuzzer reaches deep states; a revert of a wrong guess is
///         swallowed (the contracts' own checks decide). `drain` then takes every exit and empties every contract.
contract ProtocolHandler {
    // --- deploy.py's defaults --------------------------------------------------------------------------
    uint64 public constant UNBONDING_DELAY = 1 days;
    uint256 public constant CHALLENGE_BOND = 0.1 ether;
    uint64 public constant CLOCK = 1 days;
    uint256 public constant REFEREE_BOND = 0.1 ether;
    uint64 public constant ANSWER_WINDOW = 1 hours;
    uint64 public constant EXIT_DELAY = 3 days;
    uint256 public constant PANEL_SIZE = 3;
    uint256 public constant AUDIT_BOND = 0.05 ether;
    uint64 public constant COMMIT_WINDOW = 1 hours;
    uint64 public constant REVEAL_WINDOW = 1 hours;
    uint256 public constant VERIFIER_STAKE = 0.1 ether;
    uint64 public constant VERIFIER_DELAY = 1 hours;
    uint256 public constant COMMITTEE_SIZE = 3;

    /// @notice Jobs posted per run at most (keeps every loop of the checks and the drain short); swarms' shares
    ///         may take the market up to MAX_JOBS + MAX_SHARES.
    uint256 public constant MAX_JOBS = 6;
    uint256 public constant MAX_SHARES = 8;
    uint256 public constant MAX_SWARMS = 2;
    uint64 internal constant HONEST = type(uint64).max;

    Staking public immutable staking;
    Market public immutable market;
    RefereeCourt public immutable court;
    DisputeGame public immutable game;
    Audit public immutable audit;
    Swarm public immutable swarm;

    address[] public submitters;
    address[] public solvers;
    address[] public verifiers;
    address[] public referees;
    address[] public challengers;
    /// @notice Every actor once (anyone who can hold a credit or a stake).
    address[] public actors;

    uint256 public time;
    uint256 public blockNumber;

    /// @notice The step from which a job's solver publishes wrong states (HONEST: never).
    mapping(uint256 jobId => uint64) public cheatStep;
    /// @notice Whether a dispute's challenger answers bisection rounds truthfully.
    mapping(uint256 disputeId => bool) public honestChallenger;
    /// @notice A verifier's committed hashes: 1 true states, 2 the solver's, 3 wrong (0: none).
    mapping(uint256 jobId => mapping(address verifier => uint256)) public auditMode;
    /// @notice A referee's committed answer per request and round (and whether it committed).
    mapping(bytes32 key => bytes32) internal _answer;
    mapping(bytes32 key => bool) internal _committed;

    /// @notice Successful calls per action (the run's coverage), and the drains completed.
    mapping(bytes32 action => uint256) public hits;
    uint256 public drains;
    /// @notice Set when an exit that must always work (a claim of a standing credit) reverted.
    string public brokenExit;
    /// @notice Set when a move that must revert (a response naming hashes the solver did not reveal) went through.
    string public brokenRule;

    constructor() {
        time = 1_700_000_000;
        blockNumber = 1_000_000;
        vm.warp(time);
        vm.roll(blockNumber);
        staking = new Staking(UNBONDING_DELAY);
        market = new Market(staking);
        court = new RefereeCourt(REFEREE_BOND, ANSWER_WINDOW, EXIT_DELAY, PANEL_SIZE);
        game = new DisputeGame(market, court, CHALLENGE_BOND, CLOCK);
        audit = new Audit(
            market, AUDIT_BOND, COMMIT_WINDOW, REVEAL_WINDOW, VERIFIER_STAKE, VERIFIER_DELAY, COMMITTEE_SIZE
        );
        staking.setMarket(address(market));
        market.setDisputeGame(address(game));
        market.setAudit(audit);
        court.setGame(address(game));
        swarm = new Swarm(market, staking, audit);

        _actors(submitters, 0x5000, 3, "submitter");
        _actors(solvers, 0x5100, 3, "solver");
        _actors(verifiers, 0x5200, 4, "verifier");
        _actors(referees, 0x5300, 4, "referee");
        _actors(challengers, 0x5400, 2, "challenger");
        _actions = ["warp", "deposit", "requestWithdrawal", "withdraw", "postJob", "bid", "closeBidding", "postProgress", "submitResult", "sealSample", "finalize", "reportMissedDeadline", "registerVerifier", "requestVerifierExit", "withdrawVerifierStake", "fundAudit", "auditCommit", "auditReveal", "auditSettle", "challenge", "challengeAvailability", "answerAvailability", "reveal", "respond", "serveState", "claimTimeout", "closeMoot", "releaseBond", "registerReferee", "requestRefereeExit", "withdrawReferee", "draw", "commitAnswer", "revealAnswer", "decide", "appeal", "slashReferee", "claim", "postSwarm", "swarmBid", "closeSwarmBidding", "postReplica", "vacate", "completeSwarm", "noteIdle", "endSwarm"];
        // Three verifiers and three referees are seated from the start (the fuzzer exits and adds more).
        for (uint256 i; i < 3; ++i) {
            vm.prank(verifiers[i]);
            audit.register{value: VERIFIER_STAKE * (i + 1)}();
            vm.prank(referees[i]);
            court.register{value: REFEREE_BOND * (i + 1)}();
        }
        _advance(VERIFIER_DELAY + 1, 2);
        // A verifier also challenges, and a submitter also sits as a referee: roles overlap in practice.
        challengers.push(verifiers[0]);
        referees.push(submitters[0]);
    }

    modifier step {
        vm.warp(time);
        vm.roll(blockNumber);
        _;
    }

    /// @notice The actions whose successful calls `coverage` reports, in its order.
    string[] internal _actions;

    /// @notice One CSV line: the successful calls of each action in this run (header: `coverageHeader`).
    function coverage() external view returns (string memory line) {
        for (uint256 i; i < _actions.length; ++i) {
            line = string.concat(line, i == 0 ? "" : ",", vm.toString(hits[bytes32(bytes(_actions[i]))]));
        }
        uint256[10] memory jobs;
        for (uint256 jobId = 1; jobId <= market.jobCount(); ++jobId) {
            ++jobs[uint256(market.jobState(jobId))];
        }
        // Finalized, Cancelled, Failed, Slashed, Unverified.
        uint8[5] memory finals = [4, 5, 6, 8, 9];
        for (uint256 i; i < 5; ++i) {
            line = string.concat(line, ",", vm.toString(jobs[finals[i]]));
        }
        uint256 solverWon;
        uint256 challengerWon;
        uint256 abandoned;
        for (uint256 disputeId = 1; disputeId <= game.disputeCount(); ++disputeId) {
            IDisputeGame.Dispute memory d = game.getDispute(disputeId);
            if (d.phase != IDisputeGame.Phase.Resolved) continue;
            if (d.abandoned) ++abandoned;
            else if (d.solverWon) ++solverWon;
            else ++challengerWon;
        }
        uint256 verdicts;
        uint256 appeals;
        for (uint256 requestId = 1; requestId <= court.requestCount(); ++requestId) {
            IRefereeCourt.Request memory r = court.getRequest(requestId);
            if (r.hasVerdict) ++verdicts;
            appeals += r.appeals;
        }
        line = string.concat(line, ",", vm.toString(solverWon), ",", vm.toString(challengerWon), ",");
        line = string.concat(line, vm.toString(abandoned), ",", vm.toString(verdicts), ",", vm.toString(appeals));
    }

    function coverageHeader() external view returns (string memory line) {
        for (uint256 i; i < _actions.length; ++i) {
            line = string.concat(line, i == 0 ? "" : ",", _actions[i]);
        }
        line = string.concat(line, ",jobsFinalized,jobsCancelled,jobsFailed,jobsSlashed,jobsUnverified");
        line = string.concat(line, ",disputesSolverWon,disputesChallengerWon,disputesAbandoned,verdicts,appeals");
    }

    // --- views for the invariant checks ----------------------------------------------------------------

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function solverCount() external view returns (uint256) {
        return solvers.length;
    }

    // --- time ------------------------------------------------------------------------------------------

    /// @notice Moves the clock 1 s .. 2 hours (1 in 8: up to 3 days) and the chain 1 .. 20 blocks, or now and then past the 256 blocks
    ///         whose hashes the chain keeps (so seeds must be re-armed).
    function warp(uint256 secondsSeed, uint256 blocksSeed) external step {
        uint256 dt = secondsSeed % 8 == 0 ? 1 + (secondsSeed >> 3) % 3 days : 1 + (secondsSeed >> 3) % 2 hours;
        uint256 blocks = blocksSeed % 16 == 0 ? 300 : 1 + blocksSeed % 20;
        _advance(dt, blocks);
        ++hits["warp"];
    }

    // --- staking ---------------------------------------------------------------------------------------

    function deposit(uint256 who, uint256 amount) external step {
        address solver = solvers[who % solvers.length];
        amount = 1 + amount % 20 ether;
        vm.prank(solver);
        staking.deposit{value: amount}();
        ++hits["deposit"];
    }

    function requestWithdrawal(uint256 who, uint256 amount) external step {
        address solver = solvers[who % solvers.length];
        uint256 free = staking.freeStake(solver);
        if (free == 0) return;
        vm.prank(solver);
        staking.requestWithdrawal(1 + amount % free);
        ++hits["requestWithdrawal"];
    }

    function withdraw(uint256 who) external step {
        address solver = solvers[who % solvers.length];
        vm.prank(solver);
        try staking.withdraw() {
            ++hits["withdraw"];
        } catch {}
    }

    // --- market ----------------------------------------------------------------------------------------

    function postJob(uint256 who, uint256 priceSeed, uint256 shapeSeed, uint256 durationSeed, uint256 cheatSeed)
        external
        step
    {
        if (market.jobCount() >= MAX_JOBS) return;
        Shape memory shape;
        shape.maxPrice = 1e15 + priceSeed % 1 ether;
        shape.count = uint64(1 + shapeSeed % 6);
        shape.interval = uint64(1 + (shapeSeed >> 8) % 12);
        shape.samples = uint64(1 + (shapeSeed >> 16) % shape.count);
        shape.stake = market.minimumStake(shape.maxPrice, shape.count, shape.samples) + (shapeSeed >> 24) % 1 ether;
        shape.bidding = uint64(1 hours + durationSeed % 1 days);
        shape.execution = uint64(1 hours + (durationSeed >> 64) % 2 days);
        shape.review = uint64(COMMIT_WINDOW + REVEAL_WINDOW + (durationSeed >> 128) % 2 days);
        uint256 jobId = _post(submitters[who % submitters.length], shape, keccak256(abi.encode("spec", priceSeed)));
        // Half the solvers cheat, from a step after the agreed initial state.
        cheatStep[jobId] = cheatSeed % 2 == 0 ? HONEST : uint64(1 + (cheatSeed >> 1) % (shape.count * shape.interval));
        ++hits["postJob"];
    }

    struct Shape {
        uint256 maxPrice;
        uint256 stake;
        uint64 count;
        uint64 interval;
        uint64 samples;
        uint64 bidding;
        uint64 execution;
        uint64 review;
    }

    function _post(address submitter, Shape memory shape, bytes32 spec) internal returns (uint256) {
        vm.prank(submitter);
        return market.postJob{value: shape.maxPrice}(
            spec, shape.count, shape.interval, shape.samples, shape.stake, shape.bidding, shape.execution, shape.review
        );
    }

    function bid(uint256 jobSeed, uint256 who, uint256 priceSeed) external step {
        (uint256 jobId, IMarket.Job memory job) = _job(jobSeed);
        if (job.state != IMarket.JobState.Bidding) return;
        address solver = solvers[who % solvers.length];
        address reserved = market.reservedSolver(jobId);
        if (reserved != address(0) && who % 4 != 0) solver = reserved; // a swarm's share: mostly its holder
        uint256 ceiling = job.solver == address(0) ? job.maxPrice : job.price - 1;
        if (ceiling == 0) return;
        uint256 price = 1 + priceSeed % ceiling;
        uint256 free = staking.freeStake(solver);
        if (job.solver != solver && free < job.requiredStake) {
            vm.prank(solver);
            staking.deposit{value: job.requiredStake - free}();
        }
        vm.prank(solver);
        try market.bid(jobId, price) {
            ++hits["bid"];
        } catch {}
    }

    function closeBidding(uint256 jobSeed) external step {
        (uint256 jobId,) = _job(jobSeed);
        try market.closeBidding(jobId) {
            ++hits["closeBidding"];
        } catch {}
    }

    function postProgress(uint256 jobSeed, uint256 doneSeed) external step {
        (uint256 jobId, IMarket.Job memory job) = _job(jobSeed);
        if (job.state != IMarket.JobState.Running) return;
        uint64 done = uint64(1 + doneSeed % job.checkpointCount);
        vm.prank(job.solver);
        try market.postProgress(jobId, done, keccak256(abi.encode("progress", jobId, done))) {
            ++hits["postProgress"];
        } catch {}
    }

    function submitResult(uint256 jobSeed) external step {
        (uint256 jobId, IMarket.Job memory job) = _job(jobSeed);
        if (job.state != IMarket.JobState.Running) return;
        bytes32 root = Merkle.root(_leaves(jobId, job));
        vm.prank(job.solver);
        try market.submitResult(jobId, root) {
            ++hits["submitResult"];
        } catch {}
    }

    function sealSample(uint256 jobSeed) external step {
        (uint256 jobId, IMarket.Job memory job) = _job(jobSeed);
        if (job.sampleBlock != 0 && block.number <= job.sampleBlock) _advance(12, job.sampleBlock + 1 - block.number);
        try market.sealSample(jobId) {
            ++hits["sealSample"];
        } catch {}
    }

    function finalize(uint256 jobSeed) external step {
        (uint256 jobId,) = _job(jobSeed);
        try market.finalize(jobId) {
            ++hits["finalize"];
        } catch {}
    }

    function reportMissedDeadline(uint256 jobSeed) external step {
        (uint256 jobId,) = _job(jobSeed);
        try market.reportMissedDeadline(jobId) {
            ++hits["reportMissedDeadline"];
        } catch {}
    }

    // --- audit -----------------------------------------------------------------------------------------

    function registerVerifier(uint256 who, uint256 amount) external step {
        address verifier = verifiers[who % verifiers.length];
        amount = VERIFIER_STAKE + amount % 3 ether;
        vm.prank(verifier);
        audit.register{value: amount}();
        ++hits["registerVerifier"];
    }

    function requestVerifierExit(uint256 who) external step {
        address verifier = verifiers[who % verifiers.length];
        vm.prank(verifier);
        try audit.requestExit() {
            ++hits["requestVerifierExit"];
        } catch {}
    }

    function withdrawVerifierStake(uint256 who) external step {
        address verifier = verifiers[who % verifiers.length];
        vm.prank(verifier);
        try audit.withdrawStake() {
            ++hits["withdrawVerifierStake"];
        } catch {}
    }

    function fundAudit(uint256 jobSeed, uint256 who, uint256 amount) external step {
        (uint256 jobId,) = _job(jobSeed);
        if (jobId == 0) return;
        address funder = submitters[who % submitters.length];
        vm.prank(funder);
        try audit.fund{value: 1 + amount % 0.1 ether}(jobId) {
            ++hits["fundAudit"];
        } catch {}
    }

    function auditCommit(uint256 jobSeed, uint256 who, uint256 modeSeed) external step {
        (uint256 jobId, IMarket.Job memory job) = _job(jobSeed);
        if (job.sampleSeed == bytes32(0)) return;
        address verifier = verifiers[who % verifiers.length];
        if (!audit.isDrawn(jobId, verifier)) return;
        uint256 m = modeSeed % 6; // mostly honest; some copy the solver, some guess
        uint256 mode = m < 4 ? 1 : m - 2;
        bytes32[] memory hashes = _auditHashes(jobId, job, mode);
        bytes32 commitment = keccak256(abi.encode(jobId, verifier, _salt(jobId, verifier), hashes));
        vm.prank(verifier);
        try audit.commit{value: AUDIT_BOND}(jobId, commitment) {
            auditMode[jobId][verifier] = mode;
            ++hits["auditCommit"];
        } catch {}
    }

    function auditReveal(uint256 jobSeed, uint256 who) external step {
        (uint256 jobId, IMarket.Job memory job) = _job(jobSeed);
        address verifier = verifiers[who % verifiers.length];
        uint256 mode = auditMode[jobId][verifier];
        if (mode == 0) return;
        bytes32[] memory hashes = _auditHashes(jobId, job, mode);
        uint64[] memory sample = market.sampledIntervals(jobId);
        bytes32[] memory leaves = _leaves(jobId, job);
        bytes32[][] memory proofs = new bytes32[][](sample.length);
        for (uint256 i; i < sample.length; ++i) {
            proofs[i] = Merkle.proof(leaves, sample[i] + 1);
        }
        bytes32 salt = _salt(jobId, verifier);
        vm.prank(verifier);
        try audit.reveal(jobId, salt, hashes, proofs) {
            ++hits["auditReveal"];
        } catch {}
    }

    function auditSettle(uint256 jobSeed) external step {
        (uint256 jobId,) = _job(jobSeed);
        try audit.settle(jobId) {
            ++hits["auditSettle"];
        } catch {}
    }

    // --- dispute game ----------------------------------------------------------------------------------

    function challenge(uint256 jobSeed, uint256 who, uint256 indexSeed, bool honest) external step {
        (uint256 jobId, IMarket.Job memory job) = _job(jobSeed);
        if (job.finalRoot == bytes32(0)) return;
        address challenger = challengers[who % challengers.length];
        uint64 index = uint64(indexSeed % job.checkpointCount);
        bytes32[] memory leaves = _leaves(jobId, job);
        bytes32 agreed = _solverState(jobId, index * job.checkpointInterval);
        bytes32 claimed = _solverState(jobId, (index + 1) * job.checkpointInterval);
        bytes32 mine = honest ? _trueState(jobId, (index + 1) * job.checkpointInterval) : keccak256(abi.encode(indexSeed));
        if (mine == claimed) mine = keccak256(abi.encode(claimed));
        bytes32[] memory agreedProof = Merkle.proof(leaves, index);
        bytes32[] memory claimedProof = Merkle.proof(leaves, index + 1);
        vm.prank(challenger);
        try game.challenge{value: CHALLENGE_BOND}(jobId, index, agreed, agreedProof, claimed, claimedProof, mine) returns (
            uint256 disputeId
        ) {
            honestChallenger[disputeId] = honest;
            ++hits["challenge"];
        } catch {}
    }

    function challengeAvailability(uint256 jobSeed, uint256 who, uint256 indexSeed) external step {
        (uint256 jobId, IMarket.Job memory job) = _job(jobSeed);
        if (job.state == IMarket.JobState.None) return;
        address challenger = challengers[who % challengers.length];
        uint256 bond = game.availabilityBond();
        vm.prank(challenger);
        try game.challengeAvailability{value: bond}(jobId, uint64(indexSeed % (job.checkpointCount + 1))) {
            ++hits["challengeAvailability"];
        } catch {}
    }

    function answerAvailability(uint256 disputeSeed) external step {
        (uint256 disputeId, IDisputeGame.Dispute memory d) = _dispute(disputeSeed);
        if (d.phase != IDisputeGame.Phase.Serve || d.kind != IDisputeGame.Kind.Availability) return;
        IMarket.Job memory job = market.getJob(d.jobId);
        bytes32[] memory proof = Merkle.proof(_leaves(d.jobId, job), d.index);
        bytes32 state = _solverState(d.jobId, d.lo);
        vm.prank(d.solver);
        try game.answerAvailability(disputeId, state, proof, keccak256(abi.encode("bytes", state))) {
            ++hits["answerAvailability"];
        } catch {}
    }

    /// @notice The solver reveals its claimed state hashes at the round's points (a cheating solver's claim
    ///         differs from the true state from its cheat step on).
    function reveal(uint256 disputeSeed) external step {
        (uint256 disputeId, IDisputeGame.Dispute memory d) = _dispute(disputeSeed);
        if (d.phase != IDisputeGame.Phase.Reveal) return;
        bytes32[] memory hashes = _claims(d.jobId, game.points(disputeId));
        vm.prank(d.solver);
        try game.reveal(disputeId, hashes) {
            ++hits["reveal"];
        } catch {}
    }

    /// @notice The challenger picks a segment of the revealed round. An honest one picks the first segment whose
    ///         end it disagrees with (the last segment ends at hi, which it disputes); a frivolous one a random
    ///         segment, and 1 in 8 times names hashes the solver did not reveal or a segment that does not
    ///         exist: that must revert (`brokenRule` otherwise).
    function respond(uint256 disputeSeed, uint256 segmentSeed) external step {
        (uint256 disputeId, IDisputeGame.Dispute memory d) = _dispute(disputeSeed);
        if (d.phase != IDisputeGame.Phase.Respond) return;
        uint64[] memory points = game.points(disputeId);
        // What the solver revealed this round (the handler's solver always reveals `_claims`).
        bytes32[] memory hashes = _claims(d.jobId, points);
        uint256 count = points.length + 1;
        uint256 segment;
        bool invalid;
        if (honestChallenger[disputeId]) {
            while (segment < count - 1 && hashes[segment] == _trueState(d.jobId, points[segment])) ++segment;
        } else {
            segment = segmentSeed % count;
            uint256 wrong = (segmentSeed >> 8) % 16;
            if (wrong == 0) {
                hashes[(segmentSeed >> 16) % hashes.length] ^= bytes32(uint256(1)); // not what was revealed
                invalid = true;
            } else if (wrong == 1) {
                segment = count + (segmentSeed >> 16) % 4; // out of range
                invalid = true;
            }
        }
        vm.prank(d.challenger);
        try game.respond(disputeId, hashes, segment) {
            if (invalid) brokenRule = "respond accepted unrevealed hashes or a missing segment";
            ++hits["respond"];
        } catch {}
    }

    function serveState(uint256 disputeSeed) external step {
        (uint256 disputeId, IDisputeGame.Dispute memory d) = _dispute(disputeSeed);
        if (d.phase != IDisputeGame.Phase.Serve || d.kind != IDisputeGame.Kind.Fault) return;
        vm.prank(d.solver);
        try game.serveState(disputeId, keccak256(abi.encode("bytes", d.loHash))) {
            ++hits["serveState"];
        } catch {}
    }

    function claimTimeout(uint256 disputeSeed) external step {
        (uint256 disputeId,) = _dispute(disputeSeed);
        try game.claimTimeout(disputeId) {
            ++hits["claimTimeout"];
        } catch {}
    }

    function closeMoot(uint256 disputeSeed) external step {
        (uint256 disputeId,) = _dispute(disputeSeed);
        try game.closeMoot(disputeId) {
            ++hits["closeMoot"];
        } catch {}
    }

    function releaseBond(uint256 disputeSeed) external step {
        (uint256 disputeId,) = _dispute(disputeSeed);
        try game.releaseBond(disputeId) {
            ++hits["releaseBond"];
        } catch {}
    }

    // --- referee court ---------------------------------------------------------------------------------

    function registerReferee(uint256 who, uint256 amount) external step {
        address referee = referees[who % referees.length];
        amount = REFEREE_BOND + amount % 2 ether;
        vm.prank(referee);
        court.register{value: amount}();
        ++hits["registerReferee"];
    }

    function requestRefereeExit(uint256 who) external step {
        address referee = referees[who % referees.length];
        vm.prank(referee);
        try court.requestExit() {
            ++hits["requestRefereeExit"];
        } catch {}
    }

    function withdrawReferee(uint256 who) external step {
        address referee = referees[who % referees.length];
        vm.prank(referee);
        try court.withdraw() {
            ++hits["withdrawReferee"];
        } catch {}
    }

    function draw(uint256 requestSeed) external step {
        (uint256 requestId, IRefereeCourt.Request memory r) = _request(requestSeed);
        if (requestId == 0) return;
        if (block.number <= r.seedBlock) _advance(12, r.seedBlock + 1 - block.number);
        try court.draw(requestId) {
            ++hits["draw"];
        } catch {}
    }

    function commitAnswer(uint256 requestSeed, uint256 who, uint256 answerSeed) external step {
        (uint256 requestId, IRefereeCourt.Request memory r) = _request(requestSeed);
        if (r.seed == bytes32(0) || r.done) return;
        address referee = referees[who % referees.length];
        if (!court.onPanel(requestId, referee)) return;
        // Mostly honest; some answer the solver's claim, some the unavailable answer (0).
        bytes32 answer = _truth(r);
        if (answerSeed % 6 == 4) answer = _solverState(r.jobId, r.step + (r.availability ? 0 : 1));
        else if (answerSeed % 6 == 5) answer = bytes32(0);
        bytes32 key = _voteKey(requestId, r.round, referee);
        bytes32 commitment = keccak256(abi.encode(requestId, referee, answer, key));
        vm.prank(referee);
        try court.commitAnswer(requestId, commitment) {
            _answer[key] = answer;
            _committed[key] = true;
            ++hits["commitAnswer"];
        } catch {}
    }

    function revealAnswer(uint256 requestSeed, uint256 who) external step {
        (uint256 requestId, IRefereeCourt.Request memory r) = _request(requestSeed);
        address referee = referees[who % referees.length];
        bytes32 key = _voteKey(requestId, r.round, referee);
        if (!_committed[key]) return;
        if (block.timestamp <= r.commitDeadline) _advance(r.commitDeadline + 1 - block.timestamp, 1);
        vm.prank(referee);
        try court.revealAnswer(requestId, _answer[key], key) {
            ++hits["revealAnswer"];
        } catch {}
    }

    function decide(uint256 requestSeed) external step {
        (uint256 requestId,) = _request(requestSeed);
        try court.decide(requestId) {
            ++hits["decide"];
        } catch {}
    }

    function appeal(uint256 requestSeed, bool bySolver) external step {
        (uint256 requestId, IRefereeCourt.Request memory r) = _request(requestSeed);
        if (r.appealDeadline == 0 || r.done) return;
        uint256 bond = court.appealBond(requestId);
        vm.prank(bySolver ? r.solver : r.challenger);
        try court.appeal{value: bond}(requestId) {
            ++hits["appeal"];
        } catch {}
    }

    function slashReferee(uint256 requestSeed, uint256 who) external step {
        (uint256 requestId,) = _request(requestSeed);
        address referee = referees[who % referees.length];
        try court.slash(requestId, referee) {
            ++hits["slashReferee"];
        } catch {}
    }

    // --- swarms (K replicas in rounds; each share a job reserved for its slot's holder) ------------------

    function postSwarm(uint256 who, uint256 priceSeed, uint256 shapeSeed, uint256 durationSeed) external step {
        if (swarm.swarmCount() >= MAX_SWARMS) return;
        ISwarm.Terms memory t;
        t.maxPricePerRound = 1e15 + priceSeed % 0.1 ether;
        t.checkpointCount = uint64(1 + shapeSeed % 4);
        t.checkpointInterval = uint64(1 + (shapeSeed >> 8) % 8);
        t.sampleCount = uint64(1 + (shapeSeed >> 16) % t.checkpointCount);
        t.requiredStake = market.minimumStake(t.maxPricePerRound, t.checkpointCount, t.sampleCount);
        t.biddingDuration = uint64(1 hours + durationSeed % 1 days);
        t.acceptDuration = uint64(1 hours + (durationSeed >> 64) % 1 days);
        t.executionDuration = uint64(1 hours + (durationSeed >> 96) % 2 days);
        t.challengeDuration = uint64(COMMIT_WINDOW + REVEAL_WINDOW + (durationSeed >> 128) % 1 days);
        uint8 replicas = uint8(2 + (shapeSeed >> 32) % 2);
        uint16 rounds = uint16(1 + (shapeSeed >> 40) % 2);
        uint8 standbys = uint8((shapeSeed >> 48) % 3);
        vm.prank(submitters[who % submitters.length]);
        try swarm.post(keccak256(abi.encode("swarm", priceSeed)), replicas, rounds, standbys, t) {
            ++hits["postSwarm"];
        } catch {}
    }

    function swarmBid(uint256 swarmSeed, uint256 who, uint256 priceSeed) external step {
        (uint256 swarmId, ISwarm.Swarm memory s) = _swarm(swarmSeed);
        if (s.state != ISwarm.SwarmState.Bidding) return;
        address solver = solvers[who % solvers.length];
        uint256 free = staking.freeStake(solver);
        if (free < s.requiredStake) {
            vm.prank(solver);
            staking.deposit{value: s.requiredStake - free}();
        }
        vm.prank(solver);
        try swarm.bid(swarmId, 1 + priceSeed % s.maxPricePerRound) {
            ++hits["swarmBid"];
        } catch {}
    }

    function closeSwarmBidding(uint256 swarmSeed) external step {
        (uint256 swarmId,) = _swarm(swarmSeed);
        try swarm.closeBidding(swarmId) {
            ++hits["closeSwarmBidding"];
        } catch {}
    }

    /// @notice The submitter posts a slot's share of the current round, or of the next one (the contract decides
    ///         whether it is due), paying the holder's price and sometimes a verifiers' reward on top.
    function postReplica(uint256 swarmSeed, uint256 slotSeed, uint256 choice) external step {
        (uint256 swarmId, ISwarm.Swarm memory s) = _swarm(swarmSeed);
        if (s.state != ISwarm.SwarmState.Running || market.jobCount() >= MAX_JOBS + MAX_SHARES) return;
        uint8 slot = uint8(slotSeed % s.replicas);
        uint16 round = s.currentRound + uint16(choice % 2);
        (, uint256[] memory prices) = swarm.slots(swarmId);
        uint256 jobId = market.jobCount() + 1;
        vm.prank(s.submitter);
        try swarm.postReplica{value: prices[slot] + (choice >> 8) % 0.01 ether}(
            swarmId, round, slot, keccak256(abi.encode("share", swarmId, round, slot))
        ) {
            cheatStep[jobId] = (choice >> 80) % 2 == 0 ? HONEST : uint64(1 + (choice >> 81) % 32);
            ++hits["postReplica"];
        } catch {}
    }

    function vacate(uint256 swarmSeed, uint256 slotSeed) external step {
        (uint256 swarmId, ISwarm.Swarm memory s) = _swarm(swarmSeed);
        if (s.state != ISwarm.SwarmState.Running) return;
        try swarm.vacate(swarmId, uint8(slotSeed % s.replicas)) {
            ++hits["vacate"];
        } catch {}
    }

    function completeSwarm(uint256 swarmSeed) external step {
        (uint256 swarmId,) = _swarm(swarmSeed);
        try swarm.complete(swarmId) {
            ++hits["completeSwarm"];
        } catch {}
    }

    function noteIdle(uint256 swarmSeed) external step {
        (uint256 swarmId,) = _swarm(swarmSeed);
        try swarm.noteIdle(swarmId) {
            ++hits["noteIdle"];
        } catch {}
    }

    /// @notice The submitter (or, after the idle period, anyone) ends a swarm.
    function endSwarm(uint256 swarmSeed, uint256 who) external step {
        (uint256 swarmId, ISwarm.Swarm memory s) = _swarm(swarmSeed);
        if (s.state == ISwarm.SwarmState.None) return;
        vm.prank(who % 2 == 0 ? s.submitter : actors[who % actors.length]);
        try swarm.end(swarmId) {
            ++hits["endSwarm"];
        } catch {}
    }

    /// @notice Moves a swarm (an unfinished one, from `swarmSeed` on) forward 1 .. 8 steps: bids, the close, then
    ///         per slot what its share's state calls for (vacate a failed holder, post the share, move its job);
    ///         now and then the idle notice, completion or the end.
    function progressSwarm(uint256 swarmSeed, uint256 choice) external step {
        uint256 count = swarm.swarmCount();
        if (count == 0) return;
        uint256 swarmId = 1 + swarmSeed % count;
        uint256 steps = 1 + choice % 8;
        for (uint256 i; i < steps; ++i) {
            _swarmStep(swarmId, uint256(keccak256(abi.encode(choice, i))));
        }
    }

    function _swarmStep(uint256 swarmId, uint256 choice) internal {
        ISwarm.Swarm memory s = swarm.getSwarm(swarmId);
        uint256 seed = swarmId - 1;
        uint256 c = choice % 8;
        if (s.state == ISwarm.SwarmState.Bidding) {
            (address[] memory bidders,) = swarm.bidsOf(swarmId);
            if (c != 7 && (bidders.length < s.replicas || c < 4)) {
                this.swarmBid(seed, choice >> 8, choice >> 16);
            } else {
                _advanceTo(s.biddingDeadline + 1);
                this.closeSwarmBidding(seed);
            }
        } else if (s.state == ISwarm.SwarmState.Running) {
            if (c == 7) {
                if ((choice >> 8) % 4 == 0) this.endSwarm(seed, choice >> 16);
                else if ((choice >> 8) % 4 == 1) this.noteIdle(seed);
                else this.completeSwarm(seed);
                return;
            }
            uint8 slot = uint8((choice >> 8) % s.replicas);
            uint256 jobId = swarm.replicaJob(swarmId, s.currentRound, slot);
            IMarket.JobState state = jobId == 0 ? IMarket.JobState.None : market.jobState(jobId);
            if (state == IMarket.JobState.Cancelled || state == IMarket.JobState.Failed
                    || state == IMarket.JobState.Slashed) {
                this.vacate(seed, slot);
                this.postReplica(seed, slot, choice >> 16 << 1); // the same round
            } else if (_open(state)) {
                _jobStep(jobId, choice >> 16);
            } else {
                this.postReplica(seed, slot, choice >> 16);
            }
        }
    }

    // --- claims ----------------------------------------------------------------------------------------

    function claim(uint256 contractSeed, uint256 who) external step {
        ICredits ledger = _ledger(contractSeed);
        address account = actors[who % actors.length];
        if (ledger.credits(account) == 0) return;
        vm.prank(account);
        try ledger.claim() {
            ++hits["claim"];
        } catch {
            brokenExit = "claim of a credit reverted";
        }
    }

    // --- drivers: one job, dispute or request moved forward several steps -------------------------------

    /// @notice Moves a job (an open one, from `jobSeed` on) forward 1 .. 8 steps, each the next plausible action
    ///         of its state, the branch picked by `choice`: bid or close, submit, progress or miss the deadline,
    ///         seal, commit audits, reveal them, challenge (fault or availability), play its disputes, finalize;
    ///         time moves only as far as the step needs.
    function progressJob(uint256 jobSeed, uint256 choice) external step {
        uint256 count = market.jobCount();
        if (count == 0) return;
        uint256 jobId = 1 + jobSeed % count;
        for (uint256 i; i < count && !_open(market.jobState(jobId)); ++i) {
            jobId = jobId % count + 1;
        }
        uint256 steps = 1 + choice % 8;
        for (uint256 i; i < steps; ++i) {
            _jobStep(jobId, uint256(keccak256(abi.encode(choice, i))));
        }
    }

    /// @notice Moves a dispute (an unresolved one, from `disputeSeed` on) forward 1 .. 8 steps: bisection moves,
    ///         serving, timeouts, and its referee request (draw, commits, reveals, decisions, appeals, slashes).
    function progressDispute(uint256 disputeSeed, uint256 choice) external step {
        uint256 count = game.disputeCount();
        if (count == 0) return;
        uint256 disputeId = 1 + disputeSeed % count;
        for (uint256 i; i < count && game.getDispute(disputeId).phase == IDisputeGame.Phase.Resolved; ++i) {
            disputeId = disputeId % count + 1;
        }
        uint256 steps = 1 + choice % 8;
        for (uint256 i; i < steps; ++i) {
            _disputeStep(disputeId, uint256(keccak256(abi.encode(choice, i))));
        }
    }

    function _jobStep(uint256 jobId, uint256 choice) internal {
        IMarket.Job memory job = market.getJob(jobId);
        uint256 seed = jobId - 1;
        uint256 c = choice % 8;
        IMarket.JobState state = job.state;
        if (state == IMarket.JobState.Bidding) {
            if ((job.solver == address(0) && c != 7) || c < 3) {
                this.bid(seed, choice >> 8, choice >> 16);
            } else {
                _advanceTo(job.biddingDeadline + 1);
                this.closeBidding(seed);
            }
        } else if (state == IMarket.JobState.Running) {
            if (c == 0) {
                _advanceTo(job.executionDeadline + 1);
                this.reportMissedDeadline(seed);
            } else if (c == 1) {
                this.postProgress(seed, choice >> 8);
            } else {
                this.submitResult(seed);
            }
        } else if (state == IMarket.JobState.Submitted || state == IMarket.JobState.Disputed) {
            _reviewStep(jobId, job, choice);
        } else {
            // Settled: the audit and any held bond follow; the parties take their money now and then.
            if (!audit.settled(jobId)) this.auditSettle(seed);
            uint256[] memory held = game.heldBonds(jobId);
            for (uint256 i; i < held.length; ++i) {
                this.releaseBond(held[i] - 1);
            }
            if (c == 0) this.claim(choice >> 8, choice >> 16);
        }
    }

    function _reviewStep(uint256 jobId, IMarket.Job memory job, uint256 choice) internal {
        uint256 seed = jobId - 1;
        uint256 c = choice % 8;
        if (job.sampleSeed == bytes32(0)) {
            this.sealSample(seed);
            return;
        }
        if (job.state == IMarket.JobState.Disputed && c < 5) {
            uint256[] memory disputes = game.disputesOf(jobId);
            for (uint256 i; i < disputes.length; ++i) {
                uint256 disputeId = disputes[(i + (choice >> 8)) % disputes.length];
                if (game.getDispute(disputeId).phase != IDisputeGame.Phase.Resolved) {
                    _disputeStep(disputeId, choice >> 16);
                    return;
                }
            }
        }
        uint64 commitEnd = job.sampleSealedAt + COMMIT_WINDOW;
        if (block.timestamp <= commitEnd) {
            if (c < 5) {
                for (uint256 i; i < verifiers.length; ++i) {
                    this.auditCommit(seed, i, choice >> (8 + 4 * i));
                }
            } else if (c == 5) {
                this.fundAudit(seed, choice >> 8, choice >> 16);
            } else {
                _advanceTo(commitEnd + 1);
            }
        } else if (block.timestamp <= job.challengeDeadline) {
            uint64 revealEnd = commitEnd + REVEAL_WINDOW;
            if (c < 4 && block.timestamp <= revealEnd) {
                for (uint256 i; i < verifiers.length; ++i) {
                    // Now and then a committed verifier stays hidden (and forfeits its bond).
                    if ((choice >> (8 + 4 * i)) % 8 != 0) this.auditReveal(seed, i);
                }
            } else if (c == 4) {
                this.challenge(seed, choice >> 8, choice >> 16, (choice >> 24) % 3 != 0);
            } else if (c == 5) {
                this.challengeAvailability(seed, choice >> 8, choice >> 16);
            } else {
                _advanceTo((block.timestamp <= revealEnd ? revealEnd : job.challengeDeadline) + 1);
            }
        } else if (job.state == IMarket.JobState.Submitted) {
            this.finalize(seed);
        } else {
            uint256[] memory disputes = game.disputesOf(jobId);
            _disputeStep(disputes[(choice >> 8) % disputes.length], choice >> 16);
        }
    }

    function _disputeStep(uint256 disputeId, uint256 choice) internal {
        IDisputeGame.Dispute memory d = game.getDispute(disputeId);
        uint256 seed = disputeId - 1;
        uint256 c = choice % 8;
        IDisputeGame.Phase phase = d.phase;
        if (phase == IDisputeGame.Phase.Resolved) {
            if (d.bondHeld) this.releaseBond(seed);
            if (d.requestId != 0) _requestStep(d.requestId, choice >> 4); // slashes the failed seats
            return;
        }
        if (phase == IDisputeGame.Phase.Adjudicating) {
            _requestStep(d.requestId, choice >> 4);
            return;
        }
        if (market.jobState(d.jobId) == IMarket.JobState.Slashed) {
            this.closeMoot(seed);
        } else if (c == 0) {
            // The party to move lets its clock run out.
            _advance(CLOCK + 1, 1);
            this.claimTimeout(seed);
        } else if (phase == IDisputeGame.Phase.Reveal) {
            this.reveal(seed);
        } else if (phase == IDisputeGame.Phase.Respond) {
            this.respond(seed, choice >> 8);
        } else if (d.kind == IDisputeGame.Kind.Fault) {
            this.serveState(seed);
        } else {
            this.answerAvailability(seed);
        }
    }

    function _requestStep(uint256 requestId, uint256 choice) internal {
        IRefereeCourt.Request memory r = court.getRequest(requestId);
        uint256 seed = requestId - 1;
        uint256 c = choice % 8;
        if (r.done) {
            for (uint256 i; i < referees.length; ++i) {
                this.slashReferee(seed, i);
            }
        } else if (r.appealDeadline != 0) {
            if (c < 2) {
                this.appeal(seed, c == 0);
            } else {
                _advanceTo(r.appealDeadline + 1);
                this.decide(seed);
            }
        } else if (r.seed == bytes32(0)) {
            this.draw(seed);
            if (c == 0 && court.getRequest(requestId).seed == bytes32(0)) {
                _advanceTo(r.armedAt + ANSWER_WINDOW + 1);
                this.decide(seed);
            }
        } else if (block.timestamp <= r.commitDeadline) {
            if (c < 6) {
                for (uint256 i; i < referees.length; ++i) {
                    // Now and then a seat stays silent (and is slashed once the request is decided).
                    if ((choice >> (8 + 4 * i)) % 8 != 0) this.commitAnswer(seed, i, choice >> (40 + 4 * i));
                }
            } else {
                _advanceTo(r.commitDeadline + 1);
            }
        } else if (block.timestamp <= r.revealDeadline) {
            if (c < 6) {
                for (uint256 i; i < referees.length; ++i) {
                    if ((choice >> (8 + 4 * i)) % 9 != 0) this.revealAnswer(seed, i);
                }
            } else {
                _advanceTo(r.revealDeadline + 1);
            }
        } else {
            this.decide(seed);
        }
    }

    function _advanceTo(uint256 t) internal {
        if (t > time) _advance(t - time, 1);
    }

    // --- the drain -------------------------------------------------------------------------------------

    /// @notice Takes every exit (anyone's where anyone may, each party's own otherwise): moves time past every
    ///         window, settles every job, dispute, request and audit, exits every stake and claims every credit.
    ///         Reverts if anything is left unsettled; the caller then checks that every contract is empty.
    function drain() external {
        vm.warp(time);
        vm.roll(blockNumber);
        for (uint256 pass; pass < 40 && !_allSettled(); ++pass) {
            _advance(31 days, 1);
            uint256 jobs = market.jobCount();
            for (uint256 jobId = 1; jobId <= jobs; ++jobId) {
                _settleJob(jobId);
            }
            uint256 disputes = game.disputeCount();
            for (uint256 disputeId = 1; disputeId <= disputes; ++disputeId) {
                _settleDispute(disputeId);
            }
            uint256 requests = court.requestCount();
            for (uint256 requestId = 1; requestId <= requests; ++requestId) {
                _pushRequest(requestId);
            }
            uint256 swarms = swarm.swarmCount();
            for (uint256 swarmId = 1; swarmId <= swarms; ++swarmId) {
                _settleSwarm(swarmId);
            }
        }
        require(_allSettled(), "drain: something could not be settled");
        _slashAndRelease();
        _exitEverything();
        _claimEverything();
        ++drains;
    }

    function _settleJob(uint256 jobId) internal {
        IMarket.JobState state = market.jobState(jobId);
        if (state == IMarket.JobState.Bidding) {
            market.closeBidding(jobId);
        } else if (state == IMarket.JobState.Running) {
            market.reportMissedDeadline(jobId);
        } else if (state == IMarket.JobState.Submitted) {
            if (market.getJob(jobId).sampleSeed == bytes32(0)) {
                _advance(12, 2);
                market.sealSample(jobId);
            } else {
                market.finalize(jobId);
            }
        }
    }

    /// @dev A swarm's exits: anyone closes its auction; once no share is live, a trained one is completed and
    ///      any other is ended by its submitter.
    function _settleSwarm(uint256 swarmId) internal {
        ISwarm.Swarm memory s = swarm.getSwarm(swarmId);
        if (s.state == ISwarm.SwarmState.Bidding) {
            swarm.closeBidding(swarmId);
        } else if (s.state == ISwarm.SwarmState.Running && swarm.liveJob(swarmId) == 0) {
            try swarm.complete(swarmId) {}
            catch {
                vm.prank(s.submitter);
                swarm.end(swarmId);
            }
        }
    }

    function _settleDispute(uint256 disputeId) internal {
        IDisputeGame.Dispute memory d = game.getDispute(disputeId);
        if (d.phase == IDisputeGame.Phase.Resolved || d.phase == IDisputeGame.Phase.Adjudicating) return;
        if (market.jobState(d.jobId) == IMarket.JobState.Slashed) game.closeMoot(disputeId);
        else game.claimTimeout(disputeId);
    }

    function _pushRequest(uint256 requestId) internal {
        IRefereeCourt.Request memory r = court.getRequest(requestId);
        if (r.done) return;
        if (r.appealDeadline != 0) {
            court.decide(requestId);
            return;
        }
        if (r.seed == bytes32(0)) {
            if (block.number <= r.seedBlock) _advance(0, r.seedBlock + 1 - block.number);
            // Late (the drain moves time by weeks): the draw re-arms from a fresh snapshot, or reverts when
            // nobody but the parties can sit now; then `decide` abandons the request (or the proposal stands).
            try court.draw(requestId) {} catch {}
            IRefereeCourt.Request memory rearmed = court.getRequest(requestId);
            if (rearmed.seed == bytes32(0) && rearmed.armedAt == r.armedAt) {
                court.decide(requestId);
                return;
            }
            if (rearmed.seed == bytes32(0)) {
                _advance(0, rearmed.seedBlock + 1 - block.number);
                court.draw(requestId);
            }
        }
        _advance(2 * ANSWER_WINDOW + 1, 1);
        court.decide(requestId); // silent panel: a fresh round, or abandoned after the last
    }

    function _allSettled() internal view returns (bool) {
        uint256 jobs = market.jobCount();
        for (uint256 jobId = 1; jobId <= jobs; ++jobId) {
            if (_open(market.jobState(jobId))) return false;
        }
        uint256 disputes = game.disputeCount();
        for (uint256 disputeId = 1; disputeId <= disputes; ++disputeId) {
            if (game.getDispute(disputeId).phase != IDisputeGame.Phase.Resolved) return false;
        }
        uint256 requests = court.requestCount();
        for (uint256 requestId = 1; requestId <= requests; ++requestId) {
            if (!court.getRequest(requestId).done) return false;
        }
        uint256 swarms = swarm.swarmCount();
        for (uint256 swarmId = 1; swarmId <= swarms; ++swarmId) {
            ISwarm.SwarmState state = swarm.getSwarm(swarmId).state;
            if (state == ISwarm.SwarmState.Bidding || state == ISwarm.SwarmState.Running) return false;
        }
        return true;
    }

    function _slashAndRelease() internal {
        uint256 requests = court.requestCount();
        for (uint256 requestId = 1; requestId <= requests; ++requestId) {
            for (uint256 i; i < referees.length; ++i) {
                try court.slash(requestId, referees[i]) {} catch {}
            }
        }
        uint256 disputes = game.disputeCount();
        for (uint256 disputeId = 1; disputeId <= disputes; ++disputeId) {
            if (game.getDispute(disputeId).bondHeld) game.releaseBond(disputeId);
        }
        uint256 jobs = market.jobCount();
        for (uint256 jobId = 1; jobId <= jobs; ++jobId) {
            if (!audit.settled(jobId)) audit.settle(jobId);
        }
    }

    function _exitEverything() internal {
        for (uint256 i; i < verifiers.length; ++i) {
            if (audit.stakeOf(verifiers[i]) != 0) {
                vm.prank(verifiers[i]);
                audit.requestExit();
            }
        }
        for (uint256 i; i < referees.length; ++i) {
            if (court.stakeOf(referees[i]) != 0) {
                vm.prank(referees[i]);
                court.requestExit();
            }
        }
        for (uint256 i; i < solvers.length; ++i) {
            uint256 free = staking.freeStake(solvers[i]);
            if (free != 0) {
                vm.prank(solvers[i]);
                staking.requestWithdrawal(free);
            }
        }
        _advance(EXIT_DELAY + UNBONDING_DELAY + VERIFIER_DELAY + 1, 1);
        for (uint256 i; i < verifiers.length; ++i) {
            // The audit has no view of a verifier's exiting stake: a withdrawal with none reverts (NoPendingExit).
            vm.prank(verifiers[i]);
            try audit.withdrawStake() {} catch {}
        }
        for (uint256 i; i < referees.length; ++i) {
            (uint256 amount,) = court.exitingOf(referees[i]);
            if (amount != 0) {
                vm.prank(referees[i]);
                court.withdraw();
            }
        }
        for (uint256 i; i < solvers.length; ++i) {
            if (staking.pendingWithdrawal(solvers[i]) != 0) {
                vm.prank(solvers[i]);
                staking.withdraw();
            }
        }
    }

    function _claimEverything() internal {
        for (uint256 c; c < 4; ++c) {
            ICredits ledger = _ledger(c);
            for (uint256 i; i < actors.length; ++i) {
                if (ledger.credits(actors[i]) != 0) {
                    vm.prank(actors[i]);
                    ledger.claim();
                }
            }
        }
    }

    // --- helpers ---------------------------------------------------------------------------------------

    function _actors(address[] storage list, uint160 base, uint256 count, string memory name) internal {
        for (uint256 i; i < count; ++i) {
            address account = address(base + uint160(i));
            vm.deal(account, 1e30);
            vm.label(account, string.concat(name, "-", _digit(i)));
            list.push(account);
            actors.push(account);
        }
    }

    function _digit(uint256 i) internal pure returns (string memory) {
        return string(abi.encodePacked(bytes1(uint8(48 + i))));
    }

    function _advance(uint256 dt, uint256 blocks) internal {
        time += dt;
        blockNumber += blocks;
        vm.warp(time);
        vm.roll(blockNumber);
    }

    function _open(IMarket.JobState state) internal pure returns (bool) {
        return state == IMarket.JobState.Bidding || state == IMarket.JobState.Running
            || state == IMarket.JobState.Submitted || state == IMarket.JobState.Disputed;
    }

    function _ledger(uint256 seed) internal view returns (ICredits) {
        uint256 c = seed % 4;
        if (c == 0) return ICredits(address(market));
        if (c == 1) return ICredits(address(game));
        if (c == 2) return ICredits(address(court));
        return ICredits(address(audit));
    }

    function _job(uint256 seed) internal view returns (uint256 jobId, IMarket.Job memory job) {
        uint256 count = market.jobCount();
        if (count == 0) return (0, job);
        jobId = 1 + seed % count;
        job = market.getJob(jobId);
    }

    function _swarm(uint256 seed) internal view returns (uint256 swarmId, ISwarm.Swarm memory s) {
        uint256 count = swarm.swarmCount();
        if (count == 0) return (0, s);
        swarmId = 1 + seed % count;
        s = swarm.getSwarm(swarmId);
    }

    function _dispute(uint256 seed) internal view returns (uint256 disputeId, IDisputeGame.Dispute memory d) {
        uint256 count = game.disputeCount();
        if (count == 0) return (0, d);
        disputeId = 1 + seed % count;
        d = game.getDispute(disputeId);
    }

    function _request(uint256 seed) internal view returns (uint256 requestId, IRefereeCourt.Request memory r) {
        uint256 count = court.requestCount();
        if (count == 0) return (0, r);
        requestId = 1 + seed % count;
        r = court.getRequest(requestId);
    }

    function _trueState(uint256 jobId, uint256 at) internal pure returns (bytes32) {
        return keccak256(abi.encode("state", jobId, at));
    }

    function _solverState(uint256 jobId, uint256 at) internal view returns (bytes32) {
        return at < cheatStep[jobId] ? _trueState(jobId, at) : keccak256(abi.encode("wrong", jobId, at));
    }

    /// @dev The solver's claimed state hashes at `points` (what it reveals in a round).
    function _claims(uint256 jobId, uint64[] memory points) internal view returns (bytes32[] memory hashes) {
        hashes = new bytes32[](points.length);
        for (uint256 i; i < points.length; ++i) {
            hashes[i] = _solverState(jobId, points[i]);
        }
    }

    /// @dev The solver's checkpoint leaves, index 0 .. checkpointCount.
    function _leaves(uint256 jobId, IMarket.Job memory job) internal view returns (bytes32[] memory leaves) {
        leaves = new bytes32[](job.checkpointCount + 1);
        for (uint256 i; i <= job.checkpointCount; ++i) {
            uint256 at = i * job.checkpointInterval;
            leaves[i] = keccak256(bytes.concat(keccak256(abi.encode(jobId, i, at, _solverState(jobId, at)))));
        }
    }

    function _auditHashes(uint256 jobId, IMarket.Job memory job, uint256 mode)
        internal
        view
        returns (bytes32[] memory hashes)
    {
        uint64[] memory sample = market.sampledIntervals(jobId);
        hashes = new bytes32[](sample.length);
        for (uint256 i; i < sample.length; ++i) {
            uint256 at = (uint256(sample[i]) + 1) * job.checkpointInterval;
            if (mode == 1) hashes[i] = _trueState(jobId, at);
            else if (mode == 2) hashes[i] = _solverState(jobId, at);
            else hashes[i] = keccak256(abi.encode("guess", jobId, at));
        }
    }

    function _salt(uint256 jobId, address verifier) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", jobId, verifier));
    }

    /// @dev What an honest referee answers: the true post-state of a step from the agreed (true) pre-state, 0
    ///      when the served pre-state is not the true one; for availability, the proven hash (bytes served).
    function _truth(IRefereeCourt.Request memory r) internal pure returns (bytes32) {
        if (r.availability) return r.preStateHash;
        if (r.preStateHash != _trueState(r.jobId, r.step)) return bytes32(0);
        return _trueState(r.jobId, uint256(r.step) + 1);
    }

    function _voteKey(uint256 requestId, uint64 round, address referee) internal pure returns (bytes32) {
        return keccak256(abi.encode("vote", requestId, round, referee));
    }
}
