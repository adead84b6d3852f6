"""Bulk changes of directory users, for reconciles of large tenants.

The same rules as ``users.create_user`` / ``update_user`` for what a directory sync changes
(names, email, username, location, status, a new extension), checked in memory against the
account's keys loaded once per run, then written with one statement per batch. A batch that
still hits a constraint (a concurrent change) is refused as a whole, and the caller falls back
to the one-by-one functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from switchboard.db.lookups import LOOKUP_CHUNK, rows_matching_any
from switchboard.db.models import Account, Base, Location, Media, PhoneNumber, User
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict, NotFound, PortalError, ValidationFailed

# Core tables: executemany of one short statement, no ORM bookkeeping per row.
USERS = Base.metadata.tables["users"]
AUDIT_EVENTS = Base.metadata.tables["audit_events"]
MEDIA = Base.metadata.tables["media"]
CREATE_FIELDS = ["username", "first_name", "last_name", "email", "location_id", "extension"]


@dataclass
class Extensions:
    """Hands out the account's next free extensions across a run's batches: the successors
    of the highest one in use, then (the dial plan's end reached) the gaps, for which the
    extensions in use are read once."""

    account_id: int
    length: int
    highest: int | None
    taken: set[str] = field(default_factory=set)
    _gaps: Iterator[int] | None = None

    @classmethod
    def load(cls, session: Session, account: Account) -> Extensions:
        length = account.extension_length
        in_account = User.account_id == account.id
        top = session.scalar(select(func.max(User.extension)).where(in_account))
        if top is not None and not (len(top) == length and top.isdigit()):
            # Another length sorts above (after a dial plan change): compare like with like.
            top = session.scalar(
                select(func.max(User.extension)).where(
                    in_account, func.length(User.extension) == length
                )
            )
        highest = int(top) if top is not None and top.isdigit() else None
        return cls(account.id, length, highest)

    def next_free(self, session: Session) -> str:
        first, end = 10 ** (self.length - 1), 10**self.length
        candidate = first if self.highest is None else self.highest + 1
        if first <= candidate < end:
            self.highest = candidate
            self.taken.add(str(candidate))
            return str(candidate)
        if self._gaps is None:
            self.taken |= set(
                session.scalars(select(User.extension).where(User.account_id == self.account_id))
            )
            self._gaps = iter(range(first, end))
        for gap in self._gaps:
            if str(gap) not in self.taken:
                self.taken.add(str(gap))
                return str(gap)
        raise Conflict(
            "every extension of the dial plan is in use",
            field="extension",
            code="extensions_exhausted",
        )


@dataclass
class AccountKeys:
    """The unique keys a batch of directory users could collide with, so each check is a set
    lookup. ``load`` reads the users holding any of the batch's usernames, emails or directory
    ids (a delta round of 1,000 changes reads 1,000 rows, not 100,000), and the extensions once
    the batch creates someone; ``load_all`` reads the whole account once, for a full run whose
    batches cover it anyway."""

    account_id: int
    locations: set[int]
    usernames: dict[str, int]
    emails: dict[str, int]
    directory_ids: set[str]
    extensions: Extensions | None = None

    @classmethod
    def load(
        cls,
        session: Session,
        account: Account,
        values: Sequence[DirectoryValues],
        directory_ids: Sequence[str],
        extensions: Extensions | None = None,
    ) -> AccountKeys:
        keys = cls(
            account.id,
            set(session.scalars(select(Location.id).where(Location.account_id == account.id))),
            {},
            {},
            set(),
            extensions,
        )
        rows = rows_matching_any(
            session,
            (User.id, User.username_key, User.email_key, User.directory_id),
            User.account_id == account.id,
            [
                (User.username_key, [v.username.casefold() for v in values]),
                (User.email_key, [v.email.casefold() for v in values]),
                (User.directory_id, directory_ids),
            ],
        )
        for user_id, username_key, email_key, directory_id in rows:
            keys.usernames[username_key] = user_id
            keys.emails[email_key] = user_id
            if directory_id:
                keys.directory_ids.add(directory_id)
        return keys

    @classmethod
    def load_all(cls, session: Session, account: Account) -> AccountKeys:
        keys = cls.load(session, account, [], [])
        taken: set[str] = set()
        rows = session.execute(
            select(User.id, User.username_key, User.email_key, User.directory_id, User.extension)
            .where(User.account_id == account.id)
            .execution_options(yield_per=10_000)
        )
        for user_id, username_key, email_key, directory_id, extension in rows:
            keys.usernames[username_key] = user_id
            keys.emails[email_key] = user_id
            if directory_id:
                keys.directory_ids.add(directory_id)
            taken.add(extension)
        length = account.extension_length
        numbers = [int(e) for e in taken if len(e) == length and e.isdigit()]
        keys.extensions = Extensions(account.id, length, max(numbers, default=None), taken)
        return keys

    def check_free(self, data: DirectoryValues, user_id: int | None) -> None:
        if self.usernames.get(data.username.casefold(), user_id) != user_id:
            raise Conflict("another user of this account already has username", field="username")
        if self.emails.get(data.email.casefold(), user_id) != user_id:
            raise Conflict("another user of this account already has email", field="email")
        if data.location_id not in self.locations:
            raise ValidationFailed(
                f"location {data.location_id} not found in this account", field="location_id"
            )


@dataclass(frozen=True, slots=True)
class DirectoryValues:
    """The fields a directory sync sets, already held to the portal's rules by the sync's
    mapping (a 100,000-user reconcile does not validate each value twice)."""

    username: str
    first_name: str
    last_name: str
    email: str
    location_id: int


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
    fields: tuple[str, ...]


def _audit_rows(
    actor: Actor,
    account_id: int,
    action: str,
    changes: Sequence[tuple[int, Sequence[str]]],
    session: Session,
) -> list[dict[str, object]]:
    stamp = now(session)
    return [
        {
            "account_id": account_id,
            "actor": actor.label,
            "action": action,
            "object_type": "user",
            "object_id": str(user_id),
            "fields": sorted(set(fields)),
            "created_at": stamp,
        }
        for user_id, fields in changes
    ]


def _new_row(
    account: Account,
    data: DirectoryValues,
    extension: str,
    license_id: int | None,
    enabled: bool,
    directory_id: str,
    stamp: datetime,
) -> dict[str, object]:
    return {
        "account_id": account.id,
        "username": data.username,
        "username_key": data.username.casefold(),
        "first_name": data.first_name,
        "last_name": data.last_name,
        "email": data.email,
        "email_key": data.email.casefold(),
        "location_id": data.location_id,
        "extension": extension,
        "license_id": license_id,
        "status": "active" if enabled else "disabled_in_directory",
        "source": "directory",
        "directory_id": directory_id,
        "created_at": stamp,
        "updated_at": stamp,
    }


def _insert_new(session: Session, account: Account, rows: list[dict[str, object]]) -> list[int]:
    """Insert directory users; their new ids, in order.

    A plain executemany of one short statement, then the new ids by primary-key range (ids
    only grow): on PostgreSQL INSERT .. RETURNING batches are long, ever-different statements
    the driver parses one by one, and a lookup by a list of directory ids degrades as the
    table grows.
    """
    before = session.scalar(select(func.max(User.id))) or 0
    session.execute(insert(USERS), rows)
    found = session.execute(
        select(User.directory_id, User.id).where(User.account_id == account.id, User.id > before)
    )
    new_ids = {d: i for d, i in found}  # noqa: C416 - dict(result) would use its keys()
    return [new_ids[str(r["directory_id"])] for r in rows]


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
    claimed: list[tuple[str, str, str, str]] = []
    for entry in entries:
        data = entry.data
        try:
            keys.check_free(data, None)
            if entry.directory_id in keys.directory_ids:
                raise Conflict(
                    "another user is already synced from this Entra ID user", field="directory_id"
                )
            assert keys.extensions is not None
            extension = keys.extensions.next_free(session)
        except PortalError as exc:
            results.append(exc)
            continue
        username = data.username
        rows.append(
            _new_row(account, data, extension, None, entry.enabled, entry.directory_id, stamp)
        )
        # Claim the keys at once, so later entries of this batch see them taken.
        keys.usernames[username.casefold()] = -1
        keys.emails[data.email.casefold()] = -1
        keys.directory_ids.add(entry.directory_id)
        claimed.append((username.casefold(), data.email.casefold(), entry.directory_id, extension))
        slots.append(len(results))
        results.append(0)
    if rows:
        ids = _insert_new(session, account, rows)
        for slot, user_id, (username_key, email_key, _d, _e) in zip(
            slots, ids, claimed, strict=True
        ):
            results[slot] = user_id
            keys.usernames[username_key] = user_id
            keys.emails[email_key] = user_id
        session.execute(
            insert(AUDIT_EVENTS),
            _audit_rows(
                actor,
                account.id,
                "user.created",
                [
                    (user_id, CREATE_FIELDS + (["status"] if row["status"] != "active" else []))
                    for user_id, row in zip(ids, rows, strict=True)
                ],
                session,
            ),
        )
    return results


def update_many(
    session: Session,
    actor: Actor,
    account: Account,
    keys: AccountKeys,
    entries: Sequence[DirectoryFields],
) -> list[int | PortalError]:
    """Bring names, email, username and the disabled flag of directory users in line."""
    actor.require_write(account.id)
    if not actor.directory:
        raise ValidationFailed("only the directory sync changes these fields", field="source")
    stamp = now(session)
    results: list[int | PortalError] = []
    rows: list[dict[str, object]] = []
    audited: list[tuple[int, Sequence[str]]] = []
    for entry in entries:
        data = entry.data
        try:
            keys.check_free(data, entry.user_id)
        except PortalError as exc:
            results.append(exc)
            continue
        username = data.username
        rows.append(
            {
                "id": entry.user_id,
                "username": username,
                "username_key": username.casefold(),
                "first_name": data.first_name,
                "last_name": data.last_name,
                "email": data.email,
                "email_key": data.email.casefold(),
                "status": "active" if entry.enabled else "disabled_in_directory",
                "updated_at": stamp,
            }
        )
        keys.usernames[username.casefold()] = entry.user_id
        keys.emails[data.email.casefold()] = entry.user_id
        audited.append((entry.user_id, entry.fields))
        results.append(entry.user_id)
    if rows:
        # Bulk UPDATE by primary key; the account filter keeps it inside the tenant.
        statement = update(User).where(User.account_id == account.id)
        session.execute(statement.execution_options(synchronize_session=None), rows)
        session.expire_all()  # users loaded earlier in this session now hold old values
        session.execute(
            insert(AUDIT_EVENTS),
            _audit_rows(actor, account.id, "user.updated", audited, session),
        )
    return results


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), LOOKUP_CHUNK):
        yield list(ids[start : start + LOOKUP_CHUNK])


def delete_many(session: Session, actor: Actor, account: Account, user_ids: Sequence[int]) -> None:
    """Delete users as ``users.delete_user`` does, a few statements for the lot: numbers go
    back to the inventory, media stays without its link, one audit event each."""
    actor.require_write(account.id)
    if not actor.directory:
        raise ValidationFailed("only the directory sync deletes users in bulk", field="source")
    for part in _chunks(user_ids):
        session.execute(
            update(PhoneNumber)
            .where(PhoneNumber.account_id == account.id, PhoneNumber.user_id.in_(part))
            .values(user_id=None, status="available")
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Media)
            .where(Media.account_id == account.id, Media.user_id.in_(part))
            .values(user_id=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            delete(User)
            .where(User.account_id == account.id, User.id.in_(part))
            .execution_options(synchronize_session=False)
        )
    if user_ids:
        session.execute(
            insert(AUDIT_EVENTS),
            _audit_rows(actor, account.id, "user.deleted", [(i, ()) for i in user_ids], session),
        )
    session.expire_all()  # users loaded earlier in this session may be gone


@dataclass(frozen=True, slots=True)
class Relocation:
    user_id: int
    data: DirectoryValues
    enabled: bool


def relocate_many(
    session: Session,
    actor: Actor,
    account: Account,
    keys: AccountKeys,
    entries: Sequence[Relocation],
) -> list[int | PortalError]:
    """What ``directory_users.relocate`` does, for a batch: each user is deleted and created
    again at its new location with its extension and license, its old numbers released and its
    media moved to the new record. Each entry gets the new id, or the error that refused it."""
    actor.require_write(account.id)
    if not actor.directory:
        raise ValidationFailed("only the directory sync relocates users", field="source")
    olds: dict[int, tuple[str | None, str, int | None]] = {}
    for part in _chunks([e.user_id for e in entries]):
        for user_id, directory_id, extension, license_id in session.execute(
            select(User.id, User.directory_id, User.extension, User.license_id).where(
                User.account_id == account.id, User.id.in_(part)
            )
        ):
            olds[user_id] = (directory_id, extension, license_id)
    results: list[int | PortalError] = []
    todo: list[tuple[int, Relocation, str, str, int | None]] = []
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
        todo.append((len(results), entry, directory_id, extension, license_id))
        results.append(0)
    if not todo:
        return results
    old_ids = [entry.user_id for _s, entry, _d, _e, _l in todo]
    media: list[tuple[int, int]] = []
    for part in _chunks(old_ids):
        for media_id, owner in session.execute(
            select(Media.id, Media.user_id).where(
                Media.account_id == account.id, Media.user_id.in_(part)
            )
        ):
            if owner is not None:
                media.append((media_id, owner))
    delete_many(session, actor, account, old_ids)
    stamp = now(session)
    rows = [
        _new_row(account, entry.data, extension, license_id, entry.enabled, directory_id, stamp)
        for _s, entry, directory_id, extension, license_id in todo
    ]
    new_ids = _insert_new(session, account, rows)
    moved = dict(zip(old_ids, new_ids, strict=True))
    if media:
        session.execute(
            update(MEDIA).where(MEDIA.c.id == bindparam("media_id")),
            [{"media_id": m, "user_id": moved[u]} for m, u in media],
        )
    created, relocated = [], []
    for (slot, entry, _d, _e, license_id), new_id in zip(todo, new_ids, strict=True):
        results[slot] = new_id
        keys.usernames[entry.data.username.casefold()] = new_id
        keys.emails[entry.data.email.casefold()] = new_id
        fields = [*CREATE_FIELDS, *(["license"] if license_id else [])]
        created.append((new_id, fields + ([] if entry.enabled else ["status"])))
        relocated.append((new_id, ["location_id", "phone_numbers"]))
    session.execute(
        insert(AUDIT_EVENTS),
        _audit_rows(actor, account.id, "user.created", created, session)
        + _audit_rows(actor, account.id, "user.relocated", relocated, session),
    )
    return results
