"""Reading users: one, a page of them, and which are synced from which Entra ID user."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from switchboard.db.lookups import LOOKUP_CHUNK
from switchboard.db.models import Account, Location, User
from switchboard.portal import validation
from switchboard.portal.actors import Actor
from switchboard.portal.errors import NotFound, ValidationFailed

# What a list of users can be sorted by: the columns, then the id so pages never overlap.
SORTS = ("name", "email", "extension", "location", "status")
STATUSES = ("active", "disabled_in_directory")
SOURCES = ("local", "directory")


def _order(sort: str, descending: bool) -> list[Any]:
    columns: dict[str, list[Any]] = {
        "name": [User.last_name, User.first_name],
        "email": [User.email_key],
        "extension": [User.extension],
        "location": [Location.name_key, User.last_name, User.first_name],
        "status": [User.status, User.last_name, User.first_name],
    }
    if sort not in columns:
        raise ValidationFailed(
            f"sort: choose one of {', '.join(SORTS)}", field="sort", code="bad_sort"
        )
    order = [*columns[sort], User.id]
    return [c.desc() for c in order] if descending else order


@dataclass(frozen=True)
class UserPage:
    items: list[User]
    total: int
    limit: int
    offset: int


def get_user(session: Session, actor: Actor, account: Account, user_id: int) -> User:
    actor.require_read(account.id)
    user = session.scalar(select(User).where(User.account_id == account.id, User.id == user_id))
    if user is None:
        raise NotFound(
            f"user {user_id} not found in account '{account.slug}'", code="user_not_found"
        )
    return user


def list_users(
    session: Session,
    actor: Actor,
    account: Account,
    *,
    search: str | None = None,
    location_id: int | None = None,
    status: str | None = None,
    source: str | None = None,
    sort: str = "name",
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> UserPage:
    """A page of the account's users, filtered and sorted by the database."""
    actor.require_read(account.id)
    order = _order(sort, descending)
    query = select(User).where(User.account_id == account.id)
    if search and validation.has_control(search):
        raise ValidationFailed("search: must not contain control characters", field="search")
    term = (search or "").strip()
    if term:
        like = f"%{term.casefold()}%"
        query = query.where(
            or_(
                User.username_key.like(like),
                User.email_key.like(like),
                func.lower(User.first_name).like(like),
                func.lower(User.last_name).like(like),
                (func.lower(User.first_name) + " " + func.lower(User.last_name)).like(like),
                User.extension.like(like),
            )
        )
    if location_id is not None:
        query = query.where(User.location_id == location_id)
    if status is not None:
        query = query.where(User.status == status)
    if source is not None:
        query = query.where(User.source == source)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if sort == "location":
        query = query.join(Location, Location.id == User.location_id)
    items = session.scalars(query.order_by(*order).limit(limit).offset(offset))
    return UserPage(items=list(items), total=total, limit=limit, offset=offset)


def count_users(session: Session, account: Account) -> int:
    return session.scalar(select(func.count()).where(User.account_id == account.id)) or 0


def synced_user_id(session: Session, account_id: int, directory_id: str) -> int | None:
    """The portal user synced from this Entra ID user, if there is one."""
    return session.scalar(
        select(User.id).where(User.account_id == account_id, User.directory_id == directory_id)
    )


def synced_directory_id(session: Session, account_id: int, key: str) -> str | None:
    """The Entra ID user a portal user is synced from, known by its object id or by the
    portal user's username (its UPN): for a user Entra ID no longer finds."""
    return session.scalar(
        select(User.directory_id).where(
            User.account_id == account_id,
            User.directory_id.is_not(None),
            (User.directory_id == key) | (User.username_key == key.casefold()),
        )
    )


def still_linked(session: Session, account_id: int, wanted: Mapping[int, str | None]) -> list[int]:
    """The users of ``wanted`` (user id: the Entra ID user it was synced from when the change
    was planned) still synced from that Entra ID user. A change replayed, or approved long
    after its run, finds the others gone or relinked, and leaves them alone."""
    present: dict[int, str | None] = {}
    for part in chunks(list(wanted)):
        rows = session.execute(
            select(User.id, User.directory_id).where(
                User.account_id == account_id, User.id.in_(part)
            )
        )
        present.update((user_id, directory_id) for user_id, directory_id in rows)
    return [
        user_id
        for user_id, directory_id in wanted.items()
        if directory_id is not None and user_id in present and present[user_id] == directory_id
    ]


def chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    """Ids in lists short enough for one IN of any driver."""
    for start in range(0, len(ids), LOOKUP_CHUNK):
        yield list(ids[start : start + LOOKUP_CHUNK])
