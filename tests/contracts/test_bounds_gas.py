"""Every bound a submitter chooses keeps every later transaction of its job inside a block.

One job at all three bounds at once (MAX_CHECKPOINT_COUNT checkpoints, MAX_CHECKPOINT_INTERVAL steps apart,
MAX_SAMPLE_COUNT sampled intervals) goes through its whole life on the real contracts: posting, the award,
the result, the seal, four drawn verifiers' commits and reveals (128 hashes with proofs of 21 hashes each),
a fault dispute at the last interval with proofs of the deepest leaves and all 5 bisection rounds (16-way over
2^20 steps: each a reveal of 15 hashes and a response), the slash, and the audit's settlement (which re-draws the
sample). Each transaction's gas is measured and must stay under a third of a 30M block, and each bisection move
under MAX_MOVE_GAS; the figures are printed (pytest -s) for docs/PROTOCOL.md. A swarm at its
bounds (16 replicas, 16 standbys) goes through two rounds the same way (figures in contracts/README.md).
"""

import ape
import pytest
from Crypto.Hash import keccak as _keccak
from audit_helpers import Verifier, open_reveals
from dispute_helpers import CHALLENGE_BOND, SLASHED, seal
from market_helpers import BIDDING_DURATION, CHALLENGE_DURATION, EXECUTION_DURATION, SPEC_HASH
from swarm_helpers import accept, after, assert_books, new_solvers, post_swarm, run_accepted

BLOCK_GAS_LIMIT = 30_000_000
HEADROOM = BLOCK_GAS_LIMIT // 3
PRICE = 10**15  # small, so the stake the bounds call for (about 10_000 prices) fits a test account
MAX_MOVE_GAS = 80_000  # issue 14: gas per bisection move (as for the operator game's, test_operator_game.py)


def keccak(data: bytes) -> bytes:
    return _keccak.new(data=data, digest_bits=256).digest()


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


class DeepTree:
    """The OpenZeppelin-compatible tree (sorted pairs) over leaves 0..n in index order, padded with a
    constant to a power of two: only its shape differs from StandardMerkleTree, and MerkleProof does not care.
    Built with raw keccak, since 2^20 leaves through eth_abi would take minutes."""

    def __init__(self, job_id: int, states: list[bytes], interval: int):
        level = [keccak(keccak(word(job_id) + word(i) + word(i * interval) + s)) for i, s in enumerate(states)]
        pad = keccak(b"pinpoint: padding")
        self.levels = []
        while len(level) > 1 or not self.levels:
            if len(level) % 2:
                level.append(pad)
            self.levels.append(level)
            level = [keccak(min(a, b) + max(a, b)) for a, b in zip(level[::2], level[1::2])]
            pad = keccak(pad + pad)
        self.root = level[0]

    def proof(self, index: int) -> list[bytes]:
        path = []
        for level in self.levels:
            path.append(level[index ^ 1])
            index //= 2
        return path


def state(i: int) -> bytes:
    return keccak(b"state" + word(i))


@pytest.fixture(scope="module")
def bounds(market):
    return market.MAX_CHECKPOINT_COUNT(), market.MAX_CHECKPOINT_INTERVAL(), market.MAX_SAMPLE_COUNT()


def test_postJob_beyondEachBound_reverts(market, jobs, bounds):
    count, interval, samples = bounds
    assert (count, interval, samples) == (2**20, 2**20, 128)
    with ape.reverts(market.CheckpointCountTooLarge, checkpointCount=count + 1, maximum=count):
        jobs.post(checkpointCount=count + 1, requiredStake=10**30)
    with ape.reverts(market.CheckpointIntervalTooLarge, checkpointInterval=interval + 1, maximum=interval):
        jobs.post(checkpointInterval=interval + 1)
    with ape.reverts(market.SampleCountTooLarge, sampleCount=samples + 1, maximum=samples):
        jobs.post(checkpointCount=samples + 1, sampleCount=samples + 1, requiredStake=10**30)


