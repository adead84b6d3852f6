"""Accounts: the provider's customers. Every other object hangs off one."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, User
from switchboard.portal import audit, events, validation
from switchboard.portal.actors import Actor, Role
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict, NotFound
from switchboard.portal.events import AccountTerminated
from switchboard.portal.schemas import AccountIn, AccountPatch


def get_account(session: Session, actor: Actor, slug: str, *, write: bool = False) -> Account:
    """The account named by ``slug`` if the actor may see it (and change it, with ``write``)."""
    # A malformed slug names no account; it never reaches the database (PostgreSQL refuses NUL).
    found = validation.SLUG_RE.match(slug) is not None
    account = session.scalar(select(Account).where(Account.slug == slug)) if found else None
    # Another tenant's account gets the very same answer as a missing one: nothing is revealed.
    if account is None or not actor.can_read(account.id):
        raise NotFound(f"account '{slug}' not found", code="account_not_found")
    if write:
        actor.require_write(account.id)
        if account.status == "terminated":
            raise Conflict(
                f"account '{slug}' is terminated; it can no longer be changed",
                code="account_terminated",
            )
    else:
        actor.require_read(account.id)
    return account


def list_accounts(session: Session, actor: Actor) -> list[Account]:
    query = select(Account).order_by(Account.slug)
    if actor.role is not Role.PROVIDER_ADMIN:
        query = query.where(Account.id == actor.account_id)
    return list(session.scalars(query))


def create_account(session: Session, actor: Actor, data: AccountIn) -> Account:
    actor.require_provider()
    if session.scalar(select(Account.id).where(Account.slug == data.slug)) is not None:
        raise Conflict(
            f"an account with slug '{data.slug}' already exists; choose another slug", field="slug"
        )
    account = Account(
        slug=data.slug,
        name=data.name,
        retention_plan=data.retention_plan,
        extension_length=data.extension_length,
        status="active",
        created_at=now(session),
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        actor,
        "account.created",
        account_id=account.id,
        object_type="account",
        object_id=account.id,
        fields=data.model_fields_set | {"slug", "name"},
    )
    return account


def update_account(session: Session, actor: Actor, slug: str, patch: AccountPatch) -> Account:
    account = get_account(session, actor, slug, write=True)
    changed: list[str] = []
    if patch.name is not None and patch.name != account.name:
        account.name = patch.name
        changed.append("name")
    if patch.retention_plan is not None and patch.retention_plan != account.retention_plan:
        account.retention_plan = patch.retention_plan
        changed.append("retention_plan")
    if patch.extension_length is not None and patch.extension_length != account.extension_length:
        users = session.scalar(select(func.count()).where(User.account_id == account.id))
        if users:
            raise Conflict(
                "the dial plan's extension length cannot change while the account has users",
                field="extension_length",
            )
        account.extension_length = patch.extension_length
        changed.append("extension_length")
    if changed:
        audit.record(
            session,
            actor,
            "account.updated",
            account_id=account.id,
            object_type="account",
            object_id=account.id,
            fields=changed,
        )
    return account


def terminate_account(session: Session, actor: Actor, slug: str) -> Account:
    """Delete every user (their media stays until retention expires it) and close the account."""
    from switchboard.portal.users import delete_user  # users depend on accounts, not vice versa

    # Look the account up first, so another tenant's account answers 404 like every route.
    account = get_account(session, actor, slug, write=True)
    actor.require_provider()
    for user_id in session.scalars(select(User.id).where(User.account_id == account.id)):
        delete_user(session, actor, account, user_id)
    # Listeners tidy what hangs off the account (its Entra ID connection and key go).
    events.emit(session, AccountTerminated(account.id, actor))
    account.status = "terminated"
    account.terminated_at = now(session)
    audit.record(
        session,
        actor,
        "account.terminated",
        account_id=account.id,
        object_type="account",
        object_id=account.id,
        fields=["status"],
    )
    return account
