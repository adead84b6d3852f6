"""UI sessions of operators and customer admins: a random cookie stored as a SHA-256
digest, its CSRF token, and its expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from switchboard.db.models import Principal, UiSession
from switchboard.portal import audit
from switchboard.portal.clock_context import now
from switchboard.portal.principals import actor_for


def _sha256(value: str) -> str:
    # The cookie is random and 256 bits long, so a plain digest is enough.
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class OpenedSession:
    cookie: str
    record: UiSession


def open_session(session: Session, principal: Principal, *, hours: int) -> OpenedSession:
    cookie = secrets.token_urlsafe(32)
    stamp = now(session)
    # Sign-ins sweep expired sessions, so the table holds only live ones without a scheduler.
    session.execute(delete(UiSession).where(UiSession.expires_at <= stamp))
    record = UiSession(
        principal_id=principal.id,
        token_hash=_sha256(cookie),
        csrf_token=secrets.token_urlsafe(32),
        created_at=stamp,
        expires_at=stamp + timedelta(hours=hours),
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor_for(principal),
        "session.opened",
        account_id=principal.account_id,
        object_type="principal",
        object_id=principal.id,
    )
    return OpenedSession(cookie=cookie, record=record)


def resolve_session(session: Session, cookie: str) -> UiSession | None:
    record = session.scalar(select(UiSession).where(UiSession.token_hash == _sha256(cookie)))
    if record is None or record.expires_at <= now(session) or record.principal.disabled:
        return None
    return record


def close_session(session: Session, cookie: str) -> None:
    record = session.scalar(select(UiSession).where(UiSession.token_hash == _sha256(cookie)))
    if record is not None:
        session.delete(record)


def csrf_matches(record: UiSession, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(record.csrf_token, submitted)
