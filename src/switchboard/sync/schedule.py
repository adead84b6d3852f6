"""When an account's next scheduled sync run is due, and why: a pure function of the facts.

Batched mode runs a delta round every N minutes (measured from the start of the last scheduled
or manual run) or when its cron expression fires. Every mode keeps the safety net: a delta
round at least daily, a full reconcile at least every 6 days (Graph delta links expire after
7) or whenever there is no delta chain yet. Failed runs back off exponentially, so a broken
tenant is not hammered; a run in progress and a terminated account get nothing. A run that
stopped heartbeating is not in progress: the next run marks it abandoned, and what it did not
finish (a full reconcile's safety net, say) is still due. A run
interrupted by throttling is started again once the wait Entra ID asked for is over (not
before, and without the failure backoff).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from switchboard.sync.cron import parse_cron
from switchboard.sync.policy import SyncPolicy

DAILY_DELTA = timedelta(hours=24)
DEFAULT_LEASE = timedelta(seconds=60)
FULL_EVERY = timedelta(days=6)
BACKOFF_BASE = timedelta(minutes=5)
BACKOFF_CAP = timedelta(hours=6)

Kind = Literal["none", "delta", "full"]


@dataclass(frozen=True)
class SyncTimes:
    """The account's DirectorySyncState times (None when it has never synced)."""

    last_full_at: datetime | None = None
    last_delta_at: datetime | None = None
    delta_chain_started_at: datetime | None = None


@dataclass(frozen=True)
class RunRecord:
    """One past run (not dry runs, not single-user syncs)."""

    trigger: str
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    # Interrupted by throttling: not to be started again before this time.
    resume_after: datetime | None = None

    def alive(self, now: datetime, lease: timedelta) -> bool:
        """Running, and heard from within the lease (a dead one is abandoned by the next)."""
        return self.status == "running" and now - (self.heartbeat_at or self.started_at) < lease


@dataclass(frozen=True)
class Decision:
    kind: Kind
    reason: str
    # When nothing is due: the earliest time something will be (None: never, e.g. terminated).
    next_at: datetime | None = None

    @property
    def is_due(self) -> bool:
        return self.kind != "none"


def backoff(failures: int) -> timedelta:
    """Wait after ``failures`` consecutive failed runs: 5 min doubling, at most 6 h."""
    if failures <= 0:
        return timedelta(0)
    return min(BACKOFF_BASE * (1 << min(failures, 16)), BACKOFF_CAP)


