"""The audit trail: one event per change, written in the same transaction as the change."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from switchboard.db.models import (
    Account,
    ApiToken,
    AuditEvent,
    Base,
    LicenseType,
    Location,
    Principal,
    User,
)
from switchboard.db.raw_rows import insert_rows, naive_utc
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now

# The columns of a bulk write of the trail (``record_many``), in the order of its tuples.
AUDIT_COLUMNS = (
    "account_id",
    "actor",
    "action",
    "object_type",
    "object_id",
    "fields",
    "created_at",
    "object_name",
    "run_number",
)
NAME_MAX = 200


def _user_name(user: Any) -> str:
    return f"{user.first_name} {user.last_name}"


# The objects whose entries name them, and how: stored with the entry, so a deleted user's
# entries still say who it was. (A number's id is already its E.164 text.)
NAMED: dict[str, tuple[type[Base], Callable[[Any], str]]] = {
    "user": (User, _user_name),
    "location": (Location, lambda row: str(row.name)),
    "license": (LicenseType, lambda row: str(row.name)),
    "principal": (Principal, lambda row: str(row.email)),
    "account": (Account, lambda row: str(row.name)),
    "token": (ApiToken, lambda row: str(row.name)),
}


def name_in_session(session: Session, object_type: str, object_id: object) -> str | None:
    """The object's name if the session already holds it: never a query, so writing the trail
    of a bulk change costs nothing more."""
    named = NAMED.get(object_type)
    if named is None or not str(object_id).isdigit():
        return None
    model, name = named
    held = session.identity_map.get(identity_key(model, int(str(object_id))))
    return name(held)[:NAME_MAX] if held is not None else None


def _row(
    actor: Actor,
    action: str,
    account_id: int | None,
    object_type: str,
    object_id: object,
    fields: Iterable[str],
    stamp: datetime,
    object_name: str | None = None,
) -> dict[str, object]:
    return {
        "account_id": account_id,
        "actor": actor.label,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "fields": sorted(set(fields)),
        "created_at": stamp,
        "object_name": object_name,
        "run_number": actor.run_number,
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
    object_name: str | None = None,
) -> None:
    """One event; ``object_name`` defaults to the name of the object if the session holds it."""
    name = object_name or name_in_session(session, object_type, object_id)
    row = _row(actor, action, account_id, object_type, object_id, fields, now(session), name)
    session.add(AuditEvent(**row))


def record_many(
    session: Session,
    actor: Actor,
    action: str,
    *,
    account_id: int | None,
    object_type: str,
    changes: Sequence[tuple[object, Iterable[str]]],
    names: Mapping[object, str] | None = None,
) -> None:
    """One event per (object id, fields), the rows ``record`` writes, in one executemany: a
    bulk change of 100,000 users does not build 100,000 ORM objects for its trail. ``names``:
    object names known to the caller (of objects already deleted, say)."""
    if not changes:
        return
    stamp = naive_utc(now(session))
    known = names or {}
    # Most changes of a batch name the same fields: their JSON is written once.
    field_texts: dict[tuple[str, ...], str] = {}
    rows = []
    for object_id, fields in changes:
        key = tuple(fields)
        text = field_texts.get(key)
        if text is None:
            text = field_texts[key] = json.dumps(sorted(set(key)))
        name = known.get(object_id) or name_in_session(session, object_type, object_id)
        rows.append(
            (
                account_id,
                actor.label,
                action,
                object_type,
                str(object_id),
                text,
                stamp,
                name[:NAME_MAX] if name else None,
                actor.run_number,
            )
        )
    insert_rows(session, "audit_events", AUDIT_COLUMNS, rows)


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