def test_wholeLifeOfAJobAtEveryBound_fitsInABlock(chain, jobs, staking, market, game, audit, registered, bounds,
                                                   solver, submitter, challenger, stranger):
    count, interval, samples = bounds
    gas = {}

    def measure(name, tx):
        gas[name] = max(gas.get(name, 0), tx.gas_used)
        return tx

    stake = market.minimumStake(PRICE, count, samples)
    staking.deposit(sender=solver, value=stake)
    job_id = measure("postJob", market.postJob(SPEC_HASH, count, interval, samples, stake, BIDDING_DURATION,
                                               EXECUTION_DURATION, CHALLENGE_DURATION, sender=submitter,
                                               value=PRICE)).return_value
    market.bid(job_id, PRICE, sender=solver)
    jobs.after(market.getJob(job_id).biddingDeadline)
    market.closeBidding(job_id, sender=stranger)
    tree = DeepTree(job_id, [state(i) for i in range(count + 1)], interval)
    measure("submitResult", market.submitResult(job_id, tree.root, sender=solver))
    measure("sealSample", seal(chain, market, job_id, stranger))
    sample = list(market.sampledIntervals(job_id))
    assert len(set(sample)) == samples

    hashes = [state(i + 1) for i in sample]
    proofs = [tree.proof(i + 1) for i in sample]
    assert all(len(p) == 21 for p in proofs)
    verifiers = [Verifier(account, hashes) for account in registered]
    for v in verifiers:
        measure("audit.commit", v.commit(audit, job_id))
    open_reveals(jobs, audit, job_id)
    for v in verifiers:
        measure("audit.reveal", v.reveal(audit, job_id, proofs))
    assert audit.agreements(job_id) == len(verifiers)

    # A challenge of a sampled interval with the deepest proofs, bisected over all 2^20 steps.
    index = sample[0]
    tx = measure("challenge", game.challenge(job_id, index, state(index), tree.proof(index), state(index + 1),
                                             tree.proof(index + 1), keccak(b"other"), sender=challenger,
                                             value=CHALLENGE_BOND))
    dispute_id = tx.return_value
    rounds = 0
    while game.getDispute(dispute_id).hi - game.getDispute(dispute_id).lo > 1:
        hashes = [keccak(word(rounds) + word(j)) for j in range(15)]  # every hash non-zero, none a previous one
        measure("reveal", game.reveal(dispute_id, hashes, sender=solver))
        # A middle segment: both ends taken from the hashes, so the response writes every field it can.
        measure("respond", game.respond(dispute_id, hashes, 7 + rounds % 2, sender=challenger))
        rounds += 1
    assert rounds == game.maxRounds(interval) == 5
    d = game.getDispute(dispute_id)
    jobs.after(d.turnStart + d.solverClock)  # the solver never serves its state: slashed
    measure("claimTimeout", game.claimTimeout(dispute_id, sender=stranger))
    assert market.getJob(job_id).state == SLASHED
    jobs.after(audit.revealDeadline(job_id))
    measure("audit.settle", audit.settle(job_id, sender=stranger))  # re-draws the 128-sample to judge reveals

    print("\ngas at the bounds (2^20 checkpoints, 2^20 steps apart, 128 samples):")
    for name, used in sorted(gas.items(), key=lambda kv: -kv[1]):
        print(f"  {name:14s} {used:>10,}")
    worst = max(gas, key=gas.get)
    assert gas[worst] < HEADROOM, f"{worst} takes {gas[worst]:,} gas at the bounds"
    for move in ("reveal", "respond"):
        assert gas[move] <= MAX_MOVE_GAS, f"a bisection move ({move}) takes {gas[move]:,} gas"


def test_swarmAtItsBounds_fitsInABlock(chain, accounts, staking, market, audit, swarm, registered, submitter,
                                       stranger):
    """A swarm of MAX_REPLICAS replicas and MAX_STANDBYS standbys over two rounds: the auction with a full list
    of bids (every new bid the best, so each insertion moves the whole list), the award, each round's sixteen
    reserved sub-jobs accepted, verified and finalized, a slot vacated to a standby, the round moved and the
    swarm completed (both check all sixteen sub-jobs). Each transaction must stay under a third of a block."""
    replicas, standbys = swarm.MAX_REPLICAS(), swarm.MAX_STANDBYS()
    listed = replicas + standbys
    gas = {}

    def measure(name, tx):
        gas[name] = max(gas.get(name, 0), tx.gas_used)
        return tx

    solvers = new_solvers(accounts, staking, listed + 1)
    by_address = {s.address: s for s in solvers}
    swarm_id = post_swarm(swarm, submitter, replicas=replicas, rounds=2, standbys=standbys).return_value
    top = 10**15
    for i, solver in enumerate(solvers[:listed]):  # each bid lower than all before it: inserted at the top
        measure("swarm.bid", swarm.bid(swarm_id, top - i, sender=solver))
    # The list is full: a newcomer drops the last and goes to the top; then the last listed lowers its own bid
    # to the top (found at the far end, moved over everyone).
    measure("swarm.bid", swarm.bid(swarm_id, top - listed, sender=solvers[listed]))
    last = swarm.bidsOf(swarm_id)[0][-1]
    measure("swarm.bid", swarm.bid(swarm_id, top - listed - 1, sender=last))
    assert len(swarm.bidsOf(swarm_id)[0]) == listed
    after(chain, swarm.getSwarm(swarm_id).biddingDeadline)
    measure("swarm.closeBidding", swarm.closeBidding(swarm_id, sender=stranger))

    def post(round_, slot, name="swarm.postReplica"):
        price = swarm.slots(swarm_id)[1][slot]
        tx = swarm.postReplica(swarm_id, round_, slot, SPEC_HASH, sender=submitter, value=price)
        return measure(name, tx).return_value

    def holders():
        return [by_address[h] for h in swarm.slots(swarm_id)[0]]

    round0 = [post(0, slot) for slot in range(replicas)]
    for job_id, holder in zip(round0, holders(), strict=True):
        measure("market.bid (reserved: accepts)", accept(market, job_id, holder))
    run_accepted(chain, market, audit, round0, holders(), registered[0], stranger)

    # Round 1: its first post checks round 0's sixteen sub-jobs; the last slot's holder never accepts.
    round1 = [post(1, 0, "swarm.postReplica (moves the round)")]
    round1 += [post(1, slot) for slot in range(1, replicas)]
    for job_id, holder in zip(round1[:-1], holders()[:-1], strict=True):
        accept(market, job_id, holder)
    after(chain, market.getJob(round1[-1]).biddingDeadline)
    market.closeBidding(round1[-1], sender=stranger)
    measure("swarm.vacate", swarm.vacate(swarm_id, replicas - 1, sender=stranger))
    round1[-1] = post(1, replicas - 1)
    accept(market, round1[-1], holders()[-1])
    run_accepted(chain, market, audit, round1, holders(), registered[0], stranger)
    measure("swarm.complete", swarm.complete(swarm_id, sender=stranger))
    assert_books(market, swarm, audit)

    print(f"\nswarm gas at the bounds ({replicas} replicas, {standbys} standbys, {listed} bids listed):")
    for name, used in sorted(gas.items(), key=lambda kv: -kv[1]):
        print(f"  {name:34s} {used:>10,}")
    worst = max(gas, key=gas.get)
    assert gas[worst] < HEADROOM, f"{worst} takes {gas[worst]:,} gas at the bounds"
