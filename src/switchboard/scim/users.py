"""Users a SCIM client creates, replaces, patches and deletes.

Each request first records what the client said (the ``scim_users`` row: the directory, for a
SCIM account), then brings the portal in line exactly as a Graph sync of that one user would:
the sync's mapping, location rules, plan (link by email, relocate, disable, delete) and
apply, through the portal's one write path. A change the portal refuses is refused to the
client as a whole, and nothing of it is kept.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.db.models import Account, ScimSource, ScimUser, User
from switchboard.directory.models import DirectoryUser
from switchboard.portal import users
from switchboard.portal.actors import Actor, Role
from switchboard.portal.clock_context import now
from switchboard.portal.errors import PortalError
from switchboard.portal.schemas import UserPatch
from switchboard.scim import patch_ops, versions, write_locks
from switchboard.scim.errors import ScimError, invalid_value, not_found, uniqueness
from switchboard.scim.source import policy_for as policy_for
from switchboard.scim.user_attributes import (
    ENTERPRISE_USER,
    SWITCHBOARD_USER,
    UserData,
    document,
    parse_user,
)
from switchboard.sync import queries
from switchboard.sync.apply import apply_items
from switchboard.sync.plan import Action, Observation
from switchboard.sync.planner import in_apply_order, plan
from switchboard.sync.runs import ItemRecord

# Names of the attributes a PATCH may name, as the document spells them.
KNOWN = {
    k.lower(): k
    for k in (
        "userName",
        "externalId",
        "name",
        "givenName",
        "familyName",
        "formatted",
        "displayName",
        "emails",
        "value",
        "type",
        "primary",
        "active",
        "addresses",
        "locality",
        "department",
        "location",
        "extension",
        "phoneNumber",
    )
}


@dataclass(frozen=True)
class Outcome:
    row: ScimUser
    portal: User | None
    change: str  # in words, for the request log


def scim_actor(account: Account) -> Actor:
    """What the SCIM client may do beyond the directory's fields: the portal-owned extension
    and number it asks for through the Switchboard schema, within its account only."""
    return Actor(label="scim-client", role=Role.ACCOUNT_ADMIN, account_id=account.id)


def lock(session: Session, account: Account) -> None:
    write_locks.lock(session, account.id)


def get(session: Session, account: Account, scim_id: str, *, for_update: bool = False) -> ScimUser:
    """``for_update``: the row stays locked until the transaction ends, so two changes of one
    user take turns (changes of different users run side by side)."""
    query = select(ScimUser).where(ScimUser.account_id == account.id, ScimUser.id == scim_id)
    if for_update and session.get_bind().dialect.name != "postgresql":
        lock(session, account)  # SQLite has no row locks: the account's writes take turns
    row = session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise not_found(f"no user with id {scim_id} in this account")
    return row


def portal_user(session: Session, account: Account, row: ScimUser) -> User | None:
    return session.scalar(
        select(User).where(User.account_id == account.id, User.directory_id == row.id)
    )


def uses_portal_fields(source: ScimSource) -> bool:
    """Whether the account's users show their extension and number (the Switchboard schema)."""
    return source.location_attribute == "switchboard"


def data_of(row: ScimUser, portal: User | None = None) -> UserData:
    return UserData(
        user_name=row.user_name,
        external_id=row.external_id,
        given_name=row.given_name,
        family_name=row.family_name,
        display_name=row.display_name,
        email=row.email,
        email_type=row.email_type,
        email_primary=row.email_primary,
        active=row.active,
        department=row.department,
        locality=row.locality,
        location=row.location,
        extension=portal.extension if portal is not None else None,
        phone_number=portal.numbers[0].e164 if portal is not None and portal.numbers else None,
    )


def etag(row: ScimUser) -> str:
    return versions.etag(row.version)


def check_version(row: ScimUser, if_match: str | None) -> None:
    versions.check(row.version, if_match, "user")


def render(row: ScimUser, portal: User | None, location: str, source: ScimSource) -> dict[str, Any]:
    """The User resource as it is now (``location``: its URL)."""
    data = data_of(row, portal)
    if source.location_attribute != "switchboard":
        data = replace(data, location=None, extension=None, phone_number=None)
    doc = document(data)
    if source.location_attribute == "switchboard" and SWITCHBOARD_USER not in doc["schemas"]:
        doc["schemas"].append(SWITCHBOARD_USER)
        doc[SWITCHBOARD_USER] = {}
    return {
        **doc,
        "id": row.id,
        "meta": {
            "resourceType": "User",
            "created": row.created_at.isoformat().replace("+00:00", "Z"),
            "lastModified": row.updated_at.isoformat().replace("+00:00", "Z"),
            "location": location,
            "version": etag(row),
        },
    }


