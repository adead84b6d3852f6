"""Validated inputs of the service functions, shared by the API, the CLI and the UI."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from switchboard.portal import validation as v

Slug = Annotated[str, AfterValidator(v.slug)]
Name = Annotated[str, AfterValidator(v.text)]
LongText = Annotated[str, AfterValidator(lambda s: v.text(s, max_len=200))]
Email = Annotated[str, AfterValidator(v.email)]
E164 = Annotated[str, AfterValidator(v.e164)]
TimeZone = Annotated[str, AfterValidator(v.time_zone)]
Country = Annotated[str, AfterValidator(v.country)]
Username = Annotated[
    str, Field(min_length=1, max_length=254, pattern=r"^\S+$"), AfterValidator(str.strip)
]
RetentionPlan = Literal["6m", "1y", "2y", "3y"]
RowId = Annotated[int, Field(ge=1, le=v.MAX_ID)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        # Every string field, whatever its own rule: a NUL in a license name or postal code
        # must be a 422 naming the field, not a database error.
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                v.plain(item)
        return value


class AccountIn(Strict):
    slug: Slug
    name: LongText
    retention_plan: RetentionPlan = "6m"
    extension_length: int = Field(default=4, ge=2, le=6)


class AccountPatch(Strict):
    name: LongText | None = None
    retention_plan: RetentionPlan | None = None
    extension_length: int | None = Field(default=None, ge=2, le=6)


class AddressIn(Strict):
    street: LongText
    city: Name
    region: Name
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    country: Country


class LocationIn(Strict):
    name: Name
    address: AddressIn
    time_zone: TimeZone


class LocationPatch(Strict):
    name: Name | None = None
    address: AddressIn | None = None
    time_zone: TimeZone | None = None


class LicenseIn(Strict):
    name: Name
    seats: int = Field(ge=0, le=1_000_000)


class LicensePatch(Strict):
    seats: int = Field(ge=0, le=1_000_000)


class NumbersIn(Strict):
    numbers: list[E164] = Field(min_length=1, max_length=1000)
    location_id: RowId
    status: Literal["available", "porting"] = "available"


class NumberPatch(Strict):
    status: Literal["available"] | None = None
    location_id: RowId | None = None


class UserIn(Strict):
    username: Username | None = None
    first_name: Name
    last_name: Name
    email: Email
    location_id: RowId
    extension: str | None = None
    phone_numbers: list[E164] = Field(default_factory=list, max_length=20)
    license: str | None = None


class UserPatch(Strict):
    username: Username | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    location_id: RowId | None = None
    extension: str | None = None
    phone_numbers: list[E164] | None = Field(default=None, max_length=20)
    license: str | None = None


class AdminIn(Strict):
    """A customer admin added from the UI (operators are added with role provider_admin)."""

    email: Email
    role: Literal["account_admin", "account_viewer", "provider_admin"]


class ApiTokenIn(Strict):
    name: Name
    expires_in_days: int = Field(ge=1, le=3650)
