"""The rules every write of users keeps, for one user or a batch of 100,000 alike.

Unique keys are checked against ``AccountKeys``, a snapshot of the keys a change could collide
with, loaded for one user or for a whole batch; extensions come from one allocator; a new
user's row and the fields its audit event names have one shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.db.lookups import rows_matching_any
from switchboard.db.models import Account, Location, User
from switchboard.portal.errors import Conflict
from switchboard.portal.locations import location_not_found

# Entra ID is the master of these on directory users; only the directory sync may change them.
DIRECTORY_OWNED = ("username", "first_name", "last_name", "email", "location_id")
CREATE_FIELDS = ("username", "first_name", "last_name", "email", "location_id", "extension")
DISABLED = "disabled_in_directory"


@dataclass(frozen=True, slots=True)
class DirectoryValues:
    """The fields a user's keys and place come from. From a directory sync they are already
    held to the portal's rules by the sync's mapping (a 100,000-user reconcile does not
    validate each value twice)."""

    username: str
    first_name: str
    last_name: str
    email: str
    location_id: int


def status_of(enabled: bool) -> str:
    """A directory user disabled in Entra ID keeps its license, flagged."""
    return "active" if enabled else DISABLED


def taken(label: str) -> Conflict:
    return Conflict(f"another user of this account already has {label}", field=label)


@dataclass
class Extensions:
    """Hands out the account's next free extensions: the successors of the highest one in use,
    then (the dial plan's end reached) the gaps, for which the extensions in use are read
    once. One user or a run's batches alike."""

    account_id: int
    length: int
    highest: int | None
    # Once the dial plan's end is reached: one byte per extension of the plan, 1 while free
    # (a 6-digit plan in 900 KB, where a set of its extensions took 100 MB), and where the
    # search for the next gap goes on from.
    _free: bytearray | None = None
    _cursor: int = 0
    # The first extension handed out after ``highest``: the ones up to ``highest`` are taken.
    _handed_from: int | None = None

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
        # Start at 1 followed by zeros: extensions starting with 0 or 9 often clash with dial-outs.
        first, end = 10 ** (self.length - 1), 10**self.length
        candidate = first if self.highest is None else self.highest + 1
        if first <= candidate < end:
            if self._handed_from is None:
                self._handed_from = candidate
            self.highest = candidate
            return str(candidate)
        if self._free is None:
            self._free = self._free_extensions(session, first, end)
        at = self._free.find(1, self._cursor)
        if at >= 0:
            self._free[at] = 0
            self._cursor = at + 1
            return str(first + at)
        self._cursor = len(self._free)  # used up: the next ask needs no search
        raise Conflict(
            "every extension of the dial plan is in use",
            field="extension",
            code="extensions_exhausted",
        )

    def _free_extensions(self, session: Session, first: int, end: int) -> bytearray:
        """Which extensions of the plan are free: the ones in use read once, in a stream."""
        free = bytearray(b"\x01") * (end - first)
        rows = session.scalars(
            select(User.extension)
            .where(User.account_id == self.account_id)
            .execution_options(yield_per=10_000)
        )
        for extension in rows:
            if len(extension) == self.length and extension.isdigit():
                free[int(extension) - first] = 0
        # Handed out in order but perhaps not written yet.
        if self._handed_from is not None and self.highest is not None:
            start, stop = self._handed_from - first, self.highest - first + 1
            free[start:stop] = bytes(stop - start)
        return free


def next_free_extension(session: Session, account: Account) -> str:
    return Extensions.load(session, account).next_free(session)


def check_extension_free(
    session: Session, account: Account, extension: str, keep_id: int | None
) -> None:
    """An extension chosen by hand (the allocator's are free by construction)."""
    query = select(User.id).where(User.account_id == account.id, User.extension == extension)
    if keep_id is not None:
        query = query.where(User.id != keep_id)
    if session.scalar(query) is not None:
        raise taken("extension")


@dataclass
class AccountKeys:
    """The unique keys a change of users could collide with, so each check is a set lookup.
    ``load`` reads the users holding any of the given usernames, emails or directory ids (one
    user's change reads a row or two; a delta round of 1,000 changes 1,000 rows, not 100,000),
    and the extensions once something is created."""

    account: Account
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
            account,
            set(session.scalars(select(Location.id).where(Location.account_id == account.id))),
            {},
            {},
            set(),
            extensions,
        )
        rows = rows_matching_any(
            session,
            (User.id, User.username_key, User.email_key, User.directory_id),
            account.id,
            [
                (User.username_key, [v.username.casefold() for v in values]),
                (User.email_key, [v.email.casefold() for v in values]),
                (User.directory_id, directory_ids),
            ],
        )
        for user_id, username_key, email_key, directory_id in rows:
            keys.hold(user_id, username_key, email_key, directory_id)
        return keys

    def hold(
        self, user_id: int, username_key: str, email_key: str, directory_id: str | None
    ) -> None:
        """The keys are the user's from now on: later checks of the batch see them taken."""
        self.usernames[username_key] = user_id
        self.emails[email_key] = user_id
        if directory_id:
            self.directory_ids.add(directory_id)

    def check_free(self, data: DirectoryValues, user_id: int | None) -> None:
        """The user (None: a new one) may hold these values."""
        self.check_key("username", data.username, user_id)
        self.check_key("email", data.email, user_id)
        if data.location_id not in self.locations:
            raise location_not_found(self.account, data.location_id)

    def check_key(self, label: str, value: str, user_id: int | None) -> None:
        """Nobody else holds this username or email (``label``), ignoring case."""
        holders = self.usernames if label == "username" else self.emails
        if holders.get(value.casefold(), user_id) != user_id:
            raise taken(label)

    def check_new(self, data: DirectoryValues, directory_id: str | None) -> None:
        self.check_free(data, None)
        if directory_id is not None and directory_id in self.directory_ids:
            raise Conflict(
                "another user is already synced from this Entra ID user", field="directory_id"
            )


def named(data: DirectoryValues) -> dict[str, object]:
    """The columns of a user's names, with the keys its uniqueness is checked on."""
    return {
        "username": data.username,
        "username_key": data.username.casefold(),
        "first_name": data.first_name,
        "last_name": data.last_name,
        "email": data.email,
        "email_key": data.email.casefold(),
    }


def new_row(
    account_id: int,
    data: DirectoryValues,
    *,
    extension: str,
    license_id: int | None,
    status: str,
    directory_id: str | None,
    stamp: datetime,
) -> dict[str, object]:
    """A new user's row: what ``User(**row)`` or a bulk insert writes."""
    return {
        "account_id": account_id,
        **named(data),
        "location_id": data.location_id,
        "extension": extension,
        "license_id": license_id,
        "status": status,
        "source": "directory" if directory_id is not None else "local",
        "directory_id": directory_id,
        "created_at": stamp,
        "updated_at": stamp,
    }


def created_fields(row: dict[str, object]) -> list[str]:
    """What a new user's audit event names: every field set, the license and the disabled
    flag when there are."""
    fields = list(CREATE_FIELDS)
    if row["license_id"] is not None:
        fields.append("license")
    if row["status"] != "active":
        fields.append("status")
    return fields
