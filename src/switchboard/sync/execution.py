"""Carry out a run's plan in chunks of users, each chunk one transaction.

Every chunk renews the run's lease first (nothing of a run whose lease another run took may
land). The last chunk also queues two-way write-backs, saves the delta links and closes the
run, so a crash anywhere leaves the previous links and the next run replays (idempotently).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from switchboard.db import statistics
from switchboard.db.models import Account
from switchboard.portal.users import sync_actor
from switchboard.sync import guards, queries, writeback
from switchboard.sync.apply import BulkState, apply_items
from switchboard.sync.plan import Action, Observation, Plan, PlanItem
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.ports import SyncServices
from switchboard.sync.progress import Phase
from switchboard.sync.readers import Progress
from switchboard.sync.run import Run, RunSummary
from switchboard.sync.runs import ItemRecord, RunStatus

# A run that adds or removes this many users refreshes the database's planner statistics.
ANALYZE_AFTER_ROWS = 5000
ROW_CHANGES = {Action.CREATE.value, Action.DELETE.value, Action.RELOCATE.value}


class Execution:
    """One run's chunks, and the tallies it keeps across them."""

    def __init__(
        self,
        services: SyncServices,
        run: Run,
        policy: SyncPolicy,
        *,
        full: bool,
        chunk_size: int,
    ) -> None:
        self.services = services
        self.run = run
        self.policy = policy
        self.full = full
        self.chunk_size = chunk_size
        # Keys are read per batch, for the users the batch concerns: a full run over 1,000,000
        # users does not hold the account's keys in memory.
        self.bulk = BulkState()
        self.failed = self.pending = self.written = 0
        # Users a full run found unchanged, counted by the planning thread (the writes may
        # run in another, ``sync.write_behind``): kept apart so neither updates the other's.
        self.unchanged = 0
        # For the run's progress: users changed and users that failed (errors included).
        self.changed = self.errors = 0
        self.applied: dict[str, int] = {}
        # Rows this run added or removed: enough of them and the planner needs new statistics.
        self.bulk_rows = 0
        self.analyzed_at = 0  # ``bulk_rows`` when the statistics were last refreshed

    def write_chunk(self, items: Sequence[PlanItem]) -> None:
        """Items decided while a full run still reads, in their own transaction with the run's
        counts so far."""
        with self.services.unit_of_work() as session:
            self._apply(session, self._account(session), items)
            failed = {"failed": self.failed} if self.failed else {}
            self.run.save_counts(session, {**self.counts_so_far(), **failed})
        if self.bulk_rows >= max(ANALYZE_AFTER_ROWS, 2 * self.analyzed_at):
            # Each batch looks its keys up by index; a planner that still believes the table
            # is as empty as it was scans it instead, once per batch. Refreshed each time the
            # run doubles what it added: a few times a run.
            with self.services.unit_of_work() as session:
                statistics.refresh(session, ("users",))
            self.analyzed_at = self.bulk_rows
        self.run.progress.note(applied=self.changed, errors=self.errors)

    def count_unchanged(self, count: int) -> None:
        """Users a full run found unchanged without an item (``sync.stream_planner``)."""
        self.unchanged += count

    @property
    def done(self) -> int:
        """Users carried out (or found unchanged) so far."""
        return self.written + self.unchanged

    def counts_so_far(self) -> dict[str, int]:
        counts = dict(self.applied)
        if self.unchanged:
            counts["skip"] = counts.get("skip", 0) + self.unchanged
        return counts

    def complete(
        self,
        the_plan: Plan,
        items: Sequence[PlanItem],
        observations: Sequence[Observation],
        *,
        links: tuple[str, str] | None,
        progress: Progress,
    ) -> RunSummary:
        """Carry out the plan's remaining items (in apply order) and close the run."""
        run = self.run
        dry_run = run.dry_run
        if not dry_run:
            with self.services.unit_of_work() as session:
                guards.hold_for_account(session, run.account_id, self.policy, the_plan, run.id)
        counts = the_plan.counts()
        held = the_plan.hold_reason is not None
        run.progress.enter(Phase.APPLYING)
        two_way = self.policy.direction == "two_way" and not dry_run
        total = self.done + len(items)
        size = self.chunk_size
        chunks = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
        summary: RunSummary | None = None
        for index, chunk in enumerate(chunks):
            with self.services.unit_of_work() as session:
                account = self._account(session)
                self._apply(
                    session,
                    account,
                    chunk,
                    held=held,
                    hold_creates=held and the_plan.hold_creates,
                    dry_run=dry_run,
                )
                if index == len(chunks) - 1:
                    if two_way:
                        self._queue_drift(session, account, observations, counts)
                    summary = self._close(session, the_plan, counts, links)
            if summary is None:  # committed: people see the chunk's outcome
                run.progress.note(applied=self.changed, errors=self.errors)
            progress("apply", self.done, total)
        assert summary is not None
        if self.bulk_rows >= ANALYZE_AFTER_ROWS:
            with self.services.unit_of_work() as session:
                statistics.refresh(session)
        if two_way and counts.get("write_back"):
            self._write_back(counts)
        if dry_run:
            summary.planned = list(items)
        return summary

    def _close(
        self,
        session: Session,
        the_plan: Plan,
        counts: dict[str, int],
        links: tuple[str, str] | None,
    ) -> RunSummary:
        run = self.run
        run.progress.set(applied=self.changed, errors=self.errors)
        if self.failed:
            counts["failed"] = self.failed
        if self.pending:
            counts["pending"] = self.pending
        if links is not None and not run.dry_run:
            queries.save_state(session, run.account_id, links, full=self.full)
        if the_plan.hold_reason is not None:
            status = RunStatus.HELD
        elif counts.get("error") or counts.get("failed"):
            status = RunStatus.PARTIAL
        else:
            status = RunStatus.SUCCEEDED
        message = the_plan.hold_reason or run.message
        if run.dry_run:
            message = "dry run: nothing was changed"
        return run.finish(session, status, counts, message)

    def _account(self, session: Session) -> Account:
        account = session.get(Account, self.run.account_id)
        assert account is not None
        return account

    def _apply(
        self,
        session: Session,
        account: Account,
        items: Sequence[PlanItem],
        *,
        held: bool = False,
        hold_creates: bool = False,
        dry_run: bool = False,
    ) -> None:
        self.run.hold(session)
        records = apply_items(
            session,
            sync_actor(account, self.run.number),
            account,
            items,
            hold_deletions=held,
            hold_creates=hold_creates,
            dry_run=dry_run,
            bulk=self.bulk,
        )
        self.run.add_items(session, records)
        self.failed += sum(1 for r in records if r.state == "failed" and r.action != "error")
        self.pending += sum(1 for r in records if r.state == "pending")
        self.changed += sum(1 for r in records if r.state == "applied")
        self.errors += sum(1 for r in records if r.state == "failed")
        self.written += len(items)
        self.bulk_rows += sum(
            1 for r in records if r.state == "applied" and r.action in ROW_CHANGES
        )
        for item in items:
            self.applied[item.action.value] = self.applied.get(item.action.value, 0) + 1

    def _queue_drift(
        self,
        session: Session,
        account: Account,
        observations: Sequence[Observation],
        counts: dict[str, int],
    ) -> None:
        """Two-way: queue writes where Entra ID differs from the portal; report blocked users."""
        seen = [o.user for o in observations if o.user is not None and o.in_scope]
        queued, blocked = writeback.queue_drift(session, account, self.policy, seen)
        if queued:
            counts["write_back"] = queued
        if blocked:
            counts["write_back_blocked"] = len(blocked)
            self.run.add_items(
                session,
                [
                    ItemRecord(
                        action="write_back",
                        state="failed",
                        directory_id=directory_id,
                        username=username,
                        fields=("extension", "phone_numbers"),
                        error_code="writeback_blocked",
                        message=writeback.ON_PREMISES,
                    )
                    for directory_id, username in blocked
                ],
            )

    def _write_back(self, counts: dict[str, int]) -> None:
        """Push the queued writes now; what cannot go yet stays queued for the next run."""
        with self.services.unit_of_work() as session:
            actor = sync_actor(self._account(session))
        report = writeback.process(self.services, actor, self.run.slug)
        counts["written_back"] = report.written
        if report.failed:
            counts["write_back_failed"] = report.failed
        with self.services.unit_of_work() as session:
            self.run.save_counts(session, counts)
