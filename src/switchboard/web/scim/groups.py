"""/scim/v2/{account}/Groups: create, list, read, replace, patch and delete groups.

Each route opens its own unit of work and commits before it answers. A PATCH answers 204 with
the new ETag (as Entra and Okta expect for groups), so adding one member to a large group
never reads the others; asking for ``attributes`` or ``excludedAttributes`` gets the group.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from switchboard.scim import group_list, groups, resource_lists
from switchboard.scim.listing import list_query
from switchboard.web.deps import container
from switchboard.web.scim.context import (
    ScimContext,
    json_body,
    note,
    open_account,
    search_parameters,
)
from switchboard.web.scim.responses import ScimResponse, resource_response

router = APIRouter()


def _resource(request: Request, ctx: ScimContext, row: Any) -> dict[str, Any]:
    params = request.query_params
    wanted = group_list.wants_members(params.get("attributes"), params.get("excludedAttributes"))
    members = groups.members_of(ctx.session, ctx.account, row) if wanted else None
    return groups.render(row, ctx.base_url, members)


@router.post("/Groups")
def create_group(request: Request, account: str, body: Any = Depends(json_body)) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        if isinstance(body, dict):
            note(request, str(body.get("displayName") or "")[:254] or None, None)
        outcome = groups.create(session, ctx.account, body)
        note(request, outcome.row.display_name, outcome.change)
        resource = _resource(request, ctx, outcome.row)
    return resource_response(request, 201, resource, "Group", created=True)


@router.get("/Groups")
def list_groups(request: Request, account: str) -> Response:
    return _list(request, account, dict(request.query_params))


@router.post("/Groups/.search")
def search_groups(request: Request, account: str, body: Any = Depends(json_body)) -> Response:
    return _list(request, account, search_parameters(body))


def _list(request: Request, account: str, params: dict[str, Any]) -> Response:
    query = list_query(params, "Group")
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        found = resource_lists.list_groups(session, ctx.account, ctx.base_url, query)
    return ScimResponse(found)


@router.get("/Groups/{group_id}")
def read_group(request: Request, account: str, group_id: str) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        row = groups.get(session, ctx.account, group_id)
        note(request, row.display_name, None)
        resource = _resource(request, ctx, row)
    return resource_response(request, 200, resource, "Group")


@router.put("/Groups/{group_id}")
def replace_group(
    request: Request, account: str, group_id: str, body: Any = Depends(json_body)
) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        outcome = groups.replace_group(
            session, ctx.account, group_id, body, request.headers.get("if-match")
        )
        note(request, outcome.row.display_name, outcome.change)
        resource = _resource(request, ctx, outcome.row)
    return resource_response(request, 200, resource, "Group")


@router.patch("/Groups/{group_id}")
def patch_group(
    request: Request, account: str, group_id: str, body: Any = Depends(json_body)
) -> Response:
    params = request.query_params
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        outcome = groups.patch(
            session, ctx.account, group_id, body, request.headers.get("if-match")
        )
        note(request, outcome.row.display_name, outcome.change)
        if "attributes" not in params and "excludedAttributes" not in params:
            return Response(status_code=204, headers={"ETag": groups.etag(outcome.row)})
        resource = _resource(request, ctx, outcome.row)
    return resource_response(request, 200, resource, "Group")


@router.delete("/Groups/{group_id}")
def delete_group(request: Request, account: str, group_id: str) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        row = groups.delete(session, ctx.account, group_id, request.headers.get("if-match"))
        note(request, row.display_name, "deleted")
    return Response(status_code=204)
