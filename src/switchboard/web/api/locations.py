"""/api/v1/accounts/{account}/locations"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from switchboard.portal import locations as service
from switchboard.portal.schemas import LocationIn, LocationPatch
from switchboard.schemas.portal_out import LocationOut
from switchboard.web.deps import DB, Caller, PathId, ReadAccount, WriteAccount

router = APIRouter(prefix="/accounts/{account}/locations", tags=["locations"])


@router.get("")
def list_locations(account: ReadAccount, session: DB, actor: Caller) -> list[LocationOut]:
    return [LocationOut.of(loc) for loc in service.list_locations(session, actor, account)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_location(
    body: LocationIn, account: WriteAccount, session: DB, actor: Caller
) -> LocationOut:
    return LocationOut.of(service.create_location(session, actor, account, body))


@router.get("/{location_id}")
def get_location(
    location_id: PathId, account: ReadAccount, session: DB, actor: Caller
) -> LocationOut:
    return LocationOut.of(service.get_location(session, actor, account, location_id))


@router.patch("/{location_id}")
def update_location(
    location_id: PathId, body: LocationPatch, account: WriteAccount, session: DB, actor: Caller
) -> LocationOut:
    return LocationOut.of(service.update_location(session, actor, account, location_id, body))


@router.delete("/{location_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_location(
    location_id: PathId, account: WriteAccount, session: DB, actor: Caller
) -> Response:
    service.delete_location(session, actor, account, location_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
