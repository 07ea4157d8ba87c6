"""Cheating strategies against spot checks: detection probability (exact and by seeded Monte Carlo) and
the cheater's expected gain with the stake from `pinpoint.economics.minimum_stake`, and with one ten
times smaller. Writes `docs/economics.png` and `docs/economics_table.md`, and refreshes the table inside
`docs/ECONOMICS.md`.

    python -m bench.economics [--trials 20000] [--seed 7]

`run()` returns the numbers as a dict (for the benchmark runner). Light: numpy and matplotlib, ~1 s.
"""

from __future__ import annotations

import argparse
import json
from fractions import Fraction
from pathlib import Path

import numpy as np

from pinpoint.economics import (
    DEFAULT_CATCH_RATE,
    DEFAULT_COST_RATIO,
    DEFAULT_EXTRA_GAIN_RATIO,
    DEFAULT_STAKE_MARGIN,
    cheating_gain,
    detection_probability,
    minimum_stake,
    verifier_reward,
)

DOCS = Path(__file__).resolve().parent.parent / "docs"
ETHER = 10**18
CHECKPOINTS = 32
SAMPLES = (1, 2, 4, 8)
FAKED = (1, 4, 8, 16, 32)  # 1/32, 1/8, 1/4, 1/2, 1 of the intervals
TABLE_START, TABLE_END = "<!-- economics-table:start -->", "<!-- economics-table:end -->"


def monte_carlo(n: int, s: int, faked: tuple[int, ...], trials: int, rng: np.random.Generator) -> dict[int, float]:
    """Fraction of `trials` uniform s-subsets of n intervals that contain one of the first k (faked) ones."""
    draws = np.argsort(rng.random((trials, n)), axis=1)[:, :s]  # a uniform s-subset per row
    lowest = draws.min(axis=1)
    return {k: float(np.mean(lowest < k)) for k in faked}


