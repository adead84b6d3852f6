"""The sync run in progress: started under the account's lease, kept alive by its heartbeat,
and closed once, as finished, failed, held, interrupted or abandoned.

``Run`` is the one place that writes the run's row while it works; ``sync.runs`` keeps the
records it leaves (the row, its items) and reads them back for people.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.db.models import SyncRun
from switchboard.directory.source import DirectorySource
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Actor
from switchboard.portal.errors import Conflict
from switchboard.sync import lease, queries, runs, throttling
from switchboard.sync.plan import PlanItem
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.ports import DirectoryFactory, SyncServices
from switchboard.sync.progress import ProgressRecorder
from switchboard.sync.runs import ItemRecord, RunKind, RunStatus, Trigger


@dataclass
class RunSummary:
    # ``run_id`` is internal (logs, the process); people name a run by its account's ``number``.
    run_id: int
    number: int
    kind: str
    trigger: str
    status: str
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    message: str | None = None
    planned: list[PlanItem] = field(default_factory=list)


@dataclass(frozen=True)
class Started:
    """A run just started, with what its work needs: the account's sync settings and a
    source for its directory."""

    run: Run
    policy: SyncPolicy
    directory: DirectorySource


class Run:
    def __init__(
        self,
        services: SyncServices,
        *,
        run_id: int,
        number: int,
        account_id: int,
        slug: str,
        kind: RunKind,
        trigger: Trigger,
        dry_run: bool,
    ) -> None:
        self.services = services
        self.id = run_id
        self.number = number
        self.account_id = account_id
        self.slug = slug
        self.kind = kind
        self.trigger = trigger
        self.dry_run = dry_run
        # What the run's row says so far; the run is its only writer while it holds the lease.
        self.message: str | None = None
        self._heartbeat: lease.Heartbeat | None = None
        # Phase and counts so far, on the row for the run page to show while it works.
        self.progress = ProgressRecorder(services, run_id)
        # Real time, for the duration metric (the row's times follow the portal's clock).
        self._began = time.monotonic()

    @classmethod
    def start(
        cls,
        services: SyncServices,
        directory_for: DirectoryFactory,
        actor: Actor,
        slug: str,
        *,
        kind: RunKind,
        trigger: Trigger,
        dry_run: bool,
    ) -> Started:
        """Record a new run of the account in one transaction under the start lock: stale runs
        are abandoned, a live one refuses the start, and the run takes the account's next
        number. Conflict when the account is not connected, Entra ID asked to wait
        (throttled), or another run holds the lease."""
        lease_time = timedelta(seconds=services.settings.run_lease_seconds)
        account_id: int | None = None
        started: Started | None = None
        try:
            with services.unit_of_work() as session:
                account = get_account(session, actor, slug, write=True)
                account_id = account.id
                lease.lock_for_start(session, account.id)
                throttling.refuse_while_throttled(session, account.id, slug)
                registration = queries.registration(session, account.id)
                if registration is None:
                    raise Conflict(
                        f"account '{slug}' is not connected to Entra ID; connect it first"
                        " (switchboard directory connect)",
                        code="not_connected",
                    )
                policy = SyncPolicy.model_validate(registration.policy or {})
                if not policy.groups and not policy.all_users:
                    # Connected by the wizard, groups not chosen yet: never the whole tenant
                    # by default.
                    raise Conflict(
                        f"account '{slug}' has no groups to sync yet; choose the groups (or all"
                        " users) in the sync settings first",
                        code="scope_not_chosen",
                    )
                lease.claim(session, account.id, slug, lease=lease_time, dry_run=dry_run)
                row = runs.start(session, account, trigger=trigger, kind=kind, dry_run=dry_run)
                run = cls(
                    services,
                    run_id=row.id,
                    number=row.number,
                    account_id=account.id,
                    slug=slug,
                    kind=kind,
                    trigger=trigger,
                    dry_run=dry_run,
                )
                # Made while the registration is loaded; closed below if the start fails.
                started = Started(run, policy, directory_for(registration))
            return started  # noqa: RET504 - returned once the transaction has committed
        except BaseException as exc:
            if started is not None:  # the commit failed: the run never started
                started.directory.close()
            if not isinstance(exc, IntegrityError):
                raise
            # The database's own guard of the lease.
            if account_id is None or not lease.is_lease_violation(exc):
                raise
            with services.unit_of_work() as session:
                raise lease.refused_start(session, account_id, slug) from None

    # --- the lease ---------------------------------------------------------------------------

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self._began

    def start_heartbeat(self) -> None:
        """Renew the lease from a thread every quarter of it, until ``stop_heartbeat``."""
        interval = self.services.settings.run_lease_seconds / 4
        self._heartbeat = lease.Heartbeat(self.services, self.id, interval).start()

    def stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()

    def hold(self, session: Session) -> None:
        """In a transaction that carries out part of the run: renew the lease, or raise
        ``LeaseLost`` (the transaction rolls back) when another run has taken it."""
        lease.hold(session, self.id)

    # --- while it works ------------------------------------------------------------------------

    def note(self, message: str) -> None:
        """Say on the run why it runs (a settings change asked for it), in its own transaction."""
        with self.services.unit_of_work() as session:
            row = session.get(SyncRun, self.id)
            if row is not None:
                row.message = message
        self.message = message

    def become_full(self, why: str) -> None:
        """A delta round that must read everything: the run goes on as a full reconcile."""
        with self.services.unit_of_work() as session:
            self.hold(session)
            row = session.get(SyncRun, self.id)
            assert row is not None
            row.kind = RunKind.FULL.value
            row.message = why
        self.kind = RunKind.FULL
        self.message = why

    def add_items(self, session: Session, records: Sequence[ItemRecord]) -> None:
        runs.add_items(session, self.id, records)

    def save_counts(self, session: Session, counts: dict[str, int]) -> None:
        """The counts so far, with the chunk that produced them: a run that fails later still
        shows what it carried out."""
        row = session.get(SyncRun, self.id)
        if row is not None:
            row.counts = dict(counts)

    # --- how it ends ---------------------------------------------------------------------------

    def finish(
        self, session: Session, status: RunStatus, counts: dict[str, int], message: str | None
    ) -> RunSummary:
        """Close the run in the transaction of its last chunk."""
        runs.finish(
            session,
            self.id,
            status=status,
            counts=counts,
            message=message,
            progress=dict(self.progress.counts),
        )
        self.message = message
        return self.summary(status, counts, message)

    def fail(self, message: str) -> RunSummary:
        """Close the run as failed, keeping the counts it committed; a run abandoned meanwhile
        keeps that status and message."""
        with self.services.unit_of_work() as session:
            row = session.get(SyncRun, self.id)
            counts = dict(row.counts) if row else {}
            if row is not None and row.status != RunStatus.RUNNING:
                return self.summary(row.status, counts, row.message)
            runs.finish(
                session,
                self.id,
                status=RunStatus.FAILED,
                counts=counts,
                message=message,
                progress=dict(self.progress.counts),
            )
        return self.summary(RunStatus.FAILED, counts, message)

    def interrupt(self, wait_seconds: float) -> RunSummary:
        """Close the run as interrupted by throttling; it resumes after the wait."""
        with self.services.unit_of_work() as session:
            row = throttling.interrupt(session, self.id, wait_seconds)
            counts, message = dict(row.counts), row.message
        return self.summary(RunStatus.INTERRUPTED, counts, message)

    def abandoned(self) -> RunSummary:
        """The run as another start left it when it took the lease (see ``lease.abandon``)."""
        with self.services.unit_of_work() as session:
            row = session.get(SyncRun, self.id)
            counts = dict(row.counts) if row else {}
            message = row.message if row else None
        return self.summary(RunStatus.ABANDONED, counts, message)

    def summary(
        self,
        status: str,
        counts: dict[str, int],
        message: str | None,
        planned: Sequence[PlanItem] = (),
    ) -> RunSummary:
        return RunSummary(
            self.id,
            self.number,
            self.kind,
            self.trigger,
            status,
            self.dry_run,
            counts,
            message,
            list(planned),
        )
