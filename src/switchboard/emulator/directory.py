"""The emulated tenant: users, groups and memberships in memory, with a change log for delta.

Every change takes the next value of one counter (``version``). Each object remembers the
version of its last change and, per property, of the last change of that property; the per-kind
logs list (version, id) in order so a delta round can resume from any version by bisection.
Superseded log entries are skipped when read, which keeps writes O(1).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from switchboard.emulator.clock import EmulatorClock, iso

Kind = Literal["users", "groups"]
MemberKind = Literal["user", "group"]

USER_DEFAULT_PROPS: tuple[str, ...] = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
EXTENSION_ATTRIBUTES = tuple(f"extensionAttribute{i}" for i in range(1, 16))
USER_PROPS: frozenset[str] = frozenset(
    {
        *USER_DEFAULT_PROPS,
        "accountEnabled",
        "city",
        "country",
        "usageLocation",
        "department",
        "employeeId",
        "companyName",
        "onPremisesSyncEnabled",
        "onPremisesImmutableId",
        "onPremisesExtensionAttributes",
        "createdDateTime",
        "deletedDateTime",
        "mailNickname",
        "userType",
    }
)
USER_READ_ONLY = frozenset({"id", "createdDateTime", "deletedDateTime", "onPremisesSyncEnabled"})
PHONE_FIELDS = frozenset({"businessPhones", "mobilePhone", "onPremisesExtensionAttributes"})
GROUP_DEFAULT_PROPS: tuple[str, ...] = (
    "id",
    "displayName",
    "description",
    "groupTypes",
    "mail",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
    "createdDateTime",
)
GROUP_PROPS: frozenset[str] = frozenset({*GROUP_DEFAULT_PROPS, "deletedDateTime"})
GROUP_READ_ONLY = frozenset({"id", "createdDateTime", "deletedDateTime"})
SOFT_DELETE_RETENTION_SECONDS = 30 * 24 * 3600
_EXT_KEY = re.compile(r"^extensionAttribute([1-9]|1[0-5])$")


class DirectoryError(Exception):
    """A rule of the directory was broken; carries the Graph status and error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(kind: str, object_id: str) -> DirectoryError:
    return DirectoryError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property "
        f"objects are not present. ({kind})",
    )


def bad_request(message: str) -> DirectoryError:
    return DirectoryError(400, "Request_BadRequest", message)