def due(
    now: datetime,
    policy: SyncPolicy,
    state: SyncTimes | None,
    runs: Sequence[RunRecord],
    *,
    terminated: bool = False,
    lease: timedelta = DEFAULT_LEASE,
    throttled_until: datetime | None = None,
) -> Decision:
    """What the scheduler should start for the account now (``runs``: any order).

    ``throttled_until``: the latest resume time of the account's runs (dry runs included);
    the newest run's own resume time counts as well.
    """
    if terminated:
        return Decision("none", "the account is terminated")
    history = sorted(runs, key=lambda r: r.started_at, reverse=True)
    running = [r for r in history if r.alive(now, lease)]
    if running:
        # Look again when its lease ends, or later if nothing is due by then: a run that dies
        # silently leaves the schedule as it was.
        expiry = (running[0].heartbeat_at or running[0].started_at) + lease
        after = due(expiry, policy, state, runs, lease=lease, throttled_until=throttled_until)
        return Decision(
            "none",
            f"a {running[0].kind} run started at {_at(running[0].started_at)} is in progress",
            expiry if after.kind != "none" else max(expiry, after.next_at or expiry),
        )
    # Runs that stopped heartbeating count as what the next start marks them: abandoned.
    history = [replace(r, status="abandoned") if r.status == "running" else r for r in history]
    newest = history[0] if history else None
    waits = [throttled_until, newest.resume_after if newest is not None else None]
    until = max((w for w in waits if w is not None), default=None)
    if until is not None and now < until:
        return Decision(
            "none", f"Entra ID asked to wait (throttled); resuming after {_at(until)}", until
        )
    state = state or SyncTimes()

    # Each candidate: (kind, reason, when it is or becomes due).
    candidates: list[tuple[Kind, str, datetime]] = []
    if state.delta_chain_started_at is None or state.last_full_at is None:
        reason = (
            "safety net: no delta chain yet"
            if state.last_full_at is None
            else "the synced groups or mapping changed since the last full reconcile"
        )
        candidates.append(("full", reason, now))
    else:
        candidates.append(
            (
                "full",
                f"safety net: last full reconcile at {_at(state.last_full_at)}"
                " (a full one at least every 6 days)",
                state.last_full_at + FULL_EVERY,
            )
        )
        last_round = max(state.last_delta_at or state.last_full_at, state.last_full_at)
        candidates.append(
            (
                "delta",
                f"safety net: last delta round at {_at(last_round)} (one at least daily)",
                last_round + DAILY_DELTA,
            )
        )
    if newest is not None and newest.status == "interrupted":
        resumed: Kind = "full" if newest.kind == "full" else "delta"
        since = newest.resume_after or newest.finished_at or newest.started_at
        candidates.append(
            (resumed, f"resuming the {newest.kind} run interrupted by throttling", since)
        )
    held = next((r for r in history if r.status == "held"), None)
    if held is not None and any(c[0] == "delta" for c in candidates):
        # A full reconcile would only hold the same deletions again while an admin decides;
        # delta rounds go on (a held run saved its links).
        candidates = [c for c in candidates if c[0] != "full"]
    if policy.mode == "batched":
        batched = _batched(now, policy, state, history)
        if batched is not None:
            candidates.append(batched)

    failures, last_failure = _failures(history)
    wait_until = last_failure + backoff(failures) if last_failure is not None else None

    ripe = [c for c in candidates if c[2] <= now]
    if ripe:
        # A full reconcile covers a delta round; among equals, the longest overdue explains.
        kind, reason, _ = min(ripe, key=lambda c: (c[0] != "full", c[2]))
        if wait_until is not None and now < wait_until:
            return Decision(
                "none",
                f"backing off after {failures} failed run(s) in a row; {kind} due ({reason})"
                f" is retried at {_at(wait_until)}",
                wait_until,
            )
        return Decision(kind, reason, now)
    kind, reason, when = min(candidates, key=lambda c: (c[2], c[0] != "full"))
    if wait_until is not None and when < wait_until:
        when = wait_until
    return Decision("none", f"next: {kind} at {_at(when)} ({reason})", when)


def _batched(
    now: datetime, policy: SyncPolicy, state: SyncTimes, history: Sequence[RunRecord]
) -> tuple[Kind, str, datetime] | None:
    last = next((r.started_at for r in history if r.trigger in ("schedule", "manual")), None)
    if policy.schedule_cron:
        schedule = parse_cron(policy.schedule_cron)
        reference = last or state.last_delta_at or state.last_full_at or now
        fires = schedule.next_after(reference)
        return (
            "delta",
            f"batched: cron '{schedule.expression}' (UTC) fires at {_at(fires)}",
            fires,
        )
    if policy.schedule_minutes:
        every = timedelta(minutes=policy.schedule_minutes)
        when = last + every if last is not None else now
        since = f"since the run at {_at(last)}" if last is not None else "no run yet"
        return ("delta", f"batched: every {policy.schedule_minutes} min ({since})", when)
    return None


def _failures(history: Sequence[RunRecord]) -> tuple[int, datetime | None]:
    """Consecutive failed runs, newest first, and when the newest of them ended."""
    failures = 0
    last: datetime | None = None
    for run in history:
        if run.status == "abandoned":
            # A killed process says nothing about the tenant: neither a failure (its account
            # syncs again at once) nor the end of a streak of them.
            continue
        if run.status != "failed":
            break
        if last is None:
            last = run.finished_at or run.started_at
        failures += 1
    return failures, last


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
