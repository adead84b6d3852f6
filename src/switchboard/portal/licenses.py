"""License types with purchased seats; a seat is used by each user holding the license."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, LicenseType, User
from switchboard.portal import audit
from switchboard.portal.actors import Actor
from switchboard.portal.errors import Conflict, NotFound, ValidationFailed
from switchboard.portal.schemas import LicenseIn, LicensePatch
from switchboard.portal.validation import quote


def seats_used(session: Session, license_id: int) -> int:
    return session.scalar(select(func.count()).where(User.license_id == license_id)) or 0


def usage(session: Session, account: Account) -> dict[int, int]:
    rows = session.execute(
        select(User.license_id, func.count())
        .where(User.account_id == account.id, User.license_id.is_not(None))
        .group_by(User.license_id)
    )
    return {int(lid): int(count) for lid, count in rows if lid is not None}


def list_licenses(session: Session, actor: Actor, account: Account) -> list[LicenseType]:
    actor.require_read(account.id)
    query = select(LicenseType).where(LicenseType.account_id == account.id)
    return list(session.scalars(query.order_by(LicenseType.name_key)))


def get_license(session: Session, actor: Actor, account: Account, license_id: int) -> LicenseType:
    actor.require_read(account.id)
    found = session.scalar(
        select(LicenseType).where(
            LicenseType.account_id == account.id, LicenseType.id == license_id
        )
    )
    if found is None:
        raise NotFound(
            f"license {license_id} not found in account '{account.slug}'", code="license_not_found"
        )
    return found


def find_license(session: Session, account: Account, name: str) -> LicenseType:
    found = session.scalar(
        select(LicenseType).where(
            LicenseType.account_id == account.id, LicenseType.name_key == name.strip().casefold()
        )
    )
    if found is None:
        known = (
            ", ".join(
                lt.name
                for lt in session.scalars(
                    select(LicenseType).where(LicenseType.account_id == account.id)
                )
            )
            or "none yet"
        )
        raise ValidationFailed(
            f"license {quote(name)} does not exist in this account (known: {known})",
            field="license",
        )
    return found


def claim_seat(session: Session, license_type: LicenseType, *, for_user_id: int | None) -> None:
    """Fail clearly when every purchased seat is taken. Locks the license row on PostgreSQL."""
    session.execute(
        select(LicenseType.id).where(LicenseType.id == license_type.id).with_for_update()
    )
    query = select(func.count()).where(User.license_id == license_type.id)
    if for_user_id is not None:
        query = query.where(User.id != for_user_id)
    used = session.scalar(query) or 0
    if used >= license_type.seats:
        raise Conflict(
            f"all {license_type.seats} seats of license '{license_type.name}' are in use;"
            " buy more seats or unassign the license from another user",
            field="license",
            code="license_seats_exhausted",
        )


def create_license(
    session: Session, actor: Actor, account: Account, data: LicenseIn
) -> LicenseType:
    actor.require_write(account.id)
    existing = session.scalar(
        select(LicenseType.id).where(
            LicenseType.account_id == account.id, LicenseType.name_key == data.name.casefold()
        )
    )
    if existing is not None:
        raise Conflict(f"license '{data.name}' already exists in this account", field="name")
    license_type = LicenseType(
        account_id=account.id, name=data.name, name_key=data.name.casefold(), seats=data.seats
    )
    session.add(license_type)
    session.flush()
    audit.record(
        session,
        actor,
        "license.created",
        account_id=account.id,
        object_type="license",
        object_id=license_type.id,
        fields=["name", "seats"],
    )
    return license_type


def update_license(
    session: Session, actor: Actor, account: Account, license_id: int, patch: LicensePatch
) -> LicenseType:
    actor.require_write(account.id)
    license_type = get_license(session, actor, account, license_id)
    used = seats_used(session, license_type.id)
    if patch.seats < used:
        raise Conflict(
            f"{used} seats of '{license_type.name}' are assigned; unassign some before lowering"
            f" the seats to {patch.seats}",
            field="seats",
        )
    if patch.seats != license_type.seats:
        license_type.seats = patch.seats
        audit.record(
            session,
            actor,
            "license.updated",
            account_id=account.id,
            object_type="license",
            object_id=license_type.id,
            fields=["seats"],
        )
    return license_type


def delete_license(session: Session, actor: Actor, account: Account, license_id: int) -> None:
    actor.require_write(account.id)
    license_type = get_license(session, actor, account, license_id)
    used = seats_used(session, license_type.id)
    if used:
        raise Conflict(
            f"license '{license_type.name}' is assigned to {used} user(s)", code="license_in_use"
        )
    session.delete(license_type)
    audit.record(
        session,
        actor,
        "license.deleted",
        account_id=account.id,
        object_type="license",
        object_id=license_id,
    )
