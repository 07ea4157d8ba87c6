"""Stake, verifier reward and sample size from a job's price: the numbers behind spot checks.

Pure Python (no torch), exact where money is involved (integers and `Fraction`). Amounts are in wei.

The model (one job)
-------------------
- ``n = checkpoint_count`` intervals. After the solver has committed its Merkle root, the verifier
  replays ``s = samples`` distinct intervals drawn uniformly without replacement, from randomness the
  solver could not know when it committed.
- ``P = payment``, ``C = cost_ratio * P`` the solver's compute cost of the whole job (``C < P``, or an
  honest solver would not bid), ``S = stake`` (the job's ``requiredStake``).
- A cheating strategy fakes ``k`` of the ``n`` intervals (``f = k/n``): it skips their compute and saves
  ``f * C``. Which ``k`` intervals does not matter: the sample is uniform.
- A sample hits at least one faked interval with probability (hypergeometric)
  ``p_k = 1 - C(n-k, s) / C(n, s)``; a hit ends in a slash with probability ``q = catch_rate`` (the
  verifier is online, the challenge is posted in time, the dispute is won). ``d_k = q * p_k``.
- Caught: the solver loses ``S`` and is paid nothing, and has spent ``(1-f) C`` anyway.
  Not caught: it is paid ``P``, has spent ``(1-f) C``, and may gain ``G = extra_gain_ratio * P`` more
  from the wrong result being accepted (a sabotaged competitor, a backdoored model, a bribe).

    EV_honest = P - C
    EV_cheat  = (1 - d)(P + G) - d S - (1 - f) C
    gain      = EV_cheat - EV_honest = f C + (1 - d) G - d (S + P)

Cheating loses iff ``gain < 0`` iff ``S > (f C + G) / d - G - P`` for that ``k``; the minimum stake is
the smallest integer above the largest of these bounds over ``k = 1..n``.

What that says
--------------
- A pure cost-saver (``G = 0``) facing sure enforcement (``q = 1``) never profits, whatever the stake:
  ``p_k >= k/n = f`` (``p_k`` is concave in ``k`` with ``p_n = 1``), so ``f C <= p_k C < p_k P``: the
  payment it forfeits when caught already outweighs the compute it saves. The stake exists for the
  other two terms: gains beyond the saved compute (``G``), where the worst strategy is to fake a single
  interval (``f = 1/n``, the smallest chance of being caught) and the stake grows like ``G n / s``; and
  imperfect enforcement (``q < 1``), where faking everything is worst and needs ``S > C/q - P``.
- ``G`` cannot be observed; the default assumes a cheater may value an accepted wrong result as much as
  the job's price (``extra_gain_ratio = 1``). Set it per market.

Assumptions and limits: the cheater is risk-neutral and maximises expected wei of this one job (no
reputation, no repeated-game effects, no cost of locking the stake); an honest solver is never slashed
(replay is deterministic and the referee honest); the verifier and the solver do not collude; the draw
cannot be biased (see docs/PROTOCOL.md for the one-block-producer caveat). The lazy verifier (one that
claims to have checked without replaying) is not priced here: it is caught by commit-reveal (the
verifier commits to its recomputed hashes before the solver's are disclosed, contracts/Audit.sol).
``Market.minimumStake`` enforces ``required_stake`` (``minimum_stake`` with the default parameters, in
closed form, floored at the payment).
``verifier_reward`` only makes honest checking pay when nobody cheats. docs/ECONOMICS.md has the plots.

The stake is fixed when the job is posted, before the price is known: size it from the maximum price
(the escrow). Every bound is proportional to the payment, so this is the conservative choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from numbers import Rational

DEFAULT_COST_RATIO = Fraction(4, 5)
"""The solver's compute cost as a fraction of the payment (what remains is its profit)."""
DEFAULT_EXTRA_GAIN_RATIO = Fraction(1)
"""What a cheater may gain from an accepted wrong result beyond the saved compute, per unit of payment."""
DEFAULT_CATCH_RATE = Fraction(1)
"""Probability that a sampled faked interval ends in a slash."""
DEFAULT_STAKE_MARGIN = Fraction(5, 4)
DEFAULT_REWARD_MARGIN = Fraction(5, 4)
DEFAULT_TARGET_DETECTION = Fraction(1, 10)
"""Default chance that the sample hits a single faked interval (see `default_samples`)."""
MAX_CHECKPOINT_COUNT = 2**20
MAX_CHECKPOINT_INTERVAL = 2**20
MAX_SAMPLE_COUNT = 128
"""Market's bounds (every transaction of a job fits in a block): a larger job samples at most 128 intervals,
so its detection chance is lower and the stake it asks for higher."""


