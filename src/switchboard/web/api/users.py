"""/api/v1/accounts/{account}/users"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from switchboard.portal import users as service
from switchboard.portal.schemas import UserIn, UserPatch
from switchboard.portal.validation import NO_CONTROL_PATTERN
from switchboard.schemas.portal_out import UserOut, UserPageOut
from switchboard.web.deps import DB, Caller, Offset, PathId, QueryId, ReadAccount, WriteAccount

router = APIRouter(prefix="/accounts/{account}/users", tags=["users"])


@router.get("")
def list_users(
    account: ReadAccount,
    session: DB,
    actor: Caller,
    search: Annotated[
        str | None, Query(max_length=200, json_schema_extra={"pattern": NO_CONTROL_PATTERN})
    ] = None,
    location_id: QueryId = None,
    status: Literal["active", "disabled_in_directory"] | None = None,
    source: Literal["local", "directory"] | None = None,
    sort: Literal["name", "email", "extension", "location", "status"] = "name",
    order: Literal["asc", "desc"] = "asc",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> UserPageOut:
    """A page of users, filtered and sorted (then by id, so pages never overlap)."""
    page = service.list_users(
        session,
        actor,
        account,
        search=search,
        location_id=location_id,
        status=status,
        source=source,
        sort=sort,
        descending=order == "desc",
        limit=limit,
        offset=offset,
    )
    return UserPageOut(
        items=[UserOut.of(u) for u in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, account: WriteAccount, session: DB, actor: Caller) -> UserOut:
    """Create a local user. ``extension`` is picked from the dial plan when omitted."""
    return UserOut.of(service.create_user(session, actor, account, body))


@router.get("/{user_id}")
def get_user(user_id: PathId, account: ReadAccount, session: DB, actor: Caller) -> UserOut:
    return UserOut.of(service.get_user(session, actor, account, user_id))


@router.patch("/{user_id}")
def update_user(
    user_id: PathId, body: UserPatch, account: WriteAccount, session: DB, actor: Caller
) -> UserOut:
    """Change a user. Directory users' names, email, username and location are read-only (409)."""
    return UserOut.of(service.update_user(session, actor, account, user_id, body))


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(user_id: PathId, account: WriteAccount, session: DB, actor: Caller) -> Response:
    service.delete_user(session, actor, account, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
