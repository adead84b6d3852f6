"""Reads of the directory, turned into observations the plan decides on: a full read of the
synced groups, a delta round, one user.

A delta round that cannot stand on its own (no links yet, an expired link, a deleted synced
group, a backlog too large to check user by user, nested groups) says why a full reconcile
must run instead (``FullInstead``); a one-user read that ends before any plan says what to
record (``Unplanned``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from switchboard.directory.errors import DeltaTokenExpired
from switchboard.directory.models import DirectoryUser
from switchboard.directory.source import DirectorySource
from switchboard.portal.users import synced_directory_id, synced_user_id
from switchboard.portal.validation import quote
from switchboard.sync import queries
from switchboard.sync.plan import Action, Observation
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.ports import Transactions
from switchboard.sync.read_ahead import read_ahead

Progress = Callable[[str, int, int | None], None]
# Users read between two progress reports.
READ_REPORT_EVERY = 1000


def no_progress(_phase: str, _done: int, _total: int | None) -> None:
    return None


class FullRead:
    """Every user in the synced groups (or the tenant), in pages."""

    def __init__(self, directory: DirectorySource, policy: SyncPolicy, *, take_links: bool):
        select = policy.select()
        # Links taken before reading: changes made during the read replay in the next round.
        self.links = directory.latest_delta_links(select) if take_links else None
        self._users = directory.users_in_scope(policy.groups, select)

    def observations(self, progress: Progress, *, ahead: bool = False) -> Iterator[Observation]:
        """The users as observations; with ``ahead`` the read runs ahead in a thread while the
        caller plans and writes."""
        users = read_ahead(self._users) if ahead else self._users
        read = 0
        for user in users:
            read += 1
            yield Observation(user.id, user, True)
            if read % READ_REPORT_EVERY == 0:
                progress("read", read, None)
        progress("read", read, read)


@dataclass(frozen=True)
class DeltaRead:
    observations: list[Observation]
    # The links to save once the round is carried out: (users, groups; "" without groups).
    links: tuple[str, str]


@dataclass(frozen=True)
class FullInstead:
    """Why this delta round runs as a full reconcile."""

    why: str


def read_delta(
    directory: DirectorySource,
    policy: SyncPolicy,
    links: queries.DeltaLinks,
    *,
    backlog_max: int,
) -> DeltaRead | FullInstead:
    """The users changed since the saved links, and users whose synced memberships changed."""
    groups = policy.groups
    if not links.users or (groups and not links.groups):
        return FullInstead("no delta link yet: full reconcile")
    select = policy.select()
    try:
        # The two chains are independent: read them side by side.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="delta") as pool:
            users_future = pool.submit(directory.users_delta, links.users, select)
            groups_future = pool.submit(directory.groups_delta, links.groups) if groups else None
            user_round = users_future.result()
            group_round = groups_future.result() if groups_future else None
    except DeltaTokenExpired:
        return FullInstead("the delta link expired: full reconcile")
    if group_round is not None and set(groups) & group_round.deleted_groups:
        return FullInstead("a synced group was deleted: full reconcile")
    changed: dict[str, DirectoryUser] = dict(user_round.changed)
    touched = group_round.touched_members() if group_round else set()
    extra = touched - set(changed) - set(user_round.removed)
    backlog = len(changed) + len(extra)
    if groups and backlog > backlog_max:
        # Each would need its own membership check: reading the groups is cheaper.
        return FullInstead(
            f"{backlog} changed users since the last round (more than "
            f"{backlog_max} to check one by one): full reconcile"
        )
    if extra:
        fetched = directory.get_users(extra, select)
        if set(extra) - set(fetched):
            # A member that is not a user is a nested group: its members' scope changed.
            return FullInstead("nested group membership changed: full reconcile")
        changed.update(fetched)
    membership = directory.member_of(changed, groups) if groups and changed else {}
    observations = [
        Observation(uid, user, not groups or bool(membership.get(uid)))
        for uid, user in changed.items()
    ]
    observations += [
        Observation(r.id, None, False, permanent=r.permanent) for r in user_round.removed.values()
    ]
    return DeltaRead(
        observations, (user_round.delta_link, group_round.delta_link if group_round else "")
    )


@dataclass(frozen=True)
class Unplanned:
    """A one-user run that ends before planning: the one item it records."""

    directory_id: str | None
    username: str
    action: Action
    code: str
    message: str


def read_single(
    directory: DirectorySource,
    policy: SyncPolicy,
    key: str,
    *,
    services: Transactions,
    account_id: int,
) -> list[Observation] | Unplanned:
    """One user by object id or UPN. Gone from the directory: the synced user it was, if any;
    out of scope: only a user synced before matters (its deletion)."""
    user = directory.get_user(key, policy.select())
    if user is None:
        with services.unit_of_work() as session:
            linked_id = synced_directory_id(session, account_id, key)
        if linked_id is None:
            message = f"no user {quote(key)} in Entra ID (by object id or UPN)"
            return Unplanned(None, key, Action.ERROR, "not_found", message)
        return [Observation(linked_id, None, False)]
    groups = policy.groups
    in_scope = not groups or bool(directory.member_of([user.id], groups).get(user.id))
    if not in_scope:
        with services.unit_of_work() as session:
            linked = synced_user_id(session, account_id, user.id)
        if linked is None:
            return Unplanned(
                user.id,
                user.user_principal_name,
                Action.SKIP,
                "out_of_scope",
                "not in a synced group; add the user to one in Entra ID",
            )
    return [Observation(user.id, user, in_scope)]
