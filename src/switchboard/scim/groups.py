"""Groups a SCIM client creates, reads, replaces, patches and deletes.

A group keeps only what the client said of it: id, externalId, displayName and the ids of its
members, who are users of the same account. displayName need not be unique (Entra does not
ask it, and two directory groups may share a name).

Groups do not change portal users in this release: membership is kept so that the client
reads back what it pushed, and which users the portal has is decided by which users the
client pushes (the scope the client is given), never by group membership.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.db.models import Account, ScimGroup, ScimGroupMember
from switchboard.portal.clock_context import now
from switchboard.scim import group_members, patch_ops, versions
from switchboard.scim.errors import ScimError, invalid_value, not_found
from switchboard.scim.group_members import CORE_GROUP, MemberChange, member_change
from switchboard.scim.user_attributes import folded, text
from switchboard.scim.users import lock

# Names of the attributes a PATCH may name, as the document spells them.
KNOWN = {k.lower(): k for k in ("displayName", "externalId", "members", "value", "display")}
# Members as rendered: (user id, userName).
Members = list[tuple[str, str]]


@dataclass(frozen=True)
class GroupData:
    """A POST or PUT body as kept; ``members`` None: the body did not name members."""

    display_name: str
    external_id: str | None = None
    members: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Outcome:
    row: ScimGroup
    change: str  # in words, for the request log


def parse_group(body: object) -> GroupData:
    """A Group resource (POST or PUT body). id and meta are the server's and are ignored."""
    if not isinstance(body, Mapping):
        raise invalid_value("the request body must be a JSON object")
    attrs = folded(body)
    schemas = attrs.get("schemas")
    if schemas is not None:
        if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
            raise invalid_value("schemas must be a list of schema URNs")
        unknown = [s for s in schemas if s.lower() != CORE_GROUP.lower()]
        if unknown:
            raise invalid_value(
                f"schema {unknown[0]} is not one this endpoint serves for groups; use {CORE_GROUP}"
            )
    name = text(attrs.get("displayname"), "displayName", required=True)
    assert name is not None
    members = attrs.get("members")
    return GroupData(
        display_name=name,
        external_id=text(attrs.get("externalid"), "externalId"),
        members=None if "members" not in attrs else group_members.member_ids(members),
    )


def get(session: Session, account: Account, group_id: str) -> ScimGroup:
    row = session.scalar(
        select(ScimGroup).where(ScimGroup.account_id == account.id, ScimGroup.id == group_id)
    )
    if row is None:
        raise not_found(f"no group with id {group_id} in this account")
    return row


def etag(row: ScimGroup) -> str:
    return versions.etag(row.version)


def check_version(row: ScimGroup, if_match: str | None) -> None:
    versions.check(row.version, if_match, "group")


def members_of(session: Session, account: Account, row: ScimGroup) -> Members:
    return group_members.members_of(session, account.id, [row.id])[row.id]


def render(row: ScimGroup, base_url: str, members: Members | None) -> dict[str, Any]:
    """The Group resource as it is now; ``members`` None: left out (excludedAttributes)."""
    resource: dict[str, Any] = {
        "schemas": [CORE_GROUP],
        "id": row.id,
        "displayName": row.display_name,
    }
    if row.external_id is not None:
        resource["externalId"] = row.external_id
    if members:
        resource["members"] = [
            # No "display": a client compares members as it sent them, and Entra never sends it.
            {"value": uid, "type": "User", "$ref": f"{base_url}/Users/{uid}"}
            for uid, _name in members
        ]
    resource["meta"] = {
        "resourceType": "Group",
        "created": row.created_at.isoformat().replace("+00:00", "Z"),
        "lastModified": row.updated_at.isoformat().replace("+00:00", "Z"),
        "location": f"{base_url}/Groups/{row.id}",
        "version": etag(row),
    }
    return resource


@contextmanager
def _guarded() -> Iterator[None]:
    # A user deleted by a concurrent request between the check and the insert of a member.
    try:
        yield
    except IntegrityError as exc:
        raise ScimError(409, "a concurrent change touched the same users; retry") from exc


def _store(row: ScimGroup, data: GroupData) -> None:
    row.display_name = data.display_name
    row.display_name_key = data.display_name.casefold()
    row.external_id = data.external_id


