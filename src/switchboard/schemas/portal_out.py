"""Response bodies of portal records (snake_case JSON, every object carries an ``id``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from switchboard.db.models import Account, AuditEvent, LicenseType, Location, PhoneNumber, User


class AccountOut(BaseModel):
    id: int
    slug: str
    name: str
    retention_plan: str
    extension_length: int
    status: str
    created_at: datetime
    terminated_at: datetime | None

    @classmethod
    def of(cls, a: Account) -> AccountOut:
        return cls(
            id=a.id,
            slug=a.slug,
            name=a.name,
            retention_plan=a.retention_plan,
            extension_length=a.extension_length,
            status=a.status,
            created_at=a.created_at,
            terminated_at=a.terminated_at,
        )


class AddressOut(BaseModel):
    street: str
    city: str
    region: str
    postal_code: str
    country: str


class LocationOut(BaseModel):
    id: int
    name: str
    address: AddressOut
    time_zone: str

    @classmethod
    def of(cls, loc: Location) -> LocationOut:
        return cls(
            id=loc.id,
            name=loc.name,
            time_zone=loc.time_zone,
            address=AddressOut(
                street=loc.street,
                city=loc.city,
                region=loc.region,
                postal_code=loc.postal_code,
                country=loc.country,
            ),
        )


class LicenseOut(BaseModel):
    id: int
    name: str
    seats: int
    seats_used: int

    @classmethod
    def of(cls, lt: LicenseType, used: int) -> LicenseOut:
        return cls(id=lt.id, name=lt.name, seats=lt.seats, seats_used=used)


class NumberOut(BaseModel):
    id: int
    e164: str
    location_id: int
    status: str
    user_id: int | None

    @classmethod
    def of(cls, n: PhoneNumber) -> NumberOut:
        return cls(
            id=n.id, e164=n.e164, location_id=n.location_id, status=n.status, user_id=n.user_id
        )


class UserOut(BaseModel):
    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    location_id: int
    extension: str
    phone_numbers: list[str]
    license: str | None
    status: str
    source: str
    directory_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(
            id=u.id,
            username=u.username,
            first_name=u.first_name,
            last_name=u.last_name,
            email=u.email,
            location_id=u.location_id,
            extension=u.extension,
            phone_numbers=[n.e164 for n in u.numbers],
            license=u.license.name if u.license else None,
            status=u.status,
            source=u.source,
            directory_id=u.directory_id,
            created_at=u.created_at,
            updated_at=u.updated_at,
        )


class UserPageOut(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class AuditEventOut(BaseModel):
    id: int
    actor: str
    action: str
    object_type: str
    object_id: str
    fields: list[str]
    created_at: datetime

    @classmethod
    def of(cls, e: AuditEvent) -> AuditEventOut:
        return cls(
            id=e.id,
            actor=e.actor,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            fields=list(e.fields),
            created_at=e.created_at,
        )
