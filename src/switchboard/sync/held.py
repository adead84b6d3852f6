"""Approve or reject a run the guards held.

Approval can come hours or days after the run: users may have come back into scope since
(re-added to a group), or left it. So approving first asks the directory again about every
held user (by id in batches, and its membership of the synced groups), plans them afresh,
and carries out only what is still wanted: a deletion of a user still gone or out of scope,
a create of a user still in scope. The rest is reported on the run's items and counts.
Rejecting drops every held change; the users stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.db.models import SyncRun, SyncRunItem
from switchboard.directory.errors import GraphError
from switchboard.directory.models import DirectoryUser
from switchboard.directory.source import DirectorySource
from switchboard.portal import audit
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Actor
from switchboard.portal.errors import Conflict
from switchboard.portal.users import sync_actor
from switchboard.sync import lease, queries, runs
from switchboard.sync.apply import BulkState, apply_items
from switchboard.sync.guards import APPROVED
from switchboard.sync.plan import Action, Observation, PlanItem
from switchboard.sync.planner import in_apply_order, plan
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.ports import DirectoryFactory, SyncServices
from switchboard.sync.run import RunSummary
from switchboard.sync.runs import RunStatus

# Users asked about per directory call (each a $batch of at most 20 requests underneath).
RECHECK_BATCH = 200
HELD_ACTIONS = ("delete", "create")
KEPT = "back in scope in Entra ID; kept"


@dataclass(frozen=True)
class _Account:
    """The account whose held run is decided, and its sync settings now."""

    id: int
    slug: str
    policy: SyncPolicy


@dataclass(frozen=True)
class _Fresh:
    """What the directory says about the held users now."""

    users: dict[str, DirectoryUser]
    in_scope: set[str]


def _pending(session: Session, run: SyncRun) -> list[SyncRunItem]:
    return list(
        session.scalars(
            select(SyncRunItem)
            .where(
                SyncRunItem.run_id == run.id,
                SyncRunItem.state == "pending",
                SyncRunItem.action.in_(HELD_ACTIONS),
            )
            .order_by(SyncRunItem.id)
        )
    )


def _held_run(session: Session, actor: Actor, slug: str, number: int) -> SyncRun:
    account = get_account(session, actor, slug, write=True)
    run = runs.get_run(session, actor, account, number)
    if run.status != RunStatus.HELD:
        raise Conflict(
            f"run #{number} is {run.status}; only a held run can be approved or rejected",
            code="run_not_held",
        )
    return run


def _ask_directory(directory: DirectorySource, policy: SyncPolicy, ids: Sequence[str]) -> _Fresh:
    users: dict[str, DirectoryUser] = {}
    in_scope: set[str] = set()
    for start in range(0, len(ids), RECHECK_BATCH):
        part = ids[start : start + RECHECK_BATCH]
        found = directory.get_users(part, policy.select())
        users.update(found)
        if policy.groups:
            member = directory.member_of(list(found), policy.groups) if found else {}
            in_scope.update(uid for uid, groups in member.items() if groups)
        else:
            in_scope.update(found)
    return _Fresh(users, in_scope)


def resolve(
    services: SyncServices,
    directory_for: DirectoryFactory,
    actor: Actor,
    slug: str,
    number: int,
    *,
    approve: bool,
) -> RunSummary:
    """Approve or reject the held run ``number`` of the account (its number, not its id)."""
    if not approve:
        return _reject(services, actor, slug, number)
    with services.unit_of_work() as session:
        run = _held_run(session, actor, slug, number)
        run_id = run.id
        registration = queries.registration(session, run.account_id)
        if registration is None:
            raise Conflict(
                f"account '{slug}' is no longer connected to Entra ID, so the held changes"
                " cannot be checked against it; reject them",
                code="not_connected",
            )
        policy = SyncPolicy.model_validate(registration.policy or {})
        ctx = _Account(run.account_id, slug, policy)
        ids = list(dict.fromkeys(i.directory_id for i in _pending(session, run) if i.directory_id))
        directory = directory_for(registration)
    try:
        fresh = _ask_directory(directory, policy, ids)
    except GraphError as exc:
        raise Conflict(
            f"Entra ID could not be asked whether the held users are still out of scope"
            f" ({exc.message}); the run stays held: try again",
            code="directory_unreachable",
        ) from exc
    finally:
        directory.close()  # a live Graph client holds connections
    lease_time = timedelta(seconds=services.settings.run_lease_seconds)
    with services.unit_of_work() as session:
        # Approval changes users as a run does: not while a run of the account is in progress.
        lease.lock_for_start(session, ctx.id)
        try:
            lease.claim(session, ctx.id, slug, lease=lease_time, dry_run=False)
        except Conflict as exc:
            raise Conflict(
                exc.message.replace("then start again", "then approve again"), code=exc.code
            ) from exc
        # Decided meanwhile by someone else? Two approvals at once: the second waits here.
        session.execute(select(SyncRun.id).where(SyncRun.id == run_id).with_for_update())
        run = _held_run(session, actor, slug, number)
        return _approve(session, actor, ctx, run, fresh)


def _approve(
    session: Session, actor: Actor, ctx: _Account, run: SyncRun, fresh: _Fresh
) -> RunSummary:
    pending = _pending(session, run)
    observations = [
        Observation(uid, fresh.users.get(uid), uid in fresh.in_scope)
        for uid in dict.fromkeys(i.directory_id for i in pending if i.directory_id)
    ]
    locations = queries.locations(session, ctx.id)
    portal = queries.candidates(session, ctx.id, ctx.policy, observations, locations)
    fresh_plan = plan(
        observations,
        portal[0] if portal is not None else queries.portal_users(session, ctx.id),
        ctx.policy,
        locations,
        full=False,
    )
    wanted = {(i.action, i.directory_id): i for i in fresh_plan.items}
    todo: list[PlanItem] = []
    for item in pending:
        chosen = _still_wanted(item, wanted)
        if chosen is None:
            _not_carried_out(item, fresh)
        else:
            todo.append(chosen)
    account = get_account(session, actor, ctx.slug, write=True)
    records = apply_items(
        session, sync_actor(account, run.number), account, in_apply_order(todo), bulk=BulkState()
    )
    done = {(r.action, r.directory_id): r for r in records}
    tally = {"delete": 0, "create": 0, "failed": 0}
    for item in pending:
        if item.state != "pending":
            continue
        record = done.get((item.action, item.directory_id)) or done.get(("link", item.directory_id))
        if record is None or record.state != "applied":
            item.state = "failed"
            item.error_code = record.error_code if record else "not_applied"
            item.message = record.message if record else "could not be carried out; run again"
            tally["failed"] += 1
            continue
        item.state, item.user_id = "applied", record.user_id
        item.error_code = APPROVED
        item.message = f"{item.message or item.action}; approved by {_who(actor)}"
        tally[item.action] += 1
    return _close(session, actor, run, pending, tally, approved=True)


def _still_wanted(
    item: SyncRunItem, wanted: dict[tuple[Action, str | None], PlanItem]
) -> PlanItem | None:
    if item.action == "delete":
        return wanted.get((Action.DELETE, item.directory_id))
    return wanted.get((Action.CREATE, item.directory_id)) or wanted.get(
        (Action.LINK, item.directory_id)
    )


def _not_carried_out(item: SyncRunItem, fresh: _Fresh) -> None:
    """Mark a held change the directory no longer calls for, saying why."""
    uid = item.directory_id or ""
    exists, in_scope = uid in fresh.users, uid in fresh.in_scope
    item.state = "skipped"
    if item.action == "delete":
        if in_scope:
            item.error_code, item.message = "back_in_scope", KEPT
        else:
            item.error_code = "not_linked"
            item.message = "no longer a synced portal user; nothing to delete"
    elif not exists:
        item.error_code, item.message = "deleted_in_directory", "deleted in Entra ID; not created"
    elif not in_scope:
        item.error_code = "out_of_scope"
        item.message = "no longer in a synced group in Entra ID; not created"
    else:
        item.error_code = "already_synced"
        item.message = "already a portal user or offered; nothing to create"


def _who(actor: Actor) -> str:
    """The person as people name them: a signed-in admin by their email."""
    return actor.label.removeprefix("principal:")


def _reject(services: SyncServices, actor: Actor, slug: str, number: int) -> RunSummary:
    with services.unit_of_work() as session:
        run = _held_run(session, actor, slug, number)
        pending = _pending(session, run)
        for item in pending:
            item.state = "rejected"
        return _close(session, actor, run, pending, {}, approved=False)


def _close(
    session: Session,
    actor: Actor,
    run: SyncRun,
    pending: Sequence[SyncRunItem],
    tally: dict[str, int],
    *,
    approved: bool,
) -> RunSummary:
    counts = dict(run.counts)
    counts.pop("pending", None)
    for action in HELD_ACTIONS:
        held = sum(1 for i in pending if i.action == action)
        left = counts.get(action, 0) - held + tally.get(action, 0)
        if left > 0:
            counts[action] = left
        else:
            counts.pop(action, None)
    kept = sum(1 for i in pending if i.error_code == "back_in_scope")
    dropped = sum(1 for i in pending if i.action == "create" and i.state == "skipped")
    if kept:
        counts["back_in_scope"] = kept
    if dropped:
        counts["not_created"] = dropped
    if tally.get("failed"):
        counts["failed"] = counts.get("failed", 0) + tally["failed"]
    verdict = "approved" if approved else "rejected"
    message = f"held changes {verdict} by {_who(actor)}"
    if approved:
        message += (
            f": {tally.get('delete', 0)} deleted, {tally.get('create', 0)} created"
            f" after checking Entra ID again; {kept} back in scope and kept"
        )
        if dropped:
            message += f"; {dropped} no longer in scope and not created"
    failed = counts.get("failed") or counts.get("error")
    status = RunStatus.PARTIAL if failed else RunStatus.SUCCEEDED
    finished = runs.finish(session, run.id, status=status, counts=counts, message=message)
    finished.decision, finished.decided_by = verdict, _who(actor)
    finished.decided_at = finished.finished_at
    audit.record(
        session,
        actor,
        f"sync.deletions_{verdict}",
        account_id=run.account_id,
        object_type="sync_run",
        object_id=run.number,
        fields=[f"count={len(pending)}", *([f"kept={kept}"] if approved else [])],
    )
    return RunSummary(run.id, run.number, run.kind, run.trigger, status, False, counts, message)
