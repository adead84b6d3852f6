"""Runs of the directory sync: full reconcile, delta rounds and single users.

Each run reads the directory, plans with the pure plan function and applies in chunks of
users, each chunk one transaction (a full run while it still reads). Delta links are saved
only in the transaction of the last chunk, so a crash anywhere leaves the previous links and
the next run replays (idempotently).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.db import statistics
from switchboard.db.lookups import rows_matching_any
from switchboard.db.models import (
    Account,
    DirectoryRegistration,
    DirectorySyncState,
    Location,
    SyncRun,
    User,
)
from switchboard.directory.errors import DeltaTokenExpired, GraphError, GraphThrottled
from switchboard.directory.models import DirectoryUser
from switchboard.directory.source import DirectorySource
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict, ValidationFailed
from switchboard.portal.users import sync_actor, synced_directory_id, synced_user_id
from switchboard.portal.validation import quote
from switchboard.sync import guards, lease, runs, throttling, writeback
from switchboard.sync.apply import BulkState, apply_items
from switchboard.sync.failure_text import unexpected_failure
from switchboard.sync.mapping import Desired, LocationRef, map_user
from switchboard.sync.plan import (
    Action,
    Observation,
    Plan,
    PlanItem,
    Planner,
    PortalUser,
    plan,
)
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.read_ahead import read_ahead

Progress = Callable[[str, int, int | None], None]
DirectoryFactory = Callable[[DirectoryRegistration], DirectorySource]
# A delta or single run with more users than this loads the whole account, as a full run does.
TARGETED_LOAD_MAX = 2000
# A delta round with more changed users than this (with synced groups) runs as a full
# reconcile. Each changed user costs a checkMemberGroups request (20 per $batch), which Graph
# counts against the app's write budget (3,000 per 2.5 minutes): 1,000 checks fit in one
# budget window with room for other work, while a full read of the synced groups costs one
# request per 999 users and the deletion guard sees the whole picture. Beyond it a backlog
# would be throttled for minutes at a time.
DELTA_BACKLOG_MAX = 1000
PORTAL_USER_COLUMNS = (
    User.id,
    User.username,
    User.first_name,
    User.last_name,
    User.email,
    User.location_id,
    User.status,
    User.directory_id,
)
APPLY_ORDER = {
    Action.DELETE: 0,
    Action.RELOCATE: 1,
    Action.LINK: 2,
    Action.UPDATE: 4,
    Action.ENABLE: 4,
    Action.DISABLE: 4,
    Action.CREATE: 5,
}


# What a full run carries out while it still reads: no deletions (the guard needs the whole
# read) and nothing done one by one (links and relocations may free keys a bulk write takes).
STREAMED = {Action.CREATE, Action.UPDATE, Action.ENABLE, Action.DISABLE, Action.SKIP, Action.ERROR}
# A run that adds or removes this many users refreshes the database's planner statistics.
ANALYZE_AFTER_ROWS = 5000
ROW_CHANGES = {Action.CREATE.value, Action.DELETE.value, Action.RELOCATE.value}


def _in_apply_order(items: Sequence[PlanItem]) -> list[PlanItem]:
    """Deletions, relocations and links first, creates and updates after: what the first free
    is there for the others to take."""
    return sorted(items, key=lambda i: APPLY_ORDER.get(i.action, 3))


def _no_progress(_phase: str, _done: int, _total: int | None) -> None:
    return None


@dataclass
class RunSummary:
    run_id: int
    kind: str
    trigger: str
    status: str
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    message: str | None = None
    planned: list[PlanItem] = field(default_factory=list)


@dataclass(frozen=True)
class PreparedRun:
    run_id: int
    execute: Callable[[], RunSummary]


@dataclass(frozen=True)
class _Context:
    account_id: int
    slug: str
    policy: SyncPolicy
    registration_id: int


class SyncEngine:
    def __init__(
        self,
        container: Container,
        directory_for: DirectoryFactory,
        *,
        chunk_size: int = 2000,
        delta_backlog_max: int = DELTA_BACKLOG_MAX,
    ) -> None:
        self.container = container
        self.directory_for = directory_for
        self.chunk_size = chunk_size
        self.delta_backlog_max = delta_backlog_max

    # --- entry points ---------------------------------------------------------------------

    def prepare(
        self,
        actor: Actor,
        slug: str,
        *,
        kind: str,
        trigger: str,
        dry_run: bool = False,
        key: str | None = None,
        provision: bool = False,
        progress: Progress = _no_progress,
    ) -> PreparedRun:
        """Check access, record the run, and return it with the work still to do.

        Callers that answer at once (the API without waiting) hand ``execute`` to a job runner.
        ``provision`` (single user): create the user even under manual provisioning; this is
        how an admin adds a user offered in "Add users > From directory".
        """
        if kind == "single" and not key:
            raise ValidationFailed("name the user to sync by UPN or object id", field="user")
        throttling.refuse_while_throttled(self.container, actor, slug)
        ctx, run_id, directory = self._begin(
            actor, slug, trigger=trigger, kind=kind, dry_run=dry_run and kind == "full"
        )
        # From here the run is alive: it renews its lease until ``execute`` ends (while it
        # waits for a job runner too), so every prepared run must be executed.
        heartbeat = lease.Heartbeat(
            self.container, run_id, self.container.settings.run_lease_seconds / 4
        ).start()
        if provision and kind == "single":
            chosen = ctx.policy.model_copy(update={"provisioning": "automatic"})
            ctx = _Context(ctx.account_id, ctx.slug, chosen, ctx.registration_id)

        def body() -> RunSummary:
            if kind == "full":
                return self._full(ctx, run_id, directory, trigger, dry_run, progress)
            if kind == "delta":
                return self._delta(ctx, run_id, directory, trigger, progress)
            assert key is not None
            return self._single(ctx, run_id, directory, trigger, key)

        return PreparedRun(
            run_id,
            lambda: self._guarded(directory, heartbeat, run_id, trigger, kind, dry_run, body),
        )

    def reconcile(
        self,
        actor: Actor,
        slug: str,
        *,
        trigger: str = "manual",
        dry_run: bool = False,
        progress: Progress = _no_progress,
    ) -> RunSummary:
        return self.prepare(
            actor, slug, kind="full", trigger=trigger, dry_run=dry_run, progress=progress
        ).execute()

    def delta(
        self,
        actor: Actor,
        slug: str,
        *,
        trigger: str = "schedule",
        progress: Progress = _no_progress,
    ) -> RunSummary:
        return self.prepare(actor, slug, kind="delta", trigger=trigger, progress=progress).execute()

    def sync_user(
        self,
        actor: Actor,
        slug: str,
        key: str,
        *,
        trigger: str = "manual",
        provision: bool = False,
    ) -> RunSummary:
        return self.prepare(
            actor, slug, kind="single", trigger=trigger, key=key, provision=provision
        ).execute()

    def resolve_held(self, actor: Actor, slug: str, run_id: int, *, approve: bool) -> RunSummary:
        """Carry out (approve) or drop (reject) the deletions and creates a guard held back;
        approving re-checks each against the directory first (see ``held``)."""
        from switchboard.sync import held

        return held.resolve(self, actor, slug, run_id, approve=approve)

    # --- run phases ----------------------------------------------------------------------------

    def _begin(
        self, actor: Actor, slug: str, *, trigger: str, kind: str, dry_run: bool
    ) -> tuple[_Context, int, DirectorySource]:
        lease_time = timedelta(seconds=self.container.settings.run_lease_seconds)
        account_id: int | None = None
        try:
            with self.container.unit_of_work() as session:
                account = get_account(session, actor, slug, write=True)
                account_id = account.id
                lease.lock_for_start(session, account.id)
                registration = session.scalar(
                    select(DirectoryRegistration).where(
                        DirectoryRegistration.account_id == account.id
                    )
                )
                if registration is None:
                    raise Conflict(
                        f"account '{slug}' is not connected to Entra ID; connect it first"
                        " (switchboard directory connect)",
                        code="not_connected",
                    )
                lease.claim(session, account.id, slug, lease=lease_time, dry_run=dry_run)
                policy = SyncPolicy.model_validate(registration.policy or {})
                run = runs.start(session, account, trigger=trigger, kind=kind, dry_run=dry_run)
                ctx = _Context(account.id, slug, policy, registration.id)
                return ctx, run.id, self.directory_for(registration)
        except IntegrityError as exc:  # the database's own guard of the lease
            if account_id is None or not lease.is_lease_violation(exc):
                raise
            with self.container.unit_of_work() as session:
                raise lease.refused_start(session, account_id, slug) from None

    def _guarded(
        self,
        directory: DirectorySource,
        heartbeat: lease.Heartbeat,
        run_id: int,
        trigger: str,
        kind: str,
        dry_run: bool,
        body: Callable[[], RunSummary],
    ) -> RunSummary:
        try:
            return body()
        except lease.LeaseLost:
            # Taken as stopped while it waited or worked; the run that went ahead owns the
            # account now, and the abandoned mark says what this one had carried out.
            with self.container.unit_of_work() as session:
                run = session.get(SyncRun, run_id)
                counts = dict(run.counts) if run else {}
                message = run.message if run else None
            return RunSummary(run_id, kind, trigger, lease.ABANDONED, dry_run, counts, message)
        except GraphThrottled as exc:
            with self.container.unit_of_work() as session:
                run = throttling.interrupt(session, run_id, exc.wait_seconds)
                counts, message, kind = dict(run.counts), run.message, run.kind
            return RunSummary(run_id, kind, trigger, "interrupted", dry_run, counts, message)
        except GraphError as exc:
            message = f"Entra ID: {exc.message}"
            if exc.request_id:
                message += f" (request-id {exc.request_id})"
            return self._fail(run_id, trigger, kind, dry_run, message)
        except BaseException as exc:
            self._fail(run_id, trigger, kind, dry_run, unexpected_failure(exc, run_id))
            raise
        finally:
            heartbeat.stop()
            close = getattr(directory, "close", None)  # a live Graph client holds connections
            if callable(close):
                close()

    def _fail(
        self, run_id: int, trigger: str, kind: str, dry_run: bool, message: str
    ) -> RunSummary:
        with self.container.unit_of_work() as session:
            run = session.get(SyncRun, run_id)
            counts = dict(run.counts) if run else {}
            if run is not None and run.status != "running":  # abandoned meanwhile: keep that
                return RunSummary(run_id, kind, trigger, run.status, dry_run, counts, run.message)
            runs.finish(session, run_id, status="failed", counts=counts, message=message)
        return RunSummary(run_id, kind, trigger, "failed", dry_run, counts, message)

    def _full(
        self,
        ctx: _Context,
        run_id: int,
        directory: DirectorySource,
        trigger: str,
        dry_run: bool,
        progress: Progress,
    ) -> RunSummary:
        select_ = ctx.policy.select()
        # Links taken before reading: changes made during the read replay in the next round.
        links = None if dry_run else directory.latest_delta_links(select_)
        users = directory.users_in_scope(ctx.policy.groups, select_)
        if not dry_run:
            assert links is not None
            return self._stream_full(ctx, run_id, trigger, users, links, progress)
        observations: list[Observation] = []
        for user in users:
            observations.append(Observation(user.id, user, True))
            if len(observations) % 1000 == 0:
                progress("read", len(observations), None)
        progress("read", len(observations), len(observations))
        return self._plan_and_apply(
            ctx,
            run_id,
            trigger,
            "full",
            observations,
            full=True,
            dry_run=dry_run,
            links=links,
            progress=progress,
        )

    def _stream_full(
        self,
        ctx: _Context,
        run_id: int,
        trigger: str,
        users: Iterable[DirectoryUser],
        links: tuple[str, str],
        progress: Progress,
    ) -> RunSummary:
        """A full run that carries out what it decides while the directory is still read:
        creates and field updates go in chunks as pages arrive (the read runs ahead in a
        thread); links, relocations, the sweep's deletions and anything that could collide
        with them wait for the complete read and the deletion guard."""
        with self.container.unit_of_work() as session:
            locations = _locations(session, ctx.account_id)
            planner = Planner(
                _portal_users(session, ctx.account_id),
                ctx.policy,
                locations,
                guard_creations=_scope_changed(session, ctx.account_id),
            )
        writer = _RunWriter(self.container, ctx, run_id, full=True)
        # Two-way runs compare every user's numbers afterwards; one-way runs keep no user past
        # its plan, so memory does not grow with the tenant.
        kept: list[Observation] = []
        keep = ctx.policy.direction == "two_way"
        read = 0
        ready: list[PlanItem] = []
        waiting: list[PlanItem] = []
        for user in read_ahead(users):
            obs = Observation(user.id, user, True)
            read += 1
            if keep:
                kept.append(obs)
            for item in planner.observe(obs):
                streamed = item.action in STREAMED and not planner.may_collide(item)
                if item.action is Action.CREATE and planner.creates_wait:
                    streamed = False  # the creation guard judges them after the read
                (ready if streamed else waiting).append(item)
            if len(ready) >= self.chunk_size:
                writer.write_chunk(ready)
                ready = []
                progress("apply", writer.done, None)
            if read % 1000 == 0:
                progress("read", read, None)
        progress("read", read, read)
        swept = planner.finish(full=True)
        rest = _in_apply_order([*ready, *waiting, *swept])
        return self._apply(
            ctx,
            trigger,
            "full",
            planner.plan,
            rest,
            writer,
            kept,
            full=True,
            dry_run=False,
            links=links,
            progress=progress,
        )

    def _delta(
        self,
        ctx: _Context,
        run_id: int,
        directory: DirectorySource,
        trigger: str,
        progress: Progress,
    ) -> RunSummary:
        with self.container.unit_of_work() as session:
            state = session.get(DirectorySyncState, ctx.account_id)
            users_link = state.users_delta_link if state else None
            groups_link = state.groups_delta_link if state else None
        if not users_link or (ctx.policy.groups and not groups_link):
            return self._as_full(
                ctx, run_id, directory, trigger, progress, "no delta link yet: full reconcile"
            )
        select_ = ctx.policy.select()
        try:
            # The two chains are independent: read them side by side.
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="delta") as pool:
                users_future = pool.submit(directory.users_delta, users_link, select_)
                groups_future = (
                    pool.submit(directory.groups_delta, groups_link) if ctx.policy.groups else None
                )
                user_round = users_future.result()
                group_round = groups_future.result() if groups_future else None
        except DeltaTokenExpired:
            return self._as_full(
                ctx, run_id, directory, trigger, progress, "the delta link expired: full reconcile"
            )
        groups = ctx.policy.groups
        if group_round is not None and set(groups) & group_round.deleted_groups:
            return self._as_full(
                ctx,
                run_id,
                directory,
                trigger,
                progress,
                "a synced group was deleted: full reconcile",
            )
        changed: dict[str, DirectoryUser] = dict(user_round.changed)
        touched = group_round.touched_members() if group_round else set()
        extra = touched - set(changed) - set(user_round.removed)
        backlog = len(changed) + len(extra)
        if groups and backlog > self.delta_backlog_max:
            # Each would need its own membership check: reading the groups is cheaper.
            return self._as_full(
                ctx,
                run_id,
                directory,
                trigger,
                progress,
                f"{backlog} changed users since the last round (more than "
                f"{self.delta_backlog_max} to check one by one): full reconcile",
            )
        if extra:
            fetched = directory.get_users(extra, select_)
            if set(extra) - set(fetched):
                # A member that is not a user is a nested group: its members' scope changed.
                return self._as_full(
                    ctx,
                    run_id,
                    directory,
                    trigger,
                    progress,
                    "nested group membership changed: full reconcile",
                )
            changed.update(fetched)
        membership = directory.member_of(changed, groups) if groups and changed else {}
        observations = [
            Observation(uid, user, not groups or bool(membership.get(uid)))
            for uid, user in changed.items()
        ]
        observations += [
            Observation(r.id, None, False, permanent=r.permanent)
            for r in user_round.removed.values()
        ]
        links = (user_round.delta_link, group_round.delta_link if group_round else "")
        return self._plan_and_apply(
            ctx,
            run_id,
            trigger,
            "delta",
            observations,
            full=False,
            dry_run=False,
            links=links,
            progress=progress,
        )

    def _as_full(
        self,
        ctx: _Context,
        run_id: int,
        directory: DirectorySource,
        trigger: str,
        progress: Progress,
        why: str,
    ) -> RunSummary:
        with self.container.unit_of_work() as session:
            lease.hold(session, run_id)
            run = session.get(SyncRun, run_id)
            assert run is not None
            run.kind = "full"
            run.message = why
        return self._full(ctx, run_id, directory, trigger, False, progress)

    def _single(
        self, ctx: _Context, run_id: int, directory: DirectorySource, trigger: str, key: str
    ) -> RunSummary:
        user = directory.get_user(key, ctx.policy.select())
        if user is None:
            with self.container.unit_of_work() as session:
                linked_id = synced_directory_id(session, ctx.account_id, key)
            if linked_id is None:
                message = f"no user {quote(key)} in Entra ID (by object id or UPN)"
                return self._single_outcome(
                    run_id, trigger, None, key, "error", "not_found", message
                )
            observations = [Observation(linked_id, None, False)]
        else:
            groups = ctx.policy.groups
            in_scope = not groups or bool(directory.member_of([user.id], groups).get(user.id))
            if not in_scope:
                with self.container.unit_of_work() as session:
                    linked_here = synced_user_id(session, ctx.account_id, user.id)
                if linked_here is None:
                    return self._single_outcome(
                        run_id,
                        trigger,
                        user.id,
                        user.user_principal_name,
                        "skip",
                        "out_of_scope",
                        "not in a synced group; add the user to one in Entra ID",
                    )
            observations = [Observation(user.id, user, in_scope)]
        return self._plan_and_apply(
            ctx,
            run_id,
            trigger,
            "single",
            observations,
            full=False,
            dry_run=False,
            links=None,
            progress=_no_progress,
        )

    def _single_outcome(
        self,
        run_id: int,
        trigger: str,
        directory_id: str | None,
        username: str,
        action: str,
        code: str,
        message: str,
    ) -> RunSummary:
        """A single-user run that ends before planning: not found, or not in scope."""
        state = "failed" if action == "error" else "skipped"
        status = "partial" if action == "error" else "succeeded"
        with self.container.unit_of_work() as session:
            lease.hold(session, run_id)
            runs.add_items(
                session,
                run_id,
                [
                    runs.ItemRecord(
                        action=action,
                        state=state,
                        directory_id=directory_id,
                        username=username,
                        error_code=code,
                        message=message,
                    )
                ],
            )
            runs.finish(session, run_id, status=status, counts={action: 1}, message=message)
        return RunSummary(run_id, "single", trigger, status, False, {action: 1}, message)

    def _write_back(self, ctx: _Context, run_id: int, counts: dict[str, int]) -> None:
        """Push the queued writes now; what cannot go yet stays queued for the next run."""
        with self.container.unit_of_work() as session:
            account = session.get(Account, ctx.account_id)
            assert account is not None
            actor = sync_actor(account)
        report = writeback.process(self.container, actor, ctx.slug)
        counts["written_back"] = report.written
        if report.failed:
            counts["write_back_failed"] = report.failed
        with self.container.unit_of_work() as session:
            run = session.get(SyncRun, run_id)
            if run is not None:
                run.counts = dict(counts)

    def _plan_and_apply(
        self,
        ctx: _Context,
        run_id: int,
        trigger: str,
        kind: str,
        observations: Sequence[Observation],
        *,
        full: bool,
        dry_run: bool,
        links: tuple[str, str] | None,
        progress: Progress,
    ) -> RunSummary:
        with self.container.unit_of_work() as session:
            locations = _locations(session, ctx.account_id)
            portal = None if full else _candidates(session, ctx, observations, locations)
            the_plan = plan(
                observations,
                portal[0] if portal is not None else _portal_users(session, ctx.account_id),
                ctx.policy,
                locations,
                full=full,
                linked_count=portal[1] if portal is not None else None,
                guard_creations=_scope_changed(session, ctx.account_id),
            )
        items = _in_apply_order(the_plan.items)
        return self._apply(
            ctx,
            trigger,
            kind,
            the_plan,
            items,
            _RunWriter(self.container, ctx, run_id, full=full),
            observations,
            full=full,
            dry_run=dry_run,
            links=links,
            progress=progress,
        )

    def _apply(
        self,
        ctx: _Context,
        trigger: str,
        kind: str,
        the_plan: Plan,
        items: Sequence[PlanItem],
        writer: _RunWriter,
        observations: Sequence[Observation],
        *,
        full: bool,
        dry_run: bool,
        links: tuple[str, str] | None,
        progress: Progress,
    ) -> RunSummary:
        """Carry out the plan's remaining items in chunks, each its own transaction; the last
        one also saves the delta links and closes the run."""
        run_id = writer.run_id
        if not dry_run:
            with self.container.unit_of_work() as session:
                guards.hold_for_account(session, ctx.account_id, ctx.policy, the_plan, run_id)
        counts = the_plan.counts()
        held = the_plan.hold_reason is not None
        two_way = ctx.policy.direction == "two_way" and not dry_run
        total = writer.done + len(items)
        chunks = [items[i : i + self.chunk_size] for i in range(0, len(items), self.chunk_size)]
        chunks = chunks or [[]]
        final_message: str | None = None
        for index, chunk in enumerate(chunks):
            with self.container.unit_of_work() as session:
                account = session.get(Account, ctx.account_id)
                assert account is not None
                writer.apply(
                    session,
                    account,
                    chunk,
                    held=held,
                    hold_creates=held and the_plan.hold_creates,
                    dry_run=dry_run,
                )
                if index == len(chunks) - 1:
                    if two_way:
                        _queue_drift(session, account, ctx.policy, observations, run_id, counts)
                    if writer.failed:
                        counts["failed"] = writer.failed
                    if writer.pending:
                        counts["pending"] = writer.pending
                    status = _status(the_plan, counts, held)
                    if links is not None and not dry_run:
                        _save_state(session, ctx.account_id, links, full=full)
                    run = session.get(SyncRun, run_id)
                    previous = run.message if run else None
                    message = final_message = the_plan.hold_reason or previous
                    if dry_run:
                        message = final_message = "dry run: nothing was changed"
                    runs.finish(session, run_id, status=status, counts=counts, message=message)
            progress("apply", writer.done, total)
        if writer.bulk_rows >= ANALYZE_AFTER_ROWS:
            with self.container.unit_of_work() as session:
                statistics.refresh(session)
        if two_way and counts.get("write_back"):
            self._write_back(ctx, run_id, counts)
        return RunSummary(
            run_id,
            kind,
            trigger,
            _status(the_plan, counts, held),
            dry_run,
            counts,
            final_message,
            list(items) if dry_run else [],
        )


class _RunWriter:
    """Applies a run's items chunk by chunk and keeps its tallies across chunks."""

    def __init__(self, container: Container, ctx: _Context, run_id: int, *, full: bool) -> None:
        self.container = container
        self.ctx = ctx
        self.run_id = run_id
        self.bulk = BulkState(whole_account=full)
        self.failed = self.pending = self.done = 0
        self.applied: dict[str, int] = {}
        # Rows this run added or removed: enough of them and the planner needs new statistics.
        self.bulk_rows = 0

    def apply(
        self,
        session: Session,
        account: Account,
        items: Sequence[PlanItem],
        *,
        held: bool = False,
        hold_creates: bool = False,
        dry_run: bool = False,
    ) -> None:
        # Nothing of a run whose lease another run took may land (the transaction rolls back).
        lease.hold(session, self.run_id)
        records = apply_items(
            session,
            sync_actor(account),
            account,
            items,
            hold_deletions=held,
            hold_creates=hold_creates,
            dry_run=dry_run,
            bulk=self.bulk,
        )
        runs.add_items(session, self.run_id, records)
        self.failed += sum(1 for r in records if r.state == "failed" and r.action != "error")
        self.pending += sum(1 for r in records if r.state == "pending")
        self.done += len(items)
        self.bulk_rows += sum(
            1 for r in records if r.state == "applied" and r.action in ROW_CHANGES
        )
        for item in items:
            self.applied[item.action.value] = self.applied.get(item.action.value, 0) + 1

    def write_chunk(self, items: Sequence[PlanItem]) -> None:
        """One chunk in its own transaction, the run's counts so far with it: a run that fails
        later still shows what it carried out."""
        with self.container.unit_of_work() as session:
            account = session.get(Account, self.ctx.account_id)
            assert account is not None
            self.apply(session, account, items)
            run = session.get(SyncRun, self.run_id)
            if run is not None:
                run.counts = {**self.applied, **({"failed": self.failed} if self.failed else {})}