def _count(name: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: must be an integer, got {value!r}")  # noqa: TRY004 (one error type for callers)
    if value < minimum:
        raise ValueError(f"{name}: must be at least {minimum}, got {value}")
    return value


def _ratio(name: str, value, low: Fraction = Fraction(0), high: Fraction | None = None,
           low_open: bool = False) -> Fraction:
    """A number as an exact Fraction (floats by their decimal repr: 0.8 is 4/5), checked against a range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Rational)):
        raise ValueError(f"{name}: must be a number, got {value!r}")  # noqa: TRY004 (one error type for callers)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name}: must be finite, got {value!r}")
        value = Fraction(repr(value))
    value = Fraction(value)
    if value < low or (low_open and value == low) or (high is not None and value > high):
        bounds = f"{'(' if low_open else '['}{low}, {'inf)' if high is None else f'{high}]'}"
        raise ValueError(f"{name}: must be in {bounds}, got {value}")
    return value


def _job(checkpoint_count, samples) -> tuple[int, int]:
    n = _count("checkpoint_count", checkpoint_count, 1)
    s = _count("samples", samples)
    if s > n:
        raise ValueError(f"samples: cannot exceed checkpoint_count ({n}), got {s}")
    return n, s


def _detection(n: int, s: int, k: int) -> Fraction:
    """Exact P(a uniform s-subset of n intervals contains at least one of k faked ones)."""
    return 1 - Fraction(math.comb(n - k, s), math.comb(n, s))


def detection_probability(checkpoint_count: int, samples: int, faked: int) -> float:
    """Probability that ``samples`` distinct intervals, drawn uniformly without replacement from
    ``checkpoint_count``, include at least one of ``faked`` faked intervals:
    ``1 - C(n - faked, samples) / C(n, samples)`` (hypergeometric)."""
    n, s = _job(checkpoint_count, samples)
    k = _count("faked", faked)
    if k > n:
        raise ValueError(f"faked: cannot exceed checkpoint_count ({n}), got {k}")
    return float(_detection(n, s, k))


def samples_for_detection(checkpoint_count: int, faked: int, target: float) -> int:
    """The smallest sample size whose detection probability for ``faked`` faked intervals is at least
    ``target``. Size it for ``faked = 1``, the hardest strategy to catch (``p = samples / n``)."""
    n = _count("checkpoint_count", checkpoint_count, 1)
    k = _count("faked", faked, 1)
    if k > n:
        raise ValueError(f"faked: cannot exceed checkpoint_count ({n}), got {k}")
    t = _ratio("target", target, high=Fraction(1), low_open=True)
    # The miss probability C(n-k, s)/C(n, s) only falls as s grows; s = n-k+1 always hits (p = 1).
    return next(s for s in range(1, n - k + 2) if _detection(n, s, k) >= t)


def default_samples(checkpoint_count: int, target_detection: float = DEFAULT_TARGET_DETECTION) -> int:
    """The sample size used by default: the smallest one that catches a single faked interval with
    probability ``target_detection`` (default 1/10), i.e. ``max(1, ceil(target * n))``.

    Why a modest target: the stake makes even a small chance of being caught a losing bet, and the two
    costs pull in opposite directions. The verifier's reward grows like ``s/n`` (it is paid on every job,
    honest or not), the stake the worst cheater needs grows like ``n/s`` (with ``G = P``: about
    ``(n/s - 2) P``). With replay cost ``r`` and a cost of locked capital ``rho`` per job, the per-job total
    ``(s/n) r P + rho (n/s) P`` is smallest at ``s/n = sqrt(rho / r)``: 0.11 for rho = 1%, r = 0.8. So the
    default replays about a tenth of the job and asks for a stake of about eight times the price, up to the
    market's MAX_SAMPLE_COUNT (past 1,280 checkpoints the tenth is capped and the stake grows instead)."""
    n = _count("checkpoint_count", checkpoint_count, 1)
    t = _ratio("target_detection", target_detection, high=Fraction(1), low_open=True)
    # One faked interval is hit with probability exactly s/n, so no search is needed (n may be 2^20).
    return min(max(1, math.ceil(t * n)), MAX_SAMPLE_COUNT)


def cheating_gain(payment: int, stake: int, checkpoint_count: int, samples: int, faked: int, *,
                  cost_ratio=DEFAULT_COST_RATIO, extra_gain_ratio=DEFAULT_EXTRA_GAIN_RATIO,
                  catch_rate=DEFAULT_CATCH_RATE) -> Fraction:
    """Expected wei a solver gains by faking ``faked`` intervals instead of working honestly:
    ``f C + (1 - d) G - d (S + P)`` (module docstring). Negative: cheating is a losing bet."""
    P = _count("payment", payment)
    S = _count("stake", stake)
    n, s = _job(checkpoint_count, samples)
    k = _count("faked", faked)
    if k > n:
        raise ValueError(f"faked: cannot exceed checkpoint_count ({n}), got {k}")
    C = _ratio("cost_ratio", cost_ratio) * P
    G = _ratio("extra_gain_ratio", extra_gain_ratio) * P
    q = _ratio("catch_rate", catch_rate, high=Fraction(1))
    if k == 0:
        return Fraction(0)
    d = q * _detection(n, s, k)
    return Fraction(k, n) * C + (1 - d) * G - d * (S + P)