def run(trials: int = 20_000, seed: int = 7, payment: int = ETHER, write: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    n = CHECKPOINTS
    result = {
        "checkpoint_count": n, "payment_wei": payment, "trials": trials, "seed": seed,
        "assumptions": {"cost_ratio": str(DEFAULT_COST_RATIO), "extra_gain_ratio": str(DEFAULT_EXTRA_GAIN_RATIO),
                        "catch_rate": str(DEFAULT_CATCH_RATE), "stake_margin": str(DEFAULT_STAKE_MARGIN)},
        "by_samples": {},
    }
    curves = {}
    max_error = 0.0
    for s in SAMPLES:
        stake = minimum_stake(payment, n, s)
        small = stake // 10
        mc = monte_carlo(n, s, FAKED, trials, rng)
        rows = []
        for k in FAKED:
            p = detection_probability(n, s, k)
            max_error = max(max_error, abs(mc[k] - p))
            rows.append({
                "faked": k, "fraction_faked": k / n, "detection": p, "detection_monte_carlo": mc[k],
                "gain_with_stake": float(cheating_gain(payment, stake, n, s, k) / payment),
                "gain_with_stake_over_10": float(cheating_gain(payment, small, n, s, k) / payment),
            })
        ks = range(1, n + 1)
        curves[s] = {
            "detection": [detection_probability(n, s, k) for k in ks],
            "gain": [float(cheating_gain(payment, stake, n, s, k) / payment) for k in ks],
            "gain_small": [float(cheating_gain(payment, small, n, s, k) / payment) for k in ks],
            "mc": [mc[k] for k in FAKED],
        }
        result["by_samples"][s] = {
            "minimum_stake_wei": stake, "minimum_stake_x_payment": stake / payment,
            "verifier_reward_wei": verifier_reward(payment, s, n),
            "verifier_reward_x_payment": verifier_reward(payment, s, n) / payment,
            "worst_gain_with_stake": max(curves[s]["gain"]),
            "worst_gain_with_stake_over_10": max(curves[s]["gain_small"]),
            "rows": rows,
        }
    result["max_monte_carlo_error"] = max_error
    if write:
        table = markdown_table(result)
        (DOCS / "economics_table.md").write_text(table)
        doc = DOCS / "ECONOMICS.md"
        if doc.exists() and TABLE_START in doc.read_text():
            text = doc.read_text()
            head, rest = text.split(TABLE_START, 1)
            doc.write_text(head + TABLE_START + "\n" + table + TABLE_END + rest.split(TABLE_END, 1)[1])
        plot(curves, result, DOCS / "economics.png")
    return result


def markdown_table(result: dict) -> str:
    n = result["checkpoint_count"]
    a = result["assumptions"]
    lines = [
        (f"Job of {n} intervals, payment P, compute cost {a['cost_ratio']} P, extra gain of an accepted wrong "
         f"result {a['extra_gain_ratio']} P, a sampled fault slashed with probability {a['catch_rate']}, stake "
         f"margin {a['stake_margin']}; Monte Carlo: {result['trials']} seeded draws per sample size. Gains are "
         "the cheater's expected wei over honest work, in units of P (negative: cheating loses)."),
        "",
        ("| samples | stake (× P) | verifier reward (× P) | intervals faked | detection (exact) "
         "| detection (Monte Carlo) | gain, stake | gain, stake / 10 |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s, entry in result["by_samples"].items():
        for i, row in enumerate(entry["rows"]):
            stake = f"{entry['minimum_stake_x_payment']:.4g}" if i == 0 else ""
            reward = f"{entry['verifier_reward_x_payment']:.4g}" if i == 0 else ""
            fraction = Fraction(row["faked"], n)
            lines.append(
                f"| {s if i == 0 else ''} | {stake} | {reward} | {row['faked']} ({fraction}) "
                f"| {row['detection']:.4f} | {row['detection_monte_carlo']:.4f} "
                f"| {row['gain_with_stake']:+.3f} | {row['gain_with_stake_over_10']:+.3f} |")
    lines.append("")
    lines.append(f"Largest Monte Carlo error: {result['max_monte_carlo_error']:.4f}.")
    return "\n".join(lines) + "\n"


def plot(curves: dict, result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = result["checkpoint_count"]
    x = np.arange(1, n + 1) / n
    colors = dict(zip(SAMPLES, ("#d62728", "#ff7f0e", "#2ca02c", "#1f77b4")))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.6))
    for s, c in curves.items():
        left.plot(x, c["detection"], color=colors[s], label=f"{s} of {n} sampled")
        left.plot(np.array(FAKED) / n, c["mc"], "o", color=colors[s], markersize=5, markerfacecolor="none")
    left.set(xlabel="fraction of intervals faked", ylabel="probability the sample hits a faked interval",
             title="Detection (lines: exact; circles: Monte Carlo)", ylim=(0, 1.03), xlim=(0, 1.02))
    left.grid(alpha=0.3)
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8)

    for s, c in curves.items():
        stake = result["by_samples"][s]["minimum_stake_x_payment"]
        right.plot(x, c["gain"], color=colors[s], label=f"{s} sampled, stake {stake:.3g} P")
        right.plot(x, c["gain_small"], "--", color=colors[s], label=f"{s} sampled, stake {stake / 10:.3g} P")
    right.axhline(0, color="black", linewidth=1)
    right.axhspan(0, 100, color="#d62728", alpha=0.06)
    right.set_yscale("symlog", linthresh=0.1)
    right.set_ylim(-60, 2)
    right.set(xlabel="fraction of intervals faked", ylabel="expected gain over honest work (× payment, symlog)",
              title="Cheating: minimum stake (solid) vs 10× smaller (dashed)", xlim=(0, 1.02))
    right.text(0.5, 0.3, "cheating pays", color="#d62728", ha="center", fontsize=9)
    right.grid(alpha=0.3, which="both")
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = run(trials=args.trials, seed=args.seed)
    summary = {s: {k: v for k, v in e.items() if k != "rows"} for s, e in result["by_samples"].items()}
    print(json.dumps({"max_monte_carlo_error": result["max_monte_carlo_error"], "by_samples": summary}, indent=2))
    print(f"wrote {DOCS / 'economics.png'} and {DOCS / 'economics_table.md'}")


if __name__ == "__main__":
    main()
