"""Only the portal writes users, their numbers, license seats and the audit trail.

Every change to those tables is traced to the innermost frame of Switchboard's code that made
it, while syncs (full, delta, single, a held run approved) and the REST API change users:
that frame must be in ``switchboard.portal``. Statements are traced when they run; ORM changes
(an object added, an attribute set, an object deleted) when they are made, since the flush that
writes them may run from anywhere.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, cast

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, class_mapper
from sqlalchemy.orm.attributes import instance_state
from starlette.testclient import TestClient

from switchboard.db.models import AuditEvent, LicenseType, Location, PhoneNumber, User
from switchboard.portal.actors import Role
from switchboard.portal.schemas import UserIn
from switchboard.portal.users import create_user
from switchboard.web.app import create_app
from tests import factories
from tests.fakes import FakeDirectories
from tests.integration.sync_world import SALES, World
from tests.wiring import Adapters

OP = factories.OPERATOR
GUARDED = (User, PhoneNumber, LicenseType, AuditEvent)
TABLE_OF: dict[type, str] = {model: model.__tablename__ for model in GUARDED}
TABLES = set(TABLE_OF.values())
WRITE = re.compile(r'^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+"?(\w+)', re.IGNORECASE)


@pytest.fixture
def adapters(directories: FakeDirectories) -> Adapters:
    """The world's fake directory behind the container."""
    return {"directory_for": directories}


def _origin(frame: FrameType | None) -> str:
    """The module of the innermost frame of Switchboard's code (tests are not), or ''."""
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        # The bulk tuple writer is plumbing, like the driver: its caller made the change.
        if name.startswith("switchboard.") and name != "switchboard.db.raw_rows":
            return name
        frame = frame.f_back
    return ""


def _in_flush(frame: FrameType | None) -> bool:
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_flush" and code.co_filename.endswith("session.py"):
            return True
        frame = frame.f_back
    return False


