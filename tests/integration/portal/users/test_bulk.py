"""Bulk directory writes: per-batch key checks on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.db.models import AuditEvent, Media, PhoneNumber, User
from switchboard.portal import media, users
from switchboard.portal.errors import Conflict
from switchboard.portal.schemas import UserIn, UserPatch
from switchboard.portal.users import (
    AccountKeys,
    DirectoryFields,
    DirectoryValues,
    Extensions,
    NewDirectoryUser,
    Relocation,
    delete_many,
    provision_many,
    relocate_many,
    sync_actor,
    update_many,
)
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
        extensions = Extensions.load(s, t.account)
        assert [extensions.next_free(s) for _ in range(3)] == ["99", "11", "13"]


def _directory_user(s: Session, t: factories.Tenant, i: int) -> int:
    keys = AccountKeys.load(s, t.account, [], [])
    (user_id,) = provision_many(
        s,
        sync_actor(t.account),
        t.account,
        keys,
        [NewDirectoryUser(_values(i, t.hq.id), f"dir-{i}", True)],
    )
    assert isinstance(user_id, int)
    users.update_user(s, OP, t.account, user_id, UserPatch(phone_numbers=["+13125550100"]))
    media.ingest(
        s,
        OP,
        t.account,
        media.MediaIn(
            kind="voicemail",
            user_id=user_id,
            recorded_at=datetime(2026, 1, 10, tzinfo=UTC),
            duration_seconds=3,
        ),
        io.BytesIO(b"RIFF...."),
        content_type="audio/wav",
    )
    return user_id


def test_delete_many_releases_numbers_keeps_media_and_audits(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        user_id = _directory_user(s, t, 1)
        delete_many(s, sync_actor(t.account), t.account, [user_id])
        assert s.get(User, user_id) is None
        number = s.scalars(select(PhoneNumber).where(PhoneNumber.e164 == "+13125550100")).one()
        assert (number.user_id, number.status) == (None, "available")
        kept = s.scalars(select(Media)).one()
        assert kept.user_id is None
        actions = s.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "user", AuditEvent.object_id == str(user_id))
            .order_by(AuditEvent.id)
        ).all()
        assert actions[-1] == "user.deleted"


def test_relocate_many_moves_media_releases_numbers_and_keeps_status(
    container: Container,
) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        user_id = _directory_user(s, t, 1)
        user = s.get(User, user_id)
        assert user is not None
        extension = user.extension
        moved = Relocation(user_id, _values(1, t.branch.id), enabled=False)
        keys = AccountKeys.load(s, t.account, [moved.data], [])
        (new_id,) = relocate_many(s, sync_actor(t.account), t.account, keys, [moved])
        assert isinstance(new_id, int)
        user = s.get(User, new_id)
        assert user is not None
        assert (user.location_id, user.extension, user.status, user.directory_id) == (
            t.branch.id,
            extension,
            "disabled_in_directory",
            "dir-1",
        )
        assert user.numbers == []
        assert s.scalars(select(Media.user_id)).one() == new_id
        actions = s.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "user", AuditEvent.object_id == str(new_id))
            .order_by(AuditEvent.id)
        ).all()
        assert actions[-2:] == ["user.created", "user.relocated"]
