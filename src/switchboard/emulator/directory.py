"""The emulated tenant's operations: users, groups and memberships, by Graph's rules.

The objects, their memory and change log live in directory_memory.py; every operation here
logs its change there (for delta) and tells the listeners (for change notifications).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from switchboard.emulator.clock import iso
from switchboard.emulator.compact_storage import MemberKind
from switchboard.emulator.directory_memory import DirectoryMemory
from switchboard.emulator.directory_objects import (
    GROUP_PROPS,
    GROUP_READ_ONLY,
    PHONE_FIELDS,
    SOFT_DELETE_RETENTION_SECONDS,
    USER_PROPS,
    USER_READ_ONLY,
    Change,
    DirectoryError,
    Group,
    User,
    bad_request,
    empty_extension_attributes,
    new_id,
    not_found,
    validate_user_values,
)


class Directory(DirectoryMemory):
    """Graph's rules over the tenant: creating, changing and deleting users and groups, and
    group membership; every change is logged for delta and told to the listeners."""

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
        validate_user_values(clean)
        upn = self._check_upn(clean["userPrincipalName"])
        uid = object_id or new_id()
        if uid in self.users or uid in self.groups:
            raise bad_request(f"id: an object with id '{uid}' already exists.")
        if "createdDateTime" not in clean:
            clean["createdDateTime"] = iso(self.clock.timestamp())
        clean.setdefault("businessPhones", [])
        clean.setdefault("onPremisesSyncEnabled", None)
        clean.setdefault("mailNickname", upn.split("@")[0])
        clean.setdefault("userType", "Member")
        clean["id"] = uid
        user = User(uid, clean, is_admin=is_admin)
        self.users[uid] = user
        self.user_order.append(uid)
        self.index_upn(user.get("userPrincipalName"), uid)
        self._log_user(user, ())
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
        validate_user_values(patch)
        touches_phones = bool(set(patch) & PHONE_FIELDS)
        if touches_phones and user.get("onPremisesSyncEnabled"):
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
            merged = dict(user.get("onPremisesExtensionAttributes") or empty_extension_attributes())
            merged.update(patch["onPremisesExtensionAttributes"])
            patch["onPremisesExtensionAttributes"] = merged
        changed = [k for k, v in patch.items() if user.get(k) != v]
        if not changed:
            return user
        if "userPrincipalName" in changed:
            del self.upn_index[user.get("userPrincipalName").lower()]
            self.index_upn(patch["userPrincipalName"], user.id)
        user.set_props({k: patch[k] for k in changed})
        self._log_user(user, changed)
        self._emit(Change("users", user.id, "updated", "users"))
        return user

    def delete_user(self, key: str) -> None:
        """Soft delete: the user moves to deleted items for 30 days and leaves its groups."""
        user = self.get_user(key)
        groups = sorted(self.member_of.get(user.id))
        for gid in groups:
            self.remove_member(gid, user.id)
        user.saved_groups = groups
        user.deleted_at = self.clock.timestamp()
        self.deleted_ids.add(user.id)
        user.set_props({"deletedDateTime": iso(user.deleted_at)})
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
        user.set_props({"deletedDateTime": None})
        self._log_user(user, ["deletedDateTime"])
        self._emit(Change("users", user.id, "updated", "users"))
        for gid in user.saved_groups:
            if gid in self.groups:
                self.add_member(gid, user.id)
        user.saved_groups = ()
        return user

    def purge_user(self, object_id: str) -> None:
        """Permanent deletion from deleted items (delta reports reason "deleted")."""
        user = self.deleted_user(object_id)
        del self.users[user.id]
        self.deleted_ids.discard(user.id)
        self.upn_index.pop(user.get("userPrincipalName").lower(), None)
        self.member_of.pop(user.id)
        v = self._bump()
        self.user_tombstones[user.id] = v
        self.dirty_users.add(user.id)
        self.user_log.append(v, user.id)
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
        if "createdDateTime" not in clean:
            clean["createdDateTime"] = iso(self.clock.timestamp())
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
            self.member_of.discard(mid, group.id)
        for parent in self.member_of.get(group.id):
            self.remove_member(parent, group.id)
        self.member_of.pop(group.id)
        del self.groups[group.id]
        v = self._bump()
        self.group_tombstones[group.id] = v
        self.dirty_groups.add(group.id)
        self.group_log.append(v, group.id)
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
        self.member_of.add(member_id, group_id)
        v = self._log_group(group, [])
        group.member_log.append(v, member_id, kind, True)
        self._emit(Change("groups", group_id, "updated", "groups"))
        self._emit(Change(f"groups/{group_id}/members", group_id, "updated", "groups"))

    def remove_member(self, group_id: str, member_id: str) -> None:
        group = self.get_group(group_id)
        kind = group.members.pop(member_id, None)
        if kind is None:
            raise not_found("member", member_id)
        self.member_of.discard(member_id, group_id)
        v = self._log_group(group, [])
        group.member_log.append(v, member_id, kind, False)
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
        queue = list(self.member_of.get(member_id))
        while queue:
            gid = queue.pop()
            if gid in found:
                continue
            found.add(gid)
            queue.extend(self.member_of.get(gid))
        return found
