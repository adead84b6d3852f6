"""A SCIM group's members: what an operation asks of them, and set-based SQL that does it.

The shapes clients send (RFC 7644 3.5.2 and what Entra and Okta do):

- ``add`` with path ``members`` and a list of ``{"value": id}``: add those users;
- ``remove`` with path ``members`` and such a list (Entra: a value list instead of a filter):
  remove those users; with no value: remove every member;
- ``remove`` with path ``members[value eq "id"]`` (``or`` of several ``eq`` allowed): remove;
- ``replace`` with path ``members`` (Okta's group push), or a ``replace`` with no path whose
  value carries ``members``: the group holds exactly that list.

Members are written and counted in SQL, a chunk of ids at a time: adding one member to a
group of a hundred thousand never reads the other members.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from scim2_models import Path
from scim2_models.path import AttrPath, CompareOperator, Comparison, LogicalExpr, ValuePath
from scim2_models.path import LogicalOperator as Logic
from sqlalchemy import delete, exists, func, insert, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from switchboard.db.models import ScimGroupMember, ScimUser
from switchboard.scim.errors import invalid_filter, invalid_path, invalid_value

CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
# Ids per statement: well under SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 500
# The longest id a user can have (db.scim_models.ScimUser.id).
ID_LENGTH = 64
# How many unknown ids an error names before it says "and N more".
NAMED = 5


@dataclass(frozen=True)
class MemberChange:
    """What one operation asks of the members; ``ids`` None with remove: every member."""

    kind: Literal["add", "remove", "replace"]
    ids: tuple[str, ...] | None


def _strip_core(path: str) -> str:
    prefix = CORE_GROUP.lower() + ":"
    return path[len(prefix) :] if path.lower().startswith(prefix) else path


def member_ids(value: object) -> tuple[str, ...]:
    """The user ids of a members value: a list of ``{"value": id}`` (one object alone too),
    in order, each once. ``display`` and ``$ref`` are the client's and are not kept."""
    if value is None:
        return ()
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, list):
        raise invalid_value('members must be a list of objects such as {"value": "<user id>"}')
    found: dict[str, None] = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise invalid_value('each member must be an object such as {"value": "<user id>"}')
        attrs = {str(k).lower(): v for k, v in item.items()}
        kind = attrs.get("type")
        if kind is not None and str(kind).lower() != "user":
            raise invalid_value(
                f"members.type {kind!r} is not kept here: a group's members are users"
            )
        raw = attrs.get("value")
        if not isinstance(raw, str) or not raw.strip():
            raise invalid_value("each member needs a value: the id of a user of this account")
        found[raw.strip()] = None
    return tuple(found)


def _filter_ids(node: ValuePath) -> tuple[str, ...]:
    """The ids a ``members[value eq "..."]`` filter selects (``or`` of such terms)."""
    terms = [node.val_filter]
    if isinstance(node.val_filter, LogicalExpr) and node.val_filter.op == Logic.or_:
        terms = list(node.val_filter.terms)
    ids: dict[str, None] = {}
    for term in terms:
        if not (
            isinstance(term, Comparison)
            and term.op == CompareOperator.eq
            and term.attr_path.attr.lower() == "value"
            and term.attr_path.sub_attr is None
            and isinstance(term.value, str)
        ):
            raise invalid_filter(
                f'the members filter {node.val_filter} is not supported; use members[value eq "'
                '<user id>"], or a remove with path members and a list of values'
            )
        ids[term.value] = None
    return tuple(ids)


def member_change(op: str, path: str | None, value: Any) -> MemberChange | None:
    """What the operation (op lower-cased) asks of the members; None when it is about
    something else. A replace with no path is handled where its value is taken apart."""
    if path is None:
        return None
    try:
        node = Path(_strip_core(path.strip())).ast
    except Exception:  # scim2-models raises several kinds on a bad path
        return None  # not a members path; the general PATCH code names the bad path
    if isinstance(node, AttrPath):
        if node.attr.lower() != "members" or node.uri is not None:
            return None
        if node.sub_attr is not None:
            raise invalid_path(
                f"{path!r}: change members as a whole (add, remove or replace with path members)"
            )
        if op == "remove" and value is None:
            return MemberChange("remove", None)
        return MemberChange(op, member_ids(value))  # type: ignore[arg-type]
    if isinstance(node, ValuePath) and node.attr_path.attr.lower() == "members":
        if op != "remove" or node.sub_attr is not None:
            raise invalid_path(
                f"{path!r}: a members filter can only remove; add members with path members and"
                ' a list of {"value": "<user id>"}'
            )
        return MemberChange("remove", _filter_ids(node))
    return None


