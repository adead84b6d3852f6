"""Changes of one user by a person (API, admin UI, CLI): the portal's own fields, numbers and
license, under the rules of ``rules``; the fields Entra ID owns stay with the directory sync.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, LicenseType, PhoneNumber, User
from switchboard.portal import validation
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict, ValidationFailed
from switchboard.portal.licenses import claim_seat, find_license
from switchboard.portal.locations import get_location
from switchboard.portal.numbers import release
from switchboard.portal.schemas import UserIn, UserPatch
from switchboard.portal.users import writes
from switchboard.portal.users.queries import get_user
from switchboard.portal.users.rules import (
    DIRECTORY_OWNED,
    DISABLED,
    AccountKeys,
    DirectoryValues,
    check_extension_free,
    created_fields,
    new_row,
    next_free_extension,
    status_of,
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
    values = DirectoryValues(
        data.username or data.email, data.first_name, data.last_name, data.email, location.id
    )
    keys = AccountKeys.load(session, account, [values], [directory_id] if directory_id else [])
    keys.check_new(values, directory_id)
    if data.extension is not None:
        extension = validation.extension(data.extension, account.extension_length)
        check_extension_free(session, account, extension, None)
    else:
        extension = next_free_extension(session, account)
    license_type: LicenseType | None = None
    if data.license:
        license_type = find_license(session, account, data.license)
        claim_seat(session, license_type, for_user_id=None)
    numbers = _resolve_numbers(session, account, data.phone_numbers, location.id, None)
    row = new_row(
        account.id,
        values,
        extension=extension,
        license_id=license_type.id if license_type else None,
        status="active",
        directory_id=directory_id,
        stamp=now(session),
    )
    user = User(**row)
    # Setting the relationships directly spares a reload of the new row.
    user.location = location
    user.license = license_type
    user.numbers = []
    session.add(user)
    _assign_numbers(user, [], numbers)
    session.flush()
    fields = created_fields(row) + (["phone_numbers"] if numbers else [])
    writes.created(session, actor, account.id, [(user.id, fields)])
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
    keys: AccountKeys | None = None
    for field in ("first_name", "last_name", "username", "email"):
        value = getattr(patch, field)
        if field in given and value is None:
            raise ValidationFailed(f"{field} cannot be empty", field=field)
        if differs(field):
            assert isinstance(value, str)
            if field in ("username", "email"):
                if keys is None:
                    values = DirectoryValues(
                        patch.username or user.username,
                        user.first_name,
                        user.last_name,
                        patch.email or user.email,
                        user.location_id,
                    )
                    keys = AccountKeys.load(session, account, [values], [])
                keys.check_key(field, value, user.id)
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
            check_extension_free(session, account, extension, user.id)
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
        writes.changed(session, actor, account.id, [(user.id, changed)])
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
    status = status_of(enabled)
    if user.status != status:
        user.status = status
        user.updated_at = now(session)
        writes.changed(session, actor, account.id, [(user.id, ["status"])])
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
    if user.status == DISABLED:
        # The flag only means something while Entra ID owns the user.
        user.status = "active"
        changed.append("status")
    user.updated_at = now(session)
    session.flush()
    writes.changed(session, actor, account.id, [(user.id, changed)], action="user.unlinked")
    return user


def delete_user(session: Session, actor: Actor, account: Account, user_id: int) -> None:
    """Delete a user: numbers go back to the inventory, the seat frees, media stays."""
    actor.require_write(account.id)
    # Held while it is removed: the session's identity map is weak, and the audit entry takes
    # the user's name from it.
    user = get_user(session, actor, account, user_id)
    writes.remove(session, actor, account.id, [user.id])
