"""The test account 'acme' connected to a running Entra ID emulator, as a customer would do it."""

from __future__ import annotations

import uuid

from switchboard.bootstrap import Container
from switchboard.connection import registration
from switchboard.emulator.apps import parse_roles
from switchboard.emulator.server import RunningEmulator
from switchboard.sync.policy import SyncPolicy
from tests import factories

READ_ROLES = "User.Read.All,GroupMember.Read.All"


def connect_account(
    container: Container,
    emulator: RunningEmulator,
    settings: SyncPolicy,
    *,
    roles: str = READ_ROLES,
) -> int:
    """Seed the 'acme' account, connect it with the certificate Switchboard generates, and
    register that certificate with the tenant's app granting ``roles`` (the customer admin's
    step). Returns the account id."""
    client_id = str(uuid.uuid4())
    with container.unit_of_work() as s:
        account = factories.tenant(s).account
        reg = registration.connect(
            s,
            factories.OPERATOR,
            account,
            registration.RegistrationIn(
                tenant_id=emulator.tenant_id,
                client_id=client_id,
                cloud="custom",
                authority_url=emulator.url,
                graph_url=emulator.url,
                ca_bundle_pem=emulator.ca_path.read_text(),
                settings=settings,
            ),
        )
        certificate, account_id = reg.certificate_pem, account.id
    emulator.call(
        lambda: emulator.emulator.apps.register(
            client_id, certificate_pem=certificate, roles=parse_roles(roles)
        )
    )
    return account_id
