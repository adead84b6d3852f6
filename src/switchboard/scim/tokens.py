"""The bearer tokens an account's SCIM client sends: issued once, kept as a SHA-256 digest,
checked in constant time, rotated with an overlap (the old token keeps working while the
client is updated), revoked at once.

A token names its account: presented at another account's endpoint it finds nothing (404),
so one account's client never learns whether another account exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, ScimSource, ScimToken
from switchboard.portal import audit
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import NotFound
from switchboard.scim.errors import ScimError

TOKEN_PREFIX = "sbscim"  # noqa: S105 - a public marker, not a secret
DEFAULT_OVERLAP = timedelta(hours=24)
# Touch last_used_at at most this often: a busy client is not a write per request.
LAST_USED_GRAIN = timedelta(minutes=1)


def _sha256(value: str) -> str:
    # The secret is random and 256 bits long, so a plain digest is enough.
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedScimToken:
    token: str  # shown once, never stored
    record: ScimToken


def active_tokens(session: Session, account: Account) -> list[ScimToken]:
    """The account's tokens that still work (or will until their overlap ends), newest first."""
    stamp = now(session)
    rows = session.scalars(
        select(ScimToken)
        .where(ScimToken.account_id == account.id, ScimToken.revoked_at.is_(None))
        .order_by(ScimToken.id.desc())
    )
    return [t for t in rows if t.expires_at is None or t.expires_at > stamp]


def issue(
    session: Session, actor: Actor, account: Account, *, overlap: timedelta = DEFAULT_OVERLAP
) -> IssuedScimToken:
    """A new token; the tokens that worked until now stop after ``overlap`` (zero: at once)."""
    actor.require_write(account.id)
    stamp = now(session)
    for old in active_tokens(session, account):
        ends = stamp + overlap
        if old.expires_at is None or old.expires_at > ends:
            old.expires_at = ends
            if overlap <= timedelta(0):
                old.revoked_at = stamp
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ScimToken(
        account_id=account.id,
        prefix=prefix,
        secret_hash=_sha256(secret),
        created_at=stamp,
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor,
        "scim_token.issued",
        account_id=account.id,
        object_type="scim_token",
        object_id=record.id,
        fields=["prefix"],
    )
    return IssuedScimToken(token=f"{TOKEN_PREFIX}_{prefix}_{secret}", record=record)


def revoke(session: Session, actor: Actor, account: Account, token_id: int | None = None) -> int:
    """Revoke one token of the account, or (``token_id`` None) all of them; how many."""
    actor.require_write(account.id)
    stamp = now(session)
    query = select(ScimToken).where(
        ScimToken.account_id == account.id, ScimToken.revoked_at.is_(None)
    )
    if token_id is not None:
        query = query.where(ScimToken.id == token_id)
    found = list(session.scalars(query))
    if token_id is not None and not found:
        raise NotFound(f"SCIM token {token_id} not found", code="scim_token_not_found")
    for record in found:
        record.revoked_at = stamp
        audit.record(
            session,
            actor,
            "scim_token.revoked",
            account_id=account.id,
            object_type="scim_token",
            object_id=record.id,
            fields=["revoked_at"],
        )
    return len(found)


def authenticate(
    session: Session, account_slug: str, header: str
) -> tuple[Account, ScimSource | None]:
    """The account a request's ``Authorization`` header opens, with its SCIM source (one
    query for both), or the SCIM error to answer."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ScimError(
            401,
            "send the account's SCIM token as 'Authorization: Bearer <token>' (the Secret Token"
            " field of the provisioning settings)",
            headers={"WWW-Authenticate": 'Bearer realm="scim"'},
        )
    parts = token.split("_", 2)
    found = None
    if len(parts) == 3 and parts[0] == TOKEN_PREFIX:
        found = session.execute(
            select(ScimToken, Account, ScimSource)
            .join(Account, Account.id == ScimToken.account_id)
            .outerjoin(ScimSource, ScimSource.account_id == ScimToken.account_id)
            .where(ScimToken.prefix == parts[1])
        ).first()
    record = found[0] if found is not None else None
    expected = record.secret_hash if record is not None else _sha256("")
    matches = hmac.compare_digest(expected, _sha256(parts[-1]))
    stamp = now(session)
    if (
        found is None
        or record is None
        or not matches
        or record.revoked_at is not None
        or (record.expires_at is not None and record.expires_at <= stamp)
    ):
        raise ScimError(
            401,
            "the SCIM token is not valid: it was revoked, replaced or mistyped; create a new"
            " one on the account's Directory tab",
            headers={"WWW-Authenticate": 'Bearer realm="scim", error="invalid_token"'},
        )
    account: Account = found[1]
    if account.slug != account_slug or account.status != "active":
        raise ScimError(404, f"no SCIM endpoint at account '{account_slug}' for this token")
    if record.last_used_at is None or stamp - record.last_used_at >= LAST_USED_GRAIN:
        record.last_used_at = stamp
    source: ScimSource | None = found[2]
    return account, source
