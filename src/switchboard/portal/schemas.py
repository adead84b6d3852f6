"""Validated inputs of the service functions, shared by the API, the CLI and the UI."""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from switchboard.portal import validation as v


def _name_check(max_len: int) -> BeforeValidator:
    """A one-line name of at most ``max_len`` characters, checked as sent (before stripping),
    so what the OpenAPI document says (length, pattern) is exactly what is accepted."""

    def check(value: object) -> object:
        return v.text(value, max_len=max_len) if isinstance(value, str) else value

    return BeforeValidator(check)


def _name_schema(max_len: int) -> WithJsonSchema:
    return WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": max_len, "pattern": v.NAME_PATTERN}
    )


def _username(value: object) -> object:
    if isinstance(value, str) and (len(value) > 254 or not re.fullmatch(v.TOKEN_PATTERN, value)):
        raise ValueError("must be 1-254 characters without spaces, control or invisible characters")
    return value


def _slug(value: object) -> object:
    return v.slug(value) if isinstance(value, str) else value


Slug = Annotated[
    str,
    BeforeValidator(_slug),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": 63, "pattern": v.SLUG_RE.pattern}
    ),
]
Name = Annotated[str, _name_check(100), _name_schema(100)]
LongText = Annotated[str, _name_check(200), _name_schema(200)]


def _optional_name_check(max_len: int) -> BeforeValidator:
    """A name that may be left empty (a part of an address the country does not use)."""

    def check(value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return ""
        return v.text(value, max_len=max_len) if isinstance(value, str) else value

    return BeforeValidator(check)


def _optional_name_schema(max_len: int) -> WithJsonSchema:
    pattern = f"^$|{v.NAME_PATTERN}"
    return WithJsonSchema({"type": "string", "maxLength": max_len, "pattern": pattern})


# Region and postal code: which countries need them is the address rules' call (addresses.py).
OptionalName = Annotated[str, _optional_name_check(100), _optional_name_schema(100)]
PostalCode = Annotated[str, _optional_name_check(20), _optional_name_schema(20)]
Email = Annotated[
    str,
    AfterValidator(v.email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": v.EMAIL_MAX}),
]
# Numbers valid for their country code (libphonenumber's metadata), in E.164 form.
E164 = Annotated[str, AfterValidator(v.e164), WithJsonSchema({"type": "string", "format": "e164"})]
TimeZone = Annotated[
    str, AfterValidator(v.time_zone), WithJsonSchema({"type": "string", "enum": v.time_zones()})
]
Country = Annotated[
    str, AfterValidator(v.country), WithJsonSchema({"type": "string", "enum": v.countries()})
]
Username = Annotated[
    str,
    BeforeValidator(_username),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": 254, "pattern": v.TOKEN_PATTERN}
    ),
]
RetentionPlan = Literal["6m", "1y", "2y", "3y"]
RowId = Annotated[int, Field(ge=1, le=v.MAX_ID)]


def _takes_bool(model: type[BaseModel], field: str) -> bool:
    annotation = model.model_fields[field].annotation
    return annotation is bool or bool in get_args(annotation)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object, info: ValidationInfo) -> object:
        # Every string field, whatever its own rule: a NUL in a license name or postal code
        # must be a 422 naming the field, not a database error.
        if isinstance(value, bool) and info.field_name and not _takes_bool(cls, info.field_name):
            # JSON true/false is not the number 1/0 (pydantic would convert it).
            raise ValueError("must be a number, not true or false")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                v.plain(item)
        return value


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(v.iso_datetime)]


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
    """An emergency address; the parts its country requires are checked when it is written."""

    street: LongText
    city: Name
    region: OptionalName = ""
    postal_code: PostalCode = ""
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
    numbers: list[E164] = Field(
        min_length=1, max_length=1000, json_schema_extra={"uniqueItems": True}
    )
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
    phone_numbers: list[E164] = Field(
        default_factory=list, max_length=20, json_schema_extra={"uniqueItems": True}
    )
    license: str | None = None


class UserPatch(Strict):
    username: Username | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    location_id: RowId | None = None
    extension: str | None = None
    phone_numbers: list[E164] | None = Field(
        default=None, max_length=20, json_schema_extra={"uniqueItems": True}
    )
    license: str | None = None


class AdminIn(Strict):
    """A customer admin added from the UI (operators are added with role provider_admin)."""

    email: Email
    role: Literal["account_admin", "account_viewer", "provider_admin"]


class ApiTokenIn(Strict):
    name: Name
    expires_in_days: int = Field(ge=1, le=3650)
