"""/scim/v2/{account}/ServiceProviderConfig, /ResourceTypes and /Schemas (RFC 7644 4)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from switchboard.scim import discovery
from switchboard.scim.errors import ScimError, not_found
from switchboard.web.deps import container
from switchboard.web.scim.context import open_account
from switchboard.web.scim.responses import ScimResponse

router = APIRouter()


@router.get("/ServiceProviderConfig")
def service_provider_config(request: Request, account: str) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
    return ScimResponse(discovery.service_provider_config(ctx.base_url))


@router.get("/ResourceTypes")
def resource_types(request: Request, account: str) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        found = discovery.resource_types(ctx.source, ctx.base_url)
    return ScimResponse(discovery.list_response(found))


@router.get("/ResourceTypes/{name}")
def resource_type(request: Request, account: str, name: str) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        found = discovery.resource_types(ctx.source, ctx.base_url)
    for item in found:
        if item["id"] == name:
            return ScimResponse(item)
    raise not_found(f"no resource type {name}; this endpoint serves User and Group")


@router.get("/Schemas")
def schemas(request: Request, account: str) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        found = discovery.schemas(ctx.source, ctx.base_url)
    return ScimResponse(discovery.list_response(found))


@router.get("/Schemas/{urn}")
def schema(request: Request, account: str, urn: str) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        found = discovery.schemas(ctx.source, ctx.base_url)
    for item in found:
        if item["id"] == urn:
            return ScimResponse(item)
    raise not_found(f"no schema {urn} at this endpoint")


@router.post("/.search")
def search_everything(request: Request, account: str) -> Response:
    """Searching users and groups at once (RFC 7644 3.4.3) is not offered: 501, as the RFC
    allows, pointing at the searches that are."""
    with container(request).unit_of_work() as session:
        open_account(request, session, account)
    raise ScimError(
        501, "search users and groups separately: POST /Users/.search or /Groups/.search"
    )