def _taken(session: Session, account: Account, data: UserData, scim_id: str | None) -> None:
    holder = session.scalar(
        select(ScimUser.id).where(
            ScimUser.account_id == account.id,
            ScimUser.user_name_key == data.user_name.casefold(),
        )
    )
    if holder is not None and holder != scim_id:
        raise uniqueness(f"another user of this account already has userName {data.user_name}")


def store(row: ScimUser, data: UserData) -> None:
    row.external_id = data.external_id
    row.user_name = data.user_name
    row.user_name_key = data.user_name.casefold()
    row.given_name = data.given_name
    row.family_name = data.family_name
    row.family_name_key = data.family_name.casefold() if data.family_name else None
    row.display_name = data.display_name
    row.email = data.email
    row.email_key = data.email.casefold() if data.email else None
    row.email_type = data.email_type
    row.email_primary = data.email_primary
    row.active = data.active
    row.department = data.department
    row.locality = data.locality
    row.location = data.location


def create(session: Session, account: Account, source: ScimSource, body: object) -> Outcome:
    data = parse_user(body)  # type: ignore[arg-type]
    lock(session, account)
    _taken(session, account, data, None)
    stamp = now(session)
    row = ScimUser(id=str(uuid.uuid4()), account_id=account.id, version=1)
    row.created_at = row.updated_at = stamp
    store(row, data)
    return _settle(session, account, source, row, data, "created")


def replace_user(
    session: Session,
    account: Account,
    source: ScimSource,
    scim_id: str,
    body: object,
    if_match: str | None,
) -> Outcome:
    data = parse_user(body)  # type: ignore[arg-type]
    row = get(session, account, scim_id, for_update=True)
    check_version(row, if_match)
    return _change(session, account, source, row, data)


def patch(
    session: Session,
    account: Account,
    source: ScimSource,
    scim_id: str,
    body: object,
    if_match: str | None,
) -> Outcome:
    ops = patch_ops.operations(body)
    row = get(session, account, scim_id, for_update=True)
    check_version(row, if_match)
    held = portal_user(session, account, row) if uses_portal_fields(source) else None
    current = data_of(row, held)
    patched = patch_ops.apply(
        document(current), ops, extensions=(ENTERPRISE_USER, SWITCHBOARD_USER), known=KNOWN
    )
    return _change(session, account, source, row, parse_user(patched))


def delete(session: Session, account: Account, source: ScimSource, scim_id: str) -> Outcome:
    row = get(session, account, scim_id, for_update=True)
    outcome = _settle(session, account, source, row, data_of(row), "deleted", gone=True)
    session.delete(row)
    session.flush()
    return outcome


def _change(
    session: Session, account: Account, source: ScimSource, row: ScimUser, data: UserData
) -> Outcome:
    _taken(session, account, data, row.id)
    before = data_of(row)
    asked = replace(data, extension=None, phone_number=None)
    store(row, data)
    changed = asked != before
    if changed:
        row.version += 1
        row.updated_at = now(session)
    return _settle(session, account, source, row, data, _words(before, asked))


def _words(before: UserData, after: UserData) -> str:
    if before.enabled and not after.enabled:
        return "deactivated"
    if after.enabled and not before.enabled:
        return "reactivated"
    labels = {
        "user_name": "userName",
        "external_id": "externalId",
        "given_name": "first name",
        "family_name": "last name",
        "display_name": "display name",
        "email": "email",
        "department": "department",
        "locality": "locality",
        "location": "location",
    }
    changed = [label for f, label in labels.items() if getattr(before, f) != getattr(after, f)]
    return "updated: " + ", ".join(changed) if changed else "unchanged"


