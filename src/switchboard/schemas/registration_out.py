"""Response bodies of the directory registration routes: public certificate facts, never keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from switchboard.connection import app_certificates
from switchboard.connection.group_picker import ChosenGroup, ChosenGroups
from switchboard.connection.registration import policy_of, required_permissions
from switchboard.db.models import DirectoryRegistration
from switchboard.directory.models import DirectoryGroup, GroupMatches


class CertificateOut(BaseModel):
    subject: str
    thumbprint_sha1: str
    thumbprint_sha256: str
    not_before: datetime
    not_after: datetime
    key_bits: int

    @classmethod
    def of(cls, pem: str) -> CertificateOut:
        found = app_certificates.info(pem)
        return cls(
            subject=found.subject,
            thumbprint_sha1=found.thumbprint_sha1,
            thumbprint_sha256=found.thumbprint_sha256,
            not_before=found.not_before,
            not_after=found.not_after,
            key_bits=found.key_bits,
        )


class GroupOut(BaseModel):
    """A group of the tenant as the group picker shows it."""

    id: str
    name: str
    description: str | None
    security_enabled: bool | None
    mail_enabled: bool | None
    members: int | None = Field(
        description="Users in the group, directly or through nested groups (null: unknown)"
    )
    nested_groups: int | None = Field(
        description="Groups directly inside this group (null: unknown)"
    )

    @classmethod
    def of(cls, g: DirectoryGroup) -> GroupOut:
        return cls(
            id=g.id,
            name=g.name,
            description=g.description,
            security_enabled=g.security_enabled,
            mail_enabled=g.mail_enabled,
            members=g.members,
            nested_groups=g.nested_groups,
        )


class GroupSearchOut(BaseModel):
    groups: list[GroupOut]
    total: int | None = Field(description="How many groups match in all, when Entra ID says")

    @classmethod
    def of(cls, found: GroupMatches) -> GroupSearchOut:
        return cls(groups=[GroupOut.of(g) for g in found.groups], total=found.total)


class ChosenGroupOut(BaseModel):
    id: str
    name: str | None = Field(description="null when deleted or when names could not be read")
    label: str = Field(description='The name, "deleted group <id>", or the id')
    deleted: bool

    @classmethod
    def of(cls, g: ChosenGroup) -> ChosenGroupOut:
        return cls(id=g.id, name=g.name, label=g.label, deleted=g.deleted)


class RegistrationOut(BaseModel):
    tenant_id: str
    client_id: str
    cloud: str
    authority_url: str
    graph_url: str
    ca_bundle_pem: str | None
    certificate: CertificateOut
    next_certificate: CertificateOut | None
    required_permissions: list[str]
    settings: dict[str, Any]
    last_test: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    warnings: list[str] = Field(
        default_factory=list,
        description="Things to check, such as another account already using this tenant",
    )
    groups_detail: list[ChosenGroupOut] | None = Field(
        default=None,
        description="The synced groups (settings.groups) by name, read from Entra ID; only on"
        " GET /registration",
    )
    groups_note: str | None = Field(
        default=None, description="Why the groups' names could not be read, if they could not"
    )

    @classmethod
    def of(cls, r: DirectoryRegistration, warnings: list[str] | None = None) -> RegistrationOut:
        policy = policy_of(r)
        return cls(
            tenant_id=r.tenant_id,
            client_id=r.client_id,
            cloud=r.cloud,
            authority_url=r.authority_url,
            graph_url=r.graph_url,
            ca_bundle_pem=r.ca_bundle_pem,
            certificate=CertificateOut.of(r.certificate_pem),
            next_certificate=(
                CertificateOut.of(r.next_certificate_pem) if r.next_certificate_pem else None
            ),
            required_permissions=required_permissions(policy),
            settings=policy.model_dump(mode="json"),
            last_test=r.last_test,
            created_at=r.created_at,
            updated_at=r.updated_at,
            warnings=warnings or [],
        )

    def with_names(self, chosen: ChosenGroups) -> RegistrationOut:
        return self.model_copy(
            update={
                "groups_detail": [ChosenGroupOut.of(g) for g in chosen.groups],
                "groups_note": chosen.problem,
            }
        )


class SettingsOut(RegistrationOut):
    """The registration after a settings change, with the full reconcile it started."""

    reconcile_run_number: int | None = Field(
        default=None,
        description="The number of the full reconcile started because the synced groups,"
        " whole tenant or mapping changed (it runs in the background; follow it under"
        " runs/{number})",
    )
    reconcile_note: str | None = Field(
        default=None, description="Why that reconcile did not start at once, if it did not"
    )
    subscriptions_note: str | None = Field(
        default=None,
        description="When the mode entered or left jit: what became of the account's Graph"
        " change-notification subscriptions (created or removed at once; if they could not be"
        " created, why, while the mode change itself is saved)",
    )
