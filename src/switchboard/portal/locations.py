"""Locations and their emergency (E911) addresses."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, Location, PhoneNumber, User
from switchboard.portal import audit
from switchboard.portal.actors import Actor
from switchboard.portal.addresses import checked_address
from switchboard.portal.errors import Conflict, NotFound
from switchboard.portal.schemas import AddressIn, LocationIn, LocationPatch


def list_locations(session: Session, actor: Actor, account: Account) -> list[Location]:
    actor.require_read(account.id)
    query = select(Location).where(Location.account_id == account.id).order_by(Location.name_key)
    return list(session.scalars(query))


def get_location(session: Session, actor: Actor, account: Account, location_id: int) -> Location:
    actor.require_read(account.id)
    # session.get answers from the identity map when it can: bulk user changes reuse locations.
    location = session.get(Location, location_id)
    if location is None or location.account_id != account.id:
        raise location_not_found(account, location_id)
    return location


def location_not_found(account: Account, location_id: int) -> NotFound:
    return NotFound(
        f"location {location_id} not found in account '{account.slug}'",
        field="location_id",
        code="location_not_found",
    )


def find_location_by_name(session: Session, account: Account, name: str) -> Location | None:
    return session.scalar(
        select(Location).where(
            Location.account_id == account.id, Location.name_key == name.strip().casefold()
        )
    )


def _check_name_free(session: Session, account: Account, name: str, keep_id: int | None) -> None:
    existing = find_location_by_name(session, account, name)
    if existing is not None and existing.id != keep_id:
        raise Conflict(
            f"a location named '{existing.name}' already exists in this account", field="name"
        )


def _apply_address(location: Location, address: AddressIn) -> list[str]:
    address = checked_address(address)
    changed = []
    for field in ("street", "city", "region", "postal_code", "country"):
        value = getattr(address, field)
        if getattr(location, field) != value:
            setattr(location, field, value)
            changed.append(f"address.{field}")
    return changed


def create_location(session: Session, actor: Actor, account: Account, data: LocationIn) -> Location:
    actor.require_write(account.id)
    _check_name_free(session, account, data.name, None)
    location = Location(
        account_id=account.id,
        name=data.name,
        name_key=data.name.casefold(),
        time_zone=data.time_zone,
        street="",
        city="",
        region="",
        postal_code="",
        country="",
    )
    _apply_address(location, data.address)
    session.add(location)
    session.flush()
    audit.record(
        session,
        actor,
        "location.created",
        account_id=account.id,
        object_type="location",
        object_id=location.id,
        fields=["name", "address", "time_zone"],
    )
    return location


def update_location(
    session: Session, actor: Actor, account: Account, location_id: int, patch: LocationPatch
) -> Location:
    actor.require_write(account.id)
    location = get_location(session, actor, account, location_id)
    changed: list[str] = []
    if patch.name is not None and patch.name != location.name:
        _check_name_free(session, account, patch.name, location.id)
        location.name = patch.name
        location.name_key = patch.name.casefold()
        changed.append("name")
    if patch.address is not None:
        changed += _apply_address(location, patch.address)
    if patch.time_zone is not None and patch.time_zone != location.time_zone:
        location.time_zone = patch.time_zone
        changed.append("time_zone")
    if changed:
        audit.record(
            session,
            actor,
            "location.updated",
            account_id=account.id,
            object_type="location",
            object_id=location.id,
            fields=changed,
        )
    return location


def delete_location(session: Session, actor: Actor, account: Account, location_id: int) -> None:
    actor.require_write(account.id)
    location = get_location(session, actor, account, location_id)
    users = session.scalar(select(func.count()).where(User.location_id == location.id))
    numbers = session.scalar(select(func.count()).where(PhoneNumber.location_id == location.id))
    if users or numbers:
        raise Conflict(
            f"location '{location.name}' still has {users} user(s) and {numbers} number(s);"
            " move or delete them first",
            code="location_in_use",
        )
    session.delete(location)
    audit.record(
        session,
        actor,
        "location.deleted",
        account_id=account.id,
        object_type="location",
        object_id=location_id,
    )
