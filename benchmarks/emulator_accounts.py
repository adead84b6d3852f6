"""A benchmark account connected to the emulator's tenant, as an admin and the customer would:
the account with its HQ location, the registration (whose certificate the portal makes), and
the app registered in the tenant with read permissions."""

from __future__ import annotations

import uuid
from pathlib import Path

from graph_read_bench import control

from switchboard.bootstrap import Container
from switchboard.connection import registration
from switchboard.portal import accounts, locations
from switchboard.portal.actors import system_actor
from switchboard.portal.schemas import AccountIn, AddressIn, LocationIn
from switchboard.sync.policy import SyncPolicy

OP = system_actor("bench:operator")
ADDRESS = AddressIn(
    street="1 Main St", city="Springfield", region="IL", postal_code="62701", country="US"
)


def connect_account(
    c: Container,
    *,
    slug: str,
    name: str,
    policy: SyncPolicy,
    folder: Path,
    url: str,
    tenant_id: str,
) -> None:
    """``folder`` and ``url``: the emulator's state folder (its CA) and address."""
    with c.unit_of_work() as s:
        account = accounts.create_account(
            s, OP, AccountIn(slug=slug, name=name, extension_length=6)
        )
        locations.create_location(
            s, OP, account, LocationIn(name="HQ", time_zone="America/Chicago", address=ADDRESS)
        )
        client_id = str(uuid.uuid4())
        reg = registration.connect(
            s,
            OP,
            account,
            registration.RegistrationIn(
                tenant_id=tenant_id,
                client_id=client_id,
                cloud="custom",
                authority_url=url,
                graph_url=url,
                ca_bundle_pem=(folder / "ca.pem").read_text(),
                settings=policy,
            ),
        )
        certificate = reg.certificate_pem
    control(
        folder,
        url,
        "POST",
        "/apps",
        {
            "client_id": client_id,
            "certificate_pem": certificate,
            "roles": list(registration.READ_PERMISSIONS),
        },
    )
