"""In-memory stand-ins for edges, implementing the same interfaces as the real adapters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from switchboard.db.models import DirectoryRegistration
from switchboard.directory.errors import DeltaTokenExpired
from switchboard.directory.models import (
    DirectoryGroup,
    DirectoryUser,
    GroupDeltaRound,
    GroupMatches,
    UserDeltaRound,
)
from switchboard.directory.source import DirectorySource
from switchboard.jobs.runner import InlineJobRunner


class FakeDirectory:
    """A directory with users, nested groups and change logs behind DirectorySource.

    Delta links are ``users:N`` / ``groups:N``: positions in the change logs. ``expire()`` makes
    every link handed out so far invalid, like Graph after 7 days.
    """

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.soft_deleted: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, set[str]] = {}
        self.user_log: list[tuple[str, str]] = []  # (user id, "changed" | "soft" | "hard")
        self.group_log: list[tuple[str, str, bool]] = []  # (group id, member id, added)
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self.refuse: dict[str, Exception] = {}  # user id -> what update_user raises
        # (n, error): users_in_scope raises error after yielding n users, as a read that breaks
        self.read_breaks_after: tuple[int, Exception] | None = None
        self.expired_before = 0
        self.closed = 0  # how often a run closed it (a Graph directory drops its connections)
        self.group_names: dict[str, str] = {}  # group id -> display name, for the group picker
        self.group_lookups_fail: Exception | None = None  # what the group picker's reads raise

    # --- directory administration (what an Entra admin does) ---------------------------------

    def add_user(self, uid: str, **props: Any) -> None:
        base = {
            "id": uid,
            "userPrincipalName": f"{uid}@contoso.example",
            "givenName": "Ada",
            "surname": "Lovelace",
            "mail": f"{uid}@contoso.example",
            "officeLocation": "HQ",
            "accountEnabled": True,
        }
        base.update(props)
        self.users[uid] = base
        self.user_log.append((uid, "changed"))

    def change(self, uid: str, **props: Any) -> None:
        self.users[uid].update(props)
        self.user_log.append((uid, "changed"))

    def soft_delete(self, uid: str) -> None:
        self.soft_deleted[uid] = self.users.pop(uid)
        self.user_log.append((uid, "soft"))

    def restore(self, uid: str) -> None:
        self.users[uid] = self.soft_deleted.pop(uid)
        self.user_log.append((uid, "changed"))

    def hard_delete(self, uid: str) -> None:
        self.users.pop(uid, None)
        self.soft_deleted.pop(uid, None)
        self.user_log.append((uid, "hard"))

    def add_member(self, gid: str, member: str) -> None:
        self.groups.setdefault(gid, set()).add(member)
        self.group_log.append((gid, member, True))

    def remove_member(self, gid: str, member: str) -> None:
        self.groups.get(gid, set()).discard(member)
        self.group_log.append((gid, member, False))

    def expire(self) -> None:
        self.expired_before = max(len(self.user_log), len(self.group_log)) + 1

    def transitive(self, gid: str, seen: set[str] | None = None) -> set[str]:
        seen = seen if seen is not None else set()
        found: set[str] = set()
        for member in self.groups.get(gid, set()):
            if member in self.groups and member not in seen:
                seen.add(member)
                found |= self.transitive(member, seen)
            elif member in self.users:
                found.add(member)
        return found

    # --- DirectorySource ---------------------------------------------------------------------

    def _user(self, uid: str, select: Sequence[str]) -> DirectoryUser:
        props = self.users[uid]
        return DirectoryUser.from_graph(
            {k: v for k, v in props.items() if k in select or k == "id"}
        )

    def users_in_scope(
        self, group_ids: Sequence[str], select: Sequence[str]
    ) -> Iterator[DirectoryUser]:
        ids: set[str] = set(self.users) if not group_ids else set()
        for gid in group_ids:
            ids |= self.transitive(gid)
        for n, uid in enumerate(sorted(ids)):
            if self.read_breaks_after is not None and n == self.read_breaks_after[0]:
                raise self.read_breaks_after[1]
            yield self._user(uid, select)

    def get_user(self, id_or_upn: str, select: Sequence[str]) -> DirectoryUser | None:
        for uid, props in self.users.items():
            if id_or_upn in (uid, props.get("userPrincipalName")):
                return self._user(uid, select)
        return None

    def get_users(self, ids: Iterable[str], select: Sequence[str]) -> dict[str, DirectoryUser]:
        return {uid: self._user(uid, select) for uid in ids if uid in self.users}

    def member_of(self, user_ids: Iterable[str], group_ids: Sequence[str]) -> dict[str, set[str]]:
        scopes = {gid: self.transitive(gid) for gid in group_ids}
        return {uid: {g for g, members in scopes.items() if uid in members} for uid in user_ids}

    def _position(self, link: str | None, kind: str) -> int:
        if link is None:
            return 0
        prefix, _, pos = link.partition(":")
        if prefix != kind or int(pos) < self.expired_before:
            raise DeltaTokenExpired(
                "the delta token has expired", status=400, code="syncStateNotFound"
            )
        return int(pos)

    def users_delta(self, delta_link: str | None, select: Sequence[str]) -> UserDeltaRound:
        start = self._position(delta_link, "users")
        result = UserDeltaRound()
        for uid, what in self.user_log[start:]:
            if what == "changed" and uid in self.users:
                result.add(self._user(uid, select).properties)
            elif what in ("soft", "hard"):
                result.add(
                    {"id": uid, "@removed": {"reason": "deleted" if what == "hard" else "changed"}}
                )
        result.delta_link = f"users:{len(self.user_log)}"
        return result

    def groups_delta(self, delta_link: str | None) -> GroupDeltaRound:
        start = self._position(delta_link, "groups")
        result = GroupDeltaRound()
        for gid, member, added in self.group_log[start:]:
            entry: dict[str, Any] = {"@odata.type": "#microsoft.graph.user", "id": member}
            if not added:
                entry["@removed"] = {"reason": "deleted"}
            result.add({"id": gid, "members@delta": [entry]})
        result.delta_link = f"groups:{len(self.group_log)}"
        return result

    def latest_delta_links(self, select: Sequence[str]) -> tuple[str, str]:
        return f"users:{len(self.user_log)}", f"groups:{len(self.group_log)}"

    def update_user(self, user_id: str, properties: Mapping[str, Any]) -> None:
        if user_id in self.refuse:
            raise self.refuse[user_id]
        self.writes.append((user_id, dict(properties)))
        current = self.users[user_id]
        for key, value in properties.items():
            if isinstance(value, dict):
                current[key] = {**(current.get(key) or {}), **value}
            else:
                current[key] = value
        self.user_log.append((user_id, "changed"))

    def close(self) -> None:
        self.closed += 1

    # --- group picker (GroupLookup) ---------------------------------------------------------

    def name_group(self, gid: str, name: str) -> None:
        self.group_names[gid] = name
        self.groups.setdefault(gid, set())

    def group_lookup(self) -> FakeDirectory:
        return self

    def _group(self, gid: str, *, counts: bool) -> DirectoryGroup:
        nested = sum(1 for m in self.groups.get(gid, set()) if m in self.groups)
        return DirectoryGroup(
            id=gid,
            name=self.group_names.get(gid, gid),
            members=len(self.transitive(gid)) if counts else None,
            nested_groups=nested if counts else None,
        )

    def search_groups(self, text: str, *, top: int) -> GroupMatches:
        if self.group_lookups_fail is not None:
            raise self.group_lookups_fail
        wanted = text.strip().casefold()
        found = sorted(
            (gid for gid, name in self.group_names.items() if name.casefold().startswith(wanted)),
            key=lambda g: self.group_names[g].casefold(),
        )
        return GroupMatches([self._group(g, counts=True) for g in found[:top]], len(found))

    def groups_by_id(self, ids: Sequence[str]) -> dict[str, DirectoryGroup]:
        if self.group_lookups_fail is not None:
            raise self.group_lookups_fail
        known = self.group_names.keys() | self.groups.keys()
        return {g: self._group(g, counts=False) for g in ids if g in known}


class FakeDirectories:
    """A directory factory for ``build(directory_for=...)``: every registration gets
    ``current``. A test that needs another directory mid-test (an outage, a gate) assigns
    ``current``; the container itself never changes."""

    def __init__(self, current: DirectorySource | None = None) -> None:
        self.current: DirectorySource = current if current is not None else FakeDirectory()

    def __call__(self, _registration: DirectoryRegistration) -> DirectorySource:
        return self.current


class FakeJobs:
    """A job runner for ``build(jobs=...)``: runs work at once in the caller's thread (a page
    answers after its run) until a test sets ``hold``; from then on work waits in ``held`` for
    the test to run it (a run still going when the page answers)."""

    def __init__(self) -> None:
        self.hold = False
        self.held: list[Callable[[], object]] = []
        self._inline = InlineJobRunner()

    def submit(self, name: str, work: Callable[[], object], *, key: str | None = None) -> bool:
        if self.hold:
            self.held.append(work)
            return True
        return self._inline.submit(name, work, key=key)

    def shutdown(self) -> None:
        return None
