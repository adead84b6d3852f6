"""Carry out a plan through the portal's service functions, one savepoint per user.

One bad directory user never stops the rest: its failure becomes an item of the run log.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.db.lookups import LOOKUP_CHUNK
from switchboard.db.models import Account, User
from switchboard.portal import directory_users
from switchboard.portal.actors import Actor
from switchboard.portal.bulk_users import (
    AccountKeys,
    DirectoryFields,
    DirectoryValues,
    Extensions,
    NewDirectoryUser,
    Relocation,
    delete_many,
    provision_many,
    relocate_many,
    update_many,
)
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
    # The plan's mapping already applied every rule of UserIn to these values (names, email,
    # username); validating 100,000 emails a second time would double a reconcile's cost.
    return UserIn.model_construct(
        extension=None,
        phone_numbers=[],
        license=None,
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


def _failure(item: PlanItem, exc: PortalError) -> ItemRecord:
    where = f"{exc.field}: " if exc.field else ""
    return _record(item, "failed", code=exc.code, message=f"{where}{exc.message}")


def _one_by_one(session: Session, actor: Actor, account: Account, item: PlanItem) -> ItemRecord:
    try:
        with session.begin_nested():
            user_id = _carry_out(session, actor, account, item)
    except PortalError as exc:
        return _failure(item, exc)
    except ValidationError as exc:  # directory data the portal's rules refuse
        problem = from_pydantic(exc)
        return _record(
            item,
            "failed",
            code="invalid_attribute",
            message=f"Entra ID value refused: {problem.message}",
        )
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
    may have moved it: for a full run the whole account's keys, read once; otherwise the
    extensions in use, the other keys being read per batch."""

    def __init__(self, *, whole_account: bool = False) -> None:
        self.whole_account = whole_account
        self.keys: AccountKeys | None = None
        self.extensions: Extensions | None = None

    def keys_for(
        self,
        session: Session,
        account: Account,
        values: list[DirectoryValues],
        directory_ids: list[str],
    ) -> AccountKeys:
        if not self.whole_account:
            return AccountKeys.load(session, account, values, directory_ids, self.extensions)
        if self.keys is None:
            self.keys = AccountKeys.load_all(session, account)
        return self.keys

    def kept(self, keys: AccountKeys) -> None:
        self.extensions = keys.extensions

    def forget(self) -> None:
        self.keys = None
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
            assert item.user_id is not None
            updates.append((item, DirectoryFields(item.user_id, data, item.enabled, item.fields)))
    keys = state.keys_for(
        session,
        account,
        [e.data for _i, e in creates] + [e.data for _i, e in updates],
        [e.directory_id for _i, e in creates],
    )
    try:
        with session.begin_nested():
            made = provision_many(session, actor, account, keys, [e for _i, e in creates])
            changed = update_many(session, actor, account, keys, [e for _i, e in updates])
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


def _bulk_deletes(
    session: Session, actor: Actor, account: Account, items: list[PlanItem]
) -> list[ItemRecord] | None:
    """Deletions in a few statements; None when the batch must go one by one."""
    wanted = {item.user_id: item.directory_id for item in items if item.user_id is not None}
    ids = list(wanted)
    present: dict[int, str | None] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        part = ids[start : start + LOOKUP_CHUNK]
        for user_id, directory_id in session.execute(
            select(User.id, User.directory_id).where(
                User.account_id == account.id, User.id.in_(part)
            )
        ):
            present[user_id] = directory_id
    # A replayed deletion (the user gone, or linked to someone else since) is a no-op.
    doomed = [uid for uid, did in wanted.items() if uid in present and present[uid] == did]
    try:
        with session.begin_nested():
            delete_many(session, actor, account, doomed)
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
            outcomes = relocate_many(session, actor, account, keys, entries)
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
