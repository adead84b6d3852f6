"""Operators and customer admins who sign in, their passwords, API tokens and UI sessions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, ApiToken, Principal, UiSession
from switchboard.portal import audit, validation
from switchboard.portal.actors import Actor, Role
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict, NotFound, Unauthorized, ValidationFailed

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
TOKEN_PREFIX = "sbt"  # noqa: S105 - a public marker, not a secret
MIN_PASSWORD = 12


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def actor_for(principal: Principal) -> Actor:
    return Actor(
        label=f"principal:{principal.email}",
        role=Role(principal.role),
        account_id=principal.account_id,
        principal_id=principal.id,
    )


def create_principal(
    session: Session,
    actor: Actor,
    *,
    email: str,
    role: Role,
    account: Account | None = None,
    password: str | None = None,
) -> Principal:
    if role is Role.PROVIDER_ADMIN:
        actor.require_provider()
        if account is not None:
            raise ValidationFailed(
                "a provider_admin is not tied to one account; drop --account", field="account"
            )
    else:
        if account is None:
            raise ValidationFailed(
                f"a {role.value} needs an account (--account SLUG)", field="account"
            )
        actor.require_write(account.id)
    try:
        email = validation.email(email)
    except ValueError as exc:
        raise ValidationFailed(f"email: {exc}", field="email") from exc
    if session.scalar(select(Principal.id).where(Principal.email_key == email.casefold())):
        raise Conflict(f"an admin with email {email} already exists", field="email")
    principal = Principal(
        email=email,
        email_key=email.casefold(),
        role=role.value,
        account_id=account.id if account else None,
        created_at=now(session),
    )
    if password is not None:
        principal.password_hash = _hash_password(password)
    session.add(principal)
    session.flush()
    audit.record(
        session,
        actor,
        "principal.created",
        account_id=account.id if account else None,
        object_type="principal",
        object_id=principal.id,
        fields=["email", "role"],
    )
    return principal


def _hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            f"password must be at least {MIN_PASSWORD} characters", field="password"
        )
    return _hasher.hash(password)


def set_password(session: Session, actor: Actor, principal: Principal, password: str) -> None:
    if actor.principal_id != principal.id:
        if principal.account_id is None:
            actor.require_provider()
        else:
            actor.require_write(principal.account_id)
    principal.password_hash = _hash_password(password)
    audit.record(
        session,
        actor,
        "principal.password_set",
        account_id=principal.account_id,
        object_type="principal",
        object_id=principal.id,
        fields=["password"],
    )


def find_principal(session: Session, email: str) -> Principal:
    principal = session.scalar(select(Principal).where(Principal.email_key == email.casefold()))
    if principal is None:
        raise NotFound(f"no admin with email {email}", field="email")
    return principal


def authenticate_password(session: Session, email: str, password: str) -> Principal:
    principal = session.scalar(
        select(Principal).where(Principal.email_key == email.strip().casefold())
    )
    stored = principal.password_hash if principal is not None else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
        ok = stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or principal is None or principal.disabled:
        raise Unauthorized("email or password is wrong", code="invalid_login")
    return principal


# --- API tokens -------------------------------------------------------------------------------


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


# --- UI sessions ------------------------------------------------------------------------------


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


def expire_sessions(session: Session, before: datetime) -> None:
    for record in session.scalars(select(UiSession).where(UiSession.expires_at < before)):
        session.delete(record)


# --- Admin management (the UI's Admins and Operators pages) -----------------------------------


def list_account_admins(session: Session, actor: Actor, account: Account) -> list[Principal]:
    actor.require_write(account.id)
    query = select(Principal).where(Principal.account_id == account.id)
    return list(session.scalars(query.order_by(Principal.email_key)))


def list_operators(session: Session, actor: Actor) -> list[Principal]:
    actor.require_provider()
    query = select(Principal).where(Principal.role == Role.PROVIDER_ADMIN.value)
    return list(session.scalars(query.order_by(Principal.email_key)))


def get_admin(
    session: Session, actor: Actor, account: Account | None, principal_id: int
) -> Principal:
    """An admin of ``account`` (or an operator, with no account) the actor may manage."""
    if account is None:
        actor.require_provider()
    else:
        actor.require_write(account.id)
    principal = session.get(Principal, principal_id)
    if principal is None or principal.account_id != (account.id if account else None):
        raise NotFound(f"admin {principal_id} not found", code="principal_not_found")
    return principal


def set_disabled(
    session: Session, actor: Actor, account: Account | None, principal_id: int, disabled: bool
) -> Principal:
    """Disable (or enable again) an admin. A disabled admin's sessions end at once and their
    API tokens are refused until they are enabled again."""
    principal = get_admin(session, actor, account, principal_id)
    if principal.id == actor.principal_id:
        raise Conflict(
            "you cannot disable your own sign-in; ask another admin", code="cannot_disable_self"
        )
    if principal.disabled == disabled:
        return principal
    principal.disabled = disabled
    if disabled:
        # Deleted rather than only refused, so enabling the admin again revives no old cookie.
        session.execute(delete(UiSession).where(UiSession.principal_id == principal.id))
    audit.record(
        session,
        actor,
        "principal.disabled" if disabled else "principal.enabled",
        account_id=principal.account_id,
        object_type="principal",
        object_id=principal.id,
        fields=["disabled"],
    )
    return principal


def _password_matches(stored: str | None, password: str) -> bool:
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def change_own_password(
    session: Session,
    actor: Actor,
    *,
    current: str,
    new: str,
    confirm: str,
    keep_session_id: int | None = None,
) -> Principal:
    """The signed-in admin's new password; the current one proves it is them at the keyboard.

    Their other UI sessions end, so a session opened with the old password does not outlive it.
    """
    principal = session.get(Principal, actor.principal_id) if actor.principal_id else None
    if principal is None:
        raise NotFound("only a signed-in admin can change their password", code="no_principal")
    if not _password_matches(principal.password_hash, current):
        raise ValidationFailed("current password is wrong", field="current_password")
    if not hmac.compare_digest(new.encode(), confirm.encode()):
        raise ValidationFailed(
            "the new password and its confirmation differ; type it twice the same",
            field="confirm_password",
        )
    if hmac.compare_digest(new.encode(), current.encode()):
        raise ValidationFailed(
            "the new password must differ from the current one", field="new_password"
        )
    if len(new) < MIN_PASSWORD:
        raise ValidationFailed(
            f"new password must be at least {MIN_PASSWORD} characters", field="new_password"
        )
    set_password(session, actor, principal, new)
    others = delete(UiSession).where(UiSession.principal_id == principal.id)
    if keep_session_id is not None:
        others = others.where(UiSession.id != keep_session_id)
    session.execute(others)
    return principal


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
