"""The audit trail: one event per change, written in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from switchboard.db.models import AuditEvent, Base
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now

# The table itself, for executemany without ORM bookkeeping per row.
AUDIT_EVENTS = Base.metadata.tables["audit_events"]


def _row(
    actor: Actor,
    action: str,
    account_id: int | None,
    object_type: str,
    object_id: object,
    fields: Iterable[str],
    stamp: datetime,
) -> dict[str, object]:
    return {
        "account_id": account_id,
        "actor": actor.label,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "fields": sorted(set(fields)),
        "created_at": stamp,
    }


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    account_id: int | None,
    object_type: str,
    object_id: object,
    fields: Iterable[str] = (),
) -> None:
    row = _row(actor, action, account_id, object_type, object_id, fields, now(session))
    session.add(AuditEvent(**row))


def record_many(
    session: Session,
    actor: Actor,
    action: str,
    *,
    account_id: int | None,
    object_type: str,
    changes: Sequence[tuple[object, Iterable[str]]],
) -> None:
    """One event per (object id, fields), the rows ``record`` writes, in one executemany: a
    bulk change of 100,000 users does not build 100,000 ORM objects for its trail."""
    if not changes:
        return
    stamp = now(session)
    session.execute(
        insert(AUDIT_EVENTS),
        [
            _row(actor, action, account_id, object_type, object_id, fields, stamp)
            for object_id, fields in changes
        ],
    )


def list_events(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    limit: int = 100,
    before_id: int | None = None,
    since: datetime | None = None,
    action_prefix: str | None = None,
    object_type: str | None = None,
) -> list[AuditEvent]:
    """One account's events, newest first; ``before_id`` pages back from an event."""
    actor.require_read(account_id)
    query = select(AuditEvent).where(AuditEvent.account_id == account_id)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if action_prefix:
        # autoescape: a typed % or _ matches itself, not any character.
        query = query.where(AuditEvent.action.startswith(action_prefix, autoescape=True))
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    return list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))
