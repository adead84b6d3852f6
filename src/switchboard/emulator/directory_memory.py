"""The emulated tenant in memory: users, groups and memberships, with a change log for delta.

Every change takes the next value of one counter (``version``). Each object remembers the
version of its last change and, per property, of the last change of that property; the per-kind
logs list (version, id) in order so a delta round can resume from any version by bisection.
Superseded log entries are skipped when read, which keeps writes O(1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from switchboard.emulator.clock import EmulatorClock
from switchboard.emulator.compact_storage import ChangeLog, MemberLog, Memberships
from switchboard.emulator.directory_objects import Change, Group, User


class DirectoryMemory:
    """The objects, their indexes and change logs, and the rows they persist as; the
    operations that change them by Graph's rules are Directory's (directory.py)."""

    def __init__(self, tenant_id: str, domain: str, clock: EmulatorClock) -> None:
        self.tenant_id = tenant_id
        self.domain = domain
        self.clock = clock
        self.version = 0
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.user_log = ChangeLog()
        self.group_log = ChangeLog()
        # Permanently deleted objects: id -> version of the deletion.
        self.user_tombstones: dict[str, int] = {}
        self.group_tombstones: dict[str, int] = {}
        self.member_of = Memberships()
        self.upn_index: dict[str, str] = {}
        # Soft-deleted user ids, so deleted items are listed and expired without a full scan.
        self.deleted_ids: set[str] = set()
        # Creation order of user ids (append-only), so list paging resumes at a position.
        self.user_order: list[str] = []
        self.listeners: list[Callable[[Change], None]] = []
        # Ids changed since the last save, so persistence writes only what changed.
        self.dirty_users: set[str] = set()
        self.dirty_groups: set[str] = set()

    # ----------------------------------------------------------------- bookkeeping
    def _bump(self) -> int:
        self.version += 1
        return self.version

    def _emit(self, change: Change) -> None:
        for listener in self.listeners:
            listener(change)

    def _log_user(self, user: User, changed: Iterable[str]) -> None:
        v = self._bump()
        user.version = v
        if user.created == 0:
            user.created = v
        else:
            user.mark_changed(changed, v)
        self.user_log.append(v, user.id)
        self.dirty_users.add(user.id)

    def _log_group(self, group: Group, changed: Iterable[str]) -> int:
        v = self._bump()
        group.version = v
        if group.created == 0:
            group.created = v
        else:
            group.mark_changed(changed, v)
        self.group_log.append(v, group.id)
        self.dirty_groups.add(group.id)
        return v

    # ----------------------------------------------------------------- persisted rows
    @staticmethod
    def user_row(u: User) -> list[Any]:
        return [
            u.props,
            u.prop_versions or {},
            u.version,
            u.created,
            u.is_admin,
            u.deleted_at,
            list(u.saved_groups),
        ]

    @staticmethod
    def group_row(g: Group) -> list[Any]:
        return [g.props, g.prop_versions, g.version, g.created, g.members, list(g.member_log)]

    def load_rows(
        self,
        users: Iterable[tuple[str, list[Any]]],
        groups: Iterable[tuple[str, list[Any]]],
        user_tombstones: dict[str, int],
        group_tombstones: dict[str, int],
    ) -> None:
        """Rebuild memory (indexes and change logs) from persisted rows."""
        for uid, (props, pv, v, created, admin, deleted_at, saved) in users:
            user = User(uid, props, pv, v, created, admin, deleted_at, saved)
            self.users[uid] = user
            if deleted_at is not None:
                self.deleted_ids.add(uid)
            self.index_upn(user.get("userPrincipalName"), uid)
        for gid, (props, pv, v, created, members, mlog) in groups:
            self.groups[gid] = Group(gid, props, pv, v, created, members, MemberLog(mlog))
            for mid in members:
                self.member_of.add(mid, gid)
        self.user_order = list(self.users)
        self.user_tombstones = dict(user_tombstones)
        self.group_tombstones = dict(group_tombstones)
        ulog = [(u.version, u.id) for u in self.users.values()]
        ulog += [(v, i) for i, v in self.user_tombstones.items()]
        glog = [(g.version, g.id) for g in self.groups.values()]
        glog += [(v, i) for i, v in self.group_tombstones.items()]
        ulog.sort()
        self.user_log = ChangeLog(ulog)
        del ulog
        self.group_log = ChangeLog(sorted(glog))

    def index_upn(self, upn: str, uid: str) -> None:
        key = upn.lower()
        # Most names are lower case already: keep one string for both.
        self.upn_index[upn if key == upn else key] = uid

    def compact_logs(self) -> None:
        """Drop log entries superseded by a later change of the same object (a delta round
        skips them anyway), leaving the logs a restart would load; seeding a million users
        leaves a million superseded group entries, one per membership added."""
        for log, current in (
            (self.user_log, self._user_version),
            (self.group_log, self._group_version),
        ):
            kept = ChangeLog((v, i) for v, i in log if current(i) == v)
            log.versions, log.ids = kept.versions, kept.ids

    def _user_version(self, oid: str) -> int | None:
        user = self.users.get(oid)
        return user.version if user is not None else self.user_tombstones.get(oid)

    def _group_version(self, oid: str) -> int | None:
        group = self.groups.get(oid)
        return group.version if group is not None else self.group_tombstones.get(oid)
