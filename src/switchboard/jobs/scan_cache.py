"""What the last scheduler ticks decided, so that a tick reads the run history again only for
the accounts that may have changed.

A decision is taken again when the account has a new run (any run row above the watermark of
sync_runs ids seen), when its settings, status or sync state differ, when its decision was
"due", or when the time it named has come. Every FULL_SCAN_SECONDS a tick decides every
account afresh, which also covers what the cache does not watch (a held run approved, a row
committed out of id order on PostgreSQL): such a change waits at most that long. A stale
decision can only start work late, never wrongly: a job checks again that it is due.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from switchboard.sync.schedule import Decision

FULL_SCAN_SECONDS = 60.0


@dataclass
class ScanCache:
    # The highest sync_runs id the last tick saw.
    watermark: int = 0
    # Monotonic time of the last tick that decided every account; None: none yet.
    full_at: float | None = None
    # account id -> (what the decision was taken from, the decision)
    entries: dict[int, tuple[object, Decision]] = field(default_factory=dict)

    def full_scan_due(self) -> bool:
        return self.full_at is None or time.monotonic() - self.full_at >= FULL_SCAN_SECONDS

    def reusable(self, account_id: int, inputs: object, stamp: datetime) -> Decision | None:
        """The account's cached decision, if nothing it was taken from has changed and the
        time it named has not come (None: nothing will ever be due)."""
        entry = self.entries.get(account_id)
        if entry is None or entry[0] != inputs:
            return None
        decision = entry[1]
        if decision.is_due or (decision.next_at is not None and decision.next_at <= stamp):
            return None
        return decision
