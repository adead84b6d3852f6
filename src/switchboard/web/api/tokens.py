"""/api/v1/me and /api/v1/tokens: the caller and its API tokens."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from switchboard.db.models import ApiToken, Principal
from switchboard.portal import api_tokens
from switchboard.portal.errors import Unauthorized
from switchboard.portal.schemas import Name
from switchboard.web.deps import DB, Caller, PathId

router = APIRouter(tags=["tokens"])


class MeOut(BaseModel):
    id: int
    email: str
    role: str
    account_id: int | None


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    expires_in_days: int | None = Field(default=90, ge=1, le=3650)


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, t: ApiToken) -> TokenOut:
        return cls(
            id=t.id,
            name=t.name,
            created_at=t.created_at,
            expires_at=t.expires_at,
            revoked_at=t.revoked_at,
            last_used_at=t.last_used_at,
        )


class IssuedTokenOut(TokenOut):
    token: str = Field(description="Shown once; only a hash is kept")


def _me(session: DB, actor: Caller) -> Principal:
    principal = session.get(Principal, actor.principal_id) if actor.principal_id else None
    if principal is None:
        raise Unauthorized("no signed-in admin")
    return principal


@router.get("/me")
def me(session: DB, actor: Caller) -> MeOut:
    p = _me(session, actor)
    return MeOut(id=p.id, email=p.email, role=p.role, account_id=p.account_id)


@router.get("/tokens")
def list_tokens(session: DB, actor: Caller) -> list[TokenOut]:
    return [TokenOut.of(t) for t in api_tokens.list_tokens(session, _me(session, actor))]


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def issue_token(body: TokenIn, session: DB, actor: Caller) -> IssuedTokenOut:
    from datetime import timedelta

    expires = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    issued = api_tokens.issue_token(
        session, actor, _me(session, actor), name=body.name, expires_in=expires
    )
    return IssuedTokenOut(token=issued.token, **TokenOut.of(issued.record).model_dump())


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: PathId, session: DB, actor: Caller) -> Response:
    api_tokens.revoke_token(session, actor, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
