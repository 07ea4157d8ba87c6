// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IOperatorGame
/// @notice The dispute inside one training step of the reproducible profile (docs/PROTOCOL.md, "Operator game"),
///         down to one float32 operation executed on chain: no referee.
///         A step is a fixed list of operators (the job's *program*: loads, forward, loss, backward, update), leaf
///         0 the agreed pre-state hash and the last leaf the post-state hash. Each party commits its *trace*: the
///         binary Merkle tree whose leaf j is the element root of operator j's output (pinpoint/tensor_merkle.py).
///         Three descents follow, each move revealing up to 16 nodes four levels down:
///         1. the trace trees, to the leftmost leaf j where they differ: every earlier leaf, so every input of
///            operator j, is agreed;
///         2. the solver's element tree of operator j's output, to one element the challenger disputes (the
///            solver must reveal what it committed to, so withholding loses);
///         3. for a matrix product or a sum, that element's pairwise sum tree (repops.tree_sum's order): the
///            solver reveals partial sums, the chain checks they add up, the challenger picks a wrong one.
///         The last move proves the operands against the agreed input roots and executes the operation with
///         contracts/lib/Float32.sol. Every move has a deadline; the party that misses it loses.
/// @dev Operators the chain does not execute (loads, exp, log, max, gather, one-hot, the state hashes) end the
///      game as Unjudged: the opener sends them to its referee.
interface IOperatorGame {
    /// @notice What operator j computes: its kind, its inputs (earlier leaves) and how an output element reads
    ///         them. The program's leaf j is keccak256(abi.encode(operator)); padding leaves are zero.
    /// @dev Output elements are row-major over rows x cols (a vector: one row). `layoutA`/`layoutB`: elementwise,
    ///      0 the same element, 1 the output row's, 2 the output column's; MatMul, 0 as stored or 1 transposed
    ///      (A is rows x inner, B inner x cols); Sum, the axis summed (0: x[k * rows * cols + e], 1: x[e * inner + k]).
    ///      Layout 3: element 0 (a one-element tensor broadcast to every element). A constant, if `hasScalar`, is
    ///      `scalar`, the second operand (x * c, x + c, x / c), or the first if layoutB is 1 (c - x).
    struct Operator {
        Kind kind;
        uint8 layoutA;
        uint8 layoutB;
        bool hasScalar;
        uint32 scalar;
        uint32 inputA;
        uint32 inputB;
        uint32 rows;
        uint32 cols;
        uint32 inner;
    }

    /// @notice The operations the chain executes; Unjudged is every other operator. Increment: an int64 counter
    ///         plus one (two words). Load: entry `inputA` of the pre-state's `inner` entries (its tree-hashed state,
    ///         worker/engine/state.py). State: the post-state, a tree of `inner` entries whose values are the
    ///         outputs the program's layout names (program leaf opCount + k: the operator that gives entry k).
    enum Kind {
        Unjudged,
        Add,
        Sub,
        Mul,
        Div,
        Sqrt,
        Relu,
        ReluGrad,
        MatMul,
        Sum,
        Increment,
        Load,
        State
    }

    /// @notice An input element, proven twice: its tensor's root is leaf `leaf` of the solver's trace (`rootPath`,
    ///         lowest sibling first), and the element is in that tensor (`count` elements; `word`, `path`).
    struct Operand {
        bytes32 root;
        bytes32[] rootPath;
        uint256 count;
        bytes32 word;
        bytes32[] path;
    }

    /// @notice Entry k of the post-state opened: the program's layout names operator `source` for it
    ///         (`layoutPath`, against the program at leaf opCount + k); the pre-state's entry k gives its `header`
    ///         (`preRoot`, `prePath`: the step keeps names, dtypes and shapes); `root` is the agreed output of
    ///         `source` (`rootPath`, against the solver's trace).
    struct EntryProof {
        uint32 source;
        bytes32[] layoutPath;
        bytes header;
        bytes32 preRoot;
        bytes32[] prePath;
        bytes32 root;
        bytes32[] rootPath;
    }

    /// @notice Whose move it is and what it is. The solver moves in SolverCommit, TraceReveal, OperatorReveal,
    ///         ElementReveal, WordReveal, SumReveal, Prove, ProveSecond and EntryProve; the challenger in the
    ///         others.
    enum Phase {
        None,
        SolverCommit,
        ChallengerCommit,
        TraceReveal,
        TracePick,
        OperatorReveal,
        ElementReveal,
        ElementPick,
        WordReveal,
        WordPick,
        SumReveal,
        SumPick,
        Prove,
        ProveSecond,
        EntryProve,
        Resolved
    }

    enum Outcome {
        None,
        SolverWon,
        ChallengerWon,
        Unjudged
    }

    /// @notice One game. `depth`/`index` locate the current node of the current tree (of `treeDepth` levels and
    ///         `bound` real leaves; in the trace, index is the leaf j once depth reaches traceDepth); `node` is
    ///         the solver's value there (a trace or element node, a word, or a partial sum in its low 32 bits);
    ///         `revealed` the hash of the solver's last reveal (in ProveSecond: the first operand's bits). `element` is the output's element count until one
    ///         is picked, then that element; `kind` and `inner` are the disputed operator's.
    struct Game {
        address solver;
        address challenger;
        bytes32 program;
        bytes32 preHash;
        bytes32 postHash;
        bytes32 solverTrace;
        bytes32 node;
        bytes32 challengerNode;
        bytes32 operatorHash;
        bytes32 revealed;
        uint32 opCount;
        uint8 traceDepth;
        Phase phase;
        Outcome outcome;
        uint8 depth;
        uint8 treeDepth;
        uint40 deadline;
        uint32 element;
        uint32 index;
        uint32 bound;
        Kind kind;
        uint32 inner;
    }

