"""Runs of the directory sync: full reconcile, delta rounds and single users.

A run starts under the account's lease (``sync.run``), reads the directory into observations
(``sync.readers``), plans (``sync.planner``) and carries out the plan in chunks
(``sync.execution``); a full run carries out what may stream while it still reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

from switchboard.directory.errors import GraphError, GraphThrottled
from switchboard.directory.source import DirectorySource
from switchboard.portal.actors import Actor
from switchboard.portal.errors import ValidationFailed
from switchboard.sync import lease, queries, readers, run_metrics
from switchboard.sync.execution import Execution
from switchboard.sync.failure_text import unexpected_failure
from switchboard.sync.plan import Action, Observation, PlanItem, PortalUser
from switchboard.sync.planner import in_apply_order, plan
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.ports import DirectoryFactory, SyncServices
from switchboard.sync.progress import Phase
from switchboard.sync.readers import Progress, no_progress
from switchboard.sync.run import Run, RunSummary
from switchboard.sync.runs import ItemRecord, RunKind, RunStatus, Trigger
from switchboard.sync.stream_planner import PortalSnapshot, StreamingPlanner, fetch_users
from switchboard.sync.write_behind import WriteBehind

__all__ = ["PreparedRun", "Progress", "RunSummary", "SyncEngine"]

# A delta round with more changed users than this (with synced groups) runs as a full
# reconcile. Each changed user costs a checkMemberGroups request (20 per $batch), which Graph
# counts against the app's write budget (3,000 per 2.5 minutes): 1,000 checks fit in one
# budget window with room for other work, while a full read of the synced groups costs one
# request per 999 users and the deletion guard sees the whole picture. Beyond it a backlog
# would be throttled for minutes at a time.
DELTA_BACKLOG_MAX = 1000
# Plan items that change the portal: what the run's progress counts as planned.
CHANGES = frozenset(Action) - {Action.SKIP, Action.ERROR}
# Observations a full run decides at a time (a Graph page holds up to 999 users).
PAGE = 1000


@dataclass(frozen=True)
class PreparedRun:
    run: Run
    execute: Callable[[], RunSummary]

    @property
    def run_id(self) -> int:
        return self.run.id

    @property
    def number(self) -> int:
        """The run's number within its account: what people name it by."""
        return self.run.number


