"""A change of what is in scope starts a full reconcile at once.

Delta rounds only see users whose data or memberships change, so a new group list, the whole
tenant, a new attribute mapping or new location rules would otherwise wait for the next full
reconcile (up to 6 days). The settings change marks a full reconcile due in its own
transaction (``registration.update_settings``: the scheduler's safety net sees it on its next
tick, even if this process stops now); the caller then starts one through its job runner. The
run is guarded like any other: mass deletions and creations wait for approval.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from switchboard.db.models import DirectorySyncState
from switchboard.portal.actors import Actor
from switchboard.portal.errors import PortalError
from switchboard.sync.engine import SyncEngine
from switchboard.sync.policy import SyncPolicy, rescoped_fields
from switchboard.sync.ports import JobRunner, SyncServices
from switchboard.sync.runs import RunKind, Trigger


@dataclass(frozen=True)
class Rescoped:
    """What became of the reconcile a settings change asked for."""

    fields: list[str]
    run_number: int | None = None  # the account's number of that run
    # Why no run started now (then the scheduler starts it on its next tick).
    note: str | None = None


def has_synced(session: Session, account_id: int) -> bool:
    state = session.get(DirectorySyncState, account_id)
    return state is not None and (
        state.users_delta_link is not None or state.last_full_at is not None
    )


def after_settings_change(
    services: SyncServices,
    runner: JobRunner,
    actor: Actor,
    slug: str,
    account_id: int,
    before: SyncPolicy,
    after: SyncPolicy,
    *,
    trigger: Trigger | str,
) -> Rescoped | None:
    """Start a full reconcile when the change alters the scope or the mapping of an account
    that has synced before (a first sync uses the new settings anyway). None: nothing to do."""
    fields = rescoped_fields(before, after)
    if not fields:
        return None
    with services.unit_of_work() as session:
        if not has_synced(session, account_id):
            return None
    engine = SyncEngine(services, services.directory_factory())
    try:
        prepared = engine.prepare(actor, slug, kind=RunKind.FULL, trigger=trigger)
    except PortalError as exc:  # another run in progress: the scheduler follows up
        return Rescoped(
            fields,
            note=f"the full reconcile could not start now ({exc.message}); the scheduler"
            " starts it on its next tick",
        )
    prepared.run.note(f"sync settings changed ({', '.join(fields)}): full reconcile")
    runner.submit(f"reconcile:{slug}", prepared.execute)
    return Rescoped(fields, run_number=prepared.number)