def minimum_stake(payment: int, checkpoint_count: int, samples: int, *, cost_ratio=DEFAULT_COST_RATIO,
                  extra_gain_ratio=DEFAULT_EXTRA_GAIN_RATIO, catch_rate=DEFAULT_CATCH_RATE,
                  margin=DEFAULT_STAKE_MARGIN) -> int:
    """The stake (wei) that makes every cheating strategy (faking 1, 2, ..., n intervals) a losing bet,
    times ``margin``: ``ceil(margin * S*)`` where ``S*`` is the smallest integer with
    ``cheating_gain(..., stake=S*, faked=k) < 0`` for every ``k``. With ``margin = 1`` the bound is tight:
    one wei less and some strategy breaks even or profits. 0 means the forfeited payment alone deters.

    Raises ValueError when no finite stake works: nothing is sampled, or a hit is never acted on."""
    P = _count("payment", payment)
    n, s = _job(checkpoint_count, samples)
    C = _ratio("cost_ratio", cost_ratio) * P
    G = _ratio("extra_gain_ratio", extra_gain_ratio) * P
    q = _ratio("catch_rate", catch_rate, high=Fraction(1))
    m = _ratio("margin", margin, low=Fraction(1))
    if s == 0:
        raise ValueError("samples: with 0 sampled intervals a cheater is never caught, so no finite stake "
                         "deters cheating; sample at least 1 interval")
    if q == 0:
        raise ValueError("catch_rate: a sampled fault that is never acted on deters nothing; no finite stake works")
    # Bound for k faked intervals: (k C / n + G) / (q p_k) - G - P, with p_k = (T - N_k) / T,
    # T = C(n, s), N_k = C(n-k, s). Find the largest (k C + n G) / (T - N_k) by cross-multiplication
    # (no Fraction arithmetic on big numbers inside the loop), then compute the bound once.
    D = C.denominator * G.denominator
    c, g = C * D, G * D  # integers now
    T = N = math.comb(n, s)
    best_num, best_den = None, None
    k = 0
    while k < n:
        k += 1
        N = N * (n - k + 1 - s) // (n - k + 1)  # C(n-k, s) from C(n-k+1, s), exact
        if N == 0 and k < n:
            k = n  # from here on p_k = 1 and the bound only grows with k: k = n dominates
        num, den = int(k * c + n * g), T - (N if k < n else 0)
        if best_num is None or num * best_den > best_num * den:
            best_num, best_den = num, den
    bound = Fraction(best_num * T, D * n * best_den) / q - G - P
    exact = max(0, math.floor(bound) + 1)
    return math.ceil(exact * m)


def verifier_reward(payment: int, samples: int, checkpoint_count: int, *,
                    replay_cost_ratio=DEFAULT_COST_RATIO, margin=DEFAULT_REWARD_MARGIN) -> int:
    """What a verifier must be paid per job (wei) for checking to pay even when nobody cheats ("why
    check if nobody cheats?"): replaying ``samples`` of ``n`` intervals costs ``samples/n`` of the
    compute, ``replay_cost_ratio * payment`` for the whole job (downloads included), so the reward is
    ``ceil(margin * samples/n * replay_cost_ratio * payment)``. Catching a cheater pays more on top
    (half the slashed stake). A verifier that claims a check it did not run is handled by commit-reveal,
    not by this price."""
    P = _count("payment", payment)
    n, s = _job(checkpoint_count, samples)
    r = _ratio("replay_cost_ratio", replay_cost_ratio)
    m = _ratio("margin", margin, low=Fraction(1))
    return math.ceil(m * Fraction(s, n) * r * P)


def required_stake(payment: int, checkpoint_count: int, samples: int) -> int:
    """The stake the market asks for (``Market.minimumStake``): ``minimum_stake`` with the defaults, and
    never less than the payment itself. The model can ask for nothing (every interval sampled, enforcement
    sure), but a stake that costs nothing to lose deters nothing the model leaves out: an unanswered
    availability challenge, a verifier that is offline. The floor is the escrow."""
    return max(minimum_stake(payment, checkpoint_count, samples), _count("payment", payment))


@dataclass(frozen=True)
class JobEconomics:
    samples: int
    detection_one_faked: float
    required_stake: int
    verifier_reward: int


def job_economics(payment: int, checkpoint_count: int, samples: int | None = None) -> JobEconomics:
    """Everything the coordinator needs for one job, with the defaults: sample size (``default_samples``
    unless given), the chance it catches a single faked interval, the required stake and the verifier's
    reward. Pass the job's maximum price as ``payment`` (the stake is fixed before the price is known)."""
    s = default_samples(checkpoint_count) if samples is None else samples
    return JobEconomics(samples=s, detection_one_faked=detection_probability(checkpoint_count, s, 1),
                        required_stake=required_stake(payment, checkpoint_count, s),
                        verifier_reward=verifier_reward(payment, s, checkpoint_count))
