"""The phone number inventory: E.164 numbers owned by an account and bound to a location."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from switchboard.db.models import Account, PhoneNumber
from switchboard.portal import audit
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict, NotFound, ValidationFailed
from switchboard.portal.locations import get_location
from switchboard.portal.schemas import NumberPatch, NumbersIn


def list_numbers(
    session: Session,
    actor: Actor,
    account: Account,
    *,
    status: str | None = None,
    location_id: int | None = None,
) -> list[PhoneNumber]:
    actor.require_read(account.id)
    query = select(PhoneNumber).where(PhoneNumber.account_id == account.id)
    if status is not None:
        query = query.where(PhoneNumber.status == status)
    if location_id is not None:
        query = query.where(PhoneNumber.location_id == location_id)
    return list(session.scalars(query.order_by(PhoneNumber.e164)))


def get_number(session: Session, actor: Actor, account: Account, number_id: int) -> PhoneNumber:
    actor.require_read(account.id)
    number = session.scalar(
        select(PhoneNumber).where(PhoneNumber.account_id == account.id, PhoneNumber.id == number_id)
    )
    if number is None:
        raise NotFound(
            f"number {number_id} not found in account '{account.slug}'", code="number_not_found"
        )
    return number


def add_numbers(
    session: Session, actor: Actor, account: Account, data: NumbersIn
) -> list[PhoneNumber]:
    """Add numbers to the inventory; ported numbers arrive as ``porting``. All or nothing."""
    actor.require_write(account.id)
    location = get_location(session, actor, account, data.location_id)
    seen: set[str] = set()
    for e164 in data.numbers:
        if e164 in seen:
            raise ValidationFailed(f"{e164} is listed twice", field="numbers")
        seen.add(e164)
    taken = list(session.scalars(select(PhoneNumber.e164).where(PhoneNumber.e164.in_(seen))))
    if taken:
        raise Conflict(
            f"{', '.join(sorted(taken))} already in the inventory; numbers are unique"
            " across the whole system",
            field="numbers",
            code="number_exists",
        )
    added = []
    for e164 in data.numbers:
        number = PhoneNumber(
            account_id=account.id,
            e164=e164,
            location_id=location.id,
            status=data.status,
            created_at=now(session),
        )
        session.add(number)
        added.append(number)
    session.flush()
    for number in added:
        audit.record(
            session,
            actor,
            "number.added",
            account_id=account.id,
            object_type="number",
            object_id=number.e164,
            fields=["location_id", "status"],
        )
    return added


def update_number(
    session: Session, actor: Actor, account: Account, number_id: int, patch: NumberPatch
) -> PhoneNumber:
    actor.require_write(account.id)
    number = get_number(session, actor, account, number_id)
    changed = []
    if patch.status == "available" and number.status != "available":
        if number.status != "porting":
            raise Conflict(
                f"{number.e164} is {number.status}; only a porting number can be"
                " marked available (port completed)",
                field="status",
            )
        number.status = "available"
        changed.append("status")
    if patch.location_id is not None and patch.location_id != number.location_id:
        if number.user_id is not None:
            raise Conflict(
                f"{number.e164} is assigned; unassign it before moving it", field="location_id"
            )
        number.location_id = get_location(session, actor, account, patch.location_id).id
        changed.append("location_id")
    if changed:
        audit.record(
            session,
            actor,
            "number.updated",
            account_id=account.id,
            object_type="number",
            object_id=number.e164,
            fields=changed,
        )
    return number


def remove_number(session: Session, actor: Actor, account: Account, number_id: int) -> None:
    actor.require_write(account.id)
    number = get_number(session, actor, account, number_id)
    if number.user_id is not None:
        raise Conflict(
            f"{number.e164} is assigned to a user; unassign it first", code="number_in_use"
        )
    session.delete(number)
    audit.record(
        session,
        actor,
        "number.removed",
        account_id=account.id,
        object_type="number",
        object_id=number.e164,
    )


# What a number is once no user holds it: back in the inventory.
RELEASED = {"user_id": None, "status": "available"}


def release(number: PhoneNumber) -> None:
    for name, value in RELEASED.items():
        setattr(number, name, value)


def release_held_by(session: Session, account_id: int, user_ids: Sequence[int]) -> None:
    """``release`` for every number the users hold, in one statement."""
    session.execute(
        update(PhoneNumber)
        .where(PhoneNumber.account_id == account_id, PhoneNumber.user_id.in_(user_ids))
        .values(RELEASED)
        .execution_options(synchronize_session="evaluate")
    )
