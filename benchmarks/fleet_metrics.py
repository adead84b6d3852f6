"""What the fleet benchmark reports for one phase (a number of workers over a time window),
computed from the sync_runs rows alone.

- lag: a scheduled run's start minus its due time. Batched mode makes a run due when it is
  switched on, then 5 minutes after the start of the account's previous scheduled or manual
  run; a due time before the phase began counts from the phase's start (no worker ran between
  phases).
- missed: a due time whose period (due + 5 minutes) ended within the phase without a run
  started. Due times whose period outlasts the phase are not judged.
- overlaps: a run of an account that started before an earlier run of the same account had
  finished (any trigger).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RunRow:
    account_id: int
    trigger: str
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class PhaseStats:
    workers: int
    minutes: float
    scheduled_runs: int
    runs_per_minute: float
    mean_run_seconds: float
    busy_share: float  # of the workers' job slots, by scheduled runs
    lag_p50: float
    lag_p99: float
    lag_max: float
    overlaps: int
    missed: int
    judged: int  # due times whose whole period lay within the phase
    jit_rounds: int
    failed: int  # scheduled runs that did not succeed
    # CPU time of the worker processes over the phase (measured by the bench, not the runs).
    worker_cpu_seconds: float = 0.0

    @property
    def cpu_per_run(self) -> float:
        return self.worker_cpu_seconds / self.scheduled_runs if self.scheduled_runs else 0.0


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(math.ceil(p / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def by_account(runs: Iterable[RunRow]) -> dict[int, list[RunRow]]:
    grouped: dict[int, list[RunRow]] = defaultdict(list)
    for run in runs:
        grouped[run.account_id].append(run)
    for rows in grouped.values():
        rows.sort(key=lambda r: r.started_at)
    return grouped


def overlaps(runs: Sequence[RunRow], start: datetime, end: datetime) -> int:
    """Runs started in [start, end) while an earlier run of their account was unfinished."""
    found = 0
    for rows in by_account(runs).values():
        busy_until: datetime | None = None
        open_run = False
        for run in rows:
            if start <= run.started_at < end and (
                open_run or (busy_until is not None and run.started_at < busy_until)
            ):
                found += 1
            if run.finished_at is None:
                open_run = True
            elif busy_until is None or run.finished_at > busy_until:
                busy_until = run.finished_at
    return found


def phase_stats(
    runs: Sequence[RunRow],
    batched_since: Mapping[int, datetime],
    *,
    workers: int,
    slots: int,
    start: datetime,
    end: datetime,
    every: timedelta,
) -> PhaseStats:
    """``batched_since``: when each batched account was switched to batched mode (its first
    due time; it had no scheduled or manual run before)."""
    lags: list[float] = []
    durations: list[float] = []
    missed = judged = failed = 0
    grouped = by_account(runs)
    for account_id, since in batched_since.items():
        chain = [r for r in grouped.get(account_id, []) if r.trigger in ("schedule", "manual")]
        # Due k is served by chain[k]: the first falls due when batched mode is switched on,
        # each next one 5 minutes after the previous run started.
        dues = [since, *(r.started_at + every for r in chain)]
        for k, due in enumerate(dues):
            run = chain[k] if k < len(chain) else None
            due_at = max(due, start)
            if run is not None and run.trigger == "schedule" and start <= run.started_at < end:
                lags.append((run.started_at - due_at).total_seconds())
                if run.finished_at is not None:
                    durations.append((run.finished_at - run.started_at).total_seconds())
                if run.status not in ("succeeded", "partial"):
                    failed += 1
            if run is not None and run.started_at < start:
                continue  # served before the phase
            if due_at + every > end:
                continue  # its period outlasts the phase: not judged
            judged += 1
            if run is None or run.started_at >= due_at + every:
                missed += 1
    seconds = (end - start).total_seconds()
    minutes = seconds / 60
    jit = sum(1 for r in runs if r.trigger == "notification" and start <= r.started_at < end)
    return PhaseStats(
        workers=workers,
        minutes=minutes,
        scheduled_runs=len(lags),
        runs_per_minute=len(lags) / minutes if minutes else 0.0,
        mean_run_seconds=sum(durations) / len(durations) if durations else 0.0,
        busy_share=sum(durations) / (seconds * slots) if seconds and slots else 0.0,
        lag_p50=percentile(lags, 50),
        lag_p99=percentile(lags, 99),
        lag_max=max(lags, default=0.0),
        overlaps=overlaps(runs, start, end),
        missed=missed,
        judged=judged,
        jit_rounds=jit,
        failed=failed,
    )