def _chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in ids:
        chunk.append(item)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count(session: Session, statement: Executable) -> int:
    """Run an INSERT or DELETE as plain SQL: how many rows it wrote (an INSERT says so only
    when asked to keep the count)."""
    session.flush()
    result = session.connection().execute(statement, execution_options={"preserve_rowcount": True})
    return result.rowcount


def check_users(session: Session, account_id: int, ids: Iterable[str]) -> None:
    """Every id is a user of this account, or a 400 naming the ones that are not (in the same
    words whether an id is unknown or belongs to another account)."""
    missing: list[str] = []
    for chunk in _chunks(ids):
        short = [i for i in chunk if len(i) <= ID_LENGTH]
        known = set(
            session.scalars(
                select(ScimUser.id).where(ScimUser.account_id == account_id, ScimUser.id.in_(short))
            )
        )
        missing.extend(i for i in chunk if i not in known)
    if not missing:
        return
    named = ", ".join(m if len(m) <= ID_LENGTH else m[:ID_LENGTH] + "…" for m in missing[:NAMED])
    more = f" and {len(missing) - NAMED} more" if len(missing) > NAMED else ""
    noun = "no user with id" if len(missing) == 1 else "no users with ids"
    raise invalid_value(f"members: this account has {noun} {named}{more}")


def add(session: Session, account_id: int, group_id: str, ids: Iterable[str]) -> int:
    """Add the users not yet members (already checked to be of this account): how many."""
    added = 0
    for chunk in _chunks(ids):
        already = exists().where(
            ScimGroupMember.group_id == group_id, ScimGroupMember.user_id == ScimUser.id
        )
        rows = select(literal(group_id), ScimUser.id).where(
            ScimUser.account_id == account_id, ScimUser.id.in_(chunk), ~already
        )
        added += _count(session, insert(ScimGroupMember).from_select(["group_id", "user_id"], rows))
    return added


def remove(session: Session, group_id: str, ids: Iterable[str] | None) -> int:
    """Remove those members (ids that are not members are no change); None: all of them."""
    if ids is None:
        return _count(session, delete(ScimGroupMember).where(_of(group_id)))
    removed = 0
    for chunk in _chunks(ids):
        removed += _count(
            session,
            delete(ScimGroupMember).where(_of(group_id), ScimGroupMember.user_id.in_(chunk)),
        )
    return removed


def replace(
    session: Session, account_id: int, group_id: str, ids: tuple[str, ...]
) -> tuple[int, int]:
    """The group holds exactly ``ids`` (checked): (added, removed)."""
    before = session.scalar(select(func.count()).select_from(ScimGroupMember).where(_of(group_id)))
    kept = 0
    for chunk in _chunks(ids):
        kept += (
            session.scalar(
                select(func.count())
                .select_from(ScimGroupMember)
                .where(_of(group_id), ScimGroupMember.user_id.in_(chunk))
            )
            or 0
        )
    added, removed = len(ids) - kept, (before or 0) - kept
    if added or removed:
        remove(session, group_id, None)
        add(session, account_id, group_id, ids)
    return added, removed


def _of(group_id: str) -> Any:
    return ScimGroupMember.group_id == group_id


def members_of(
    session: Session, account_id: int, group_ids: list[str]
) -> dict[str, list[tuple[str, str]]]:
    """The (user id, userName) members of each group, by userName."""
    found: dict[str, list[tuple[str, str]]] = {g: [] for g in group_ids}
    for chunk in _chunks(group_ids):
        rows = session.execute(
            select(ScimGroupMember.group_id, ScimUser.id, ScimUser.user_name)
            .join(ScimUser, ScimUser.id == ScimGroupMember.user_id)
            .where(ScimUser.account_id == account_id, ScimGroupMember.group_id.in_(chunk))
            .order_by(ScimUser.user_name_key, ScimUser.id)
        )
        for group_id, user_id, user_name in rows:
            found[group_id].append((user_id, user_name))
    return found