    error NotOpener(address caller);
    error UnknownGame(uint256 gameId);
    error WrongPhase(Phase expected, Phase actual);
    error NotYourTurn(address expected);
    error DeadlinePassed(uint64 deadline);
    error DeadlineNotPassed(uint64 deadline);
    /// @notice The program must have a pre-state, at least one operator and a post-state, within 2^traceDepth
    ///         leaves (traceDepth at most MAX_TRACE_DEPTH).
    error BadProgramShape(uint32 opCount, uint8 traceDepth);
    /// @notice A Merkle path that does not lead to the root it must.
    error BadProof();
    /// @notice The challenger's trace agrees with the solver's post-state: there is nothing to dispute.
    error NoDisagreement();
    /// @notice The revealed nodes do not hash to the committed node, or there are not 2^span of them.
    error BadReveal();
    /// @notice A pick names no node of the last reveal, or one the two parties agree on.
    error BadPick(uint256 choice);
    /// @notice The operator given is not the program's operator at the disputed leaf.
    error WrongOperator();

    event GameOpened(uint256 indexed gameId, address indexed solver, address indexed challenger, bytes32 program);
    event TraceCommitted(uint256 indexed gameId, address indexed party, bytes32 traceRoot);
    /// @notice Nodes revealed `depth` levels into the current tree, under node `index` of the level above.
    event Revealed(uint256 indexed gameId, Phase phase, uint8 depth, uint32 index, bytes32[] nodes);
    event Picked(uint256 indexed gameId, Phase phase, uint8 depth, uint32 index);
    /// @notice The trace descent ended at operator `leaf`, of `kind`.
    event OperatorDisputed(uint256 indexed gameId, uint32 leaf, Kind kind);
    event GameResolved(uint256 indexed gameId, Outcome outcome);

    /// @notice The greatest trace depth: 2^16 leaves, far more operators than any supported model's step.
    function MAX_TRACE_DEPTH() external view returns (uint8);

    /// @notice Seconds each move may take.
    function moveTimeout() external view returns (uint64);

    /// @notice Opens a game over one step: the solver claims `postHash` from the agreed `preHash` (opener only).
    /// @param program The program's root: 2^traceDepth leaves, operators 0 .. opCount-1 (0: the pre-state,
    ///        opCount-1: the post-state).
    function open(
        address solver,
        address challenger,
        bytes32 program,
        uint32 opCount,
        uint8 traceDepth,
        bytes32 preHash,
        bytes32 postHash
    ) external returns (uint256 gameId);

    /// @notice A party commits its trace root, proving leaf 0 is the agreed pre-state and its last leaf the
    ///         post-state it claims (the solver: `postHash`; the challenger: anything else).
    function commitTrace(
        uint256 gameId,
        bytes32 traceRoot,
        bytes32[] calldata preProof,
        bytes32 post,
        bytes32[] calldata postProof
    ) external;

    /// @notice The solver reveals its 2^span trace nodes under the current node (span = min(4, levels left)).
    function revealTrace(uint256 gameId, bytes32[] calldata nodes) external;

    /// @notice The challenger gives the solver's revealed nodes and its own; the game descends into the
    ///         leftmost child where they differ.
    function pickTrace(uint256 gameId, bytes32[] calldata solverNodes, bytes32[] calldata challengerNodes)
        external;

    /// @notice At the disputed leaf, the solver names the program's operator there (`programPath`) and opens
    ///         its output's element root: keccak256(abi.encode(rows * cols, tensorTree)) must be its leaf.
    function revealOperator(
        uint256 gameId,
        Operator calldata operator,
        bytes32[] calldata programPath,
        bytes32 tensorTree
    ) external;

    /// @notice At a disputed Load, the solver proves its output root is the pre-state's entry: keccak256(header ||
    ///         root) is leaf `inputA` of the agreed pre-state hash (`entryPath`). The solver wins; it cannot if its
    ///         output is not that entry, and then loses by the clock.
    function proveLoad(
        uint256 gameId,
        Operator calldata operator,
        bytes32[] calldata programPath,
        bytes calldata header,
        bytes32[] calldata entryPath
    ) external;

    /// @notice At the disputed entry k of the post-state, the solver opens it (EntryProof); it wins iff its leaf
    ///         is keccak256(header || root).
    function proveEntry(uint256 gameId, EntryProof calldata proof) external;

    /// @notice The solver reveals nodes of its element tree (leaves are keccak256 of 8-float words), or of the
    ///         element's sum tree (each node a float32 in the low 32 bits; the chain adds them up).
    function reveal(uint256 gameId, bytes32[] calldata nodes) external;

    /// @notice The challenger picks one node of the solver's last reveal (`revealed`, as revealed) that it
    ///         disputes, or one float of the revealed word.
    function pick(uint256 gameId, bytes32[] calldata revealed, uint256 choice) external;

    /// @notice The solver proves the disputed operation's operands, one a move (the first, then in ProveSecond the
    ///         second tensor operand, if any); the chain executes the operation and the solver wins iff the result
    ///         is its claim.
    function prove(uint256 gameId, Operator calldata operator, Operand calldata operand) external;

    /// @notice Anyone ends a game whose mover missed its deadline: the mover loses.
    function timeout(uint256 gameId) external;

    function game(uint256 gameId) external view returns (Game memory);

    /// @notice How game `gameId` ended (None while it runs): one slot, not `game`'s copy.
    function outcomeOf(uint256 gameId) external view returns (Outcome);
}
