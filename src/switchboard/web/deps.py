"""Request-scoped dependencies: the unit of work, the caller, and the addressed account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.db.models import Account
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Actor
from switchboard.portal.api_tokens import authenticate_token
from switchboard.portal.errors import Unauthorized
from switchboard.portal.principals import actor_for
from switchboard.portal.validation import MAX_ID


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def db(request: Request) -> Iterator[Session]:
    with container(request).unit_of_work() as session:
        yield session


DB = Annotated[Session, Depends(db)]

# Ids in the path and the query string: out-of-range ids are a 422 naming the parameter.
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
# Paging offsets: past the last row is an empty page; past MAX_ID is a 422, never an overflow.
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]


def api_actor(request: Request, session: DB) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "send an API token as 'Authorization: Bearer <token>' (create one with"
            " 'switchboard admin create')",
            code="missing_token",
        )
    return actor_for(authenticate_token(session, token.strip()))


Caller = Annotated[Actor, Depends(api_actor)]


def readable_account(account: str, session: DB, actor: Caller) -> Account:
    return get_account(session, actor, account)


def writable_account(account: str, session: DB, actor: Caller) -> Account:
    return get_account(session, actor, account, write=True)


ReadAccount = Annotated[Account, Depends(readable_account)]
WriteAccount = Annotated[Account, Depends(writable_account)]


def public_base(request: Request) -> str:
    """The portal's address as clients reach it: the configured public URL, else this
    request's own base URL."""
    configured = container(request).settings.public_url
    return configured or str(request.base_url).rstrip("/")
