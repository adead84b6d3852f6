"""Portal users: the one write path for every change to a user, whatever its origin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, LicenseType, Media, PhoneNumber, User
from switchboard.portal import audit, events, validation
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict, NotFound, ValidationFailed
from switchboard.portal.events import UserChanged
from switchboard.portal.licenses import claim_seat, find_license
from switchboard.portal.locations import get_location
from switchboard.portal.numbers import release
from switchboard.portal.schemas import UserIn, UserPatch

# Entra ID is the master of these on directory users; only the directory sync may change them.
DIRECTORY_OWNED = ("username", "first_name", "last_name", "email", "location_id")


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
    limit: int = 50,
    offset: int = 0,
) -> UserPage:
    actor.require_read(account.id)
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
    items = session.scalars(
        query.order_by(User.last_name, User.first_name, User.id).limit(limit).offset(offset)
    )
    return UserPage(items=list(items), total=total, limit=limit, offset=offset)


def _check_unique(
    session: Session, account: Account, column: str, value: str, keep_id: int | None, label: str
) -> None:
    col = getattr(User, column)
    query = select(User.id).where(User.account_id == account.id, col == value)
    if keep_id is not None:
        query = query.where(User.id != keep_id)
    if session.scalar(query) is not None:
        raise Conflict(f"another user of this account already has {label}", field=label.split()[0])


def next_free_extension(session: Session, account: Account) -> str:
    length = account.extension_length
    # Start at 1 followed by zeros: extensions starting with 0 or 9 often clash with dial-outs.
    first, end = 10 ** (length - 1), 10**length
    highest = session.scalar(select(func.max(User.extension)).where(User.account_id == account.id))
    # Fast path for bulk provisioning: the successor of the highest extension is always free.
    if highest is None:
        return str(first)
    if highest.isdigit() and first <= int(highest) + 1 < end:
        return str(int(highest) + 1)
    used = set(session.scalars(select(User.extension).where(User.account_id == account.id)))
    for candidate in range(first, end):
        ext = str(candidate)
        if ext not in used:
            return ext
    raise Conflict(
        "every extension of the dial plan is in use", field="extension", code="extensions_exhausted"
    )


def _resolve_numbers(
    session: Session,
    account: Account,
    numbers: Sequence[str],
    location_id: int,
    user_id: int | None,
) -> list[PhoneNumber]:
    if len(set(numbers)) != len(numbers):
        raise ValidationFailed("a phone number is listed twice", field="phone_numbers")
    found = {
        n.e164: n
        for n in session.scalars(
            select(PhoneNumber).where(
                PhoneNumber.account_id == account.id, PhoneNumber.e164.in_(numbers)
            )
        )
    }
    resolved = []
    for e164 in numbers:
        number = found.get(e164)
        if number is None:
            raise ValidationFailed(
                f"{e164} is not in this account's number inventory; add it first",
                field="phone_numbers",
            )
        if number.location_id != location_id:
            raise ValidationFailed(
                f"{e164} belongs to location '{number.location.name}'; a user"
                " can only hold numbers of their own location",
                field="phone_numbers",
            )
        if number.status == "porting":
            raise Conflict(
                f"{e164} is still porting; assign it when the port completes",
                field="phone_numbers",
                code="number_porting",
            )
        if number.user_id is not None and number.user_id != user_id:
            raise Conflict(
                f"{e164} is already assigned to another user",
                field="phone_numbers",
                code="number_assigned",
            )
        resolved.append(number)
    return resolved


def _assign_numbers(
    user: User, current: Sequence[PhoneNumber], wanted: Sequence[PhoneNumber]
) -> bool:
    wanted_ids = {n.id for n in wanted}
    changed = False
    for number in current:
        if number.id not in wanted_ids:
            user.numbers.remove(number)
            release(number)
            changed = True
    for number in wanted:
        if number not in user.numbers:
            user.numbers.append(number)
            number.status = "assigned"
            changed = True
    user.numbers.sort(key=lambda n: n.e164)
    return changed


def create_user(
    session: Session,
    actor: Actor,
    account: Account,
    data: UserIn,
    *,
    directory_id: str | None = None,
) -> User:
    """Create a local user, or (from the directory sync only) a directory user."""
    actor.require_write(account.id)
    if directory_id is not None and not actor.directory:
        raise ValidationFailed(
            "only the directory sync can create directory users", field="directory_id"
        )
    location = get_location(session, actor, account, data.location_id)
    username = data.username or data.email
    _check_unique(session, account, "username_key", username.casefold(), None, "username")
    _check_unique(session, account, "email_key", data.email.casefold(), None, "email")
    if directory_id is not None:
        _check_unique(session, account, "directory_id", directory_id, None, "directory_id")
    if data.extension is not None:
        extension = validation.extension(data.extension, account.extension_length)
        _check_unique(session, account, "extension", extension, None, "extension")
    else:
        extension = next_free_extension(session, account)
    license_type: LicenseType | None = None
    if data.license:
        license_type = find_license(session, account, data.license)
        claim_seat(session, license_type, for_user_id=None)
    numbers = _resolve_numbers(session, account, data.phone_numbers, location.id, None)
    stamp = now(session)
    user = User(
        account_id=account.id,
        username=username,
        username_key=username.casefold(),
        first_name=data.first_name,
        last_name=data.last_name,
        email=data.email,
        email_key=data.email.casefold(),
        location_id=location.id,
        extension=extension,
        license_id=license_type.id if license_type else None,
        status="active",
        source="directory" if directory_id is not None else "local",
        directory_id=directory_id,
        created_at=stamp,
        updated_at=stamp,
    )
    # Setting the relationships directly spares a reload of the new row.
    user.location = location
    user.license = license_type
    user.numbers = []
    session.add(user)
    _assign_numbers(user, [], numbers)
    session.flush()
    fields = {"username", "first_name", "last_name", "email", "location_id", "extension"}
    if license_type:
        fields.add("license")
    if numbers:
        fields.add("phone_numbers")
    audit.record(
        session,
        actor,
        "user.created",
        account_id=account.id,
        object_type="user",
        object_id=user.id,
        fields=fields,
    )
    return user


def update_user(
    session: Session, actor: Actor, account: Account, user_id: int, patch: UserPatch
) -> User:
    actor.require_write(account.id)
    user = get_user(session, actor, account, user_id)
    given = patch.model_fields_set
    changed: list[str] = []

    def differs(field: str) -> bool:
        return field in given and getattr(patch, field) != getattr(user, field)

    if user.source == "directory" and not actor.directory:
        for field in DIRECTORY_OWNED:
            if differs(field):
                raise Conflict(
                    f"{field} is managed in Entra ID for this directory user; change it in"
                    " Entra ID and the next sync brings it here",
                    field=field,
                    code="managed_by_directory",
                )
    for field in ("first_name", "last_name", "username", "email"):
        value = getattr(patch, field)
        if field in given and value is None:
            raise ValidationFailed(f"{field} cannot be empty", field=field)
        if differs(field):
            assert isinstance(value, str)
            if field in ("username", "email"):
                _check_unique(session, account, f"{field}_key", value.casefold(), user.id, field)
                setattr(user, f"{field}_key", value.casefold())
            setattr(user, field, value)
            changed.append(field)

    location = user.location
    if "location_id" in given and patch.location_id is None:
        raise ValidationFailed("location_id cannot be empty", field="location_id")
    if differs("location_id"):
        assert patch.location_id is not None
        location = get_location(session, actor, account, patch.location_id)
    location_id = location.id

    current = list(user.numbers)
    if patch.phone_numbers is not None or location_id != user.location_id:
        wanted_e164 = (
            patch.phone_numbers if patch.phone_numbers is not None else [n.e164 for n in current]
        )
        if patch.phone_numbers is None and any(n.location_id != location_id for n in current):
            raise ValidationFailed(
                "the user holds numbers of their current location; send phone_numbers with"
                " numbers of the new location (or an empty list) in the same change",
                field="phone_numbers",
            )
        wanted = _resolve_numbers(session, account, wanted_e164, location_id, user.id)
        if location_id != user.location_id:
            user.location = location
            changed.append("location_id")
        if _assign_numbers(user, current, wanted):
            changed.append("phone_numbers")

    if "extension" in given:
        if patch.extension is None:
            raise ValidationFailed("extension cannot be empty", field="extension")
        if patch.extension != user.extension:
            extension = validation.extension(patch.extension, account.extension_length)
            _check_unique(session, account, "extension", extension, user.id, "extension")
            user.extension = extension
            changed.append("extension")

    if "license" in given:
        new_license: LicenseType | None = None
        if patch.license:
            new_license = find_license(session, account, patch.license)
            if new_license.id != user.license_id:
                claim_seat(session, new_license, for_user_id=user.id)
        if (new_license.id if new_license else None) != user.license_id:
            user.license = new_license
            changed.append("license")

    if changed:
        user.updated_at = now(session)
        session.flush()
        audit.record(
            session,
            actor,
            "user.updated",
            account_id=account.id,
            object_type="user",
            object_id=user.id,
            fields=changed,
        )
        events.emit(session, UserChanged(account.id, user.id, tuple(changed), actor.directory))
    return user


def set_directory_status(
    session: Session, actor: Actor, account: Account, user_id: int, *, enabled: bool
) -> User:
    """Flag a directory user disabled in Entra ID (it keeps its license), or clear the flag."""
    if not actor.directory:
        raise ValidationFailed(
            "only the directory sync can change the directory status", field="status"
        )
    user = get_user(session, actor, account, user_id)
    status = "active" if enabled else "disabled_in_directory"
    if user.status != status:
        user.status = status
        user.updated_at = now(session)
        audit.record(
            session,
            actor,
            "user.updated",
            account_id=account.id,
            object_type="user",
            object_id=user.id,
            fields=["status"],
        )
    return user


def unlink_from_directory(session: Session, actor: Actor, account: Account, user_id: int) -> User:
    """Turn a directory user into an ordinary local user: every field becomes editable here.

    Used when the account's directory registration is deleted; extension, numbers, license and
    media stay as they are.
    """
    actor.require_write(account.id)
    user = get_user(session, actor, account, user_id)
    if user.source != "directory":
        raise Conflict(
            f"user {user_id} is not linked to the directory", field="source", code="not_linked"
        )
    changed = ["source", "directory_id"]
    user.source = "local"
    user.directory_id = None
    if user.status == "disabled_in_directory":
        # The flag only means something while Entra ID owns the user.
        user.status = "active"
        changed.append("status")
    user.updated_at = now(session)
    session.flush()
    audit.record(
        session,
        actor,
        "user.unlinked",
        account_id=account.id,
        object_type="user",
        object_id=user.id,
        fields=changed,
    )
    return user


def delete_user(session: Session, actor: Actor, account: Account, user_id: int) -> None:
    """Delete a user: numbers go back to the inventory, the seat frees, media stays."""
    actor.require_write(account.id)
    user = get_user(session, actor, account, user_id)
    for number in list(user.numbers):
        release(number)
    # Media keeps its owner_name; only the link to the user goes.
    for media in session.scalars(select(Media).where(Media.user_id == user.id)):
        media.user_id = None
    session.flush()
    session.delete(user)
    session.flush()
    audit.record(
        session, actor, "user.deleted", account_id=account.id, object_type="user", object_id=user_id
    )


def count_users(session: Session, account: Account) -> int:
    return session.scalar(select(func.count()).where(User.account_id == account.id)) or 0
