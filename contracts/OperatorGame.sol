// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IOperatorGame} from "./interfaces/IOperatorGame.sol";
import {Float32} from "./lib/Float32.sol";
import {TensorProof} from "./lib/TensorProof.sol";

/// @title OperatorGame
/// @notice One training step disputed down to one float32 operation, executed on chain (see IOperatorGame).
/// @dev Gas: every move stores a node and the hash of a reveal, never the revealed nodes themselves (the pick
///      hands them back as calldata), so each move costs tens of thousands of gas at any model size.
contract OperatorGame is IOperatorGame {
    /// @inheritdoc IOperatorGame
    uint8 public constant MAX_TRACE_DEPTH = 16;

    /// @dev Levels a reveal descends: 16 nodes, so a tree of depth d takes ceil(d / 4) reveals.
    uint8 private constant SPAN = 4;

    /// @dev What a game's hash slots hold before the moves write them (no keccak256 output is 1).
    bytes32 private constant UNSET = bytes32(uint256(1));

    /// @notice The contract that opens games and reads their outcomes (the dispute game's step verifier).
    address public immutable opener;

    /// @inheritdoc IOperatorGame
    uint64 public immutable moveTimeout;

    uint256 public gameCount;

    mapping(uint256 gameId => Game) private _games;

    constructor(address opener_, uint64 moveTimeout_) {
        if (opener_ == address(0) || moveTimeout_ == 0) revert NotOpener(opener_);
        opener = opener_;
        moveTimeout = moveTimeout_;
    }

    /// @inheritdoc IOperatorGame
    function open(
        address solver,
        address challenger,
        bytes32 program,
        uint32 opCount,
        uint8 traceDepth,
        bytes32 preHash,
        bytes32 postHash
    ) external returns (uint256 gameId) {
        if (msg.sender != opener) revert NotOpener(msg.sender);
        // A pre-state, an operator and a post-state at least; all within the tree.
        if (traceDepth > MAX_TRACE_DEPTH || opCount < 3 || opCount > uint256(1) << traceDepth) {
            revert BadProgramShape(opCount, traceDepth);
        }
        gameId = ++gameCount;
        Game storage g = _games[gameId];
        g.solver = solver;
        g.challenger = challenger;
        g.program = program;
        g.preHash = preHash;
        g.postHash = postHash;
        g.opCount = opCount;
        g.traceDepth = traceDepth;
        // The slots the moves overwrite start non-zero: a move then pays 5k per slot, not 22k (the game pays once).
        (g.solverTrace, g.node, g.challengerNode, g.revealed, g.operatorHash) = (UNSET, UNSET, UNSET, UNSET, UNSET);
        _next(g, Phase.SolverCommit);
        emit GameOpened(gameId, solver, challenger, program);
    }

    /// @inheritdoc IOperatorGame
    function commitTrace(
        uint256 gameId,
        bytes32 traceRoot,
        bytes32[] calldata preProof,
        bytes32 post,
        bytes32[] calldata postProof
    ) external {
        Game storage g = _game(gameId);
        bool bySolver = g.phase == Phase.SolverCommit;
        if (!bySolver) _expect(g, Phase.ChallengerCommit);
        _checkTurn(g, bySolver ? g.solver : g.challenger);
        if (_root(g.preHash, 0, preProof, g.traceDepth) != traceRoot) revert BadProof();
        if (_root(post, g.opCount - 1, postProof, g.traceDepth) != traceRoot) revert BadProof();
        if (bySolver) {
            if (post != g.postHash) revert BadProof(); // the solver's trace must end at the state it claims
            (g.solverTrace, g.node) = (traceRoot, traceRoot);
            _next(g, Phase.ChallengerCommit);
        } else {
            // A different last leaf: the roots differ, so the descent finds a leaf in 1 .. opCount - 1.
            if (post == g.postHash) revert NoDisagreement();
            g.challengerNode = traceRoot;
            (g.treeDepth, g.bound) = (g.traceDepth, g.opCount);
            _next(g, Phase.TraceReveal);
        }
        emit TraceCommitted(gameId, msg.sender, traceRoot);
    }

    /// @inheritdoc IOperatorGame
    function revealTrace(uint256 gameId, bytes32[] calldata nodes) external {
        Game storage g = _game(gameId);
        _expect(g, Phase.TraceReveal);
        _checkTurn(g, g.solver);
        _acceptReveal(g, gameId, nodes, _subtree(nodes, _span(g)) == g.node);
        _next(g, Phase.TracePick);
    }

    /// @inheritdoc IOperatorGame
    function pickTrace(uint256 gameId, bytes32[] calldata solverNodes, bytes32[] calldata challengerNodes) external {
        Game storage g = _game(gameId);
        _expect(g, Phase.TracePick);
        _checkTurn(g, g.challenger);
        if (keccak256(abi.encodePacked(solverNodes)) != g.revealed) revert BadReveal();
        if (_subtree(challengerNodes, _span(g)) != g.challengerNode) revert BadReveal();
        uint256 choice; // the leftmost child that differs: every leaf left of it is agreed
        while (solverNodes[choice] == challengerNodes[choice]) ++choice; // some child differs, as the nodes do
        g.challengerNode = challengerNodes[choice];
        _descend(g, gameId, solverNodes, choice);
        if (g.depth < g.treeDepth) return _next(g, Phase.TraceReveal);
        // Leaf j = index. Past the program, both traces must hold zero leaves.
        if (g.index >= g.opCount) return _resolve(g, gameId, g.node == 0 ? Outcome.SolverWon : Outcome.ChallengerWon);
        _next(g, Phase.OperatorReveal);
    }

    /// @inheritdoc IOperatorGame
    function revealOperator(
        uint256 gameId,
        Operator calldata operator,
        bytes32[] calldata programPath,
        bytes32 tensorTree
    ) external {
        Game storage g = _game(gameId);
        _expect(g, Phase.OperatorReveal);
        _checkTurn(g, g.solver);
        bytes32 operatorHash = keccak256(abi.encode(operator));
        uint32 leaf = g.index;
        if (_root(operatorHash, leaf, programPath, g.traceDepth) != g.program) revert WrongOperator();
        // A load is decided by `proveLoad` alone: a solver cannot send its own wrong load to the court.
        if (operator.kind == Kind.Load) revert WrongOperator();
        emit OperatorDisputed(gameId, leaf, operator.kind);
        if (!_judged(operator, leaf)) return _resolve(g, gameId, Outcome.Unjudged);
        g.operatorHash = operatorHash;
        g.kind = operator.kind;
        g.inner = operator.inner;
        if (operator.kind == Kind.State) {
            // The post-state is a tree of its entries: descend it to one entry (then `proveEntry`).
            _enterTree(g, g.node, operator.inner);
            return _next(g, Phase.ElementReveal);
        }
        uint256 count = uint256(operator.rows) * operator.cols;
        if (keccak256(abi.encode(count, tensorTree)) != g.node) revert BadReveal();
        g.element = uint32(count);
        _enterTree(g, tensorTree, (count + 7) / 8);
        _next(g, g.treeDepth == 0 ? Phase.WordReveal : Phase.ElementReveal);
    }

    /// @inheritdoc IOperatorGame
    function proveLoad(
        uint256 gameId,
        Operator calldata operator,
        bytes32[] calldata programPath,
        bytes calldata header,
        bytes32[] calldata entryPath
    ) external {
        Game storage g = _game(gameId);
        _expect(g, Phase.OperatorReveal);
        _checkTurn(g, g.solver);
        if (operator.kind != Kind.Load) revert WrongOperator();
        if (_root(keccak256(abi.encode(operator)), g.index, programPath, g.traceDepth) != g.program) {
            revert WrongOperator();
        }
        emit OperatorDisputed(gameId, g.index, Kind.Load);
        if (!_isPreEntry(g, header, g.node, operator.inputA, entryPath, operator.inner)) revert BadProof();
        _resolve(g, gameId, Outcome.SolverWon);
    }

    /// @inheritdoc IOperatorGame
    function proveEntry(uint256 gameId, EntryProof calldata proof) external {
        Game storage g = _game(gameId);
        _expect(g, Phase.EntryProve);
        _checkTurn(g, g.solver);
        uint256 k = g.index;
        // Entry k's value after the step is the output of operator `source` (the program's layout, past its
        // operators); its header is the pre-state's entry k's (the step keeps names, dtypes and shapes).
        uint8 traceDepth = g.traceDepth;
        if (_root(bytes32(uint256(proof.source)), g.opCount + k, proof.layoutPath, traceDepth) != g.program) {
            revert BadProof();
        }
        if (!_isPreEntry(g, proof.header, proof.preRoot, k, proof.prePath, g.bound)) revert BadProof();
        if (_root(proof.root, proof.source, proof.rootPath, traceDepth) != g.solverTrace) revert BadProof();
        bool right = keccak256(abi.encodePacked(proof.header, proof.root)) == g.node;
        _resolve(g, gameId, right ? Outcome.SolverWon : Outcome.ChallengerWon);
    }

    /// @inheritdoc IOperatorGame
    function reveal(uint256 gameId, bytes32[] calldata nodes) external {
        Game storage g = _game(gameId);
        _checkTurn(g, g.solver);
        Phase phase = g.phase;
        if (phase == Phase.ElementReveal) {
            _acceptReveal(g, gameId, nodes, _subtree(nodes, _span(g)) == g.node);
            _next(g, Phase.ElementPick);
        } else if (phase == Phase.WordReveal) {
            _acceptReveal(g, gameId, nodes, nodes.length == 1 && keccak256(abi.encodePacked(nodes[0])) == g.node);
            _next(g, Phase.WordPick);
        } else {
            _expect(g, Phase.SumReveal);
            (bool floats, uint32 total) = _sums(nodes, _span(g));
            _acceptReveal(g, gameId, nodes, floats && Float32.same(total, uint32(uint256(g.node))));
            _next(g, Phase.SumPick);
        }
    }

    /// @inheritdoc IOperatorGame
    function pick(uint256 gameId, bytes32[] calldata revealed, uint256 choice) external {
        Game storage g = _game(gameId);
        Phase phase = g.phase;
        if (phase != Phase.ElementPick && phase != Phase.WordPick) _expect(g, Phase.SumPick);
        _checkTurn(g, g.challenger);
        if (keccak256(abi.encodePacked(revealed)) != g.revealed) revert BadReveal();
        if (choice >= (phase == Phase.WordPick ? 8 : revealed.length)) revert BadPick(choice);
        if (phase == Phase.WordPick) return _pickElement(g, gameId, uint32(bytes4(revealed[0] << (choice * 32))), choice);
        _descend(g, gameId, revealed, choice);
        if (g.depth < g.treeDepth) return _next(g, phase == Phase.ElementPick ? Phase.ElementReveal : Phase.SumReveal);
        // A leaf. The padding past the real leaves is zero: zero leaves of the element tree, +0 in a sum.
        if (g.index >= g.bound) return _resolve(g, gameId, g.node == 0 ? Outcome.SolverWon : Outcome.ChallengerWon);
        if (phase == Phase.SumPick) return _next(g, Phase.Prove);
        _next(g, g.kind == Kind.State ? Phase.EntryProve : Phase.WordReveal);
    }

    /// @inheritdoc IOperatorGame
    function prove(uint256 gameId, Operator calldata operator, Operand calldata operand) external {
        Game storage g = _game(gameId);
        bool second = g.phase == Phase.ProveSecond;
        if (!second) _expect(g, Phase.Prove);
        _checkTurn(g, g.solver);
        if (keccak256(abi.encode(operator)) != g.operatorHash) revert WrongOperator();
        if (operator.kind == Kind.Increment) {
            // An int64 counter plus one; its two words are elements 0 and 1, little-endian.
            _operand(g, operator.inputA, operand, 0);
            uint64 next;
            unchecked {
                next = _int64(operand.word) + 1; // wraps as int64 does
            }
            bool same = uint32(next >> (32 * g.element)) == uint32(uint256(g.node));
            return _resolve(g, gameId, same ? Outcome.SolverWon : Outcome.ChallengerWon);
        }
        (uint256 ia, uint256 ib, bool twoTensors) = _indices(g, operator);
        if (!second && twoTensors) {
            // Two tensor operands: one a move, so that a move's proofs stay small at any tensor size.
            g.revealed = bytes32(uint256(_operand(g, operator.inputA, operand, ia)));
            return _next(g, Phase.ProveSecond);
        }
        uint32 x = second ? uint32(uint256(g.revealed)) : _operand(g, operator.inputA, operand, ia);
        uint32 y = operator.hasScalar ? operator.scalar : second ? _operand(g, operator.inputB, operand, ib) : 0;
        if (operator.hasScalar && operator.layoutB == 1) (x, y) = (y, x); // the constant first: c - x, c / x
        uint32 result = _execute(operator.kind, x, y);
        _resolve(g, gameId, Float32.same(result, uint32(uint256(g.node))) ? Outcome.SolverWon : Outcome.ChallengerWon);
    }

    /// @inheritdoc IOperatorGame
    function timeout(uint256 gameId) external {
        Game storage g = _game(gameId);
        if (g.phase == Phase.Resolved) revert WrongPhase(Phase.Prove, g.phase);
        if (block.timestamp <= g.deadline) revert DeadlineNotPassed(g.deadline);
        _resolve(g, gameId, _solverMoves(g.phase) ? Outcome.ChallengerWon : Outcome.SolverWon);
    }

    /// @inheritdoc IOperatorGame
    function game(uint256 gameId) external view returns (Game memory) {
        return _game(gameId);
    }

    /// @inheritdoc IOperatorGame
    function outcomeOf(uint256 gameId) external view returns (Outcome) {
        return _games[gameId].outcome;
    }

    // ------------------------------------------------------------------------------------------------ moves

    /// @dev After the word pick: the disputed element's value, then its sum tree (a product or a sum) or the proof.
    function _pickElement(Game storage g, uint256 gameId, uint32 wordFloat, uint256 choice) private {
        // Floats are little-endian in the word: reverse the four bytes read from the left.
        uint32 bits = (wordFloat >> 24) | (wordFloat >> 8 & 0xff00) | (wordFloat << 8 & 0xff0000) | (wordFloat << 24);
        uint256 element = uint256(g.index) * 8 + choice;
        emit Picked(gameId, Phase.WordPick, g.depth, uint32(element));
        if (element >= g.element) return _resolve(g, gameId, bits == 0 ? Outcome.SolverWon : Outcome.ChallengerWon);
        g.element = uint32(element);
        if (g.kind != Kind.MatMul && g.kind != Kind.Sum) {
            g.node = bytes32(uint256(bits));
            return _next(g, Phase.Prove);
        }
        _enterTree(g, bytes32(uint256(bits)), g.inner);
        _next(g, g.treeDepth == 0 ? Phase.Prove : Phase.SumReveal);
    }

    /// @dev Which element of each input the disputed operation reads: output element `element` (row-major over
    ///      rows x cols) and, in a product or a sum, its leaf `index`; whether it reads a second tensor.
    function _indices(Game storage g, Operator calldata op) private view returns (uint256 ia, uint256 ib, bool two) {
        uint256 e = g.element;
        // slither-disable-next-line divide-before-multiply (a row-major index split into row and column, exact)
        (uint256 row, uint256 col) = (e / op.cols, e % op.cols);
        uint256 k = g.index;
        if (op.kind == Kind.MatMul) {
            ia = op.layoutA == 0 ? row * op.inner + k : k * op.rows + row;
            ib = op.layoutB == 0 ? k * op.cols + col : col * op.inner + k;
            return (ia, ib, true);
        }
        if (op.kind == Kind.Sum) return (op.layoutA == 0 ? k * op.rows * op.cols + e : e * op.inner + k, 0, false);
        ia = _broadcast(op.layoutA, e, row, col);
        two = !(op.kind == Kind.Sqrt || op.kind == Kind.Relu || op.hasScalar);
        if (two) ib = _broadcast(op.layoutB, e, row, col);
    }

    /// @dev The one float32 operation: a product's leaf is a product, a sum's leaf its entry.
    function _execute(Kind kind, uint32 x, uint32 y) private pure returns (uint32) {
        if (kind == Kind.MatMul || kind == Kind.Mul) return Float32.mul(x, y);
        if (kind == Kind.Sum) return x;
        if (kind == Kind.Sqrt) return Float32.sqrt(x);
        if (kind == Kind.Relu) return Float32.relu(x);
        if (kind == Kind.Add) return Float32.add(x, y);
        if (kind == Kind.Sub) return Float32.sub(x, y);
        if (kind == Kind.Div) return Float32.div(x, y);
        return Float32.reluGrad(x, y);
    }

    /// @dev Element `index` of the tensor at leaf `leaf` (agreed: it lies left of the disputed leaf).
    function _operand(Game storage g, uint32 leaf, Operand calldata o, uint256 index) private view returns (uint32) {
        if (_root(o.root, leaf, o.rootPath, g.traceDepth) != g.solverTrace) revert BadProof();
        return TensorProof.element(o.root, o.count, index, o.word, o.path);
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /// @dev The operator is one the chain executes, reads only earlier leaves, and has shapes that fit.
    function _judged(Operator calldata op, uint32 leaf) private pure returns (bool) {
        if (op.kind == Kind.Load || op.kind == Kind.State) return op.inner > 0 && op.inputA < op.inner;
        if (op.kind == Kind.Unjudged || op.rows == 0 || op.cols == 0 || uint256(op.rows) * op.cols > type(uint32).max) {
            return false;
        }
        if (op.kind == Kind.Increment) return op.inputA < leaf && uint256(op.rows) * op.cols == 2;
        bool unary = op.kind == Kind.Sqrt || op.kind == Kind.Relu || op.kind == Kind.Sum || op.hasScalar;
        if (op.inputA >= leaf || (!unary && op.inputB >= leaf)) return false;
        return (op.kind != Kind.MatMul && op.kind != Kind.Sum) || op.inner > 0;
    }

    /// @dev Whether keccak256(header || root) is entry k of the agreed pre-state, a tree of `entries` leaves.
    function _isPreEntry(
        Game storage g,
        bytes calldata header,
        bytes32 root,
        uint256 k,
        bytes32[] calldata path,
        uint256 entries
    ) private view returns (bool) {
        bytes32 entry = keccak256(abi.encodePacked(header, root));
        return _root(entry, k, path, _depthOf(entries)) == g.preHash;
    }

    /// @dev The first eight bytes of a word as a little-endian int64 (two's complement, so +1 wraps as int64 does).
    function _int64(bytes32 word) private pure returns (uint64) {
        // slither-disable-next-line uninitialized-local (bytes are or-ed into zero)
        uint256 value;
        for (uint256 i; i < 8; ++i) {
            value |= uint256(uint8(word[i])) << (8 * i);
        }
        return uint64(value);
    }

    function _broadcast(uint8 layout, uint256 e, uint256 row, uint256 col) private pure returns (uint256) {
        return layout == 0 ? e : layout == 1 ? row : layout == 2 ? col : 0;
    }

    function _depthOf(uint256 leaves) private pure returns (uint8 depth) {
        while (uint256(1) << depth < leaves) ++depth;
    }

    function _enterTree(Game storage g, bytes32 root, uint256 leaves) private {
        uint8 depth = _depthOf(leaves);
        g.node = root;
        g.bound = uint32(leaves);
        g.treeDepth = depth;
        g.depth = 0;
        g.index = 0;
    }

    function _acceptReveal(Game storage g, uint256 gameId, bytes32[] calldata nodes, bool valid) private {
        if (!valid) revert BadReveal();
        g.revealed = keccak256(abi.encodePacked(nodes));
        emit Revealed(gameId, g.phase, g.depth, g.index, nodes);
    }

    function _descend(Game storage g, uint256 gameId, bytes32[] calldata nodes, uint256 choice) private {
        uint8 span = _span(g);
        g.node = nodes[choice];
        g.depth += span;
        g.index = uint32(uint256(g.index) << span | choice);
        emit Picked(gameId, g.phase, g.depth, g.index);
    }

    /// @dev Levels the next reveal descends: 4, or what is left of the tree.
    function _span(Game storage g) private view returns (uint8) {
        uint8 left = g.treeDepth - g.depth;
        return left < SPAN ? left : SPAN;
    }

    /// @dev The binary Merkle root over 2^span nodes (zero if there are not exactly that many).
    function _subtree(bytes32[] calldata nodes, uint8 span) private pure returns (bytes32) {
        if (nodes.length != uint256(1) << span) return 0;
        bytes32[] memory level = nodes;
        for (uint256 width = nodes.length; width > 1; width >>= 1) {
            for (uint256 i; i < width >> 1; ++i) {
                level[i] = TensorProof.hashPair(level[2 * i], level[2 * i + 1]);
            }
        }
        return level[0];
    }

    /// @dev The pairwise float32 sum of 2^span revealed partial sums (repops.tree_sum's order); `floats` false if
    ///      they are not that many floats.
    function _sums(bytes32[] calldata nodes, uint8 span) private pure returns (bool floats, uint32) {
        if (nodes.length != uint256(1) << span) return (false, 0);
        uint32[] memory level = new uint32[](nodes.length);
        for (uint256 i; i < nodes.length; ++i) {
            if (uint256(nodes[i]) > type(uint32).max) return (false, 0);
            level[i] = uint32(uint256(nodes[i]));
        }
        for (uint256 width = nodes.length; width > 1; width >>= 1) {
            for (uint256 i; i < width >> 1; ++i) {
                level[i] = Float32.add(level[2 * i], level[2 * i + 1]);
            }
        }
        return (true, level[0]);
    }

    /// @dev The root a positional Merkle path leads to from `leaf` at `position` (zero if its length is wrong).
    function _root(bytes32 leaf, uint256 position, bytes32[] calldata path, uint8 depth)
        private
        pure
        returns (bytes32 node)
    {
        if (path.length != depth) return 0;
        node = leaf;
        for (uint256 i; i < depth; ++i) {
            node = position & 1 == 1 ? TensorProof.hashPair(path[i], node) : TensorProof.hashPair(node, path[i]);
            position >>= 1;
        }
    }

    function _solverMoves(Phase phase) private pure returns (bool) {
        return phase == Phase.SolverCommit || phase == Phase.TraceReveal || phase == Phase.OperatorReveal
            || phase == Phase.ElementReveal || phase == Phase.WordReveal || phase == Phase.SumReveal
            || phase == Phase.Prove || phase == Phase.ProveSecond || phase == Phase.EntryProve;
    }

    function _game(uint256 gameId) private view returns (Game storage g) {
        g = _games[gameId];
        if (g.phase == Phase.None) revert UnknownGame(gameId);
    }

    function _expect(Game storage g, Phase phase) private view {
        if (g.phase != phase) revert WrongPhase(phase, g.phase);
    }

    function _checkTurn(Game storage g, address mover) private view {
        if (g.phase == Phase.Resolved) revert WrongPhase(Phase.Prove, g.phase);
        if (msg.sender != mover) revert NotYourTurn(mover);
        if (block.timestamp > g.deadline) revert DeadlinePassed(g.deadline);
    }

    function _next(Game storage g, Phase phase) private {
        (g.phase, g.deadline) = (phase, uint40(block.timestamp + moveTimeout));
    }

    function _resolve(Game storage g, uint256 gameId, Outcome outcome) private {
        (g.phase, g.outcome) = (Phase.Resolved, outcome);
        emit GameResolved(gameId, outcome);
    }
}
