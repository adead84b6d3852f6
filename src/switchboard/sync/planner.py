"""Whole plans from the rules of ``sync.plan``: one observation at a time (a full run plans
while the directory is still read), then the sweep and the guards once the read is complete.

The plan also decides the order a run carries out its items in and which of them a full run
may carry out while it still reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from switchboard.sync.mapping import LocationRef
from switchboard.sync.plan import (
    Action,
    Observation,
    Plan,
    PlanItem,
    PlanRules,
    PortalIndex,
    PortalUser,
)
from switchboard.sync.policy import SyncPolicy

# Deletions, relocations and links first, creates and updates after: what the first free is
# there for the others to take (a bulk write of creates and updates goes last).
APPLY_ORDER = {
    Action.DELETE: 0,
    Action.RELOCATE: 1,
    Action.LINK: 2,
    Action.UPDATE: 4,
    Action.ENABLE: 4,
    Action.DISABLE: 4,
    Action.CREATE: 5,
}
# What a full run carries out while it still reads: no deletions (the guard needs the whole
# read) and nothing done one by one (links and relocations may free keys a bulk write takes).
STREAMED = {Action.CREATE, Action.UPDATE, Action.ENABLE, Action.DISABLE, Action.SKIP, Action.ERROR}


def in_apply_order(items: Iterable[PlanItem]) -> list[PlanItem]:
    """The items in the order a run carries them out (stable within one action)."""
    return sorted(items, key=lambda i: APPLY_ORDER.get(i.action, 3))


class Planner:
    """The plan built one observation at a time, so a run can carry out what is decided while
    the directory is still being read; only the sweep and the deletion guard wait for
    ``finish`` (they need the complete read)."""

    def __init__(
        self,
        portal_users: Iterable[PortalUser],
        policy: SyncPolicy,
        locations: Sequence[LocationRef],
        *,
        guard_creations: bool = True,
    ) -> None:
        self.index = PortalIndex(portal_users)
        self.policy = policy
        # The creation guard watches scope changes (a wrong group, the whole tenant by
        # mistake), not an account growing through ordinary directory changes.
        self.guard_creations = guard_creations
        self._rules = PlanRules(self.index, policy, {loc.name.casefold(): loc for loc in locations})
        self.seen: set[str] = set()
        self.in_scope = 0

    @property
    def plan(self) -> Plan:
        return self._rules.plan

    def observe(self, obs: Observation) -> list[PlanItem]:
        """Decide for one observation; the items it added (none for a replay)."""
        if obs.id in self.seen:  # replays within one round: the first (merged) observation counts
            return []
        self.seen.add(obs.id)
        if obs.user is not None and obs.in_scope:
            self.in_scope += 1
        self._rules.fresh = []
        self._rules.observe(obs)
        return self._rules.fresh

    @property
    def creates_wait(self) -> bool:
        """Whether creates must wait for the complete read: the creation guard judges them
        all at once, and it only applies to an account that already has synced users."""
        return self.guard_creations and self.index.linked_count > 0

    def may_collide(self, item: PlanItem) -> bool:
        """Whether the item takes a username or email another portal user holds now: such an
        item waits until the one-by-one changes (links, relocations, deletions) are done."""
        if item.desired is None:
            return False
        for key, holders in (
            (item.desired.email.casefold(), self.index.by_email),
            (item.desired.username.casefold(), self.index.by_username),
        ):
            holder = holders.get(key)
            if holder is not None and holder.id != item.user_id:
                return True
        return False

    def may_stream(self, item: PlanItem) -> bool:
        """Whether a full run may carry the item out before its read is complete."""
        if item.action not in STREAMED or self.may_collide(item):
            return False
        # The creation guard judges the creates all together, after the read.
        return not (item.action is Action.CREATE and self.creates_wait)

    def finish(self, *, full: bool, linked_count: int | None = None) -> list[PlanItem]:
        """With ``full``, sweep linked users not observed at all (deleted); then judge the
        deletions against the guard. The items the sweep added."""
        self._rules.fresh = []
        if full:
            for directory_id, user in self.index.by_directory_id.items():
                if directory_id not in self.seen:
                    self._rules.add(
                        PlanItem(
                            Action.DELETE,
                            directory_id,
                            user.username,
                            user.id,
                            code="out_of_scope",
                            message="no longer in a synced group",
                        )
                    )
        linked = self.index.linked_count if linked_count is None else linked_count
        deletions = _guard(self.plan, self.policy, linked, self.in_scope, full)
        creations = (
            _creation_guard(self.plan, self.policy, linked) if self.guard_creations else None
        )
        self.plan.hold_reason = "; ".join(r for r in (deletions, creations) if r) or None
        self.plan.hold_creates = creations is not None
        return self._rules.fresh


def plan(
    observations: Iterable[Observation],
    portal_users: Iterable[PortalUser],
    policy: SyncPolicy,
    locations: Sequence[LocationRef],
    *,
    full: bool,
    linked_count: int | None = None,
    guard_creations: bool = True,
) -> Plan:
    """Decide what to do. With ``full``, linked users not observed at all are swept (deleted).

    ``portal_users`` may be only the users the observations can concern (a delta round); then
    ``linked_count`` gives how many linked users the account has, for the deletion guard.
    ``guard_creations``: apply the creation guard (runs after a change of scope).
    """
    planner = Planner(portal_users, policy, locations, guard_creations=guard_creations)
    for obs in observations:
        planner.observe(obs)
    planner.finish(full=full, linked_count=linked_count)
    return planner.plan


def _guard(result: Plan, policy: SyncPolicy, linked: int, in_scope: int, full: bool) -> str | None:
    return deletion_hold(policy, result.tally[Action.DELETE], linked, in_scope, full=full)


def deletion_hold(
    policy: SyncPolicy, deletions: int, linked: int, in_scope: int, *, full: bool
) -> str | None:
    """Why the deletion guard holds a run with these counts; None when it goes ahead."""
    guard = policy.deletion_guard
    if full and guard.hold_empty_enumeration and in_scope == 0 and linked > 0:
        return (
            f"the directory returned no users in scope while {linked} synced users exist;"
            " check the synced groups and the app's permissions, then approve or reject"
        )
    if linked and deletions > guard.max_count and deletions * 100 > guard.max_percent * linked:
        return (
            f"the run would delete {deletions} of {linked} synced users (more than"
            f" {guard.max_percent:g}% and more than {guard.max_count}); approve or reject"
        )
    return None


def _creation_guard(result: Plan, policy: SyncPolicy, linked: int) -> str | None:
    return creation_hold(policy, result.tally[Action.CREATE], linked)


def creation_hold(policy: SyncPolicy, creates: int, linked: int) -> str | None:
    """Mass creation on an account that already has synced users (a wrong group, the whole
    tenant by mistake); an account's first sync has nothing to compare with and goes ahead."""
    guard = policy.creation_guard
    if linked and creates > guard.max_count and creates * 100 > guard.max_percent * linked:
        return (
            f"the run would create {creates} users while {linked} are synced (more than"
            f" {guard.max_percent:g}% and more than {guard.max_count}); check the synced groups,"
            " then approve or reject"
        )
    return None