def directory_user(row: ScimUser, data: UserData) -> DirectoryUser:
    """The user as the sync's mapping reads it. First and last name fall back to the display
    name, then to the part of userName before any @, so minimal RFC clients still provision."""
    words = (data.display_name or "").split()
    local = data.user_name.split("@")[0]
    first = data.given_name or (words[0] if words else local)
    last = data.family_name or (" ".join(words[1:]) if len(words) > 1 else local)
    return DirectoryUser(
        id=row.id,
        properties={
            "userPrincipalName": data.user_name,
            "givenName": first,
            "surname": last,
            "displayName": data.display_name,
            "mail": data.email,
            "accountEnabled": data.enabled,
            "department": data.department,
            "city": data.locality,
            "officeLocation": data.location,
        },
    )


def _settle(
    session: Session,
    account: Account,
    source: ScimSource,
    row: ScimUser,
    data: UserData,
    change: str,
    *,
    gone: bool = False,
) -> Outcome:
    """Record the row, then bring the portal user in line with it. A refusal raises, and the
    request's unit of work rolls back the row with everything else."""
    session.add(row)
    try:
        session.flush()
        removed = gone or (not data.enabled and source.deprovision == "delete")
        user = None if removed else directory_user(row, data)
        records = _apply(session, account, source, Observation(row.id, user, True))
    except IntegrityError as exc:
        raise uniqueness("a concurrent change took the same key; retry") from exc
    failed = [r for r in records if r.state == "failed"]
    if failed:
        raise refusal(failed[0])
    # The portal user matters only for what the Switchboard schema shows and sets.
    portal = None
    if not removed and (uses_portal_fields(source) or data.extension or data.phone_number):
        portal = portal_user(session, account, row)
    if portal is not None:
        _portal_owned(session, account, portal, data)
    done = [r.action for r in records if r.state == "applied"]
    if done and change == "unchanged":
        change = "updated: " + ", ".join(done)
    elif "relocate" in done:
        change += " (moved to another location)"
    return Outcome(row=row, portal=portal, change=change)


def _apply(
    session: Session, account: Account, source: ScimSource, obs: Observation
) -> list[ItemRecord]:
    policy = policy_for(source)
    locations = queries.locations(session, account.id)
    # One user: the deletion guard never holds a single deletion, so linked users are not
    # counted (a count over a 100,000-user account on every request).
    found = queries.candidates(session, account.id, policy, [obs], locations, count_linked=False)
    portal = found[0] if found is not None else queries.portal_users(session, account.id)
    the_plan = plan([obs], portal, policy, locations, full=False, guard_creations=False)
    if any(item.action is Action.CREATE for item in the_plan.items):
        lock(session, account)  # a new extension is handed out: creates take turns
    actor = users.sync_actor(account)
    return apply_items(session, actor, account, in_apply_order(the_plan.items))


def _portal_owned(session: Session, account: Account, user: User, data: UserData) -> None:
    """The extension and number a client asks for through the Switchboard schema."""
    fields: dict[str, Any] = {}
    if data.extension is not None and data.extension != user.extension:
        fields["extension"] = data.extension
    if data.phone_number is not None and data.phone_number not in [n.e164 for n in user.numbers]:
        fields["phone_numbers"] = [data.phone_number]
    if not fields:
        return
    try:
        users.update_user(session, scim_actor(account), account, user.id, UserPatch(**fields))
    except PortalError as exc:
        raise invalid_value(f"{_attribute(exc.field)}: {exc.message}") from exc
    except ValueError as exc:  # the patch model's own checks (a number not in E.164)
        raise invalid_value(
            "phoneNumber must be a number in international format, such as +14155550100"
        ) from exc


def _attribute(field: str | None) -> str:
    return {"extension": "extension", "phone_numbers": "phoneNumber"}.get(field or "", "user")


# The sync's words name Graph properties; a SCIM client knows them by SCIM names.
SCIM_NAMES = (
    ("userPrincipalName", "userName"),
    ("givenName", "name.givenName"),
    ("surname", "name.familyName"),
    ("officeLocation", "location"),
    ("city", "addresses.locality"),
    ("mail", "emails"),
    ("from Entra ID", ""),
    ("in Entra ID", ""),
    ("Entra ID user", "user"),
    ("Entra ID", "the directory"),
)


def refusal(record: ItemRecord) -> ScimError:
    message = record.message or "the portal refused this user"
    for graph, scim in SCIM_NAMES:
        message = re.sub(rf"\b{re.escape(graph)}\b", scim, message)
    message = re.sub(r" {2,}", " ", message).replace(" ;", ";").strip()
    if record.error_code and record.error_code.startswith("duplicate_"):
        return uniqueness(message)
    return invalid_value(message)
