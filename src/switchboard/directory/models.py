"""What the sync engine learns from the directory, independent of how it was fetched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Properties every read asks for: the mapping may name any of USER_PROPERTIES as a source.
BASE_SELECT = (
    "id",
    "userPrincipalName",
    "givenName",
    "surname",
    "displayName",
    "mail",
    "officeLocation",
    "accountEnabled",
    "onPremisesSyncEnabled",
    "businessPhones",
    "onPremisesExtensionAttributes",
)

# User properties Graph offers that a mapping may read (strings, or the extension attributes).
USER_PROPERTIES = (
    "givenName",
    "surname",
    "displayName",
    "mail",
    "userPrincipalName",
    "officeLocation",
    "city",
    "state",
    "country",
    "usageLocation",
    "department",
    "companyName",
    "jobTitle",
    "employeeId",
    "mailNickname",
    "streetAddress",
    "postalCode",
    *(f"onPremisesExtensionAttributes.extensionAttribute{i}" for i in range(1, 16)),
)


@dataclass(frozen=True)
class DirectoryUser:
    """One Entra ID user as Graph returned it (only the selected properties)."""

    id: str
    properties: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_graph(cls, obj: Mapping[str, Any]) -> DirectoryUser:
        return cls(id=str(obj["id"]), properties=dict(obj))

    def get(self, path: str) -> Any:
        """A property by Graph name; ``a.b`` reads a nested property (extension attributes)."""
        if "." not in path:
            return self.properties.get(path)
        value: Any = self.properties
        for part in path.split("."):
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    @property
    def user_principal_name(self) -> str:
        return str(self.properties.get("userPrincipalName") or "")

    @property
    def account_enabled(self) -> bool:
        # Absent means Graph was not asked for it; treat as enabled rather than disable anyone.
        return self.properties.get("accountEnabled") is not False

    @property
    def on_premises_sync_enabled(self) -> bool:
        return self.properties.get("onPremisesSyncEnabled") is True

    def merged(self, newer: DirectoryUser) -> DirectoryUser:
        """Delta pages may repeat an object; later pages win, absent properties mean no news."""
        return DirectoryUser(id=self.id, properties={**self.properties, **newer.properties})


@dataclass(frozen=True)
class UserRemoval:
    """``@removed`` on users/delta: soft deletion (restorable) or permanent deletion."""

    id: str
    permanent: bool


@dataclass
class UserDeltaRound:
    """The merged outcome of following users/delta to its deltaLink."""

    changed: dict[str, DirectoryUser] = field(default_factory=dict)
    removed: dict[str, UserRemoval] = field(default_factory=dict)
    delta_link: str = ""

    def add(self, obj: Mapping[str, Any]) -> None:
        user_id = str(obj["id"])
        marker = obj.get("@removed")
        if isinstance(marker, Mapping):
            self.changed.pop(user_id, None)
            self.removed[user_id] = UserRemoval(user_id, marker.get("reason") == "deleted")
            return
        self.removed.pop(user_id, None)
        user = DirectoryUser.from_graph(obj)
        previous = self.changed.get(user_id)
        self.changed[user_id] = previous.merged(user) if previous else user


@dataclass
class GroupDeltaRound:
    """Membership changes per group from groups/delta (members@delta merged across pages)."""

    added: dict[str, set[str]] = field(default_factory=dict)
    removed: dict[str, set[str]] = field(default_factory=dict)
    deleted_groups: set[str] = field(default_factory=set)
    delta_link: str = ""

    def add(self, obj: Mapping[str, Any]) -> None:
        group_id = str(obj["id"])
        if isinstance(obj.get("@removed"), Mapping):
            self.deleted_groups.add(group_id)
            return
        for member in obj.get("members@delta", ()) or ():
            member_id = str(member.get("id"))
            if isinstance(member.get("@removed"), Mapping):
                self.added.get(group_id, set()).discard(member_id)
                self.removed.setdefault(group_id, set()).add(member_id)
            else:
                self.removed.get(group_id, set()).discard(member_id)
                self.added.setdefault(group_id, set()).add(member_id)

    def touched_members(self) -> set[str]:
        """Every object id whose membership changed in some group."""
        ids: set[str] = set()
        for members in (*self.added.values(), *self.removed.values()):
            ids |= members
        return ids


@dataclass(frozen=True)
class DirectoryGroup:
    """A group as the group picker shows it. Counts are None when not asked for or not known."""

    id: str
    name: str
    description: str | None = None
    security_enabled: bool | None = None
    mail_enabled: bool | None = None
    members: int | None = None  # users in it, directly or through nested groups
    nested_groups: int | None = None  # groups directly inside it


@dataclass(frozen=True)
class GroupMatches:
    """One page of a group search: the groups shown, and how many match in all when known."""

    groups: list[DirectoryGroup]
    total: int | None = None
