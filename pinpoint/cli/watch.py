"""`pinpoint job watch ID`: a job live in the terminal, from the coordinator's overview (the dashboard's data).

`render(overview)` turns the overview into lines: state and parties, a progress bar and the loss, each deadline
with a countdown (from the chain's clock), the sealed sample, each verifier's audit, each dispute's bisection
round by round, and the payouts. `watch` redraws it until the job ends.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable

from pinpoint.units import format_eth

ENDED = ("finalized", "cancelled", "failed", "slashed", "unverified")


def short(address: str | None) -> str:
    return "-" if not address else f"{address[:8]}…{address[-4:]}"


def countdown(deadline: int | None, now: int | None) -> str:
    """'in 9m 12s', '3s ago'; '-' without a deadline."""
    if deadline is None:
        return "-"
    if now is None:
        return f"at block time {deadline}"
    left = deadline - now
    text = duration(abs(left))
    return f"in {text}" if left > 0 else f"{text} ago"


def duration(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s")


def bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // max(total, 1)
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Terminal control characters: text from the coordinator is shown, never obeyed (no escape sequences)."""


def render(view: dict) -> list[str]:
    """The job's lines, with any control character a hostile coordinator put in its fields shown as '?'."""
    return [CONTROL.sub("?", line) for line in _lines(view)]


def _lines(view: dict) -> list[str]:
    job, now = view["job"], view.get("chain_time")
    state = job["state"]
    lines = [f"job {job['id']} · {state} · spec {job['spec_hash'][:10]}…"]
    price = f"bid {format_eth(job['price'])} of max {format_eth(job['max_price'])}" if job.get("price") else \
        f"max price {format_eth(job['max_price'])}, {len(job['bids'])} bid(s)"
    lines.append(f"  submitter {short(job['submitter'])} · solver {short(job['solver'])} · {price} · "
                 f"stake {format_eth(job['required_stake'])}")
    losses = [c["loss"] for c in job["checkpoints"] if c.get("loss") is not None]
    loss = f" · loss {losses[-1]:.4f}" + (f" (first {losses[0]:.4f})" if len(losses) > 1 else "") if losses else ""
    lines.append(f"  progress {bar(job['checkpoints_done'], job['checkpoint_count'])}{loss}")
    deadlines = [("bidding", job.get("bidding_deadline")), ("execution", job.get("execution_deadline")),
                 ("review", job.get("challenge_deadline")), ("audit commit window", view.get("commit_deadline"))]
    current = {"bidding": "bidding", "running": "execution", "submitted": "review"}.get(state)
    # What is ahead, and the current phase's deadline once passed (then anyone may move the job on).
    shown = [f"{name} {'ends' if now is None or at > now else 'ended'} {countdown(at, now)}" for name, at in deadlines
             if at and (now is None or at > now or name == current)]
    if shown and state not in ENDED:
        lines.append("  deadlines: " + " · ".join(shown))
    if view.get("sampled_intervals") is not None:
        lines.append(f"  sample: intervals {', '.join(map(str, view['sampled_intervals']))} of "
                     f"{job['checkpoint_count']} replayed by verifiers")
    for audit in view.get("audits", []):
        steps = ["committed" if audit["committed"] else "drawn", "revealed" if audit["revealed"] else None]
        if audit.get("agreed") is not None:
            steps.append("agreed" if audit["agreed"] else f"DISAGREED at interval {audit.get('first_mismatch')}")
        if audit.get("outcome"):
            steps.append(f"{audit['outcome']} {format_eth(audit.get('amount'))}")
        lines.append(f"  audit by {short(audit['verifier'])}: " + ", ".join(s for s in steps if s))
    for verdict in job.get("verdicts", []):
        lines.append(f"  verdict on interval {verdict['interval']} by {short(verdict['verifier'])}: "
                     f"{'agrees' if verdict['agrees'] else 'DISAGREES'}")
    for dispute in view.get("disputes", []):
        winner = {True: "solver won", False: "challenger won", None: dispute["phase"]}[dispute.get("solver_won")]
        lines.append(f"  dispute {dispute['id']} ({dispute['kind']}) by {short(dispute['challenger'])}: {winner}")
        for move in dispute.get("bisection", []):
            lines.append(f"    round {move['round']}: steps {move['lo']}..{move['hi']}")
    paid = [("solver paid", job.get("solver_payout")), ("submitter refunded", job.get("submitter_refund")),
            ("stake slashed", job.get("slashed"))]
    if any(int(amount or 0) for _, amount in paid):
        lines.append("  payouts: " + " · ".join(f"{what} {format_eth(amount)}" for what, amount in paid if int(amount or 0)))
    return lines


def watch(fetch: Callable[[], dict], interval: float = 1.0, as_json: bool = False, out=sys.stdout,
          until_ended: bool = True) -> dict:
    """Show the job each time it changes (redrawn in place on a terminal) until it ends; returns the last view."""
    redraw = out.isatty() and not as_json
    last = None
    while True:
        view = fetch()
        changed = json.dumps({k: v for k, v in view.items() if k != "chain_time"}, sort_keys=True)
        if redraw:  # every tick, for the countdowns: the job in place, not a scroll of snapshots
            out.write("\x1b[H\x1b[J" + "\n".join(render(view)) + "\n")
        elif changed != last:  # a log or a pipe gets one snapshot per change
            out.write((json.dumps(view) if as_json else "\n".join(render(view))) + "\n")
        out.flush()
        last = changed
        if until_ended and view["job"]["state"] in ENDED:
            return view
        time.sleep(interval)
