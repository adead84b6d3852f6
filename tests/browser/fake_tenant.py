"""The Entra ID registration the browser tests give 'acme' when a FakeDirectory (wired through
their ``adapters``) stands in for the tenant: fixed ids, a real certificate from the service."""

from __future__ import annotations

from sqlalchemy.orm import Session

from switchboard.connection import registration
from switchboard.db.models import Account
from switchboard.sync.policy import SyncPolicy
from tests import factories

TENANT_ID = "6f1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9"
CLIENT_ID = "11111111-2222-4333-8444-555555555555"


def connect(session: Session, account: Account, policy: SyncPolicy) -> None:
    """Connect ``account`` through the registration service, as an operator would."""
    registration.connect(
        session,
        factories.OPERATOR,
        account,
        registration.RegistrationIn(tenant_id=TENANT_ID, client_id=CLIENT_ID, settings=policy),
    )
