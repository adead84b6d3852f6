"""The database reads and writes a sync run makes besides its plan's items and its run row:
the portal users a plan compares against, the account's locations, and the delta state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.db.lookups import rows_matching_any
from switchboard.db.models import DirectoryRegistration, DirectorySyncState, Location, User
from switchboard.portal.clock_context import now
from switchboard.sync.mapping import Desired, LocationRef, map_user
from switchboard.sync.plan import Observation, PortalUser
from switchboard.sync.policy import SyncPolicy

# A delta or single run with more users than this loads the whole account, as a full run does.
TARGETED_LOAD_MAX = 2000
PORTAL_USER_COLUMNS = (
    User.id,
    User.username,
    User.first_name,
    User.last_name,
    User.email,
    User.location_id,
    User.status,
    User.directory_id,
)


@dataclass(frozen=True)
class DeltaLinks:
    """Where the account's last round stopped reading the two delta chains."""

    users: str | None
    groups: str | None


def registration(session: Session, account_id: int) -> DirectoryRegistration | None:
    return session.scalar(
        select(DirectoryRegistration).where(DirectoryRegistration.account_id == account_id)
    )


def portal_users(session: Session, account_id: int) -> list[PortalUser]:
    rows = session.execute(select(*PORTAL_USER_COLUMNS).where(User.account_id == account_id))
    return [PortalUser(*row) for row in rows]


def linked_count(session: Session, account_id: int) -> int:
    found = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.account_id == account_id, User.directory_id.is_not(None))
    )
    return int(found or 0)


def candidates(
    session: Session,
    account_id: int,
    policy: SyncPolicy,
    observations: Sequence[Observation],
    locations: Sequence[LocationRef],
    *,
    count_linked: bool = True,
) -> tuple[list[PortalUser], int | None] | None:
    """For a delta or single run: only the portal users the plan can look at, and the number
    of linked users (for the deletion guard; not counted without ``count_linked``, for a
    change of one user the guard never holds); None when that is no smaller than the account.

    The plan looks users up by directory id, by email and username (the keys the mapping
    gives), and by first + last name among users not linked yet; loading all unlinked users
    keeps the name rule exact without comparing names in SQL.
    """
    if len(observations) > TARGETED_LOAD_MAX:
        return None
    ids = {o.id for o in observations}
    keys: set[str] = set()
    by_name = {loc.name.casefold(): loc for loc in locations}
    for obs in observations:
        if obs.user is None:
            continue
        mapped = map_user(obs.user, policy, by_name)
        if isinstance(mapped, Desired):
            keys.update((mapped.email.casefold(), mapped.username.casefold()))
    in_account = User.account_id == account_id
    unlinked = session.execute(
        select(*PORTAL_USER_COLUMNS).where(in_account, User.directory_id.is_(None))
    ).all()
    keyed = rows_matching_any(
        session,
        PORTAL_USER_COLUMNS,
        account_id,
        [(User.directory_id, ids), (User.email_key, keys), (User.username_key, keys)],
    )
    rows = {row[0]: row for row in [*unlinked, *keyed]}.values()
    linked = linked_count(session, account_id) if count_linked else None
    return [PortalUser(*row) for row in rows], linked


def locations(session: Session, account_id: int) -> list[LocationRef]:
    rows = session.execute(
        select(Location.id, Location.name).where(Location.account_id == account_id)
    )
    return [LocationRef(int(i), str(n)) for i, n in rows]


def scope_changed(session: Session, account_id: int) -> bool:
    """Whether the account has no delta chain: never synced, or its groups or mapping changed
    since the last full reconcile (the creation guard's case; a first sync has no synced users
    and so is never held for creating)."""
    state = session.get(DirectorySyncState, account_id)
    return state is None or state.delta_chain_started_at is None


def delta_links(session: Session, account_id: int) -> DeltaLinks:
    state = session.get(DirectorySyncState, account_id)
    if state is None:
        return DeltaLinks(None, None)
    return DeltaLinks(state.users_delta_link, state.groups_delta_link)


def save_state(session: Session, account_id: int, links: tuple[str, str], *, full: bool) -> None:
    state = session.get(DirectorySyncState, account_id)
    if state is None:
        state = DirectorySyncState(account_id=account_id)
        session.add(state)
    stamp = now(session)
    state.users_delta_link, state.groups_delta_link = links[0], links[1] or None
    if full:
        state.last_full_at = stamp
        state.delta_chain_started_at = stamp
    state.last_delta_at = stamp
