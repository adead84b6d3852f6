"""An account's sync settings: what to read, how to map it, and what the engine may do."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from switchboard.directory.models import USER_PROPERTIES
from switchboard.portal.validation import quote

GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def _graph_property(value: str) -> str:
    if value not in USER_PROPERTIES:
        raise ValueError(
            f"{quote(value)} is not a user property the mapping can read; use one of "
            + ", ".join(USER_PROPERTIES[:17])
            + " or onPremisesExtensionAttributes.extensionAttribute1..15"
        )
    return value


def _group_id(value: str) -> str:
    value = value.strip()
    if not GUID_RE.match(value):
        raise ValueError(f"{quote(value)} is not a group object id (a GUID)")
    return value.lower()


GraphProperty = Annotated[str, AfterValidator(_graph_property)]
GroupId = Annotated[str, AfterValidator(_group_id)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttributeMapping(Strict):
    first_name: GraphProperty = "givenName"
    last_name: GraphProperty = "surname"
    email: GraphProperty = "mail"
    # "" (a form's or a patch's "no fallback": null in a merge patch means the default) = None.
    email_fallback: Annotated[GraphProperty | None, BeforeValidator(lambda v: v or None)] = (
        "userPrincipalName"
    )
    location: GraphProperty = "officeLocation"


class WriteBack(Strict):
    number_to: Literal["businessPhones"] | None = "businessPhones"
    extension_to: Annotated[str, Field(pattern=r"^extensionAttribute([1-9]|1[0-5])$")] | None = None


class DeletionGuard(Strict):
    """Hold a run that deletes more than ``max_percent`` % AND more than ``max_count`` users."""

    max_percent: float = Field(default=10.0, ge=0, le=100)
    max_count: int = Field(default=5, ge=0)
    hold_empty_enumeration: bool = True


class CreationGuard(Strict):
    """Hold a run that creates more than ``max_percent`` % of the account's synced users AND
    more than ``max_count`` users. An account with no synced users yet (its first sync) is
    never held: there is nothing a wrong scope could be compared with."""

    max_percent: float = Field(default=10.0, ge=0, le=100)
    max_count: int = Field(default=20, ge=0)


class SyncPolicy(Strict):
    groups: list[GroupId] = Field(default_factory=list, max_length=100)
    # The whole tenant, chosen explicitly: an empty group list alone is refused when saved.
    all_users: bool = False
    mapping: AttributeMapping = AttributeMapping()
    # Directory value (matched ignoring case) -> portal location name.
    location_rules: dict[str, str] = Field(default_factory=dict)
    default_location: str | None = None
    direction: Literal["one_way", "two_way"] = "one_way"
    write_back: WriteBack = WriteBack()
    provisioning: Literal["automatic", "manual"] = "automatic"
    mode: Literal["on_demand", "batched", "jit"] = "on_demand"
    # Batched mode: every N minutes, or a cron expression.
    schedule_minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    schedule_cron: str | None = None
    deletion_guard: DeletionGuard = DeletionGuard()
    creation_guard: CreationGuard = CreationGuard()

    @field_validator("location_rules")
    @classmethod
    def _rules(cls, rules: dict[str, str]) -> dict[str, str]:
        cleaned: dict[str, str] = {}
        for value, location in rules.items():
            key = value.strip().casefold()
            if not key or not location.strip():
                raise ValueError("a location rule needs a directory value and a location name")
            if key in cleaned:
                raise ValueError(f"two location rules for the directory value {quote(value)}")
            cleaned[key] = location.strip()
        return cleaned

    def select(self) -> list[str]:
        """The $select every read of users uses: base properties plus mapped sources."""
        from switchboard.directory.models import BASE_SELECT

        wanted = list(BASE_SELECT)
        for source in (
            self.mapping.first_name,
            self.mapping.last_name,
            self.mapping.email,
            self.mapping.email_fallback,
            self.mapping.location,
        ):
            if source:
                top = source.split(".")[0]
                if top not in wanted:
                    wanted.append(top)
        return wanted


# Settings whose change alters who is synced or what they become: a full reconcile follows.
RESCOPING = frozenset({"groups", "all_users", "mapping", "location_rules", "default_location"})


def rescoped_fields(before: SyncPolicy, after: SyncPolicy) -> list[str]:
    """The settings among RESCOPING that differ between the two policies."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return [name for name in RESCOPING if old.get(name) != new.get(name)]
