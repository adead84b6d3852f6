"""The SCIM 2.0 endpoint: ``/scim/v2/{account}/`` (switchboard.scim does the work)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from switchboard.web.scim import discovery, users


def install(app: FastAPI) -> None:
    scim = APIRouter(prefix="/scim/v2/{account}", include_in_schema=False)
    for module in (discovery, users):
        scim.include_router(module.router)
    app.include_router(scim)
