"""The emulated tenant's objects: users, groups and change records, their Graph property
tables, the value rules Graph applies to them, and the errors the directory raises.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from switchboard.emulator.compact_storage import (
    REPEATED_VALUES,
    MemberKind,
    MemberLog,
    compact_value,
    shape_of,
)

Kind = Literal["users", "groups"]

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
_STRING_PROPS = USER_PROPS - {
    "businessPhones",
    "accountEnabled",
    "onPremisesSyncEnabled",
    "onPremisesExtensionAttributes",
}
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


class User:
    """A user. Its properties are a tuple of values in the order of a ``Shape`` that users with
    the same property names share (a million users, one shape): ``props`` gives them as a dict,
    ``get`` reads one, ``set_props`` changes them."""

    __slots__ = (
        "_values",
        "created",
        "deleted_at",
        "id",
        "is_admin",
        "prop_versions",
        "saved_groups",
        "shape",
        "version",
    )

    def __init__(
        self,
        id: str,
        props: dict[str, Any],
        prop_versions: dict[str, int] | None = None,
        version: int = 0,
        created: int = 0,
        is_admin: bool = False,
        deleted_at: float | None = None,
        saved_groups: Sequence[str] = (),
    ) -> None:
        self.id = id
        shape = self.shape = shape_of(tuple(props))
        values = [compact_value(v) for v in props.values()]
        for pos in shape.repeated:
            if type(values[pos]) is str:
                values[pos] = sys.intern(values[pos])
        upn, mail = shape.index.get("userPrincipalName"), shape.index.get("mail")
        if upn is not None and mail is not None and values[mail] == values[upn]:
            values[mail] = values[upn]  # mostly the same address: one string
        self._values = tuple(values)
        # Versions of properties changed after creation (None until one is); the rest changed
        # at ``created``.
        self.prop_versions = prop_versions or None
        self.version = version
        self.created = created
        self.is_admin = is_admin
        self.deleted_at = deleted_at
        # Direct groups at soft-delete time, given back on restore (as Entra does).
        self.saved_groups: Sequence[str] = saved_groups or ()

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, props={self.props!r}, version={self.version})"

    @property
    def props(self) -> dict[str, Any]:
        """The properties as a new dict, in the order they were first set."""
        return {
            k: list(v) if type(v) is tuple else v
            for k, v in zip(self.shape.names, self._values, strict=True)
        }

    def get(self, name: str) -> Any:
        pos = self.shape.index.get(name)
        if pos is None:
            return None
        value = self._values[pos]
        return list(value) if type(value) is tuple else value

    def set_props(self, changes: dict[str, Any]) -> None:
        index = self.shape.index
        new = [k for k in changes if k not in index]
        if new:
            self.shape = self.shape.extended(new)
            index = self.shape.index
        values = list(self._values)
        values.extend([None] * (len(index) - len(values)))
        for k, v in changes.items():
            v = compact_value(v)
            values[index[k]] = sys.intern(v) if k in REPEATED_VALUES and type(v) is str else v
        self._values = tuple(values)

    def prop_version(self, name: str) -> int:
        return self.prop_versions.get(name, 0) if self.prop_versions else 0

    def mark_changed(self, names: Iterable[str], version: int) -> None:
        if self.prop_versions is None:
            self.prop_versions = {}
        for name in names:
            self.prop_versions[name] = version


@dataclass(slots=True)
class Group:
    id: str
    props: dict[str, Any]
    prop_versions: dict[str, int]
    version: int
    created: int = 0
    members: dict[str, MemberKind] = field(default_factory=dict)
    # (version, member id, member kind, added?) for members@delta of incremental rounds.
    member_log: MemberLog = field(default_factory=MemberLog)

    def get(self, name: str) -> Any:
        return self.props.get(name)

    def prop_version(self, name: str) -> int:
        return self.prop_versions.get(name, 0)

    def mark_changed(self, names: Iterable[str], version: int) -> None:
        for name in names:
            self.prop_versions[name] = version


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


def empty_extension_attributes() -> dict[str, str | None]:
    return dict.fromkeys(EXTENSION_ATTRIBUTES)


def validate_user_values(props: dict[str, Any]) -> None:
    """Graph's value rules for the properties the product writes or reads."""
    for key, value in props.items():
        if key in _STRING_PROPS and value is not None and not isinstance(value, str):
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
