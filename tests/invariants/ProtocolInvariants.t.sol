// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarket} from "../../contracts/interfaces/IMarket.sol";
import {IDisputeGame} from "../../contracts/interfaces/IDisputeGame.sol";
import {ICredits} from "../../contracts/interfaces/ICredits.sol";
import {IAudit} from "../../contracts/interfaces/IAudit.sol";
import {IRefereeCourt} from "../../contracts/interfaces/IRefereeCourt.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

import {FuzzSelector, vm} from "./Vm.sol";
import {ProtocolHandler} from "./ProtocolHandler.sol";

/// @title ProtocolInvariants
/// @notice Foundry invariant suite over Staking, Market, DisputeGame, RefereeCourt, Audit and Swarm, wired as deployed.
///         After every handler call (`invariant_solvency`): each contract holds exactly what its own ledgers
///         say it owes, and each ledger adds up (credits per account, escrow per open job, locked stake per
///         job, bonds per open dispute). After every run (`afterInvariant`): every exit can be taken (time is
///         moved past every window, every job, dispute, panel and audit is settled, every stake exits, every
///         credit is claimed, every swarm completed or ended) and all six contracts are left with exactly zero wei.
///         Sizes: foundry.toml (`make test-invariants`; `make fuzz-nightly` is ten times as many calls).
contract ProtocolInvariants {
    ProtocolHandler internal handler;

    function setUp() public {
        handler = new ProtocolHandler();
    }

    /// @notice The CSV header of the coverage lines (see afterInvariant).
    function test_coverageHeader() public {
        string memory path = vm.envOr("INVARIANT_COVERAGE", string(""));
        if (bytes(path).length != 0) vm.writeLine(string.concat(path, ".header"), handler.coverageHeader());
    }

    /// @notice forge fuzzes only the handler ...
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice ... through these actions: the drivers (several lifecycle steps of a job or a dispute per call,
    ///         listed four times each to weigh them), the registries (stake in and out: solvers, verifiers,
    ///         referees), new jobs and swarms, time, claims, and raw calls anyone may make at any moment (the
    ///         drivers call the other handler actions themselves). The drain is never a target.
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory s = new bytes4[](34);
        for (uint256 i; i < 4; ++i) {
            s[2 * i] = ProtocolHandler.progressJob.selector;
            s[2 * i + 1] = ProtocolHandler.progressDispute.selector;
        }
        s[8] = ProtocolHandler.postJob.selector;
        s[9] = ProtocolHandler.postJob.selector;
        s[10] = ProtocolHandler.warp.selector;
        s[11] = ProtocolHandler.warp.selector;
        s[12] = ProtocolHandler.deposit.selector;
        s[13] = ProtocolHandler.requestWithdrawal.selector;
        s[14] = ProtocolHandler.withdraw.selector;
        s[15] = ProtocolHandler.registerVerifier.selector;
        s[16] = ProtocolHandler.requestVerifierExit.selector;
        s[17] = ProtocolHandler.withdrawVerifierStake.selector;
        s[18] = ProtocolHandler.registerReferee.selector;
        s[19] = ProtocolHandler.requestRefereeExit.selector;
        s[20] = ProtocolHandler.withdrawReferee.selector;
        s[21] = ProtocolHandler.claim.selector;
        s[22] = ProtocolHandler.claimTimeout.selector;
        s[23] = ProtocolHandler.closeMoot.selector;
        s[24] = ProtocolHandler.draw.selector;
        s[25] = ProtocolHandler.challenge.selector;
        s[26] = ProtocolHandler.fundAudit.selector;
        s[27] = ProtocolHandler.progressSwarm.selector;
        s[28] = ProtocolHandler.progressSwarm.selector;
        s[29] = ProtocolHandler.postSwarm.selector;
        s[30] = ProtocolHandler.vacate.selector;
        s[31] = ProtocolHandler.endSwarm.selector;
        s[32] = ProtocolHandler.progressSwarm.selector;
        s[33] = ProtocolHandler.progressSwarm.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector({addr: address(handler), selectors: s});
    }

    /// @notice Solvency and the ledgers' sums, checked after every call.
    function invariant_solvency() public view {
        require(bytes(handler.brokenExit()).length == 0, handler.brokenExit());
        require(bytes(handler.brokenRule()).length == 0, handler.brokenRule());
        require(address(handler.swarm()).balance == 0, "swarm: holds ETH"); // it forwards all it is paid
        _checkStaking();
        _checkMarket();
        _checkGame();
        _checkCourt();
        _checkAudit();
    }

    /// @notice After every run: every exit is taken and every contract drains to exactly zero.
    function afterInvariant() public {
        // Coverage of the run (successful calls per action, outcomes reached before the drain), one CSV line
        // per run, when INVARIANT_COVERAGE names a file (under .forge/, the only path forge may write).
        string memory path = vm.envOr("INVARIANT_COVERAGE", string(""));
        if (bytes(path).length != 0) vm.writeLine(path, handler.coverage());
        handler.drain();
        (address staking, address market, address court, address game, address audit) = _contracts();
        require(staking.balance == 0, "drain: staking not empty");
        require(market.balance == 0, "drain: market not empty");
        require(game.balance == 0, "drain: dispute game not empty");
        require(court.balance == 0, "drain: court not empty");
        require(audit.balance == 0, "drain: audit not empty");
        require(IMarket(market).totalEscrow() == 0 && IMarket(market).totalCredits() == 0, "drain: market ledgers");
        require(IDisputeGame(game).totalBonds() == 0 && IDisputeGame(game).totalCredits() == 0, "drain: game ledgers");
        require(IRefereeCourt(court).totalBonds() == 0 && IRefereeCourt(court).totalCredits() == 0, "drain: court ledgers");
        require(IAudit(audit).totalHeld() == 0 && IAudit(audit).totalCredits() == 0, "drain: audit ledgers");
        invariant_solvency();
    }

    function _contracts()
        internal
        view
        returns (address staking, address market, address court, address game, address audit)
    {
        return (
            address(handler.staking()),
            address(handler.market()),
            address(handler.court()),
            address(handler.game()),
            address(handler.audit())
        );
    }

    /// @dev Staking: the balance is every account's free + locked + pending stake (only solvers stake), and a
    ///      solver's locked stake is the required stake of the open jobs it is the (best) solver of.
    function _checkStaking() internal view {
        IStaking staking = handler.staking();
        IMarket market = handler.market();
        uint256 jobs = market.jobCount();
        uint256 sum;
        for (uint256 i; i < handler.solverCount(); ++i) {
            address solver = handler.solvers(i);
            uint256 locked = staking.lockedStake(solver);
            sum += staking.freeStake(solver) + locked + staking.pendingWithdrawal(solver);
            uint256 backing;
            for (uint256 jobId = 1; jobId <= jobs; ++jobId) {
                IMarket.Job memory job = market.getJob(jobId);
                if (job.solver == solver && _open(job.state)) backing += job.requiredStake;
            }
            require(locked == backing, "staking: locked stake != open jobs' required stake");
        }
        require(address(staking).balance == sum, "staking: balance != stakes");
    }

    /// @dev RefereeCourt: counted and exiting referee stake, appeal bonds, credits.
    function _checkCourt() internal view {
        IRefereeCourt court = handler.court();
        uint256 bonds = court.totalStake() + court.totalExiting() + court.totalAppealBonds();
        require(court.totalBonds() == bonds, "court: totalBonds != stake + exiting + appeal bonds");
        require(address(court).balance == bonds + court.totalCredits(), "court: balance != ledgers");
        require(_sumCredits(address(court)) == court.totalCredits(), "court: credits do not add up");
    }

    /// @dev Audit: verifier stake (counted and exiting), audit bonds and pots held, credits.
    function _checkAudit() internal view {
        IAudit audit = handler.audit();
        require(address(audit).balance == audit.totalHeld() + audit.totalCredits(), "audit: balance != ledgers");
        require(_sumCredits(address(audit)) == audit.totalCredits(), "audit: credits do not add up");
    }

    /// @dev Market: escrow of the open jobs plus credits.
    function _checkMarket() internal view {
        IMarket market = handler.market();
        uint256 jobs = market.jobCount();
        uint256 escrow;
        for (uint256 jobId = 1; jobId <= jobs; ++jobId) {
            IMarket.Job memory job = market.getJob(jobId);
            if (_open(job.state)) escrow += job.maxPrice;
        }
        require(market.totalEscrow() == escrow, "market: totalEscrow != open jobs' escrow");
        require(address(market).balance == market.totalEscrow() + market.totalCredits(), "market: balance != ledgers");
        require(_sumCredits(address(market)) == market.totalCredits(), "market: credits do not add up");
    }

    /// @dev DisputeGame: one bond per unresolved dispute and per held availability bond, plus credits.
    function _checkGame() internal view {
        IDisputeGame game = handler.game();
        uint256 disputes = game.disputeCount();
        uint256 bonds;
        for (uint256 disputeId = 1; disputeId <= disputes; ++disputeId) {
            IDisputeGame.Dispute memory d = game.getDispute(disputeId);
            if (d.phase != IDisputeGame.Phase.Resolved || d.bondHeld) bonds += game.bondOf(disputeId);
        }
        require(game.totalBonds() == bonds, "game: totalBonds != open disputes' bonds");
        require(address(game).balance == game.totalBonds() + game.totalCredits(), "game: balance != ledgers");
        require(_sumCredits(address(game)) == game.totalCredits(), "game: credits do not add up");
    }

    function _sumCredits(address ledger) internal view returns (uint256 sum) {
        uint256 n = handler.actorCount();
        for (uint256 i; i < n; ++i) {
            sum += ICredits(ledger).credits(handler.actors(i));
        }
    }

    function _open(IMarket.JobState state) internal pure returns (bool) {
        return state == IMarket.JobState.Bidding || state == IMarket.JobState.Running
            || state == IMarket.JobState.Submitted || state == IMarket.JobState.Disputed;
    }
}