class SyncEngine:
    def __init__(
        self,
        services: SyncServices,
        directory_for: DirectoryFactory,
        *,
        chunk_size: int = 2000,
        delta_backlog_max: int = DELTA_BACKLOG_MAX,
    ) -> None:
        self.services = services
        self.directory_for = directory_for
        self.chunk_size = chunk_size
        self.delta_backlog_max = delta_backlog_max

    # --- entry points ---------------------------------------------------------------------

    def prepare(
        self,
        actor: Actor,
        slug: str,
        *,
        kind: RunKind | str,
        trigger: Trigger | str,
        dry_run: bool = False,
        key: str | None = None,
        provision: bool = False,
        progress: Progress = no_progress,
    ) -> PreparedRun:
        """Check access, record the run, and return it with the work still to do.

        Callers that answer at once (the API without waiting) hand ``execute`` to a job runner.
        ``provision`` (single user): create the user even under manual provisioning; this is
        how an admin adds a user offered in "Add users > From directory".
        """
        run_kind = RunKind(kind)
        if run_kind is RunKind.SINGLE and not key:
            raise ValidationFailed("name the user to sync by UPN or object id", field="user")
        started = Run.start(
            self.services,
            self.directory_for,
            actor,
            slug,
            kind=run_kind,
            trigger=Trigger(trigger),
            dry_run=dry_run and run_kind is RunKind.FULL,
        )
        run, policy, directory = started.run, started.policy, started.directory
        # From here the run is alive: it renews its lease until ``execute`` ends (while it
        # waits for a job runner too), so every prepared run must be executed.
        run.start_heartbeat()
        if provision and run_kind is RunKind.SINGLE:
            policy = policy.model_copy(update={"provisioning": "automatic"})

        def body() -> RunSummary:
            if run_kind is RunKind.FULL:
                return self._full(run, policy, directory, progress)
            if run_kind is RunKind.DELTA:
                return self._delta(run, policy, directory, progress)
            assert key is not None
            return self._single(run, policy, directory, key)

        return PreparedRun(run, lambda: self._guarded(run, directory, body))

    def reconcile(
        self,
        actor: Actor,
        slug: str,
        *,
        trigger: Trigger | str = Trigger.MANUAL,
        dry_run: bool = False,
        progress: Progress = no_progress,
    ) -> RunSummary:
        return self.prepare(
            actor, slug, kind=RunKind.FULL, trigger=trigger, dry_run=dry_run, progress=progress
        ).execute()

    def delta(
        self,
        actor: Actor,
        slug: str,
        *,
        trigger: Trigger | str = Trigger.SCHEDULE,
        progress: Progress = no_progress,
    ) -> RunSummary:
        return self.prepare(
            actor, slug, kind=RunKind.DELTA, trigger=trigger, progress=progress
        ).execute()

    def sync_user(
        self,
        actor: Actor,
        slug: str,
        key: str,
        *,
        trigger: Trigger | str = Trigger.MANUAL,
        provision: bool = False,
    ) -> RunSummary:
        return self.prepare(
            actor, slug, kind=RunKind.SINGLE, trigger=trigger, key=key, provision=provision
        ).execute()

    def resolve_held(self, actor: Actor, slug: str, number: int, *, approve: bool) -> RunSummary:
        """Carry out (approve) or drop (reject) the deletions and creates a guard held back;
        approving re-checks each against the directory first (see ``held``)."""
        from switchboard.sync import held

        return held.resolve(self.services, self.directory_for, actor, slug, number, approve=approve)

    # --- run phases ----------------------------------------------------------------------------

    def _guarded(
        self, run: Run, directory: DirectorySource, body: Callable[[], RunSummary]
    ) -> RunSummary:
        """Every run ends here, whatever its kind and however it ends."""
        summary: RunSummary | None = None
        try:
            summary = self._settle(run, body)
            return summary
        finally:
            run.stop_heartbeat()
            directory.close()  # a live Graph client holds connections
            run_metrics.observe(run, summary)

    def _settle(self, run: Run, body: Callable[[], RunSummary]) -> RunSummary:
        """The run's summary: its body's, or how the run was closed when the body failed."""
        try:
            return body()
        except lease.LeaseLost:
            # Taken as stopped while it waited or worked; the run that went ahead owns the
            # account now, and the abandoned mark says what this one had carried out.
            return run.abandoned()
        except GraphThrottled as exc:
            return run.interrupt(exc.wait_seconds)
        except GraphError as exc:
            message = f"Entra ID: {exc.message}"
            if exc.request_id:
                message += f" (request-id {exc.request_id})"
            return run.fail(message)
        except BaseException as exc:
            run.fail(unexpected_failure(exc, run.id))
            raise

    def _full(
        self, run: Run, policy: SyncPolicy, directory: DirectorySource, progress: Progress
    ) -> RunSummary:
        run.progress.enter(Phase.READING)
        read = readers.FullRead(directory, policy, take_links=not run.dry_run)
        if read.links is not None:
            return self._stream_full(run, policy, read, read.links, progress)
        observations = list(run.progress.counted(read.observations(progress)))
        return self._plan_and_apply(
            run, policy, observations, full=True, links=None, progress=progress
        )

    def _stream_full(
        self,
        run: Run,
        policy: SyncPolicy,
        read: readers.FullRead,
        links: tuple[str, str],
        progress: Progress,
    ) -> RunSummary:
        """A full run that carries out what it decides while the directory is still read:
        creates and field updates go in chunks as pages arrive (the read runs ahead in a
        thread); links, relocations, the sweep's deletions and anything that could collide
        with them wait for the complete read and the deletion guard. Its memory holds a
        packed snapshot of the account's keys, not its users (``sync.stream_planner``)."""
        account_id = run.account_id

        def fetch(user_ids: Sequence[int]) -> list[PortalUser]:
            with self.services.unit_of_work() as session:
                return fetch_users(session, account_id, user_ids)

        with self.services.unit_of_work() as session:
            planner = StreamingPlanner(
                PortalSnapshot.load(session, account_id),
                policy,
                queries.locations(session, account_id),
                fetch,
                guard_creations=queries.scope_changed(session, account_id),
            )
        execution = Execution(self.services, run, policy, full=True, chunk_size=self.chunk_size)

        def write(chunk: list[PlanItem]) -> None:
            execution.write_chunk(chunk)
            progress("apply", execution.done, None)

        writer = WriteBehind(write)
        # Two-way runs compare every user's numbers afterwards; one-way runs keep no user past
        # its page, so memory does not grow with the tenant.
        kept: list[Observation] = []
        keep = policy.direction == "two_way"
        ready: list[PlanItem] = []
        waiting: list[PlanItem] = []
        planned = 0
        observations = run.progress.counted(read.observations(progress, ahead=True))
        page_size = min(PAGE, self.chunk_size)  # a chunk is never held back by its page
        try:
            while page := list(islice(observations, page_size)):
                if keep:
                    kept.extend(page)
                before = planner.unchanged
                for item in planner.observe_page(page):
                    (ready if planner.may_stream(item) else waiting).append(item)
                    planned += item.action in CHANGES
                execution.count_unchanged(planner.unchanged - before)
                run.progress.counts["planned"] = planned  # written with the read count
                if len(ready) >= self.chunk_size:
                    writer.put(ready)
                    ready = []
        except BaseException:
            writer.join(quiet=True)  # the chunks handed over still land
            raise
        writer.join()
        run.progress.enter(Phase.PLANNING)
        swept = planner.finish()
        run.progress.note(planned=planned + sum(i.action in CHANGES for i in swept))
        rest = in_apply_order([*ready, *waiting, *swept])
        return execution.complete(planner.plan, rest, kept, links=links, progress=progress)

    def _delta(
        self, run: Run, policy: SyncPolicy, directory: DirectorySource, progress: Progress
    ) -> RunSummary:
        with self.services.unit_of_work() as session:
            links = queries.delta_links(session, run.account_id)
        run.progress.enter(Phase.READING)
        read = readers.read_delta(directory, policy, links, backlog_max=self.delta_backlog_max)
        if isinstance(read, readers.FullInstead):
            run.become_full(read.why)
            return self._full(run, policy, directory, progress)
        run.progress.note(read=len(read.observations))
        return self._plan_and_apply(
            run, policy, read.observations, full=False, links=read.links, progress=progress
        )

    def _single(
        self, run: Run, policy: SyncPolicy, directory: DirectorySource, key: str
    ) -> RunSummary:
        read = readers.read_single(
            directory, policy, key, services=self.services, account_id=run.account_id
        )
        if isinstance(read, readers.Unplanned):
            return self._unplanned(run, read)
        return self._plan_and_apply(run, policy, read, full=False, links=None, progress=no_progress)

    def _unplanned(self, run: Run, outcome: readers.Unplanned) -> RunSummary:
        """A single-user run that ends before planning: not found, or not in scope."""
        failed = outcome.action == "error"
        record = ItemRecord(
            action=outcome.action.value,
            state="failed" if failed else "skipped",
            directory_id=outcome.directory_id,
            username=outcome.username,
            error_code=outcome.code,
            message=outcome.message,
        )
        status = RunStatus.PARTIAL if failed else RunStatus.SUCCEEDED
        with self.services.unit_of_work() as session:
            run.hold(session)
            run.add_items(session, [record])
            return run.finish(session, status, {outcome.action.value: 1}, outcome.message)

    def _plan_and_apply(
        self,
        run: Run,
        policy: SyncPolicy,
        observations: Iterable[Observation],
        *,
        full: bool,
        links: tuple[str, str] | None,
        progress: Progress,
    ) -> RunSummary:
        seen = list(observations)
        run.progress.enter(Phase.PLANNING)
        with self.services.unit_of_work() as session:
            locations = queries.locations(session, run.account_id)
            portal = (
                None
                if full
                else queries.candidates(session, run.account_id, policy, seen, locations)
            )
            the_plan = plan(
                seen,
                portal[0] if portal is not None else queries.portal_users(session, run.account_id),
                policy,
                locations,
                full=full,
                linked_count=portal[1] if portal is not None else None,
                guard_creations=queries.scope_changed(session, run.account_id),
            )
        run.progress.note(planned=sum(i.action in CHANGES for i in the_plan.items))
        execution = Execution(self.services, run, policy, full=full, chunk_size=self.chunk_size)
        items = in_apply_order(the_plan.items)
        return execution.complete(the_plan, items, seen, links=links, progress=progress)
