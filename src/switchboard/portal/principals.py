"""Operators and customer admins who sign in: their passwords, roles and management.

Their API tokens are in api_tokens.py, their UI sessions in ui_sessions.py.
"""

from __future__ import annotations

import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, Principal, UiSession
from switchboard.portal import audit, validation
from switchboard.portal.actors import Actor, Role
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict, NotFound, Unauthorized, ValidationFailed

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD = 12


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
    initial_password: bool = False,
) -> Principal:
    """A new admin. ``initial_password``: the password was chosen by someone else (an operator
    or account admin), so the UI asks the new admin for their own at first sign-in."""
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
        principal.must_change_password = initial_password
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


def check_password(password: str, field: str = "password") -> None:
    """The length rule, on its own: forms check it together with their other fields."""
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"{field}: must be at least {MIN_PASSWORD} characters", field=field)


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
        initial = "the one you were given" if principal.must_change_password else "the current one"
        raise ValidationFailed(f"the new password must differ from {initial}", field="new_password")
    if len(new) < MIN_PASSWORD:
        raise ValidationFailed(
            f"new password must be at least {MIN_PASSWORD} characters", field="new_password"
        )
    forced = principal.must_change_password
    set_password(session, actor, principal, new)
    if forced:
        principal.must_change_password = False
        audit.record(
            session,
            actor,
            "principal.initial_password_replaced",
            account_id=principal.account_id,
            object_type="principal",
            object_id=principal.id,
            fields=["must_change_password"],
        )
    others = delete(UiSession).where(UiSession.principal_id == principal.id)
    if keep_session_id is not None:
        others = others.where(UiSession.id != keep_session_id)
    session.execute(others)
    return principal