def _queue_drift(
    session: Session,
    account: Account,
    policy: SyncPolicy,
    observations: Sequence[Observation],
    run_id: int,
    counts: dict[str, int],
) -> None:
    """Two-way: queue writes where Entra ID differs from the portal; report blocked users."""
    seen = [o.user for o in observations if o.user is not None and o.in_scope]
    queued, blocked = writeback.queue_drift(session, account, policy, seen)
    if queued:
        counts["write_back"] = queued
    if blocked:
        counts["write_back_blocked"] = len(blocked)
        runs.add_items(
            session,
            run_id,
            [
                runs.ItemRecord(
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


def _status(the_plan: Plan, counts: dict[str, int], held: bool) -> str:
    if held:
        return "held"
    return "partial" if counts.get("error") or counts.get("failed") else "succeeded"


def _portal_users(session: Session, account_id: int) -> list[PortalUser]:
    rows = session.execute(select(*PORTAL_USER_COLUMNS).where(User.account_id == account_id))
    return [PortalUser(*row) for row in rows]


def _candidates(
    session: Session,
    ctx: _Context,
    observations: Sequence[Observation],
    locations: Sequence[LocationRef],
) -> tuple[list[PortalUser], int] | None:
    """For a delta or single run: only the portal users the plan can look at, and the number
    of linked users (for the deletion guard); None when that is no smaller than the account.

    The plan looks users up by directory id, by email and username (the keys the mapping
    gives), and by first + last name among users not linked yet; loading all unlinked users
    keeps the name rule exact without comparing names in SQL.
    """
    if len(observations) > TARGETED_LOAD_MAX:
        return None
    ids = {o.id for o in observations}
    keys: set[str] = set()
    by_name = {loc.name.casefold(): loc for loc in locations}
    for obs in observations:
        if obs.user is None:
            continue
        mapped = map_user(obs.user, ctx.policy, by_name)
        if isinstance(mapped, Desired):
            keys.update((mapped.email.casefold(), mapped.username.casefold()))
    in_account = User.account_id == ctx.account_id
    unlinked = session.execute(
        select(*PORTAL_USER_COLUMNS).where(in_account, User.directory_id.is_(None))
    ).all()
    keyed = rows_matching_any(
        session,
        PORTAL_USER_COLUMNS,
        in_account,
        [(User.directory_id, ids), (User.email_key, keys), (User.username_key, keys)],
    )
    rows = {row[0]: row for row in [*unlinked, *keyed]}.values()
    linked = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.account_id == ctx.account_id, User.directory_id.is_not(None))
    )
    return [PortalUser(*row) for row in rows], int(linked or 0)


def _locations(session: Session, account_id: int) -> list[LocationRef]:
    rows = session.execute(
        select(Location.id, Location.name).where(Location.account_id == account_id)
    )
    return [LocationRef(int(i), str(n)) for i, n in rows]


def _scope_changed(session: Session, account_id: int) -> bool:
    """Whether the account has no delta chain: never synced, or its groups or mapping changed
    since the last full reconcile (the creation guard's case; a first sync has no synced users
    and so is never held for creating)."""
    state = session.get(DirectorySyncState, account_id)
    return state is None or state.delta_chain_started_at is None


def _save_state(session: Session, account_id: int, links: tuple[str, str], *, full: bool) -> None:
    state = session.get(DirectorySyncState, account_id)
    if state is None:
        state = DirectorySyncState(account_id=account_id)
        session.add(state)
    stamp = now(session)
    state.users_delta_link, state.groups_delta_link = links[0], links[1] or None
    if full:
        state.last_full_at = stamp
        state.delta_chain_started_at = stamp
    state.last_delta_at = stamp
