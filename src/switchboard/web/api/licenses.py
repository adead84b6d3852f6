"""/api/v1/accounts/{account}/licenses"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from switchboard.portal import licenses as service
from switchboard.portal.schemas import LicenseIn, LicensePatch
from switchboard.schemas.portal_out import LicenseOut
from switchboard.web.deps import DB, Caller, PathId, ReadAccount, WriteAccount

router = APIRouter(prefix="/accounts/{account}/licenses", tags=["licenses"])


@router.get("")
def list_licenses(account: ReadAccount, session: DB, actor: Caller) -> list[LicenseOut]:
    used = service.usage(session, account)
    return [
        LicenseOut.of(lt, used.get(lt.id, 0))
        for lt in service.list_licenses(session, actor, account)
    ]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_license(
    body: LicenseIn, account: WriteAccount, session: DB, actor: Caller
) -> LicenseOut:
    return LicenseOut.of(service.create_license(session, actor, account, body), 0)


@router.get("/{license_id}")
def get_license(license_id: PathId, account: ReadAccount, session: DB, actor: Caller) -> LicenseOut:
    lt = service.get_license(session, actor, account, license_id)
    return LicenseOut.of(lt, service.seats_used(session, lt.id))


@router.patch("/{license_id}")
def update_license(
    license_id: PathId, body: LicensePatch, account: WriteAccount, session: DB, actor: Caller
) -> LicenseOut:
    lt = service.update_license(session, actor, account, license_id, body)
    return LicenseOut.of(lt, service.seats_used(session, lt.id))


@router.delete("/{license_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_license(
    license_id: PathId, account: WriteAccount, session: DB, actor: Caller
) -> Response:
    service.delete_license(session, actor, account, license_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
