"""Changes of directory users in batches, for reconciles of large tenants; a change of one
directory user is a batch of one (see ``directory``).

The rules of ``rules`` for what a directory sync changes (names, email, username, location,
status, a new extension), checked in memory against the keys loaded once per batch or run,
then written with one statement per batch. A batch that still hits a constraint (a
concurrent change) is refused as a whole, and the caller goes one by one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from switchboard.db.models import Account, Media, User
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import NotFound, PortalError, ValidationFailed
from switchboard.portal.users import writes
from switchboard.portal.users.queries import chunks, still_linked
from switchboard.portal.users.rules import (
    AccountKeys,
    DirectoryValues,
    Extensions,
    created_fields,
    named,
    new_row,
    status_of,
)


@dataclass(frozen=True, slots=True)
class NewDirectoryUser:
    data: DirectoryValues
    directory_id: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class DirectoryFields:
    user_id: int
    data: DirectoryValues
    enabled: bool
    # What differs from the portal (the plan's comparison); nothing differs, nothing is written.
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Relocation:
    user_id: int
    data: DirectoryValues
    enabled: bool


def require_sync(actor: Actor, account: Account, message: str) -> None:
    actor.require_write(account.id)
    if not actor.directory:
        raise ValidationFailed(message, field="source")


def provision_many(
    session: Session,
    actor: Actor,
    account: Account,
    keys: AccountKeys,
    entries: Sequence[NewDirectoryUser],
) -> list[int | PortalError]:
    """Create directory users; each entry gets its new id, or the error that refused it."""
    actor.require_write(account.id)
    if not actor.directory:
        raise ValidationFailed(
            "only the directory sync can create directory users", field="directory_id"
        )
    stamp = now(session)
    if keys.extensions is None and entries:
        keys.extensions = Extensions.load(session, account)
    results: list[int | PortalError] = []
    rows: list[dict[str, object]] = []
    slots: list[int] = []
    for entry in entries:
        try:
            keys.check_new(entry.data, entry.directory_id)
            assert keys.extensions is not None
            extension = keys.extensions.next_free(session)
        except PortalError as exc:
            results.append(exc)
            continue
        row = new_row(
            account.id,
            entry.data,
            extension=extension,
            license_id=None,
            status=status_of(entry.enabled),
            directory_id=entry.directory_id,
            stamp=stamp,
        )
        rows.append(row)
        # Claim the keys at once, so later entries of this batch see them taken.
        keys.hold(-1, str(row["username_key"]), str(row["email_key"]), entry.directory_id)
        slots.append(len(results))
        results.append(0)
    _insert(session, actor, account, keys, rows, slots, results)
    return results


def _insert(
    session: Session,
    actor: Actor,
    account: Account,
    keys: AccountKeys,
    rows: list[dict[str, object]],
    slots: list[int],
    results: list[int | PortalError],
) -> list[int]:
    """Insert the rows, put each new id in its slot of ``results`` and in the keys."""
    if not rows:
        return []
    ids = writes.insert_directory_users(session, account.id, rows)
    for slot, user_id, row in zip(slots, ids, rows, strict=True):
        results[slot] = user_id
        keys.hold(user_id, str(row["username_key"]), str(row["email_key"]), None)
    changes = [(user_id, created_fields(row)) for user_id, row in zip(ids, rows, strict=True)]
    names: dict[object, str] = {
        user_id: f"{row['first_name']} {row['last_name']}"
        for user_id, row in zip(ids, rows, strict=True)
    }
    writes.created(session, actor, account.id, changes, names)
    return ids


def update_many(
    session: Session,
    actor: Actor,
    account: Account,
    keys: AccountKeys,
    entries: Sequence[DirectoryFields],
) -> list[int | PortalError]:
    """Bring names, email, username and the disabled flag of directory users in line."""
    require_sync(actor, account, "only the directory sync changes these fields")
    stamp = now(session)
    results: list[int | PortalError] = []
    rows: list[dict[str, object]] = []
    changes: list[tuple[int, Sequence[str]]] = []
    for entry in entries:
        data = entry.data
        try:
            keys.check_free(data, entry.user_id)
        except PortalError as exc:
            results.append(exc)
            continue
        results.append(entry.user_id)
        if not entry.fields:
            continue
        row = {
            "id": entry.user_id,
            **named(data),
            "status": status_of(entry.enabled),
            "updated_at": stamp,
        }
        rows.append(row)
        keys.hold(entry.user_id, str(row["username_key"]), str(row["email_key"]), None)
        changes.append((entry.user_id, entry.fields))
    if rows:
        # Bulk UPDATE by primary key; the account filter keeps it inside the tenant.
        statement = update(User).where(User.account_id == account.id)
        session.execute(statement.execution_options(synchronize_session=None), rows)
        session.expire_all()  # users loaded earlier in this session now hold old values
        writes.changed(session, actor, account.id, changes)
    return results


def delete_many(session: Session, actor: Actor, account: Account, user_ids: Sequence[int]) -> None:
    """Delete users as ``delete_user`` does, a few statements for the lot."""
    require_sync(actor, account, "only the directory sync deletes users in bulk")
    writes.remove(session, actor, account.id, user_ids)


def delete_still_linked(
    session: Session, actor: Actor, account: Account, departed: Mapping[int, str | None]
) -> list[int]:
    """Delete the users that left the directory (user id: the Entra ID user it was synced
    from), those still synced from it: a deletion replayed, or approved days after its run
    was held, is a no-op for a user gone or relinked since. The ids deleted."""
    require_sync(actor, account, "only the directory sync deletes users in bulk")
    doomed = still_linked(session, account.id, departed)
    writes.remove(session, actor, account.id, doomed)
    return doomed


def relocate_many(
    session: Session,
    actor: Actor,
    account: Account,
    keys: AccountKeys,
    entries: Sequence[Relocation],
) -> list[int | PortalError]:
    """The directory moved users: each is deleted and created again at its new location with
    its extension and license (its seat goes and comes back), its old numbers released and its
    media moved to the new record. Each entry gets the new id, or the error that refused it."""
    require_sync(actor, account, "only the directory sync relocates users")
    olds: dict[int, tuple[str | None, str, int | None]] = {}
    for part in chunks([e.user_id for e in entries]):
        for user_id, directory_id, extension, license_id in session.execute(
            select(User.id, User.directory_id, User.extension, User.license_id).where(
                User.account_id == account.id, User.id.in_(part)
            )
        ):
            olds[user_id] = (directory_id, extension, license_id)
    results: list[int | PortalError] = []
    stamp = now(session)
    rows: list[dict[str, object]] = []
    slots: list[int] = []
    old_ids: list[int] = []
    for entry in entries:
        old = olds.get(entry.user_id)
        try:
            if old is None:
                raise NotFound(
                    f"user {entry.user_id} not found in account '{account.slug}'",
                    code="user_not_found",
                )
            directory_id, extension, license_id = old
            if directory_id is None:
                raise ValidationFailed(
                    "only directory users are relocated by the sync", field="source"
                )
            keys.check_free(entry.data, entry.user_id)
        except PortalError as exc:
            results.append(exc)
            continue
        status = status_of(entry.enabled)
        rows.append(
            new_row(
                account.id,
                entry.data,
                extension=extension,
                license_id=license_id,
                status=status,
                directory_id=directory_id,
                stamp=stamp,
            )
        )
        slots.append(len(results))
        old_ids.append(entry.user_id)
        results.append(0)
    if not rows:
        return results
    media: list[tuple[int, int]] = []
    for part in chunks(old_ids):
        for media_id, owner in session.execute(
            select(Media.id, Media.user_id).where(
                Media.account_id == account.id, Media.user_id.in_(part)
            )
        ):
            if owner is not None:
                media.append((media_id, owner))
    writes.remove(session, actor, account.id, old_ids)
    new_ids = _insert(session, actor, account, keys, rows, slots, results)
    moved = dict(zip(old_ids, new_ids, strict=True))
    writes.move_media(session, [(media_id, moved[owner]) for media_id, owner in media])
    writes.relocated(session, actor, account.id, list(moved.items()))
    return results
