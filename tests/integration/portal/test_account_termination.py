"""A terminated account keeps no users and no Entra ID connection (its key is destroyed)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from switchboard.connection import registration
from switchboard.db.models import DirectoryRegistration, User
from switchboard.portal import accounts
from switchboard.portal.errors import Conflict
from switchboard.sync.engine import SyncEngine
from tests import factories
from tests.fakes import FakeDirectories, FakeDirectory
from tests.wiring import ContainerBuilder

OP = factories.OPERATOR
GROUP = "0b9f6a4c-1d2e-4f60-8a7b-9c0d1e2f3a4b"


def test_terminating_deletes_users_and_the_directory_connection(
    build_container: ContainerBuilder,
) -> None:
    fake = FakeDirectory()
    fake.groups[GROUP] = set()
    fake.add_user("u1")
    fake.add_member(GROUP, "u1")
    container = build_container(directory_for=FakeDirectories(fake))
    with container.unit_of_work() as s:
        acct = factories.tenant(s).account
        registration.connect(
            s,
            OP,
            acct,
            registration.RegistrationIn.model_validate(
                {
                    "tenant_id": "6f1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9",
                    "client_id": "11111111-2222-4333-8444-555555555555",
                    "settings": {"groups": [GROUP]},
                }
            ),
        )
    engine = SyncEngine(container, container.directory_factory())
    assert engine.reconcile(OP, "acme").counts == {"create": 1}
    with container.unit_of_work() as s:
        accounts.terminate_account(s, OP, "acme")
    with container.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0
        assert s.scalar(select(func.count()).select_from(DirectoryRegistration)) == 0
    with pytest.raises(Conflict) as refused:
        engine.reconcile(OP, "acme")
    assert refused.value.code == "account_terminated"
