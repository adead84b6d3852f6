"""/scim/v2/{account}/Users: create, read, replace, patch and delete users.

Each route opens its own unit of work and commits before it answers, so a client never hears
"created" of a change that did not last.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from switchboard.scim import groups, resource_lists, users
from switchboard.scim.listing import list_query
from switchboard.web.deps import container
from switchboard.web.scim.batching import CreateQueue
from switchboard.web.scim.context import json_body, note, open_account, search_parameters
from switchboard.web.scim.responses import ScimResponse, resource_response

router = APIRouter()


def creates(request: Request) -> CreateQueue:
    queue: CreateQueue = request.app.state.scim_creates
    return queue


@router.post("/Users")
def create_user(request: Request, account: str, body: Any = Depends(json_body)) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        account_id, base_url = ctx.account.id, ctx.base_url
    if isinstance(body, dict):
        note(request, str(body.get("userName") or "")[:254] or None, None)
    # Written with the account's other creates in flight, in one transaction (batching).
    created = creates(request).create(account_id, body, base_url)
    note(request, created.subject, created.change)
    return resource_response(request, 201, created.resource, "User", created=True)


@router.get("/Users")
def list_users(request: Request, account: str) -> Response:
    return _list(request, account, dict(request.query_params))


@router.post("/Users/.search")
def search_users(request: Request, account: str, body: Any = Depends(json_body)) -> Response:
    return _list(request, account, search_parameters(body))


def _list(request: Request, account: str, params: dict[str, Any]) -> Response:
    query = list_query(params, "User")
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        found = resource_lists.list_users(session, ctx.account, ctx.source, ctx.base_url, query)
    return ScimResponse(found)


@router.get("/Users/{user_id}")
def read_user(request: Request, account: str, user_id: str) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        row = users.get(session, ctx.account, user_id)
        note(request, row.user_name, None)
        portal = (
            users.portal_user(session, ctx.account, row)
            if users.uses_portal_fields(ctx.source)
            else None
        )
        resource = users.render(row, portal, ctx.location("Users", row.id), ctx.source)
    return resource_response(request, 200, resource, "User")


@router.put("/Users/{user_id}")
def replace_user(
    request: Request, account: str, user_id: str, body: Any = Depends(json_body)
) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        outcome = users.replace_user(
            session, ctx.account, ctx.source, user_id, body, request.headers.get("if-match")
        )
        note(request, outcome.row.user_name, outcome.change)
        resource = users.render(
            outcome.row, outcome.portal, ctx.location("Users", outcome.row.id), ctx.source
        )
    return resource_response(request, 200, resource, "User")


@router.patch("/Users/{user_id}")
def patch_user(
    request: Request, account: str, user_id: str, body: Any = Depends(json_body)
) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        outcome = users.patch(
            session, ctx.account, ctx.source, user_id, body, request.headers.get("if-match")
        )
        note(request, outcome.row.user_name, outcome.change)
        resource = users.render(
            outcome.row, outcome.portal, ctx.location("Users", outcome.row.id), ctx.source
        )
    return resource_response(request, 200, resource, "User")


@router.delete("/Users/{user_id}")
def delete_user(request: Request, account: str, user_id: str) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        row = users.get(session, ctx.account, user_id)
        users.check_version(row, request.headers.get("if-match"))
        note(request, row.user_name, "deleted")
        groups.user_leaving(session, ctx.account, user_id)
        users.delete(session, ctx.account, ctx.source, user_id)
    return Response(status_code=204)
