"""From a stored registration to a live GraphDirectory: the real DirectorySource."""

from __future__ import annotations

from collections.abc import Callable

from switchboard.db.models import DirectoryRegistration
from switchboard.directory.auth import GraphCredentials, TokenCache
from switchboard.directory.connections import GraphConnections
from switchboard.directory.graph_directory import GraphDirectory, connect
from switchboard.directory.stored_credentials import credentials_for_auth
from switchboard.secrets_at_rest import SecretBox


def graph_credentials(
    registration: DirectoryRegistration, secrets: SecretBox, *, which: str = "current"
) -> GraphCredentials:
    found = {c.which: c for c in credentials_for_auth(registration, secrets=secrets)}
    credential = found[which]  # type: ignore[index]  # a str here, a Literal key there
    return GraphCredentials(
        account_id=registration.account_id,
        tenant_id=registration.tenant_id,
        client_id=registration.client_id,
        private_key_pem=credential.private_key_pem,
        certificate_pem=credential.certificate_pem,
        authority_url=registration.authority_url,
        graph_url=registration.graph_url,
        ca_bundle_pem=registration.ca_bundle_pem,
    )


def graph_directory_factory(
    secrets: SecretBox, tokens: TokenCache, connections: GraphConnections | None = None
) -> Callable[[DirectoryRegistration], GraphDirectory]:
    def directory_for(registration: DirectoryRegistration) -> GraphDirectory:
        return connect(graph_credentials(registration, secrets), tokens, connections=connections)

    return directory_for
