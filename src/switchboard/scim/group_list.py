"""GET /Groups: a page of an account's groups, as a ListResponse.

Until the endpoint's general filters (``scim.filters``) and listing (``scim.listing``: paging,
sorting, projection) serve groups, this answers what Entra and Okta send for groups: a filter
``displayName eq "..."`` or ``externalId eq "..."`` (also ``id eq`` and Entra's membership
check ``members[value eq "..."]``, joined by ``and``), 1-based paging, and ``members`` left
out with ``excludedAttributes=members`` (``attributes`` says only whether members show).
``list_groups`` is the one function to swap.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import Session

from switchboard.db.models import Account, ScimGroup, ScimGroupMember
from switchboard.scim import group_members, groups
from switchboard.scim.discovery import LIST_RESPONSE, MAX_RESULTS
from switchboard.scim.errors import invalid_filter, invalid_value

_STRING = r'"((?:[^"\\]|\\.)*)"'
# One term: an attribute eq a string, or Entra's membership check members[value eq "<id>"].
_TERM = re.compile(
    rf"\s*(?:(displayName|externalId|id)\s+eq\s+{_STRING}|members\[\s*value\s+eq\s+{_STRING}\s*\])\s*",
    re.IGNORECASE,
)
_AND = re.compile(r"and(?=\s)", re.IGNORECASE)


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw)


def _term(found: re.Match[str]) -> ColumnElement[bool]:
    attribute, value, member = found.group(1), found.group(2), found.group(3)
    if attribute is None:
        held = select(ScimGroupMember.group_id).where(ScimGroupMember.user_id == _unescape(member))
        return ScimGroup.id.in_(held)
    value = _unescape(value)
    if attribute.lower() == "displayname":
        return ScimGroup.display_name_key == value.casefold()
    if attribute.lower() == "externalid":
        return ScimGroup.external_id == value  # externalId is case-exact (RFC 7643 3.1)
    return ScimGroup.id == value


def _condition(filter_text: str | None) -> ColumnElement[bool]:
    """``displayName``, ``externalId`` or ``id`` eq a string, and ``members[value eq ...]``,
    joined by ``and``."""
    if filter_text is None or not filter_text.strip():
        return true()
    terms: list[ColumnElement[bool]] = []
    at = 0
    while True:
        found = _TERM.match(filter_text, at)
        if found is None:
            raise invalid_filter(
                'groups can be filtered by displayName eq "<name>", externalId eq "<id>" or'
                ' id eq "<id>", joined by and'
            )
        terms.append(_term(found))
        at = found.end()
        if at == len(filter_text):
            return and_(*terms)
        joined = _AND.match(filter_text, at)
        if joined is None:
            raise invalid_filter(f"the filter is not understood after character {at}")
        at = joined.end()


def _number(raw: str | None, name: str, default: int) -> int:
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid_value(f"{name} must be a whole number") from None


def wants_members(attributes: str | None, excluded: str | None) -> bool:
    """Whether the response shows members (read only then: a large group's members are many)."""

    def names(raw: str | None) -> set[str]:
        return {n.strip().lower().rsplit(":", 1)[-1] for n in (raw or "").split(",") if n.strip()}

    if "members" in names(excluded):
        return False
    asked = names(attributes)
    return not asked or bool(asked & {"members", "members.value", "members.display"})


def list_groups(
    session: Session,
    account: Account,
    base_url: str,
    *,
    filter_text: str | None,
    start_index: str | None,
    count: str | None,
    attributes: str | None,
    excluded: str | None,
) -> dict[str, Any]:
    condition = ScimGroup.account_id == account.id, _condition(filter_text)
    start = max(_number(start_index, "startIndex", 1), 1)  # below 1 reads as 1 (RFC 7644)
    size = min(max(_number(count, "count", MAX_RESULTS), 0), MAX_RESULTS)
    total = session.scalar(select(func.count()).select_from(ScimGroup).where(*condition)) or 0
    rows = list(
        session.scalars(
            select(ScimGroup)
            .where(*condition)
            .order_by(ScimGroup.created_at, ScimGroup.id)
            .offset(start - 1)
            .limit(size)
        )
        if size
        else []
    )
    members = (
        group_members.members_of(session, account.id, [r.id for r in rows])
        if wants_members(attributes, excluded)
        else None
    )
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(rows),
        "Resources": [
            groups.render(r, base_url, members[r.id] if members is not None else None) for r in rows
        ],
    }
