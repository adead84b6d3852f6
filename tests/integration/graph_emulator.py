"""The Graph client against the Entra ID emulator, through msal and a certificate like production.

One emulator for the module's session, reset to a small tenant before each test. Apps are
registered with the permissions a test needs; the client trusts the emulator's CA from the
registration's CA bundle, as a custom cloud would.

A plugin (see ``pytest_plugins`` in tests/conftest.py) for the directory and connection tests;
the emulator's own tests use the server of tests/integration/emulator/conftest.py instead.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.directory.auth import GraphCredentials, TokenCache
from switchboard.directory.client import RetryPolicy
from switchboard.directory.graph_directory import GraphDirectory, connect
from switchboard.emulator.apps import parse_roles
from switchboard.emulator.keys_and_certificates import self_signed_certificate
from switchboard.emulator.server import RunningEmulator, running
from switchboard.emulator.state import SeedOptions
from tests.emulator_control import DEFAULT_DELTA_PAGE_SIZE, set_delta_page_size

SEED = SeedOptions(users=40, groups=6, seed=11)
READER = "User.Read.All,GroupMember.Read.All"
FAST_RETRY = RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=2.0, max_total_wait=20.0)
_accounts = itertools.count(9000)


@pytest.fixture(scope="session")
def emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    state: Path = tmp_path_factory.mktemp("graph-client-emulator")
    with running(state, seed=SEED) as server:
        yield server


@pytest.fixture
def emu(emulator_server: RunningEmulator) -> RunningEmulator:
    e = emulator_server.emulator

    def reset() -> None:
        e.reset(SEED)
        e.clock.offset_seconds = 0.0
        e.faults.update(
            {
                "latency_ms": 0,
                "error_rate": 0.0,
                "error_kinds": ["429", "503"],
                "error_targets": ["graph", "token"],
                "error_budget": None,
                "delta_replays": False,
                "delta_expired_status": 400,
                "seed": 0,
                "retry_after_seconds": 1.0,
            }
        )
        e.throttle.enabled = True
        e.throttle.read_limit_override = None
        e.throttle.write_limit_override = None

    emulator_server.call(reset)
    set_delta_page_size(emulator_server, DEFAULT_DELTA_PAGE_SIZE)
    return emulator_server


def credentials(
    server: RunningEmulator, roles: str | None, *, register_cert: bool = True
) -> GraphCredentials:
    """A fresh app registration; ``roles=None`` leaves the app unregistered."""
    import uuid

    key, cert = self_signed_certificate("switchboard-graph-test")
    client_id = str(uuid.uuid4())
    if roles is not None:
        uploaded = cert if register_cert else self_signed_certificate("other")[1]
        server.emulator.apps.register(
            client_id, certificate_pem=uploaded.decode(), roles=parse_roles(roles)
        )
    return GraphCredentials(
        account_id=next(_accounts),
        tenant_id=server.tenant_id,
        client_id=client_id,
        private_key_pem=key.decode(),
        certificate_pem=cert.decode(),
        authority_url=server.url,
        graph_url=server.url,
        ca_bundle_pem=server.ca_path.read_text(),
    )


@pytest.fixture
def directory_for(
    emu: RunningEmulator,
) -> Iterator[Callable[..., GraphDirectory]]:
    opened: list[GraphDirectory] = []
    tokens = TokenCache()

    def make(roles: str = READER, **kw: Any) -> GraphDirectory:
        creds = credentials(emu, roles)
        workers = kw.pop("workers", 4)
        d = connect(creds, tokens, retry=kw.pop("retry", FAST_RETRY), workers=workers)
        if kw:  # page size / partitioning: same client, other read settings
            d = GraphDirectory(d.client, workers=workers, **kw)
        opened.append(d)
        return d

    yield make
    for d in opened:
        d.close()
    tokens.close()
    # requests keeps the connection of a 503 from the token endpoint out of its pool, held by
    # a reference cycle: collect it now, while the server can still close its end.
    gc.collect()


@pytest.fixture
def control(emu: RunningEmulator) -> Iterator[httpx.Client]:
    import ssl

    ctx = ssl.create_default_context(cafile=str(emu.ca_path))
    with httpx.Client(
        base_url=f"{emu.url}/_emulator",
        verify=ctx,
        headers={"X-Emulator-Key": emu.emulator.control_key},
        timeout=30,
    ) as client:
        yield client