def _apply(session: Session, account: Account, row: ScimGroup, change: MemberChange) -> list[int]:
    """Do one member change: [added, removed]."""
    if change.kind == "remove":
        return [0, group_members.remove(session, row.id, change.ids)]
    assert change.ids is not None
    group_members.check_users(session, account.id, change.ids)
    if change.kind == "add":
        return [group_members.add(session, account.id, row.id, change.ids), 0]
    return list(group_members.replace(session, account.id, row.id, change.ids))


def _words(before: tuple[str, str | None], row: ScimGroup, added: int, removed: int) -> str:
    parts = []
    if before[0] != row.display_name:
        parts.append("renamed")
    if before[1] != row.external_id:
        parts.append("externalId changed")
    if added:
        parts.append(f"members added: {added}")
    if removed:
        parts.append(f"members removed: {removed}")
    return "; ".join(parts) or "unchanged"


def _settle(
    session: Session, row: ScimGroup, before: tuple[str, str | None], counts: list[int]
) -> Outcome:
    """A new version when anything changed."""
    change = _words(before, row, counts[0], counts[1])
    if change != "unchanged":
        row.version += 1
        row.updated_at = now(session)
    session.flush()
    return Outcome(row, change)


def create(session: Session, account: Account, body: object) -> Outcome:
    data = parse_group(body)
    lock(session, account)
    stamp = now(session)
    row = ScimGroup(id=str(uuid.uuid4()), account_id=account.id, version=1)
    row.created_at = row.updated_at = stamp
    _store(row, data)
    with _guarded():
        session.add(row)
        session.flush()
        added = 0
        if data.members:
            added = _apply(session, account, row, MemberChange("add", data.members))[0]
    return Outcome(row, f"created; members added: {added}" if added else "created")


def replace_group(
    session: Session, account: Account, group_id: str, body: object, if_match: str | None
) -> Outcome:
    """PUT: displayName and externalId as sent; the members as sent when the body names them
    (a PUT that only renames does not empty the group)."""
    data = parse_group(body)
    lock(session, account)
    row = get(session, account, group_id)
    check_version(row, if_match)
    before = (row.display_name, row.external_id)
    _store(row, data)
    counts = [0, 0]
    with _guarded():
        if data.members is not None:
            counts = _apply(session, account, row, MemberChange("replace", data.members))
        return _settle(session, row, before, counts)


def patch(
    session: Session, account: Account, group_id: str, body: object, if_match: str | None
) -> Outcome:
    ops = patch_ops.operations(body)
    lock(session, account)
    row = get(session, account, group_id)
    check_version(row, if_match)
    before = (row.display_name, row.external_id)
    doc: dict[str, Any] = {"schemas": [CORE_GROUP], "displayName": row.display_name}
    if row.external_id is not None:
        doc["externalId"] = row.external_id
    counts = [0, 0]

    def run(change: MemberChange) -> None:
        done = _apply(session, account, row, change)
        counts[0] += done[0]
        counts[1] += done[1]

    def members_in_value(op: str, key: str, value: Any, _doc: dict[str, Any]) -> bool:
        # A replace with no path whose value names members (Okta, aadOptscim062020).
        change = member_change(op, key, value) if key == "members" else None
        if change is not None:
            run(change)
        return change is not None

    with _guarded():
        for op, path, value in ops:
            change = member_change(op, path, value)
            if change is not None:
                run(change)
                continue
            doc = patch_ops.apply(
                doc, [(op, path, value)], extensions=(), known=KNOWN, multi_valued=members_in_value
            )
        patched = folded(doc)
        name = text(patched.get("displayname"), "displayName", required=True)
        assert name is not None
        _store(row, GroupData(name, text(patched.get("externalid"), "externalId")))
        return _settle(session, row, before, counts)


def delete(session: Session, account: Account, group_id: str, if_match: str | None) -> ScimGroup:
    """The group goes, and its members' rows with it (ON DELETE CASCADE)."""
    lock(session, account)
    row = get(session, account, group_id)
    check_version(row, if_match)
    session.delete(row)
    session.flush()
    return row


def user_leaving(session: Session, account: Account, user_id: str) -> None:
    """A SCIM user is about to be deleted: the groups it was a member of change with it (their
    member rows go by ON DELETE CASCADE), so their version and lastModified move on."""
    held = select(ScimGroupMember.group_id).where(ScimGroupMember.user_id == user_id)
    session.execute(
        update(ScimGroup)
        .where(ScimGroup.account_id == account.id, ScimGroup.id.in_(held))
        .values(version=ScimGroup.version + 1, updated_at=now(session)),
        execution_options={"synchronize_session": False},
    )
