"""/scim/v2/{account}/Users: create, read, replace, patch and delete users.

Each route opens its own unit of work and commits before it answers, so a client never hears
"created" of a change that did not last.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from switchboard.scim import groups, users
from switchboard.web.deps import container
from switchboard.web.scim.context import json_body, note, open_account
from switchboard.web.scim.responses import ScimResponse

router = APIRouter()


def _answer(status: int, resource: dict[str, Any], *, location: bool = False) -> Response:
    headers = {"ETag": resource["meta"]["version"]}
    if location:
        headers["Location"] = resource["meta"]["location"]
    return ScimResponse(resource, status_code=status, headers=headers)


@router.post("/Users")
def create_user(request: Request, account: str, body: Any = Depends(json_body)) -> Response:
    with container(request).unit_of_work() as session:
        ctx = open_account(request, session, account)
        if isinstance(body, dict):
            note(request, str(body.get("userName") or "")[:254] or None, None)
        outcome = users.create(session, ctx.account, ctx.source, body)
        note(request, outcome.row.user_name, outcome.change)
        resource = users.render(
            outcome.row, outcome.portal, ctx.location("Users", outcome.row.id), ctx.source
        )
    return _answer(201, resource, location=True)


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
    return _answer(200, resource)


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
    return _answer(200, resource)


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
    return _answer(200, resource)


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
