"""A finished run in the process's Prometheus metrics (``switchboard.metrics``).

Called once per run, where the engine ends it (``SyncEngine._guarded``): runs by kind, trigger
and outcome, their duration, and the users the plan decided about by action. A held run counts
once, as held; approving or rejecting it later is an admin's decision, not another run.
"""

from __future__ import annotations

from switchboard.metrics import PLAN_ITEMS, SYNC_RUN_DURATION, SYNC_RUNS
from switchboard.sync.plan import Action
from switchboard.sync.run import Run, RunSummary
from switchboard.sync.runs import RunStatus

ACTIONS = tuple(a.value for a in Action)


def observe(run: Run, summary: RunSummary | None) -> None:
    """``summary`` None: the run ended with an exception (it was recorded as failed)."""
    kind = run.kind.value
    outcome = str(summary.status) if summary is not None else RunStatus.FAILED.value
    SYNC_RUNS.labels(kind=kind, trigger=run.trigger.value, outcome=outcome).inc()
    SYNC_RUN_DURATION.labels(kind=kind).observe(run.elapsed())
    if summary is None or summary.dry_run:
        return  # a dry run changes nothing; its plan is not work done
    for action in ACTIONS:
        count = summary.counts.get(action, 0)
        if count > 0:
            PLAN_ITEMS.labels(action=action).inc(count)
