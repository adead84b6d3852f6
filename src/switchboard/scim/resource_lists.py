"""GET /Users and /Groups (and their POST .search): a page of an account's users or groups,
filtered in SQL (``filters``), sorted and paged (``listing``), each resource shown with the
attributes asked for, as a ListResponse."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, ScimGroup, ScimSource, ScimUser, User
from switchboard.scim import group_members, groups, users
from switchboard.scim.discovery import LIST_RESPONSE
from switchboard.scim.filters import group_condition, user_condition
from switchboard.scim.group_list import wants_members
from switchboard.scim.listing import ListQuery, page, project


def _answer(q: ListQuery, total: int, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": q.start_index,
        "itemsPerPage": len(resources),
        "Resources": [project(r, q.attributes, q.excluded) for r in resources],
    }


def list_users(
    session: Session, account: Account, source: ScimSource, base_url: str, q: ListQuery
) -> dict[str, Any]:
    query = select(ScimUser).where(ScimUser.account_id == account.id)
    if q.filter is not None:
        query = query.where(user_condition(q.filter))
    total, found = page(session, query, q.start_index, q.count, order=q.order_by())
    portal: dict[str, User] = {}
    if found and users.uses_portal_fields(source):
        ids = [row.id for row in found]
        portal = {
            str(u.directory_id): u
            for u in session.scalars(
                select(User).where(User.account_id == account.id, User.directory_id.in_(ids))
            )
        }
    resources = [
        users.render(row, portal.get(row.id), f"{base_url}/Users/{row.id}", source) for row in found
    ]
    return _answer(q, total, resources)


def list_groups(session: Session, account: Account, base_url: str, q: ListQuery) -> dict[str, Any]:
    query = select(ScimGroup).where(ScimGroup.account_id == account.id)
    if q.filter is not None:
        query = query.where(group_condition(q.filter))
    # Without sortBy, groups page in the order they were made (they are few).
    order = q.order_by() or (ScimGroup.created_at.asc(),)
    total, found = page(session, query, q.start_index, q.count, order=order)
    members = (
        group_members.members_of(session, account.id, [r.id for r in found])
        if wants_members(",".join(q.attributes), ",".join(q.excluded))
        else None
    )
    resources = [
        groups.render(r, base_url, members[r.id] if members is not None else None) for r in found
    ]
    return _answer(q, total, resources)
