"""An account connected to a FakeDirectory, and the engine wired to it.

A plugin (see ``pytest_plugins`` in tests/conftest.py): the sync, jobs, API and write-path tests
share the ``world`` fixture. Each of them wires the fake directory into the container through an
``adapters`` override of its own folder or module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from switchboard.bootstrap import Container
from switchboard.db.models import DirectoryRegistration, DirectorySyncState
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.sync.engine import SyncEngine
from switchboard.sync.policy import RESCOPING, SyncPolicy
from tests import factories
from tests.fakes import FakeDirectories, FakeDirectory

SALES = "11111111-1111-1111-1111-111111111111"
SUPPORT = "22222222-2222-2222-2222-222222222222"
NESTED = "33333333-3333-3333-3333-333333333333"
OTHER = "44444444-4444-4444-4444-444444444444"


@dataclass
class World:
    container: Container
    directory: FakeDirectory
    # The container's directory factory: a test points it at another directory mid-test.
    directories: FakeDirectories
    engine: SyncEngine
    actor: Actor
    slug: str = "acme"

    def set_policy(self, **changes: Any) -> None:
        with self.container.unit_of_work() as s:
            reg = s.query(DirectoryRegistration).one()
            policy = SyncPolicy.model_validate({**reg.policy, **changes})
            reg.policy = policy.model_dump(mode="json")
            state = s.get(DirectorySyncState, reg.account_id)
            if state is not None and RESCOPING & changes.keys():
                # As the settings service does: a change of scope wants a full reconcile.
                state.delta_chain_started_at = None


def connect(container: Container, policy: SyncPolicy) -> None:
    """Stand-in for the registration step: the engine only needs the row and its policy."""
    with container.unit_of_work() as s:
        account = factories.tenant(s)
        stamp = now(s)
        s.add(
            DirectoryRegistration(
                account_id=account.account.id,
                tenant_id="t",
                client_id="c",
                cloud="global",
                authority_url="https://login.microsoftonline.com",
                graph_url="https://graph.microsoft.com",
                certificate_pem="-",
                private_key_encrypted="-",
                policy=policy.model_dump(mode="json"),
                created_at=stamp,
                updated_at=stamp,
            )
        )


@pytest.fixture
def directory() -> FakeDirectory:
    directory = FakeDirectory()
    # SALES holds NESTED; SUPPORT is synced too; OTHER is not synced.
    directory.groups = {SALES: set(), SUPPORT: set(), NESTED: set(), OTHER: set()}
    directory.add_member(SALES, NESTED)
    return directory


@pytest.fixture
def directories(directory: FakeDirectory) -> FakeDirectories:
    return FakeDirectories(directory)


@pytest.fixture
def world(container: Container, directory: FakeDirectory, directories: FakeDirectories) -> World:
    connect(container, SyncPolicy(groups=[SALES, SUPPORT]))
    engine = SyncEngine(container, container.directory_factory(), chunk_size=3)
    return World(container, directory, directories, engine, factories.OPERATOR)
