"""Just-in-time sync end to end against the Entra ID emulator: the portal served by uvicorn,
subscriptions the emulator validates, a change in the directory, a notification, and the
portal updated by the delta round it triggered."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.clock import SystemClock
from switchboard.connection import registration
from switchboard.db.models import SyncRun, User
from switchboard.emulator.server import RunningEmulator, running
from switchboard.emulator.state import SeedOptions
from switchboard.portal.accounts import get_account
from switchboard.sync import subscription_upkeep
from switchboard.sync.engine import SyncEngine
from switchboard.sync.policy import SyncPolicy
from switchboard.web.app import create_app
from tests import factories
from tests.integration.sync.emulator_account import connect_account
from tests.wiring import ContainerBuilder

SEED = SeedOptions(users=30, groups=4, seed=11)
OP = factories.OPERATOR


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    state: Path = tmp_path_factory.mktemp("jit-emulator")
    with running(state, seed=SEED) as server:
        yield server


@dataclass
class Portal:
    container: Container
    url: str


@pytest.fixture
def portal(build_container: ContainerBuilder) -> Iterator[Portal]:
    """The portal on a free local port; its public URL is that plain-http loopback address,
    which the emulator accepts for notifications (Graph itself wants HTTPS). Its container
    talks to Microsoft Graph (the emulator); its jobs finish when the test does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    container = build_container(
        settings=build_container.settings(public_url=url, notification_coalesce_seconds=0.2),
        clock=SystemClock(),  # Graph checks expirations against real time
    )
    config = uvicorn.Config(
        create_app(container), log_level="warning", ws="none", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the portal did not start"
        time.sleep(0.02)
    yield Portal(container, url)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_directory_change_reaches_the_portal_through_a_notification(
    emulator: RunningEmulator, portal: Portal
) -> None:
    container = portal.container
    emu = emulator.emulator
    emulator.call(lambda: emu.reset(SEED))
    directory = emu.directory
    group = max(
        directory.groups,
        key=lambda g: len([m for m in directory.transitive_member_ids(g) if m in directory.users]),
    )
    account_id = connect_account(
        container, emulator, SyncPolicy(groups=[group], default_location="HQ")
    )
    SyncEngine(container, container.directory_factory()).reconcile(OP, "acme")
    with container.unit_of_work() as s:
        acct = get_account(s, OP, "acme", write=True)
        registration.update_settings(s, OP, acct, {"mode": "jit"})
        linked = select(User.directory_id).where(User.directory_id.is_not(None))
        synced = [str(d) for d in s.scalars(linked)]
    assert synced, "the first reconcile synced nobody"

    report = subscription_upkeep.maintain(container, account_id)  # the emulator validates our URL
    assert sorted(report.created) == ["groups", "users"], report.errors
    live = emulator.call(lambda: [s.to_graph(emulator.tenant_id) for s in emu.notifier.live()])
    assert {s["notificationUrl"] for s in live} == {f"{portal.url}/webhooks/graph"}

    target = sorted(synced)[0]
    emulator.call(lambda: directory.update_user(target, {"surname": "Notified"}))

    def updated() -> bool:
        with container.unit_of_work() as s:
            name = s.scalar(select(User.last_name).where(User.directory_id == target))
        return name == "Notified"

    wait_for(updated)
    with container.unit_of_work() as s:
        runs = list(s.scalars(select(SyncRun).where(SyncRun.trigger == "notification")))
    assert runs and all(r.kind in ("delta", "full") for r in runs)

    with container.unit_of_work() as s:
        acct = get_account(s, OP, "acme", write=True)
        registration.disconnect(s, OP, acct)
    assert emulator.call(lambda: emu.notifier.live()) == []
