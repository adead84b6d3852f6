"""The audit trail: one event per change, written in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.db.models import AuditEvent
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now


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
    session.add(
        AuditEvent(
            account_id=account_id,
            actor=actor.label,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            fields=sorted(set(fields)),
            created_at=now(session),
        )
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
