"""Audit entries as people read them: who acted and on what, by name, and the sync run.

An entry keeps its object's name from when it was written (migration 0012); older entries are
named by the object as it is now, and an object since deleted by its id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from switchboard.db.models import (
    Account,
    AuditEvent,
    LicenseType,
    Location,
    Principal,
    User,
)
from switchboard.portal.actors import Actor

# Where each kind of object lives in this account (tenant isolation on the name lookup too).
_CURRENT: dict[str, tuple[Any, tuple[Any, ...], Any]] = {
    "user": (User.id, (User.first_name, User.last_name), User.account_id),
    "location": (Location.id, (Location.name,), Location.account_id),
    "license": (LicenseType.id, (LicenseType.name,), LicenseType.account_id),
    "principal": (Principal.id, (Principal.email,), Principal.account_id),
    "account": (Account.id, (Account.name,), Account.id),
}
# Objects with a page of their own, by the path under the account.
_PAGES = {"user": "users", "location": "locations"}
_SYSTEM_ACTORS = {"directory-sync": "Directory sync", "demo": "Demo set-up", "system": "System"}


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    actor_name: str
    object_kind: str  # "user", "sync run"
    object_name: str  # a name, or the id when no name is known
    named: bool  # object_name is a name (not an id)
    object_path: str | None  # the object's page under the account, while it exists
    run_number: int | None  # the sync run that made the change, or that the entry is about


def actor_name(label: str) -> str:
    """An audit actor label in words: the admin's email, "Directory sync", "Command line"."""
    if label.startswith("principal:"):
        return label.removeprefix("principal:")
    if label.startswith("cli:"):
        return f"Command line ({label.removeprefix('cli:')})"
    if label.startswith("test:"):
        return label
    return _SYSTEM_ACTORS.get(label, label)


def _current_names(
    session: Session, account_id: int, events: Sequence[AuditEvent]
) -> dict[tuple[str, str], str]:
    """The present names of the objects entries name without one: one query per kind."""
    wanted: dict[str, set[int]] = {}
    for e in events:
        if e.object_type in _CURRENT and e.object_id.isdigit():
            wanted.setdefault(e.object_type, set()).add(int(e.object_id))
    found: dict[tuple[str, str], str] = {}
    for kind, ids in wanted.items():
        key, columns, account_column = _CURRENT[kind]
        scope: ColumnElement[bool] = account_column == account_id
        for row in session.execute(select(key, *columns).where(key.in_(ids), scope)):
            found[(kind, str(row[0]))] = " ".join(str(part) for part in row[1:])
    return found


def describe(
    session: Session, actor: Actor, account: Account, events: Sequence[AuditEvent]
) -> list[AuditRow]:
    actor.require_read(account.id)
    current = _current_names(session, account.id, events)
    rows = []
    for e in events:
        now_named = current.get((e.object_type, e.object_id))
        name = e.object_name or now_named
        run = e.run_number
        if e.object_type == "sync_run" and e.object_id.isdigit():
            run = int(e.object_id)
        page = _PAGES.get(e.object_type)
        rows.append(
            AuditRow(
                event=e,
                actor_name=actor_name(e.actor),
                object_kind=e.object_type.replace("_", " "),
                object_name=name or e.object_id,
                named=name is not None,
                # Only while the object exists in this account: a deleted user has no page.
                object_path=f"{page}/{e.object_id}" if page and now_named else None,
                run_number=run,
            )
        )
    return rows
