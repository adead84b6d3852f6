"""The writes every change of users goes through, for one user or a batch alike: the
statements that add and remove users, and what each change leaves behind, one audit row and
one event per user (the audit rows in one executemany, the events to the session's
listeners)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from operator import itemgetter

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from switchboard.db.models import Base, Media, User
from switchboard.db.raw_rows import insert_rows, naive_utc
from switchboard.portal import audit, events
from switchboard.portal.actors import Actor
from switchboard.portal.events import UserChanged, UserCreated, UserDeleted, UserRelocated
from switchboard.portal.numbers import release_held_by
from switchboard.portal.users.queries import chunks

# Core tables: executemany of one short statement, no ORM bookkeeping per row.
MEDIA = Base.metadata.tables["media"]

Changes = Sequence[tuple[int, Sequence[str]]]
# A new user's columns (``rules.new_row``), in the order a bulk insert's tuples hold them.
NEW_USER_COLUMNS = (
    "account_id",
    "username",
    "username_key",
    "first_name",
    "last_name",
    "email",
    "email_key",
    "location_id",
    "extension",
    "license_id",
    "status",
    "source",
    "directory_id",
    "created_at",
    "updated_at",
)
STAMP_POSITIONS = (NEW_USER_COLUMNS.index("created_at"), NEW_USER_COLUMNS.index("updated_at"))
_new_user_values = itemgetter(*NEW_USER_COLUMNS)


def insert_directory_users(
    session: Session, account_id: int, rows: Sequence[dict[str, object]]
) -> list[int]:
    """Insert directory users (rows of ``rules.new_row``); their new ids, in order.

    A plain executemany of one short statement, then the new ids by primary-key range (ids
    only grow): on PostgreSQL INSERT .. RETURNING batches are long, ever-different statements
    the driver parses one by one, and a lookup by a list of directory ids degrades as the
    table grows.
    """
    before = session.scalar(select(func.max(User.id))) or 0
    stamps: dict[datetime, datetime] = {}  # one or two stamps a batch: each converted once
    tuples = []
    for row in rows:
        values = list(_new_user_values(row))
        for at in STAMP_POSITIONS:
            stamp = values[at]
            assert isinstance(stamp, datetime)
            stored = stamps.get(stamp)
            if stored is None:
                stored = stamps[stamp] = naive_utc(stamp)
            values[at] = stored
        tuples.append(tuple(values))
    insert_rows(session, "users", NEW_USER_COLUMNS, tuples)
    found = session.execute(
        select(User.directory_id, User.id).where(User.account_id == account_id, User.id > before)
    )
    new_ids = {d: i for d, i in found}  # noqa: C416 - dict(result) would use its keys()
    return [new_ids[str(r["directory_id"])] for r in rows]


def remove(session: Session, actor: Actor, account_id: int, user_ids: Sequence[int]) -> None:
    """Delete users: their numbers go back to the inventory, their media stays without the
    link (it keeps its owner_name), one audit event and one event each.

    What the session holds of them follows (synchronize "evaluate"): the users leave it, its
    numbers and media lose the link; objects a caller holds stay usable.
    """
    # Named in the trail by what the session holds of them, read before they leave it.
    names: dict[object, str] = {
        user_id: name
        for user_id in user_ids
        if (name := audit.name_in_session(session, "user", user_id)) is not None
    }
    for part in chunks(user_ids):
        release_held_by(session, account_id, part)
        session.execute(
            update(Media)
            .where(Media.account_id == account_id, Media.user_id.in_(part))
            .values(user_id=None)
            .execution_options(synchronize_session="evaluate")
        )
        session.execute(
            delete(User)
            .where(User.account_id == account_id, User.id.in_(part))
            .execution_options(synchronize_session="evaluate")
        )
    deleted(session, actor, account_id, user_ids, names)


def move_media(session: Session, owners: Sequence[tuple[int, int]]) -> None:
    """Give media (media id, new user id) to the user's new record."""
    if owners:
        session.execute(
            update(MEDIA).where(MEDIA.c.id == bindparam("media_id")),
            [{"media_id": media_id, "user_id": user_id} for media_id, user_id in owners],
        )


def created(
    session: Session,
    actor: Actor,
    account_id: int,
    changes: Changes,
    names: Mapping[object, str] | None = None,
) -> None:
    """New users; ``names``: what the trail names them by, for rows the session never held."""
    _record(session, actor, account_id, "user.created", changes, names)
    events.emit_all(
        session, (UserCreated(account_id, user_id, actor.directory) for user_id, _f in changes)
    )


def changed(
    session: Session,
    actor: Actor,
    account_id: int,
    changes: Changes,
    *,
    action: str = "user.updated",
) -> None:
    """Users changed in place (``action`` says how: updated, linked, unlinked)."""
    _record(session, actor, account_id, action, changes)
    events.emit_all(
        session,
        (
            UserChanged(account_id, user_id, tuple(fields), actor.directory)
            for user_id, fields in changes
        ),
    )


def deleted(
    session: Session,
    actor: Actor,
    account_id: int,
    user_ids: Sequence[int],
    names: Mapping[object, str] | None = None,
) -> None:
    changes: Changes = [(user_id, ()) for user_id in user_ids]
    _record(session, actor, account_id, "user.deleted", changes, names)
    events.emit_all(
        session, (UserDeleted(account_id, user_id, actor.directory) for user_id in user_ids)
    )


def relocated(
    session: Session, actor: Actor, account_id: int, moves: Sequence[tuple[int, int]]
) -> None:
    """Users the directory moved: (old id, new id) each; the audit names the new record."""
    fields = ("location_id", "phone_numbers")
    _record(session, actor, account_id, "user.relocated", [(new, fields) for _old, new in moves])
    events.emit_all(
        session,
        (UserRelocated(account_id, new, old, actor.directory) for old, new in moves),
    )


def _record(
    session: Session,
    actor: Actor,
    account_id: int,
    action: str,
    changes: Changes,
    names: Mapping[object, str] | None = None,
) -> None:
    audit.record_many(
        session,
        actor,
        action,
        account_id=account_id,
        object_type="user",
        changes=changes,
        names=names,
    )
