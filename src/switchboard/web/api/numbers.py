"""/api/v1/accounts/{account}/numbers"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status

from switchboard.portal import numbers as service
from switchboard.portal.schemas import NumberPatch, NumbersIn
from switchboard.schemas.portal_out import NumberOut
from switchboard.web.deps import DB, Caller, PathId, QueryId, ReadAccount, WriteAccount

router = APIRouter(prefix="/accounts/{account}/numbers", tags=["numbers"])


@router.get("")
def list_numbers(
    account: ReadAccount,
    session: DB,
    actor: Caller,
    status: Literal["available", "assigned", "porting"] | None = None,
    location_id: QueryId = None,
) -> list[NumberOut]:
    found = service.list_numbers(session, actor, account, status=status, location_id=location_id)
    return [NumberOut.of(n) for n in found]


@router.post("", status_code=status.HTTP_201_CREATED)
def add_numbers(
    body: NumbersIn, account: WriteAccount, session: DB, actor: Caller
) -> list[NumberOut]:
    """Add numbers to the inventory (``status: porting`` for numbers being ported in)."""
    return [NumberOut.of(n) for n in service.add_numbers(session, actor, account, body)]


@router.get("/{number_id}")
def get_number(number_id: PathId, account: ReadAccount, session: DB, actor: Caller) -> NumberOut:
    return NumberOut.of(service.get_number(session, actor, account, number_id))


@router.patch("/{number_id}")
def update_number(
    number_id: PathId, body: NumberPatch, account: WriteAccount, session: DB, actor: Caller
) -> NumberOut:
    """Complete a port (``{"status": "available"}``) or move an unassigned number."""
    return NumberOut.of(service.update_number(session, actor, account, number_id, body))


@router.delete("/{number_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_number(number_id: PathId, account: WriteAccount, session: DB, actor: Caller) -> Response:
    service.remove_number(session, actor, account, number_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
