"""Creates of many users in one transaction: what concurrent ``POST /Users`` requests of one
account become when the endpoint gathers them (``web.scim.batching``).

The same rules as one create (``users.create``): each body read and checked on its own, userName
unique in the account and in the batch, then one plan over the batch and the sync's bulk writer
through the portal's one write path. Each user gets its outcome or the refusal of its own;
one refused user never stops the others, and nothing of a refused one is kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, ScimSource, ScimUser
from switchboard.portal.clock_context import now
from switchboard.portal.users import sync_actor
from switchboard.scim import users
from switchboard.scim.errors import ScimError, uniqueness
from switchboard.scim.user_attributes import UserData, parse_user
from switchboard.sync import queries
from switchboard.sync.apply import BulkState, apply_items
from switchboard.sync.plan import Observation
from switchboard.sync.planner import in_apply_order, plan

Result = users.Outcome | ScimError


def create_many(
    session: Session, account: Account, source: ScimSource, bodies: Sequence[object]
) -> list[Result]:
    """One outcome (or refusal) per body, in order."""
    results: list[Result | None] = [None] * len(bodies)
    parsed: list[tuple[int, UserData]] = []
    for index, body in enumerate(bodies):
        try:
            parsed.append((index, parse_user(body)))  # type: ignore[arg-type]
        except ScimError as exc:
            results[index] = exc
    users.lock(session, account)
    # The Switchboard schema's extension and number go one by one: each is its own refusal.
    singles = [(i, d) for i, d in parsed if d.extension or d.phone_number]
    batch = [(i, d) for i, d in parsed if not (d.extension or d.phone_number)]
    rows = _insert(session, account, _unique(session, account, batch, results))
    if rows:
        _provision(session, account, source, rows, results)
    for index, _data in singles:
        try:
            with session.begin_nested():
                results[index] = users.create(session, account, source, bodies[index])
        except ScimError as exc:
            results[index] = exc
    assert all(r is not None for r in results)  # every body was refused, batched or single
    return [r for r in results if r is not None]


def _unique(
    session: Session,
    account: Account,
    batch: list[tuple[int, UserData]],
    results: list[Result | None],
) -> list[tuple[int, UserData]]:
    """Refuse userNames already in the account or earlier in the batch."""
    keys = {data.user_name.casefold() for _i, data in batch}
    query = select(ScimUser.user_name_key).where(
        ScimUser.account_id == account.id, ScimUser.user_name_key.in_(keys)
    )
    taken = set(session.scalars(query)) if keys else set()
    kept = []
    for index, data in batch:
        key = data.user_name.casefold()
        if key in taken:
            results[index] = uniqueness(
                f"another user of this account already has userName {data.user_name}"
            )
            continue
        taken.add(key)
        kept.append((index, data))
    return kept


def _insert(
    session: Session, account: Account, batch: list[tuple[int, UserData]]
) -> list[tuple[int, ScimUser, UserData]]:
    stamp = now(session)
    rows = []
    for index, data in batch:
        row = ScimUser(id=str(uuid.uuid4()), account_id=account.id, version=1)
        row.created_at = row.updated_at = stamp
        users.store(row, data)
        rows.append((index, row, data))
    session.add_all([row for _i, row, _d in rows])
    session.flush()
    return rows


def _provision(
    session: Session,
    account: Account,
    source: ScimSource,
    rows: list[tuple[int, ScimUser, UserData]],
    results: list[Result | None],
) -> None:
    """One plan over the batch, applied by the sync's bulk writer."""
    deprovisioned = source.deprovision == "delete"
    observations = [
        Observation(
            row.id,
            None if (deprovisioned and not data.enabled) else users.directory_user(row, data),
            True,
        )
        for _i, row, data in rows
    ]
    policy = users.policy_for(source)
    locations = queries.locations(session, account.id)
    found = queries.candidates(
        session, account.id, policy, observations, locations, count_linked=False
    )
    portal = found[0] if found is not None else queries.portal_users(session, account.id)
    the_plan = plan(observations, portal, policy, locations, full=False, guard_creations=False)
    records = apply_items(
        session,
        sync_actor(account),
        account,
        in_apply_order(the_plan.items),
        bulk=BulkState(),
    )
    refused = {r.directory_id: r for r in records if r.state == "failed"}
    done: dict[str | None, list[str]] = {}
    for record in records:
        if record.state == "applied":
            done.setdefault(record.directory_id, []).append(record.action)
    gone = []
    for index, row, _data in rows:
        failure = refused.get(row.id)
        if failure is not None:
            results[index] = users.refusal(failure)
            gone.append(row.id)
            continue
        actions = done.get(row.id, [])
        results[index] = users.Outcome(
            row=row, portal=None, change="created" if "link" not in actions else "created: linked"
        )
    if gone:
        session.execute(
            delete(ScimUser).where(ScimUser.account_id == account.id, ScimUser.id.in_(gone))
        )