@dataclass(slots=True)
class User:
    id: str
    props: dict[str, Any]
    # Versions of properties changed after creation; the rest changed at ``created``.
    prop_versions: dict[str, int]
    version: int
    created: int = 0
    is_admin: bool = False
    deleted_at: float | None = None
    # Direct groups at soft-delete time, given back on restore (as Entra does).
    saved_groups: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Group:
    id: str
    props: dict[str, Any]
    prop_versions: dict[str, int]
    version: int
    created: int = 0
    members: dict[str, MemberKind] = field(default_factory=dict)
    # (version, member id, member kind, added?) for members@delta of incremental rounds.
    member_log: list[tuple[int, str, MemberKind, bool]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Change:
    """What a change notification reports: a resource and updated/deleted."""

    resource: str  # "users" | "groups" | "groups/{id}/members"
    object_id: str
    change_type: Literal["updated", "deleted"]
    kind: Kind


def new_id(rng: Any = None) -> str:
    if rng is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Directory:
    def __init__(self, tenant_id: str, domain: str, clock: EmulatorClock) -> None:
        self.tenant_id = tenant_id
        self.domain = domain
        self.clock = clock
        self.version = 0
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.user_log: list[tuple[int, str]] = []
        self.group_log: list[tuple[int, str]] = []
        # Permanently deleted objects: id -> version of the deletion.
        self.user_tombstones: dict[str, int] = {}
        self.group_tombstones: dict[str, int] = {}
        self.member_of: dict[str, set[str]] = {}
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
            for name in changed:
                user.prop_versions[name] = v
        self.user_log.append((v, user.id))
        self.dirty_users.add(user.id)

    def _log_group(self, group: Group, changed: Iterable[str]) -> int:
        v = self._bump()
        group.version = v
        if group.created == 0:
            group.created = v
        else:
            for name in changed:
                group.prop_versions[name] = v
        self.group_log.append((v, group.id))
        self.dirty_groups.add(group.id)
        return v

    def verified_domains(self) -> list[str]:
        return [self.domain, f"{self.tenant_id.split('-')[0]}.onmicrosoft.com"]

    def _check_upn(self, upn: Any, *, current: str | None = None) -> str:
        if not isinstance(upn, str) or upn.count("@") != 1:
            raise bad_request(
                "Property userPrincipalName is invalid: give name@domain with one '@'."
            )
        local, domain = upn.split("@")
        if not local or domain.lower() not in {d.lower() for d in self.verified_domains()}:
            raise bad_request(
                f"Property userPrincipalName is invalid: the domain portion '{domain}' must be "
                f"one of the tenant's verified domains ({', '.join(self.verified_domains())})."
            )
        owner = self.upn_index.get(upn.lower())
        if owner is not None and owner != current:
            raise bad_request(
                "Another object with the same value for property userPrincipalName already exists."
            )
        return upn

    # ----------------------------------------------------------------- users
    def active_users(self) -> Iterator[User]:
        return (u for u in self.users.values() if u.deleted_at is None)

    def active_users_from(self, position: int) -> Iterator[tuple[int, User]]:
        """(position, user) of active users from ``position`` on, in creation order."""
        order, users = self.user_order, self.users
        for i in range(position, len(order)):
            user = users.get(order[i])
            if user is not None and user.deleted_at is None:
                yield i, user

    def active_count(self) -> int:
        return len(self.users) - len(self.deleted_ids)

    def deleted_users(self) -> Iterator[User]:
        return (self.users[i] for i in sorted(self.deleted_ids))

    def get_user(self, key: str) -> User:
        """By id or userPrincipalName, as Graph resolves /users/{id | userPrincipalName}."""
        user = self.users.get(key)
        if user is None:
            owner = self.upn_index.get(key.lower())
            user = self.users.get(owner) if owner else None
        if user is None or user.deleted_at is not None:
            raise not_found("user", key)
        return user

    def create_user(
        self,
        props: dict[str, Any],
        *,
        object_id: str | None = None,
        is_admin: bool = False,
        allow_read_only: bool = False,
    ) -> User:
        unknown = sorted(set(props) - USER_PROPS - {"passwordProfile"})
        if unknown:
            raise bad_request(
                f"Property '{unknown[0]}' does not exist on type 'microsoft.graph.user'."
            )
        for required in ("displayName", "userPrincipalName", "accountEnabled"):
            if props.get(required) in (None, ""):
                raise bad_request(
                    f"Property {required} is required when creating a user; give a value."
                )
        if not allow_read_only:
            ro = sorted(set(props) & USER_READ_ONLY)
            if ro:
                raise bad_request(f"Property '{ro[0]}' is read-only and cannot be set.")
        clean = {k: v for k, v in props.items() if k != "passwordProfile"}
        _validate_user_values(clean)
        upn = self._check_upn(clean["userPrincipalName"])
        uid = object_id or new_id()
        if uid in self.users or uid in self.groups:
            raise bad_request(f"id: an object with id '{uid}' already exists.")
        clean.setdefault("createdDateTime", iso(self.clock.timestamp()))
        clean.setdefault("businessPhones", [])
        clean.setdefault("onPremisesSyncEnabled", None)
        clean.setdefault("mailNickname", upn.split("@")[0])
        clean.setdefault("userType", "Member")
        clean["id"] = uid
        user = User(id=uid, props=clean, prop_versions={}, version=0, is_admin=is_admin)
        self.users[uid] = user
        self.user_order.append(uid)
        self.upn_index[upn.lower()] = uid
        self._log_user(user, clean.keys())
        self._emit(Change("users", uid, "updated", "users"))
        return user

    def update_user(
        self,
        key: str,
        patch: dict[str, Any],
        *,
        may_write_admin_phones: bool = True,
    ) -> User:
        user = self.get_user(key)
        if not isinstance(patch, dict) or not patch:
            raise bad_request("The request body must be a JSON object with properties to change.")
        unknown = sorted(set(patch) - USER_PROPS - {"passwordProfile"})
        if unknown:
            raise bad_request(
                f"Property '{unknown[0]}' does not exist on type 'microsoft.graph.user'."
            )
        ro = sorted(set(patch) & USER_READ_ONLY)
        if ro:
            raise bad_request(f"Property '{ro[0]}' is read-only and cannot be set.")
        patch = {k: v for k, v in patch.items() if k != "passwordProfile"}
        _validate_user_values(patch)
        touches_phones = bool(set(patch) & PHONE_FIELDS)
        if touches_phones and user.props.get("onPremisesSyncEnabled"):
            raise bad_request(
                "Unable to update the specified properties for on-premises mastered Directory "
                "Sync objects or objects currently undergoing migration."
            )
        if touches_phones and user.is_admin and not may_write_admin_phones:
            raise DirectoryError(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        if "userPrincipalName" in patch:
            self._check_upn(patch["userPrincipalName"], current=user.id)
        if "onPremisesExtensionAttributes" in patch:
            merged = dict(user.props.get("onPremisesExtensionAttributes") or _empty_ext())
            merged.update(patch["onPremisesExtensionAttributes"])
            patch["onPremisesExtensionAttributes"] = merged
        changed = [k for k, v in patch.items() if user.props.get(k) != v]
        if not changed:
            return user
        if "userPrincipalName" in changed:
            del self.upn_index[user.props["userPrincipalName"].lower()]
            self.upn_index[patch["userPrincipalName"].lower()] = user.id
        for k in changed:
            user.props[k] = patch[k]
        self._log_user(user, changed)
        self._emit(Change("users", user.id, "updated", "users"))
        return user

    def delete_user(self, key: str) -> None:
        """Soft delete: the user moves to deleted items for 30 days and leaves its groups."""
        user = self.get_user(key)
        groups = sorted(self.member_of.get(user.id, set()))
        for gid in groups:
            self.remove_member(gid, user.id)
        user.saved_groups = groups
        user.deleted_at = self.clock.timestamp()
        self.deleted_ids.add(user.id)
        user.props["deletedDateTime"] = iso(user.deleted_at)
        self._log_user(user, ["deletedDateTime"])
        # Soft deletion reaches subscribers as "updated", as Graph sends it.
        self._emit(Change("users", user.id, "updated", "users"))

    def deleted_user(self, object_id: str) -> User:
        user = self.users.get(object_id)
        if user is None or user.deleted_at is None:
            raise not_found("deletedItem", object_id)
        return user

    def restore_user(self, object_id: str) -> User:
        user = self.deleted_user(object_id)
        user.deleted_at = None
        self.deleted_ids.discard(user.id)
        user.props["deletedDateTime"] = None
        self._log_user(user, ["deletedDateTime"])
        self._emit(Change("users", user.id, "updated", "users"))
        for gid in user.saved_groups:
            if gid in self.groups:
                self.add_member(gid, user.id)
        user.saved_groups = []
        return user

    def purge_user(self, object_id: str) -> None:
        """Permanent deletion from deleted items (delta reports reason "deleted")."""
        user = self.deleted_user(object_id)
        del self.users[user.id]
        self.deleted_ids.discard(user.id)
        self.upn_index.pop(user.props["userPrincipalName"].lower(), None)
        self.member_of.pop(user.id, None)
        v = self._bump()
        self.user_tombstones[user.id] = v
        self.dirty_users.add(user.id)
        self.user_log.append((v, user.id))
        self._emit(Change("users", user.id, "deleted", "users"))

    def expire_deleted(self) -> int:
        """Purge users soft-deleted more than 30 days ago (emulator clock)."""
        cutoff = self.clock.timestamp() - SOFT_DELETE_RETENTION_SECONDS
        old = [u.id for u in self.deleted_users() if (u.deleted_at or 0) < cutoff]
        for uid in old:
            self.purge_user(uid)
        return len(old)

    # ----------------------------------------------------------------- groups
    def get_group(self, object_id: str) -> Group:
        group = self.groups.get(object_id)
        if group is None:
            raise not_found("group", object_id)
        return group

    def create_group(self, props: dict[str, Any], *, object_id: str | None = None) -> Group:
        unknown = sorted(set(props) - GROUP_PROPS)
        if unknown:
            raise bad_request(
                f"Property '{unknown[0]}' does not exist on type 'microsoft.graph.group'."
            )
        for required in ("displayName", "mailEnabled", "mailNickname", "securityEnabled"):
            if props.get(required) is None or props.get(required) == "":
                raise bad_request(
                    f"Property {required} is required when creating a group; give a value."
                )
        if not isinstance(props["displayName"], str) or len(props["displayName"]) > 256:
            raise bad_request("Property displayName must be a string of at most 256 characters.")
        gid = object_id or new_id()
        if gid in self.groups or gid in self.users:
            raise bad_request(f"id: an object with id '{gid}' already exists.")
        clean = dict(props)
        clean["id"] = gid
        clean.setdefault("description", None)
        clean.setdefault("groupTypes", [])
        clean.setdefault("mail", None)
        clean.setdefault("createdDateTime", iso(self.clock.timestamp()))
        group = Group(id=gid, props=clean, prop_versions={}, version=0)
        self.groups[gid] = group
        self._log_group(group, clean.keys())
        self._emit(Change("groups", gid, "updated", "groups"))
        return group

    def update_group(self, object_id: str, patch: dict[str, Any]) -> Group:
        group = self.get_group(object_id)
        unknown = sorted(set(patch) - GROUP_PROPS)
        if unknown:
            raise bad_request(
                f"Property '{unknown[0]}' does not exist on type 'microsoft.graph.group'."
            )
        ro = sorted(set(patch) & GROUP_READ_ONLY)
        if ro:
            raise bad_request(f"Property '{ro[0]}' is read-only and cannot be set.")
        changed = [k for k, v in patch.items() if group.props.get(k) != v]
        if changed:
            for k in changed:
                group.props[k] = patch[k]
            self._log_group(group, changed)
            self._emit(Change("groups", group.id, "updated", "groups"))
        return group

    def delete_group(self, object_id: str) -> None:
        """Security groups are deleted permanently (delta reports reason "deleted")."""
        group = self.get_group(object_id)
        for mid in list(group.members):
            self.member_of.get(mid, set()).discard(group.id)
        for parent in list(self.member_of.get(group.id, set())):
            self.remove_member(parent, group.id)
        self.member_of.pop(group.id, None)
        del self.groups[group.id]
        v = self._bump()
        self.group_tombstones[group.id] = v
        self.dirty_groups.add(group.id)
        self.group_log.append((v, group.id))
        self._emit(Change("groups", group.id, "deleted", "groups"))

    def member_kind(self, object_id: str) -> MemberKind:
        user = self.users.get(object_id)
        if user is not None and user.deleted_at is None:
            return "user"
        if object_id in self.groups:
            return "group"
        raise not_found("directoryObject", object_id)

    def add_member(self, group_id: str, member_id: str) -> None:
        group = self.get_group(group_id)
        kind = self.member_kind(member_id)
        if member_id in group.members:
            raise bad_request(
                "One or more added object references already exist for the following "
                f"modified properties: 'members' ({member_id})."
            )
        if kind == "group" and (
            member_id == group_id or group_id in self.transitive_member_ids(member_id)
        ):
            raise bad_request("Adding this group as a member would create a membership cycle.")
        group.members[member_id] = kind
        self.member_of.setdefault(member_id, set()).add(group_id)
        v = self._log_group(group, [])
        group.member_log.append((v, member_id, kind, True))
        self._emit(Change("groups", group_id, "updated", "groups"))
        self._emit(Change(f"groups/{group_id}/members", group_id, "updated", "groups"))

    def remove_member(self, group_id: str, member_id: str) -> None:
        group = self.get_group(group_id)
        kind = group.members.pop(member_id, None)
        if kind is None:
            raise not_found("member", member_id)
        self.member_of.get(member_id, set()).discard(group_id)
        v = self._log_group(group, [])
        group.member_log.append((v, member_id, kind, False))
        self._emit(Change("groups", group_id, "updated", "groups"))
        self._emit(Change(f"groups/{group_id}/members", group_id, "deleted", "groups"))

    def transitive_member_ids(self, group_id: str) -> list[str]:
        """Members of a group and of its nested groups, each once, breadth first."""
        seen: dict[str, None] = {}
        queue = [group_id]
        visited_groups = {group_id}
        while queue:
            nxt: list[str] = []
            for gid in queue:
                for mid, kind in self.groups[gid].members.items():
                    if mid not in seen:
                        seen[mid] = None
                    if kind == "group" and mid not in visited_groups and mid in self.groups:
                        visited_groups.add(mid)
                        nxt.append(mid)
            queue = nxt
        return list(seen)

    def transitive_groups_of(self, member_id: str) -> set[str]:
        found: set[str] = set()
        queue = list(self.member_of.get(member_id, set()))
        while queue:
            gid = queue.pop()
            if gid in found:
                continue
            found.add(gid)
            queue.extend(self.member_of.get(gid, set()))
        return found

    # ----------------------------------------------------------------- persistence
    @staticmethod
    def user_row(u: User) -> list[Any]:
        return [
            u.props,
            u.prop_versions,
            u.version,
            u.created,
            u.is_admin,
            u.deleted_at,
            u.saved_groups,
        ]

    @staticmethod
    def group_row(g: Group) -> list[Any]:
        return [g.props, g.prop_versions, g.version, g.created, g.members, g.member_log]

    def load_rows(
        self,
        users: Iterable[tuple[str, list[Any]]],
        groups: Iterable[tuple[str, list[Any]]],
        user_tombstones: dict[str, int],
        group_tombstones: dict[str, int],
    ) -> None:
        """Rebuild memory (indexes and change logs) from persisted rows."""
        for uid, (props, pv, v, created, admin, deleted_at, saved) in users:
            self.users[uid] = User(uid, props, pv, v, created, admin, deleted_at, saved)
            if deleted_at is not None:
                self.deleted_ids.add(uid)
            self.upn_index[props["userPrincipalName"].lower()] = uid
        for gid, (props, pv, v, created, members, mlog) in groups:
            log = [(e[0], e[1], e[2], e[3]) for e in mlog]
            self.groups[gid] = Group(gid, props, pv, v, created, members, log)
            for mid in members:
                self.member_of.setdefault(mid, set()).add(gid)
        self.user_order = list(self.users)
        self.user_tombstones = dict(user_tombstones)
        self.group_tombstones = dict(group_tombstones)
        ulog = [(u.version, u.id) for u in self.users.values()]
        ulog += [(v, i) for i, v in self.user_tombstones.items()]
        glog = [(g.version, g.id) for g in self.groups.values()]
        glog += [(v, i) for i, v in self.group_tombstones.items()]
        self.user_log = sorted(ulog)
        self.group_log = sorted(glog)


def _empty_ext() -> dict[str, str | None]:
    return dict.fromkeys(EXTENSION_ATTRIBUTES)


def _validate_user_values(props: dict[str, Any]) -> None:
    """Graph's value rules for the properties the product writes or reads."""
    strings = set(USER_PROPS) - {
        "businessPhones",
        "accountEnabled",
        "onPremisesSyncEnabled",
        "onPremisesExtensionAttributes",
    }
    for key, value in props.items():
        if key in strings and value is not None and not isinstance(value, str):
            raise bad_request(f"Property {key} must be a string or null.")
    if "accountEnabled" in props and not isinstance(props["accountEnabled"], bool):
        raise bad_request("Property accountEnabled must be true or false.")
    if "displayName" in props and (
        not props["displayName"] or len(str(props["displayName"])) > 256
    ):
        raise bad_request("Property displayName must be 1 to 256 characters.")
    if "businessPhones" in props:
        phones = props["businessPhones"]
        if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
            raise bad_request("Property businessPhones must be a list of strings.")
        if len(phones) > 1:
            raise bad_request(
                "Property businessPhones can hold only one number; give a list with one value "
                "or an empty list."
            )
    mobile = props.get("mobilePhone")
    if isinstance(mobile, str) and len(mobile) > 64:
        raise bad_request("Property mobilePhone must be at most 64 characters.")
    if "onPremisesExtensionAttributes" in props:
        ext = props["onPremisesExtensionAttributes"]
        if not isinstance(ext, dict):
            raise bad_request("Property onPremisesExtensionAttributes must be an object.")
        for k, v in ext.items():
            if not _EXT_KEY.match(k):
                raise bad_request(
                    f"Property onPremisesExtensionAttributes.{k} does not exist; use "
                    "extensionAttribute1 to extensionAttribute15."
                )
            if v is not None and (not isinstance(v, str) or len(v) > 1024):
                raise bad_request(
                    f"Property onPremisesExtensionAttributes.{k} must be a string of at most "
                    "1024 characters, or null to clear it."
                )