class Writes:
    """(what, table, origin) of every change to the guarded tables made while recording."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def note(self, what: str, table: str) -> None:
        self.seen.append((what, table, _origin(sys._getframe(2))))

    def outside_portal(self) -> list[tuple[str, str, str]]:
        return [w for w in self.seen if not w[2].startswith("switchboard.portal.")]

    def kinds(self) -> set[tuple[str, str]]:
        return {(what, table) for what, table, _o in self.seen}


@contextmanager
def recording(engine: Engine) -> Iterator[Writes]:
    writes = Writes()

    def statement(_c: Any, _cur: Any, sql: str, _p: Any, _ctx: Any, _many: bool) -> None:
        found = WRITE.match(sql)
        # A flush writes ORM changes, traced where they were made (below).
        if found and found[2] in TABLES and not _in_flush(sys._getframe(1)):
            writes.note(found[1].split()[0].lower(), found[2])

    def attached(_session: Session, instance: object) -> None:
        if isinstance(instance, GUARDED) and instance_state(instance).transient:
            writes.note("add", TABLE_OF[type(instance)])

    def changed(target: object, *_args: Any) -> None:
        if not instance_state(target).transient:
            writes.note("set", TABLE_OF[type(target)])

    original_delete = Session.delete

    def delete(session: Session, instance: object) -> None:
        if isinstance(instance, GUARDED):
            writes.note("delete", TABLE_OF[type(instance)])
        original_delete(session, instance)

    listeners: list[tuple[Any, str, Callable[..., Any]]] = [
        (engine, "before_cursor_execute", statement),
        (Session, "before_attach", attached),
    ]
    for model in GUARDED:
        for attr in class_mapper(model).attrs:
            listeners.append((getattr(model, attr.key), "set", changed))
            if getattr(attr, "uselist", False):
                listeners += [
                    (getattr(model, attr.key), "append", changed),
                    (getattr(model, attr.key), "remove", changed),
                ]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    # SQLAlchemy has no event at Session.delete() time (only at flush, without the caller's
    # frame), so the recording wraps it; the original is put back whatever happens.
    setattr(Session, "delete", delete)  # noqa: B010 - a method assigned, not an attribute read
    try:
        yield writes
    finally:
        setattr(Session, "delete", original_delete)  # noqa: B010 - the wrapper removed
        for target, name, fn in listeners:
            event.remove(target, name, fn)


def _sync_everything(world: World) -> None:
    d = world.directory
    for i in range(10):
        d.add_user(f"u{i}", givenName=f"N{i}")
        d.add_member(SALES, f"u{i}")
    assert world.engine.reconcile(OP, "acme").status == "succeeded"
    d.change("u1", surname="Byron")  # update
    d.change("u2", officeLocation="Branch")  # relocate
    d.change("u3", accountEnabled=False)  # disable
    d.soft_delete("u4")  # delete
    assert world.engine.delta(OP, "acme").status == "succeeded"
    d.add_user("late", givenName="Late")
    d.add_member(SALES, "late")
    assert world.engine.sync_user(OP, "acme", "late").counts == {"create": 1}
    for i in range(5, 10):
        d.remove_member(SALES, f"u{i}")
    held = world.engine.reconcile(OP, "acme")
    assert held.status == "held"
    approved = world.engine.resolve_held(OP, "acme", held.number, approve=True)
    assert approved.status == "succeeded"


def _api_everything(world: World) -> None:
    admin = factories.token_for(world.container, "it@acme.example", Role.ACCOUNT_ADMIN, "acme")
    headers = factories.bearer(admin)
    base = "/api/v1/accounts/acme"
    with world.container.unit_of_work() as s:
        hq = s.scalar(select(Location.id).where(Location.name == "HQ"))

    with TestClient(create_app(world.container)) as client:
        made = client.post(
            f"{base}/licenses", headers=headers, json={"name": "Premium", "seats": 2}
        )
        assert made.status_code == 201, made.text
        body = {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@acme.example",
            "location_id": hq,
            "license": "Premium",
            "phone_numbers": ["+13125550100"],
        }
        user = client.post(f"{base}/users", headers=headers, json=body)
        assert user.status_code == 201, user.text
        url = f"{base}/users/{user.json()['id']}"
        patched = client.patch(url, headers=headers, json={"last_name": "King"})
        assert patched.status_code == 200, patched.text
        assert client.delete(url, headers=headers).status_code == 204


def test_only_the_portal_writes_users_numbers_seats_and_audit(world: World) -> None:
    with recording(world.container.engine) as writes:
        _sync_everything(world)
        _api_everything(world)
    assert writes.outside_portal() == []
    # Not vacuous: every kind of write the scenarios make was seen.
    assert {
        ("insert", "users"),
        ("update", "users"),
        ("delete", "users"),
        ("update", "phone_numbers"),
        ("insert", "audit_events"),
        ("add", "users"),
        ("add", "license_types"),
        ("add", "audit_events"),
        ("set", "users"),
        ("set", "phone_numbers"),
    } <= writes.kinds()


def test_a_write_from_outside_the_portal_is_caught(world: World) -> None:
    """The check can fail: a statement and an ORM change made from a sync module."""
    elsewhere = {"__name__": "switchboard.sync.elsewhere", "update": update, "User": User}
    exec(  # noqa: S102 - code that claims to be a module outside the portal
        "def rename(session, user):\n"
        "    session.execute(update(User).where(User.id == user.id).values(first_name='X'))\n"
        "    user.last_name = 'Y'\n",
        elsewhere,
    )
    with world.container.unit_of_work() as s:
        t = factories.tenant(s, "other", "646")
        data = UserIn(first_name="A", last_name="B", email="a@b.example", location_id=t.hq.id)
        user = create_user(s, OP, t.account, data)
        with recording(world.container.engine) as writes:
            cast(Callable[[Session, User], None], elsewhere["rename"])(s, user)
            s.flush()
    assert sorted(w[:2] for w in writes.outside_portal()) == [
        ("set", "users"),
        ("update", "users"),
    ]
    assert {w[2] for w in writes.outside_portal()} == {"switchboard.sync.elsewhere"}
