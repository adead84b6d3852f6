"""An emulated tenant for the group picker's tests: its groups by name, and the test account
'acme' connected to it through the certificate Switchboard generated."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from switchboard.bootstrap import Container
from switchboard.emulator.server import RunningEmulator, running
from switchboard.emulator.state import SeedOptions
from switchboard.sync.policy import SyncPolicy
from tests.integration.sync.emulator_account import connect_account

# Six groups: Voice Users holds Sales and Engineering; Support is nested in Sales.
SEED = SeedOptions(users=24, groups=6, seed=11)


@contextmanager
def emulated_tenant(state: Path) -> Iterator[RunningEmulator]:
    with running(state, seed=SEED) as server:
        yield server


def reset(emulator: RunningEmulator) -> None:
    emulator.call(lambda: emulator.emulator.reset(SEED))


def group_ids(emulator: RunningEmulator) -> dict[str, str]:
    """Group name -> object id."""
    groups = emulator.emulator.directory.groups
    return dict(emulator.call(lambda: {g.props["displayName"]: g.id for g in groups.values()}))


def delete_group(emulator: RunningEmulator, group_id: str) -> None:
    emulator.call(lambda: emulator.emulator.directory.delete_group(group_id))


def connect_acme(container: Container, emulator: RunningEmulator, *groups: str) -> int:
    """'acme' (seeded here) connected to the tenant, syncing ``groups``; its account id."""
    return connect_account(container, emulator, SyncPolicy(groups=list(groups)))
