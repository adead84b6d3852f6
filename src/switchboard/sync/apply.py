"""Carry out a plan through the portal's service functions, one savepoint per user.

One bad directory user never stops the rest: its failure becomes an item of the run log.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.db.models import Account
from switchboard.portal import users
from switchboard.portal.actors import Actor
from switchboard.portal.errors import PortalError
from switchboard.portal.users import (
    AccountKeys,
    DirectoryFields,
    DirectoryValues,
    Extensions,
    NewDirectoryUser,
    Relocation,
)
from switchboard.sync.failure_groups import field_words
from switchboard.sync.plan import Action, PlanItem
from switchboard.sync.runs import ItemRecord

# Unchanged users are counted, not logged one by one: a 100,000-user reconcile stays small.
UNLOGGED = {"unchanged"}


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
        details=item.details,
    )


def _carry_out(session: Session, actor: Actor, account: Account, item: PlanItem) -> int | None:
    match item.action:
        case Action.CREATE:
            assert item.directory_id is not None
            entry = NewDirectoryUser(_values(item), item.directory_id, item.enabled)
            return users.provision(session, actor, account, entry).id
        case Action.LINK:
            assert item.directory_id is not None
            return users.link(session, actor, account, item.directory_id, _fields(item)).id
        case Action.UPDATE | Action.DISABLE | Action.ENABLE:
            return users.apply_directory_fields(session, actor, account, _fields(item)).id
        case Action.RELOCATE:
            assert item.user_id is not None
            relocation = Relocation(item.user_id, _values(item), item.enabled)
            return users.relocate(session, actor, account, relocation).id
        case Action.DELETE:
            assert item.user_id is not None
            users.delete_still_linked(session, actor, account, {item.user_id: item.directory_id})
            return item.user_id
        case _:
            return item.user_id


def _failure(item: PlanItem, exc: PortalError) -> ItemRecord:
    where = f"{field_words(exc.field)}: " if exc.field else ""
    return _record(item, "failed", code=exc.code, message=f"{where}{exc.message}")


def _one_by_one(session: Session, actor: Actor, account: Account, item: PlanItem) -> ItemRecord:
    try:
        with session.begin_nested():
            user_id = _carry_out(session, actor, account, item)
    except PortalError as exc:
        return _failure(item, exc)
    except IntegrityError:
        return _record(
            item,
            "failed",
            code="conflict",
            message="a concurrent change conflicted; the next run retries",
        )
    return _record(item, "applied", user_id=user_id)


class BulkState:
    """What bulk writes keep across a run's chunks until something else (a one-by-one change)
    may have moved it: the extension allocator. The keys a batch could collide with are read
    per batch, for the users it concerns (a run over 1,000,000 users holds none of them)."""

    def __init__(self) -> None:
        self.extensions: Extensions | None = None

    def keys_for(
        self,
        session: Session,
        account: Account,
        values: list[DirectoryValues],
        directory_ids: list[str],
    ) -> AccountKeys:
        return AccountKeys.load(session, account, values, directory_ids, self.extensions)

    def kept(self, keys: AccountKeys) -> None:
        self.extensions = keys.extensions

    def forget(self) -> None:
        self.extensions = None


BULK = {Action.CREATE, Action.UPDATE, Action.ENABLE, Action.DISABLE}


def _bulk(
    session: Session, actor: Actor, account: Account, items: list[PlanItem], state: BulkState
) -> list[ItemRecord] | None:
    """Creates and field updates in a few statements; None when the batch must go one by one."""
    creates, updates, records = [], [], []
    for item in items:
        data = _values(item)
        if item.action is Action.CREATE:
            assert item.directory_id is not None
            creates.append((item, NewDirectoryUser(data, item.directory_id, item.enabled)))
        else:
            updates.append((item, _fields(item)))
    keys = state.keys_for(
        session,
        account,
        [e.data for _i, e in creates] + [e.data for _i, e in updates],
        [e.directory_id for _i, e in creates],
    )
    try:
        with session.begin_nested():
            made = users.provision_many(session, actor, account, keys, [e for _i, e in creates])
            changed = users.update_many(session, actor, account, keys, [e for _i, e in updates])
    except IntegrityError:
        state.forget()  # a concurrent writer: the keys in memory may be stale
        return None
    state.kept(keys)
    for (item, _entry), outcome in zip([*creates, *updates], [*made, *changed], strict=True):
        if isinstance(outcome, PortalError):
            records.append(_failure(item, outcome))
        else:
            records.append(_record(item, "applied", user_id=outcome))
    return records


def _values(item: PlanItem) -> DirectoryValues:
    d = item.desired
    assert d is not None
    return DirectoryValues(d.username, d.first_name, d.last_name, d.email, d.location.id)


def _fields(item: PlanItem) -> DirectoryFields:
    assert item.user_id is not None
    return DirectoryFields(item.user_id, _values(item), item.enabled, item.fields)


def _bulk_deletes(
    session: Session, actor: Actor, account: Account, items: list[PlanItem]
) -> list[ItemRecord] | None:
    """Deletions in a few statements; None when the batch must go one by one."""
    departed = {item.user_id: item.directory_id for item in items if item.user_id is not None}
    try:
        with session.begin_nested():
            users.delete_still_linked(session, actor, account, departed)
    except IntegrityError:
        return None
    return [_record(item, "applied") for item in items]


def _bulk_relocations(
    session: Session, actor: Actor, account: Account, items: list[PlanItem]
) -> list[ItemRecord] | None:
    """Relocations in a few statements; None when the batch must go one by one."""
    entries = []
    for item in items:
        assert item.user_id is not None
        entries.append(Relocation(item.user_id, _values(item), item.enabled))
    keys = AccountKeys.load(session, account, [e.data for e in entries], [])
    try:
        with session.begin_nested():
            outcomes = users.relocate_many(session, actor, account, keys, entries)
    except IntegrityError:
        return None
    return [
        _failure(item, outcome)
        if isinstance(outcome, PortalError)
        else _record(item, "applied", user_id=outcome)
        for item, outcome in zip(items, outcomes, strict=True)
    ]


def apply_items(
    session: Session,
    actor: Actor,
    account: Account,
    items: Iterable[PlanItem],
    *,
    hold_deletions: bool = False,
    hold_creates: bool = False,
    dry_run: bool = False,
    bulk: BulkState | None = None,
) -> list[ItemRecord]:
    """Apply the items and say what became of each, in the order given (the plan's apply
    order, ``sync.planner.in_apply_order``): bulk where it can, each kind of write one batch
    and the batches in the order their first item comes, else one by one."""
    # What waits for an admin's approval (see sync.held).
    held = {Action.DELETE} if hold_deletions else set()
    if hold_creates:
        held.add(Action.CREATE)
    records: list[ItemRecord] = []
    lanes: dict[str, list[PlanItem]] = {}
    for item in items:
        if item.action is Action.SKIP:
            if item.code not in UNLOGGED:
                records.append(_record(item, "skipped"))
        elif item.action is Action.ERROR:
            records.append(_record(item, "failed"))
        elif dry_run:
            records.append(_record(item, "planned"))
        elif (item.action is Action.DELETE and hold_deletions) or (
            item.action is Action.CREATE and hold_creates
        ):
            records.append(_record(item, "pending"))
        elif bulk is None:
            lanes.setdefault("single", []).append(item)
        elif item.action is Action.DELETE:
            lanes.setdefault("delete", []).append(item)
        elif item.action is Action.RELOCATE:
            lanes.setdefault("relocate", []).append(item)
        elif item.action in BULK:
            lanes.setdefault("bulk", []).append(item)
        else:
            lanes.setdefault("single", []).append(item)
    for lane, batch in lanes.items():
        records.extend(_write_lane(session, actor, account, lane, batch, bulk))
    return records


def _write_lane(
    session: Session,
    actor: Actor,
    account: Account,
    lane: str,
    items: list[PlanItem],
    bulk: BulkState | None,
) -> list[ItemRecord]:
    done: list[ItemRecord] | None = None
    if lane == "single":
        done = []
        for item in items:
            if bulk is not None:
                bulk.forget()  # a one-by-one change may take or free keys
            done.append(_one_by_one(session, actor, account, item))
        return done
    assert bulk is not None
    if lane == "bulk":
        done = _bulk(session, actor, account, items, bulk)
    else:
        bulk.forget()  # ids and keys move under the bulk writer
        if lane == "delete":
            done = _bulk_deletes(session, actor, account, items)
        else:
            done = _bulk_relocations(session, actor, account, items)
    if done is None:
        done = [_one_by_one(session, actor, account, item) for item in items]
    return done
