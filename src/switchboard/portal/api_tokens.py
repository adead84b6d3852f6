"""API tokens of operators and customer admins: issued once, stored as a SHA-256 digest,
checked in constant time, revoked by their owner or by whoever manages them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, ApiToken, Principal
from switchboard.portal import audit
from switchboard.portal.actors import Actor, Role
from switchboard.portal.clock_context import now
from switchboard.portal.errors import NotFound, Unauthorized

TOKEN_PREFIX = "sbt"  # noqa: S105 - a public marker, not a secret


def _sha256(value: str) -> str:
    # The secret is random and 256 bits long, so a plain digest is enough.
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    record: ApiToken


def issue_token(
    session: Session,
    actor: Actor,
    principal: Principal,
    *,
    name: str = "default",
    expires_in: timedelta | None = timedelta(days=90),
) -> IssuedToken:
    if actor.principal_id != principal.id:
        if principal.account_id is None:
            actor.require_provider()
        else:
            actor.require_write(principal.account_id)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    stamp = now(session)
    record = ApiToken(
        principal_id=principal.id,
        name=name,
        prefix=prefix,
        secret_hash=_sha256(secret),
        created_at=stamp,
        expires_at=stamp + expires_in if expires_in else None,
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor,
        "token.issued",
        account_id=principal.account_id,
        object_type="token",
        object_id=record.id,
        fields=["name", "expires_at"],
    )
    return IssuedToken(token=f"{TOKEN_PREFIX}_{prefix}_{secret}", record=record)


def authenticate_token(session: Session, token: str) -> Principal:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise Unauthorized(
            "malformed API token; send 'Authorization: Bearer sbt_...'", code="invalid_token"
        )
    record = session.scalar(select(ApiToken).where(ApiToken.prefix == parts[1]))
    expected = record.secret_hash if record is not None else _sha256("")
    matches = hmac.compare_digest(expected, _sha256(parts[2]))
    if record is None or not matches:
        raise Unauthorized("API token not recognised", code="invalid_token")
    stamp = now(session)
    if record.revoked_at is not None:
        raise Unauthorized("API token was revoked; create a new one", code="token_revoked")
    if record.expires_at is not None and record.expires_at <= stamp:
        raise Unauthorized("API token expired; create a new one", code="token_expired")
    if record.principal.disabled:
        raise Unauthorized("this admin is disabled", code="principal_disabled")
    record.last_used_at = stamp
    return record.principal


def list_tokens(session: Session, principal: Principal) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.principal_id == principal.id)
    return list(session.scalars(query.order_by(ApiToken.id)))


def revoke_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    record = session.get(ApiToken, token_id)
    if record is None or (
        actor.principal_id != record.principal_id
        and not (
            actor.role is Role.PROVIDER_ADMIN
            or (
                record.principal.account_id is not None
                and actor.can_write(record.principal.account_id)
            )
        )
    ):
        raise NotFound(f"token {token_id} not found", code="token_not_found")
    if record.revoked_at is None:
        record.revoked_at = now(session)
        audit.record(
            session,
            actor,
            "token.revoked",
            account_id=record.principal.account_id,
            object_type="token",
            object_id=record.id,
            fields=["revoked_at"],
        )
    return record


def list_scoped_tokens(session: Session, actor: Actor, account: Account | None) -> list[ApiToken]:
    """Every API token of ``account``'s admins (or of the operators, with no account), newest
    first."""
    query = select(ApiToken).join(Principal, ApiToken.principal_id == Principal.id)
    if account is None:
        actor.require_provider()
        query = query.where(Principal.account_id.is_(None))
    else:
        actor.require_write(account.id)
        query = query.where(Principal.account_id == account.id)
    return list(session.scalars(query.order_by(ApiToken.id.desc())))


def revoke_scoped_token(
    session: Session, actor: Actor, account: Account | None, token_id: int
) -> ApiToken:
    """Revoke a token of ``account``'s admins (or of an operator, with no account)."""
    if account is None:
        actor.require_provider()
    else:
        actor.require_write(account.id)
    record = session.get(ApiToken, token_id)
    if record is None or record.principal.account_id != (account.id if account else None):
        raise NotFound(f"token {token_id} not found", code="token_not_found")
    return revoke_token(session, actor, token_id)
