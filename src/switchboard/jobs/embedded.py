"""The embedded scheduler: a tick every 5 s starts due work on the in-process thread pool.

For single-node deployments (SQLite), in `serve` or `worker`. Work is keyed per account, so a
tick never starts a second sync of an account whose last one is still queued or running; the
engine refuses a concurrent run anyway (run_in_progress), which also covers other processes.
A short tick keeps the lag between a schedule falling due and its run small, and stays cheap:
it reads the run history again only for accounts that changed (jobs/scan_cache.py).

Once a day (and at start) the tick also prunes the run log (sync/run_retention.py).
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial

from switchboard.jobs import sync_work
from switchboard.jobs.scan_cache import ScanCache
from switchboard.sync.ports import JobRunner, SyncServices

log = logging.getLogger("switchboard.worker")
TICK_SECONDS = 5.0
PRUNE_EVERY_SECONDS = 24 * 3600.0


class EmbeddedScheduler:
    def __init__(self, services: SyncServices, runner: JobRunner) -> None:
        self.services = services
        self.runner = runner
        # Monotonic time of the last run-log prune handed to the runner; None: not yet.
        self._pruned_at: float | None = None
        # Decisions kept from tick to tick: a tick re-reads only accounts that changed.
        self._cache = ScanCache()

    def tick(self) -> sync_work.TickReport:
        report = sync_work.TickReport()
        report.pruning = self._prune_if_due()
        for item in sync_work.scan(self.services, self._cache):
            if not item.decision.is_due:
                report.not_due.append(item)
                continue
            account_id, kind = item.account_id, item.decision.kind
            accepted = self.runner.submit(
                f"scheduled {kind} of {item.slug}",
                partial(sync_work.run_sync, self.services, account_id, kind),
                key=f"sync:{account_id}",
            )
            (report.started if accepted else report.already_busy).append(item)
        for account_id, slug in sync_work.due_writebacks(self.services):
            accepted = self.runner.submit(
                f"write-backs of {slug}",
                partial(sync_work.push_writebacks, self.services, account_id),
                key=f"writeback:{account_id}",
            )
            if accepted:
                report.writebacks.append(slug)
        for account_id, slug in sync_work.subscription_work(self.services):
            accepted = self.runner.submit(
                f"change-notification subscriptions of {slug}",
                partial(sync_work.maintain_subscriptions, self.services, account_id),
                key=f"subscriptions:{account_id}",
            )
            if accepted:
                report.subscriptions.append(slug)
        return report

    def _prune_if_due(self) -> bool:
        clock = time.monotonic()
        if self._pruned_at is not None and clock - self._pruned_at < PRUNE_EVERY_SECONDS:
            return False
        accepted = self.runner.submit(
            "run-log retention",
            partial(sync_work.prune_run_log, self.services),
            key="retention",
        )
        if accepted:
            self._pruned_at = clock
        return accepted

    def run_forever(self, stop: threading.Event, interval: float = TICK_SECONDS) -> None:
        """Tick until ``stop`` is set; a failing tick is logged and the next one tries again."""
        while not stop.is_set():
            try:
                report = self.tick()
                for item in report.started:
                    log.info(
                        "started %s for %s: %s", item.decision.kind, item.slug, item.decision.reason
                    )
            except Exception:
                log.exception("scheduler tick failed")
            stop.wait(interval)
