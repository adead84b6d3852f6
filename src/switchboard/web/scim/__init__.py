"""The SCIM 2.0 endpoint: ``/scim/v2/{account}/`` (switchboard.scim does the work). Its request
log and its rate and body limits wrap it as a middleware (``request_log``)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from switchboard.bootstrap import Container
from switchboard.web.scim import discovery, groups, users
from switchboard.web.scim.batching import CreateQueue

PREFIX = "/scim/v2/{account}"
MODULES = (discovery, users, groups)


def install(app: FastAPI, container: Container) -> None:
    app.state.scim_creates = CreateQueue(container)
    # Not in the OpenAPI document: the endpoint is described by its own discovery resources.
    scim = APIRouter(prefix=PREFIX, include_in_schema=False)
    for module in MODULES:
        scim.include_router(module.router)
    app.include_router(scim)


def routes() -> list[tuple[str, str]]:
    """Every (method, path) the endpoint serves."""
    return sorted(
        (method, PREFIX + route.path)
        for module in MODULES
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    )
