"""Change where a connected account signs in and reads Graph: its cloud, custom hosts and CA
bundle, keeping its certificate (the app registration in Entra ID does not change).

The tenant and the app are fixed: another tenant or app is a new connection (disconnect, then
connect). A change clears the last connection test, which has to be run again; the process's
Graph connections for the old trust are retired so none of them is used again (see
``retire_old_connections``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from switchboard.connection.registration import get_registration, record_change
from switchboard.db.models import Account, DirectoryRegistration
from switchboard.directory import clouds
from switchboard.directory.auth import trust_context
from switchboard.directory.connections import GraphConnections
from switchboard.portal.actors import Actor
from switchboard.portal.errors import ValidationFailed


class ConnectionEdit(BaseModel):
    """The connection's editable part; a field left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    cloud: str | None = Field(
        default=None, max_length=16, description="global, usgov, china or custom"
    )
    authority_url: str | None = Field(
        default=None, max_length=300, description="custom only: https://host of the sign-in"
    )
    graph_url: str | None = Field(
        default=None, max_length=300, description="custom only: https://host of Graph"
    )
    ca_bundle_pem: str | None = Field(
        default=None,
        max_length=clouds.MAX_CA_BUNDLE,
        description="custom only: PEM certificates to trust for those hosts; an empty string"
        " removes the bundle (the system's trusted CAs)",
    )
    tenant_id: str | None = Field(
        default=None, max_length=64, description="fixed: only the current value is accepted"
    )
    client_id: str | None = Field(
        default=None, max_length=64, description="fixed: only the current value is accepted"
    )


@dataclass(frozen=True)
class EditedConnection:
    registration: DirectoryRegistration
    changed: list[str]
    old_ca_bundle_pem: str | None


FIXED = {
    "tenant_id": "Directory (tenant) ID",
    "client_id": "Application (client) ID",
}


def _refuse_fixed(registration: DirectoryRegistration, data: ConnectionEdit) -> None:
    for field, label in FIXED.items():
        given = getattr(data, field)
        if given is not None and given.strip().lower() != getattr(registration, field).lower():
            raise ValidationFailed(
                f"{field}: the {label} cannot change while connected; to use another tenant or"
                " app, disconnect and connect again (a new certificate is generated)",
                field=field,
            )


def update_connection(
    session: Session, actor: Actor, account: Account, data: ConnectionEdit
) -> EditedConnection:
    """Set the cloud, hosts and CA bundle; the certificate stays. Validated as at connect."""
    actor.require_write(account.id)
    registration = get_registration(session, actor, account)
    _refuse_fixed(registration, data)
    cloud = data.cloud or registration.cloud
    custom = cloud == "custom"
    staying_custom = custom and registration.cloud == "custom"
    authority = data.authority_url or (registration.authority_url if staying_custom else None)
    graph = data.graph_url or (registration.graph_url if staying_custom else None)
    if data.ca_bundle_pem is not None:
        bundle = data.ca_bundle_pem.strip() or None
    else:
        bundle = registration.ca_bundle_pem if staying_custom else None
    endpoints = clouds.resolve(
        cloud,
        authority if custom else data.authority_url,
        graph if custom else data.graph_url,
        bundle if custom else data.ca_bundle_pem or None,
    )
    old_bundle = registration.ca_bundle_pem
    changed = [
        name
        for name, new in (
            ("cloud", endpoints.cloud),
            ("authority_url", endpoints.authority_url),
            ("graph_url", endpoints.graph_url),
            ("ca_bundle_pem", endpoints.ca_bundle_pem),
        )
        if getattr(registration, name) != new
    ]
    if changed:
        registration.cloud = endpoints.cloud
        registration.authority_url = endpoints.authority_url
        registration.graph_url = endpoints.graph_url
        registration.ca_bundle_pem = endpoints.ca_bundle_pem
        # The last test proved other hosts: it says nothing about these.
        registration.last_test = None
        record_change(
            session,
            actor,
            account,
            registration,
            "directory.connection_updated",
            [*changed, "last_test"],
        )
    return EditedConnection(registration, changed, old_bundle)


def retire_old_connections(connections: GraphConnections, edited: EditedConnection) -> None:
    """After the commit: no Graph connection made under the old custom trust is used again.

    The connections of the public trust (no CA bundle) serve every account of the public
    clouds and stay; httpx keeps connections per host, so the old hosts' are not reused for
    the new ones either. The token endpoint's provider is keyed by the hosts and bundle, so
    the token cache makes a new one on the next request and closes the old.
    """
    if edited.changed and edited.old_ca_bundle_pem:
        connections.retire(trust_context(edited.old_ca_bundle_pem))
