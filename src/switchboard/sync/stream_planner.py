"""The plan of a full run that carries out what it decides while it still reads, in memory
that does not grow with the account: the rules of ``sync.plan`` page by page, against a
packed snapshot of the account's keys instead of every portal user as an object.

At the start the run reads each synced user's directory id, user id and a fingerprint of the
fields the directory owns, and the keys (email, username) linked users hold: about 140 bytes
a user (``switchboard.packed``; ``docs/memory.md`` counts them). Users without a directory link are
loaded whole (a correlation looks at them by name). For each page of the read:

- a linked user whose mapped fields match its fingerprint is unchanged: counted, no item (the
  rules would decide the same: its keys are its own in the portal, so no claim can collide);
- for the rest, the portal users they concern (their own row, the holders of their keys) are
  read in one query, and the rules decide as ``sync.planner`` does.

After the read, linked users the read did not see are swept (deleted), as in ``Planner``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.db.models import User
from switchboard.packed import MASK64, PackedTable, guid_key, guid_of, id_key, text_key
from switchboard.sync.mapping import Desired, LocationRef, MappingError, map_user
from switchboard.sync.plan import (
    Action,
    Observation,
    Plan,
    PlanItem,
    PlanRules,
    PortalIndex,
    PortalUser,
)
from switchboard.sync.planner import STREAMED, creation_hold, deletion_hold
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.queries import PORTAL_USER_COLUMNS

# Users fetched per query (bound parameters stay well within every driver's limit).
FETCH_CHUNK = 500
FetchUsers = Callable[[Sequence[int]], list[PortalUser]]
# Claims a table is first sized for (a few megabytes; it grows when a run claims more).
CLAIMS_EXPECTED = 50_000
# ``PortalSnapshot.seen``: a linked user the read saw, and one it saw unchanged.
SEEN, UNCHANGED = 1, 2


def fingerprint(
    username: str, first: str, last: str, email: str, location_id: int, enabled: bool
) -> int:
    """The directory-owned fields of a user in one number (this process's hash)."""
    return hash((username, first, last, email, location_id, enabled))


def _signed(word: int) -> int:
    return word - (1 << 64) if word >= 1 << 63 else word


class PackedClaims:
    """Keys claimed by directory users of this run: key -> the claiming directory id, in
    packed words (a GUID's own bits; other ids, only in tests, kept as text)."""

    def __init__(
        self,
        implied: Callable[[str], str | None],
        *,
        expected: int = 0,
    ) -> None:
        self.table = PackedTable(words=1, columns=2, expected=expected)
        self.texts: dict[int, str] = {}  # ids that are no GUID (in tests), by key
        # The last id seen, with its key: a user claims its email and username in a row.
        self._last: tuple[str, int] = ("", 0)
        # Claims an unchanged user made without being written down (``StreamingPlanner``).
        self.implied = implied

    def get(self, key: str, /) -> str | None:
        slot = self.table.slot(text_key(key))
        if slot < 0:
            return self.implied(key)
        hi = self.table.value(slot, 0) & MASK64
        lo = self.table.value(slot, 1) & MASK64
        claimant = (hi << 64) | lo
        return self.texts.get(claimant) or guid_of(claimant)

    def __setitem__(self, key: str, directory_id: str, /) -> None:
        last_id, claimant = self._last
        if last_id != directory_id:
            found = guid_key(directory_id)
            if found is None:
                found = id_key(directory_id)
                self.texts[found] = directory_id
            claimant = found
            self._last = (directory_id, claimant)
        self.table.add(text_key(key), _signed(claimant >> 64), _signed(claimant & MASK64))


@dataclass
class PortalSnapshot:
    """The account's users at the start of the run, packed."""

    # id_key(directory id) -> (user id, fingerprint); ``seen`` marks the slots the read saw.
    linked: PackedTable
    seen: bytearray
    # text_key(email key / username key) of linked users -> user id.
    emails: PackedTable
    usernames: PackedTable
    # Users without a directory link, whole: what a new directory user may be linked to.
    unlinked: PortalIndex

    @classmethod
    def load(cls, session: Session, account_id: int) -> PortalSnapshot:
        in_account = User.account_id == account_id
        count = session.scalar(select(func.count()).select_from(User).where(in_account)) or 0
        rows = session.execute(
            select(*PORTAL_USER_COLUMNS).where(in_account).execution_options(yield_per=5000)
        )
        return cls.of((PortalUser(*row) for row in rows), expected=count)

    @classmethod
    def of(cls, users: Iterable[PortalUser], *, expected: int = 0) -> PortalSnapshot:
        linked = PackedTable(words=2, columns=2, expected=expected)
        emails = PackedTable(columns=1, expected=expected)
        usernames = PackedTable(columns=1, expected=expected)
        unlinked: list[PortalUser] = []
        for user in users:
            if user.directory_id is None:
                unlinked.append(user)
                continue
            print_ = fingerprint(
                user.username,
                user.first_name,
                user.last_name,
                user.email,
                user.location_id,
                user.status == "active",
            )
            linked.add(id_key(user.directory_id), user.id, print_)
            emails.add(text_key(user.email.casefold()), user.id)
            usernames.add(text_key(user.username.casefold()), user.id)
        return cls(linked, bytearray(linked.capacity), emails, usernames, PortalIndex(unlinked))

    @property
    def linked_count(self) -> int:
        return self.linked.size

    def holder(self, table: PackedTable, key: str) -> int | None:
        slot = table.slot(text_key(key))
        return table.value(slot) if slot >= 0 else None

    def unseen(self) -> list[int]:
        """User ids of linked users the read did not see."""
        linked, seen = self.linked, self.seen
        return [linked.value(i) for i in linked.slots() if linked.used(i) and not seen[i]]


@dataclass
class PageIndex:
    """The portal users one page of observations can concern (``plan.PortalLookups``)."""

    by_directory_id: Mapping[str, PortalUser]
    by_email: Mapping[str, PortalUser]
    by_username: Mapping[str, PortalUser]
    by_name: Mapping[tuple[str, str], list[PortalUser]]


class StreamingPlanner:
    """``Planner`` for a full run over the whole account, page by page (see the module)."""

    def __init__(
        self,
        snapshot: PortalSnapshot,
        policy: SyncPolicy,
        locations: Sequence[LocationRef],
        fetch: FetchUsers,
        *,
        guard_creations: bool = True,
    ) -> None:
        self.snapshot = snapshot
        self.policy = policy
        self.fetch = fetch
        self.guard_creations = guard_creations
        self.locations = {loc.name.casefold(): loc for loc in locations}
        empty = PageIndex({}, {}, {}, snapshot.unlinked.by_name)
        self._rules = PlanRules(empty, policy, self.locations)
        self._rules.plan.keep = False
        self._rules.claimed_emails = PackedClaims(
            lambda key: self._implied(key, "email"), expected=CLAIMS_EXPECTED
        )
        self._rules.claimed_usernames = PackedClaims(
            lambda key: self._implied(key, "username"), expected=CLAIMS_EXPECTED
        )
        # Unchanged users of the page being decided: slot -> position in the page.
        self._skipped_here: dict[int, int] = {}
        self._position = 0
        # Directory ids seen that no portal user was linked to (a read may repeat a user).
        self._new = PackedTable(words=2, expected=CLAIMS_EXPECTED)
        self.in_scope = 0
        self.unchanged = 0  # decided without an item: counted in the plan's tally

    @property
    def plan(self) -> Plan:
        return self._rules.plan

    @property
    def creates_wait(self) -> bool:
        return self.guard_creations and self.snapshot.linked_count > 0

    def observe_page(self, page: Iterable[Observation]) -> list[PlanItem]:
        """Decide for a page of a full read (every observation a user in scope); the items
        added, unchanged users aside (``unchanged`` counts them)."""
        snapshot, rules = self.snapshot, self._rules
        linked, seen = snapshot.linked, snapshot.seen
        rest: list[tuple[int, Observation, Desired | MappingError, int | None]] = []
        skipped_here: dict[int, int] = {}
        for position, obs in enumerate(page):
            user = obs.user
            assert user is not None
            key = id_key(obs.id)
            slot = linked.slot(key)
            if slot < 0:
                if not self._new.add(key)[1]:
                    continue  # a replay: the first observation counts
                self.in_scope += 1
                rest.append((position, obs, map_user(user, self.policy, self.locations), None))
                continue
            if seen[slot]:
                continue
            seen[slot] = SEEN
            self.in_scope += 1
            mapped = map_user(user, self.policy, self.locations)
            if isinstance(mapped, Desired) and linked.value(slot, 1) == fingerprint(
                mapped.username,
                mapped.first_name,
                mapped.last_name,
                mapped.email,
                mapped.location.id,
                user.account_enabled,
            ):
                self.unchanged += 1
                rules.plan.tally[Action.SKIP] += 1
                seen[slot] = UNCHANGED
                skipped_here[slot] = position
                continue
            rest.append((position, obs, mapped, linked.value(slot)))
        rules.fresh = []
        if rest:
            rules.index = self._page_index(rest)
            self._skipped_here = skipped_here
            for position, obs, mapped, _user_id in rest:
                self._position = position
                rules.observe(obs, mapped)
            self._skipped_here = {}
        return rules.fresh

    def _implied(self, key: str, kind: str) -> str | None:
        """The unchanged user who claimed ``key`` before the observation being decided: the
        rules would have written its claim down (its keys are its portal user's), so the
        observation hears of it as of any other claim."""
        index = self._rules.index
        holder = (index.by_email if kind == "email" else index.by_username).get(key)
        if holder is None or holder.directory_id is None:
            return None
        slot = self.snapshot.linked.slot(id_key(holder.directory_id))
        if slot < 0 or self.snapshot.seen[slot] != UNCHANGED:
            return None
        at = self._skipped_here.get(slot)
        return holder.directory_id if at is None or at < self._position else None

    def _page_index(
        self, rest: Sequence[tuple[int, Observation, Desired | MappingError, int | None]]
    ) -> PageIndex:
        """The page's portal users: the linked users observed, and the holders of the keys
        the observations take."""
        snapshot = self.snapshot
        wanted: set[int] = set()
        for _position, _obs, mapped, user_id in rest:
            if user_id is not None:
                wanted.add(user_id)
            if isinstance(mapped, Desired):
                for table, key in (
                    (snapshot.emails, mapped.email.casefold()),
                    (snapshot.usernames, mapped.username.casefold()),
                ):
                    holder = snapshot.holder(table, key)
                    if holder is not None and holder != user_id:
                        wanted.add(holder)
        users = self.fetch(sorted(wanted)) if wanted else []
        unlinked = snapshot.unlinked
        emails = {u.email.casefold(): u for u in users}
        usernames = {u.username.casefold(): u for u in users}
        if unlinked.by_email:  # a key is held by one user, linked or not: the two never clash
            emails.update(unlinked.by_email)
            usernames.update(unlinked.by_username)
        return PageIndex(
            {u.directory_id: u for u in users if u.directory_id},
            emails,
            usernames,
            unlinked.by_name,
        )

    def may_stream(self, item: PlanItem) -> bool:
        """Whether the run may carry the item out before its read is complete (as
        ``Planner.may_stream``, against the page just observed)."""
        if item.action not in STREAMED:
            return False
        desired = item.desired
        if desired is not None:
            index = self._rules.index
            for key, holders in (
                (desired.email.casefold(), index.by_email),
                (desired.username.casefold(), index.by_username),
            ):
                holder = holders.get(key)
                if holder is not None and holder.id != item.user_id:
                    return False
        return not (item.action is Action.CREATE and self.creates_wait)

    def finish(self) -> list[PlanItem]:
        """Sweep linked users the read did not see (deleted), then judge the guards. The
        items the sweep added."""
        rules = self._rules
        rules.fresh = []
        gone = self.snapshot.unseen()
        for start in range(0, len(gone), FETCH_CHUNK):
            for user in self.fetch(gone[start : start + FETCH_CHUNK]):
                rules.add(
                    PlanItem(
                        Action.DELETE,
                        user.directory_id,
                        user.username,
                        user.id,
                        code="out_of_scope",
                        message="no longer in a synced group",
                    )
                )
        plan, linked = self.plan, self.snapshot.linked_count
        deletions = deletion_hold(
            self.policy, plan.tally[Action.DELETE], linked, self.in_scope, full=True
        )
        creations = (
            creation_hold(self.policy, plan.tally[Action.CREATE], linked)
            if self.guard_creations
            else None
        )
        plan.hold_reason = "; ".join(r for r in (deletions, creations) if r) or None
        plan.hold_creates = creations is not None
        return rules.fresh


def fetch_users(session: Session, account_id: int, user_ids: Sequence[int]) -> list[PortalUser]:
    """The portal users with these ids (of the account), as the plan compares them."""
    found: list[PortalUser] = []
    for start in range(0, len(user_ids), FETCH_CHUNK):
        part = user_ids[start : start + FETCH_CHUNK]
        rows = session.execute(
            select(*PORTAL_USER_COLUMNS).where(User.account_id == account_id, User.id.in_(part))
        )
        found.extend(PortalUser(*row) for row in rows)
    return found
