"""Bulk directory writes: per-batch key checks on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.db.models import User
from switchboard.portal import users
from switchboard.portal.bulk_users import (
    AccountKeys,
    DirectoryFields,
    DirectoryValues,
    Extensions,
    NewDirectoryUser,
    provision_many,
    update_many,
)
from switchboard.portal.directory_users import sync_actor
from switchboard.portal.errors import Conflict
from switchboard.portal.schemas import UserIn
from tests import factories

OP = factories.OPERATOR


def _values(i: int, location_id: int, **kw: str) -> DirectoryValues:
    fields = {
        "username": f"user{i}@acme.example",
        "first_name": "First",
        "last_name": f"Last{i}",
        "email": f"user{i}@acme.example",
    }
    fields.update(kw)
    return DirectoryValues(location_id=location_id, **fields)


def test_a_batch_larger_than_one_key_lookup_still_sees_every_holder(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        holder = users.create_user(
            s,
            OP,
            t.account,
            UserIn(
                first_name="Local",
                last_name="Holder",
                email="taken@acme.example",
                location_id=t.hq.id,
            ),
        )
        entries = [NewDirectoryUser(_values(i, t.hq.id), f"dir-{i}", True) for i in range(1_200)]
        # Past the first lookup chunk: the 1,100th entry wants the local user's email.
        entries[1_100] = NewDirectoryUser(
            _values(1_100, t.hq.id, email="Taken@acme.example"), "dir-1100", True
        )
        keys = AccountKeys.load(
            s, t.account, [e.data for e in entries], [e.directory_id for e in entries]
        )
        results = provision_many(s, sync_actor(t.account), t.account, keys, entries)
        refused = [r for r in results if isinstance(r, Conflict)]
        assert len(refused) == 1 and refused[0].field == "email"
        created = [r for r in results if isinstance(r, int)]
        assert len(created) == 1_199
        extensions = s.scalars(
            select(User.extension).where(User.id.in_([*created, holder.id]))
        ).all()
        assert len(set(extensions)) == 1_200


def test_an_update_to_a_key_held_outside_the_batch_is_refused(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        actor = sync_actor(t.account)
        new = [NewDirectoryUser(_values(i, t.hq.id), f"dir-{i}", True) for i in range(2)]
        keys = AccountKeys.load(s, t.account, [e.data for e in new], ["dir-0", "dir-1"])
        first, second = provision_many(s, actor, t.account, keys, new)
        assert isinstance(first, int) and isinstance(second, int)
        # A later batch holds only user 0: user 1 is not in it, and still holds its email.
        change = DirectoryFields(
            first, _values(0, t.hq.id, email="USER1@acme.example"), True, ("email",)
        )
        keys = AccountKeys.load(s, t.account, [change.data], [])
        (outcome,) = update_many(s, actor, t.account, keys, [change])
        assert isinstance(outcome, Conflict) and outcome.field == "email"


def test_extensions_continue_after_the_highest_and_then_fill_gaps(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        # "9900" is from an earlier 4-digit dial plan and sorts above every 2-digit one.
        for length, ext in ((4, "9900"), (2, "10"), (2, "12"), (2, "98")):
            t.account.extension_length = length
            users.create_user(
                s,
                OP,
                t.account,
                UserIn(
                    first_name="Local",
                    last_name=f"E{ext}",
                    email=f"e{ext}@acme.example",
                    location_id=t.hq.id,
                    extension=ext,
                ),
            )
        ext = Extensions.load(s, t.account)
        assert [ext.next_free(s) for _ in range(3)] == ["99", "11", "13"]
