"""Response bodies of the directory registration routes: public certificate facts, never keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from switchboard.connection import app_certificates
from switchboard.connection.registration import policy_of, required_permissions
from switchboard.db.models import DirectoryRegistration


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
