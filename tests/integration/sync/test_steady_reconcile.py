"""A full reconcile in which nothing changed (the safety net every account runs) writes
nothing but its run: no user rows, no audit events, no run items."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select

from switchboard.db.models import AuditEvent, SyncRunItem, User
from tests.integration.sync_world import SALES, World

WRITE = re.compile(r'^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+"?(\w+)', re.IGNORECASE)


@contextmanager
def writes_to_tables(world: World) -> Iterator[list[tuple[str, str]]]:
    """(statement kind, table) of every write the database receives meanwhile."""
    seen: list[tuple[str, str]] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        found = WRITE.match(statement)
        if found:
            seen.append((found.group(1).upper(), found.group(2).lower()))

    engine = world.container.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def counts(world: World) -> tuple[int, int, int]:
    with world.container.unit_of_work() as s:
        return (
            s.scalar(select(func.count()).select_from(User)) or 0,
            s.scalar(select(func.count()).select_from(AuditEvent)) or 0,
            s.scalar(select(func.count()).select_from(SyncRunItem)) or 0,
        )


def test_a_reconcile_with_no_changes_writes_no_users_audit_events_or_items(world: World) -> None:
    d = world.directory
    for i in range(12):
        uid = str(uuid.UUID(int=i + 1)) if i % 2 else f"user-{i}"  # GUIDs and plain ids
        d.add_user(uid, givenName=f"N{i}", accountEnabled=i != 3, officeLocation="HQ")
        d.add_member(SALES, uid)
    first = world.engine.reconcile(world.actor, "acme")
    assert first.counts == {"create": 12}
    before = counts(world)

    with writes_to_tables(world) as writes:
        again = world.engine.reconcile(world.actor, "acme")

    assert again.status == "succeeded"
    assert again.counts == {"skip": 12}
    tables = {table for _kind, table in writes}
    assert tables <= {"sync_runs", "directory_sync_states", "directory_registrations"}, writes
    assert counts(world) == before
    with world.container.unit_of_work() as s:
        statuses = {u.directory_id: u.status for u in s.scalars(select(User).order_by(User.id))}
    assert statuses["user-2"] == "active" and list(statuses.values()).count("active") == 11


def test_one_change_among_unchanged_users_writes_that_user_only(world: World) -> None:
    d = world.directory
    for i in range(6):
        d.add_user(f"u{i}", givenName=f"N{i}")
        d.add_member(SALES, f"u{i}")
    world.engine.reconcile(world.actor, "acme")
    d.change("u4", surname="Byron")

    with writes_to_tables(world) as writes:
        again = world.engine.reconcile(world.actor, "acme")

    assert again.counts == {"skip": 5, "update": 1}
    assert [w for w in writes if w[1] == "users"] == [("UPDATE", "users")]
    assert [w for w in writes if w[1] == "audit_events"] == [("INSERT INTO", "audit_events")]
    with world.container.unit_of_work() as s:
        assert s.scalar(select(User.last_name).where(User.directory_id == "u4")) == "Byron"
