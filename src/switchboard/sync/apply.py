"""Carry out a plan through the portal's service functions, one savepoint per user.

One bad directory user never stops the rest: its failure becomes an item of the run log.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.db.models import Account, User
from switchboard.portal import directory_users
from switchboard.portal.actors import Actor
from switchboard.portal.errors import PortalError
from switchboard.portal.schemas import UserIn
from switchboard.portal.users import delete_user
from switchboard.portal.validation import from_pydantic
from switchboard.sync.plan import Action, PlanItem
from switchboard.sync.runs import ItemRecord

# Unchanged users are counted, not logged one by one: a 100,000-user reconcile stays small.
UNLOGGED = {"unchanged"}


def _user_in(item: PlanItem) -> UserIn:
    d = item.desired
    assert d is not None
    return UserIn(
        username=d.username,
        first_name=d.first_name,
        last_name=d.last_name,
        email=d.email,
        location_id=d.location.id,
    )


def _record(
    item: PlanItem,
    state: str,
    *,
    user_id: int | None = None,
    code: str | None = None,
    message: str | None = None,
) -> ItemRecord:
    return ItemRecord(
        action=item.action.value,
        state=state,
        directory_id=item.directory_id,
        username=item.username,
        user_id=user_id if user_id else item.user_id,
        fields=item.fields,
        error_code=code or item.code,
        message=message or item.message,
    )


def _carry_out(session: Session, actor: Actor, account: Account, item: PlanItem) -> int | None:
    match item.action:
        case Action.CREATE:
            assert item.directory_id is not None
            return directory_users.provision(
                session,
                actor,
                account,
                _user_in(item),
                directory_id=item.directory_id,
                enabled=item.enabled,
            ).id
        case Action.LINK:
            assert item.user_id is not None and item.directory_id is not None
            return directory_users.link(
                session,
                actor,
                account,
                item.user_id,
                item.directory_id,
                _user_in(item),
                enabled=item.enabled,
            ).id
        case Action.UPDATE | Action.DISABLE | Action.ENABLE:
            assert item.user_id is not None
            return directory_users.apply_directory_fields(
                session, actor, account, item.user_id, _user_in(item), enabled=item.enabled
            ).id
        case Action.RELOCATE:
            assert item.user_id is not None
            return directory_users.relocate(
                session, actor, account, item.user_id, _user_in(item), enabled=item.enabled
            ).id
        case Action.DELETE:
            assert item.user_id is not None
            still_linked = session.scalar(
                select(User.id).where(
                    User.account_id == account.id,
                    User.id == item.user_id,
                    User.directory_id == item.directory_id,
                )
            )
            if still_linked is not None:  # a replayed deletion is a no-op
                delete_user(session, actor, account, item.user_id)
            return item.user_id
        case _:
            return item.user_id


def apply_items(
    session: Session,
    actor: Actor,
    account: Account,
    items: Iterable[PlanItem],
    *,
    hold_deletions: bool = False,
    dry_run: bool = False,
) -> list[ItemRecord]:
    """Apply each item in its own savepoint and say what became of it."""
    records: list[ItemRecord] = []
    for item in items:
        if item.action is Action.SKIP:
            if item.code not in UNLOGGED:
                records.append(_record(item, "skipped"))
            continue
        if item.action is Action.ERROR:
            records.append(_record(item, "failed"))
            continue
        if dry_run:
            records.append(_record(item, "planned"))
            continue
        if item.action is Action.DELETE and hold_deletions:
            records.append(_record(item, "pending"))
            continue
        try:
            with session.begin_nested():
                user_id = _carry_out(session, actor, account, item)
        except PortalError as exc:
            records.append(
                _record(
                    item,
                    "failed",
                    code=exc.code,
                    message=f"{exc.field + ': ' if exc.field else ''}{exc.message}",
                )
            )
            continue
        except ValidationError as exc:  # directory data the portal's rules refuse
            problem = from_pydantic(exc)
            records.append(
                _record(
                    item,
                    "failed",
                    code="invalid_attribute",
                    message=f"Entra ID value refused: {problem.message}",
                )
            )
            continue
        except IntegrityError:
            records.append(
                _record(
                    item,
                    "failed",
                    code="conflict",
                    message="a concurrent change conflicted; the next run retries",
                )
            )
            continue
        records.append(_record(item, "applied", user_id=user_id))
    return records
