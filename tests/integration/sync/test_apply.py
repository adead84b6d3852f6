"""The applier one by one and in bulk: the same users, audit trail and events either way."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.bootstrap import DEFAULT_USER_LISTENERS
from switchboard.db.models import AuditEvent, User
from switchboard.portal import users
from switchboard.portal.events import Event
from switchboard.portal.schemas import UserIn
from switchboard.sync.apply import BulkState, apply_items
from switchboard.sync.mapping import Desired, LocationRef
from switchboard.sync.plan import Action, PlanItem
from tests import factories
from tests.wiring import ContainerBuilder

OP = factories.OPERATOR


def _desired(name: str, location: LocationRef, last: str = "Lovelace") -> Desired:
    email = f"{name}@contoso.example"
    return Desired(email, name.title(), last, email, location)


def _setup(s: Session, t: factories.Tenant) -> dict[str, int]:
    """Four directory users (a, b, c, d) and a local user the directory will adopt."""
    actor = users.sync_actor(t.account)
    ids = {}
    for name in "abcd":
        entry = users.NewDirectoryUser(
            users.DirectoryValues(
                f"{name}@contoso.example",
                name.title(),
                "Lovelace",
                f"{name}@contoso.example",
                t.hq.id,
            ),
            name,
            True,
        )
        ids[name] = users.provision(s, actor, t.account, entry).id
    local = UserIn(
        first_name="Lin", last_name="Local", email="lin@contoso.example", location_id=t.hq.id
    )
    ids["lin"] = users.create_user(s, OP, t.account, local).id
    return ids


def _items(ids: dict[str, int], hq: LocationRef, branch: LocationRef) -> list[PlanItem]:
    return [
        PlanItem(Action.CREATE, "n", "n", None, ("username",), _desired("n", hq), False),
        PlanItem(Action.UPDATE, "a", "a", ids["a"], ("last_name",), _desired("a", hq, "Byron")),
        PlanItem(Action.DISABLE, "b", "b", ids["b"], ("status",), _desired("b", hq), False),
        PlanItem(Action.RELOCATE, "c", "c", ids["c"], ("location_id",), _desired("c", branch)),
        PlanItem(Action.DELETE, "d", "d", ids["d"]),
        # Replayed: user a is synced from "a", not "gone"; nothing happens to it.
        PlanItem(Action.DELETE, "gone", "gone", ids["a"]),
        PlanItem(Action.LINK, "lin", "lin", ids["lin"], ("first_name",), _desired("lin", hq)),
    ]


@pytest.mark.parametrize("bulk", [False, True], ids=["one_by_one", "bulk"])
def test_one_by_one_and_bulk_leave_the_same_users_trail_and_events(
    build_container: ContainerBuilder, bulk: bool
) -> None:
    seen: list[Event] = []
    container = build_container(
        user_listeners=[*DEFAULT_USER_LISTENERS, lambda _s, e: seen.append(e)]
    )
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        ids = _setup(s, t)
        first_event = s.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()))
        seen.clear()
        hq, branch = LocationRef(t.hq.id, "HQ"), LocationRef(t.branch.id, "Branch")
        records = apply_items(
            s,
            users.sync_actor(t.account),
            t.account,
            _items(ids, hq, branch),
            bulk=BulkState() if bulk else None,
        )
        assert {r.state for r in records} == {"applied"}
        now = {
            u.directory_id: (u.last_name, u.status, u.location_id, u.source)
            for u in s.scalars(select(User))
        }
        trail = sorted(
            (e.action, tuple(e.fields))
            for e in s.scalars(select(AuditEvent).where(AuditEvent.id > (first_event or 0)))
        )
    assert now == {
        "a": ("Byron", "active", t.hq.id, "directory"),
        "b": ("Lovelace", "disabled_in_directory", t.hq.id, "directory"),
        "c": ("Lovelace", "active", t.branch.id, "directory"),
        "n": ("Lovelace", "disabled_in_directory", t.hq.id, "directory"),
        "lin": ("Lovelace", "active", t.hq.id, "directory"),
    }
    created = ("email", "extension", "first_name", "last_name", "location_id", "username")
    assert trail == [
        ("user.created", (*created[:5], "status", "username")),
        ("user.created", created),
        ("user.deleted", ()),
        ("user.deleted", ()),
        ("user.linked", ("directory_id", "source")),
        ("user.relocated", ("location_id", "phone_numbers")),
        ("user.updated", ("first_name",)),
        ("user.updated", ("last_name",)),
        ("user.updated", ("status",)),
    ]
    assert sorted(_shape(e) for e in seen) == [
        ("UserChanged", ("directory_id", "source")),
        ("UserChanged", ("first_name",)),
        ("UserChanged", ("last_name",)),
        ("UserChanged", ("status",)),
        ("UserCreated", ()),
        ("UserCreated", ()),
        ("UserDeleted", ()),
        ("UserDeleted", ()),
        ("UserRelocated", ()),
    ]
    assert all(getattr(e, "by_directory", False) for e in seen)


def _shape(event: Any) -> tuple[str, tuple[str, ...]]:
    return type(event).__name__, tuple(sorted(getattr(event, "fields", ())))
