"""Just-in-time sync end to end over real HTTP against the Entra ID emulator: the portal served
by uvicorn (no worker, no scheduler), switched to jit through its API or CLI, which subscribes
at once (the emulator validates the endpoint); a change in the directory, a notification, the
portal updated by the delta round it triggered; and leaving jit deleting the subscriptions."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from typer.testing import CliRunner

from switchboard.bootstrap import Container
from switchboard.cli.main import app as cli
from switchboard.clock import SystemClock
from switchboard.db.models import DirectorySubscription, SyncRun, User
from switchboard.emulator.server import RunningEmulator, running
from switchboard.emulator.state import SeedOptions
from switchboard.jobs import sync_work
from switchboard.portal.actors import Role
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


Serve = Callable[..., Portal]


@pytest.fixture
def serve(build_container: ContainerBuilder) -> Iterator[Serve]:
    """Start the portal on a free local port. Its public URL is that plain-http loopback
    address (which the emulator accepts for notifications; Graph itself wants HTTPS) plus
    ``public_suffix``. Its container talks to Microsoft Graph (the emulator); no worker and
    no scheduler run: only the web process's own notification rounds."""
    started: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(public_suffix: str = "") -> Portal:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        container = build_container(
            settings=build_container.settings(public_url=url + public_suffix),
            clock=SystemClock(),  # Graph checks expirations against real time
        )
        config = uvicorn.Config(
            create_app(container), log_level="warning", ws="none", lifespan="off", access_log=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        started.append((server, thread, sock))
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the portal did not start"
            time.sleep(0.02)
        return Portal(container, url)

    yield start
    for server, thread, sock in started:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def synced_account(portal: Portal, emulator: RunningEmulator) -> list[str]:
    """'acme' connected to a fresh emulator tenant and reconciled once (on demand); the
    directory ids of its synced users."""
    container = portal.container
    emu = emulator.emulator
    emulator.call(lambda: emu.reset(SEED))
    directory = emu.directory
    group = max(
        directory.groups,
        key=lambda g: len([m for m in directory.transitive_member_ids(g) if m in directory.users]),
    )
    connect_account(container, emulator, SyncPolicy(groups=[group], default_location="HQ"))
    SyncEngine(container, container.directory_factory()).reconcile(OP, "acme")
    with container.unit_of_work() as s:
        synced = [
            str(d)
            for d in s.scalars(select(User.directory_id).where(User.directory_id.is_not(None)))
        ]
    assert synced, "the first reconcile synced nobody"
    return sorted(synced)


def live_subscriptions(emulator: RunningEmulator) -> list[dict[str, Any]]:
    emu = emulator.emulator
    return list(
        emulator.call(lambda: [s.to_graph(emulator.tenant_id) for s in emu.notifier.live()])
    )


def stored_subscriptions(container: Container) -> list[str]:
    with container.unit_of_work() as s:
        return sorted(s.scalars(select(DirectorySubscription.resource)))


def admin_api(portal: Portal) -> httpx.Client:
    token = factories.token_for(portal.container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    return httpx.Client(
        base_url=f"{portal.url}/api/v1", headers=factories.bearer(token), timeout=30
    )


def test_switching_to_jit_subscribes_at_once_and_changes_arrive_by_notification(
    emulator: RunningEmulator, serve: Serve
) -> None:
    portal = serve()
    container = portal.container
    synced = synced_account(portal, emulator)
    settings = "/accounts/acme/directory/settings"
    with admin_api(portal) as api:
        # Switching to jit subscribes now (the emulator validates our endpoint meanwhile).
        resp = api.patch(settings, json={"mode": "jit"})
        assert resp.status_code == 200, resp.text
        assert "subscribed to Entra ID's change notifications" in resp.json()["subscriptions_note"]
        live = live_subscriptions(emulator)
        assert sorted(s["resource"] for s in live) == ["groups", "users"]
        assert {s["notificationUrl"] for s in live} == {f"{portal.url}/webhooks/graph"}
        assert stored_subscriptions(container) == ["groups", "users"]

        target = synced[0]
        emulator.call(
            lambda: emulator.emulator.directory.update_user(target, {"surname": "Notified"})
        )

        def updated() -> bool:
            with container.unit_of_work() as s:
                name = s.scalar(select(User.last_name).where(User.directory_id == target))
            return name == "Notified"

        wait_for(updated)
        with container.unit_of_work() as s:
            runs = list(s.scalars(select(SyncRun).where(SyncRun.trigger == "notification")))
        assert runs and all(r.kind == "delta" for r in runs)

        # Leaving jit removes them at once, in Graph and in the portal.
        resp = api.patch(settings, json={"mode": "on_demand"})
        assert resp.status_code == 200, resp.text
        assert "subscriptions, if any, were removed" in resp.json()["subscriptions_note"]
    assert live_subscriptions(emulator) == []
    assert stored_subscriptions(container) == []


def test_a_refused_subscription_is_reported_while_the_mode_is_kept(
    emulator: RunningEmulator, serve: Serve
) -> None:
    # Graph's validation request goes to a path the portal does not answer: Graph refuses.
    portal = serve(public_suffix="/not-the-portal")
    container = portal.container
    synced_account(portal, emulator)
    with admin_api(portal) as api:
        resp = api.patch("/accounts/acme/directory/settings", json={"mode": "jit"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["settings"]["mode"] == "jit"
    note = body["subscriptions_note"]
    assert "subscribing to Entra ID's change notifications failed" in note
    assert "validation" in note and "tries again" in note
    assert live_subscriptions(emulator) == []
    assert stored_subscriptions(container) == []
    # The scheduler's upkeep has the account on its list for the next tick.
    assert [slug for _id, slug in sync_work.subscription_work(container)] == ["acme"]


def test_the_cli_switches_jit_on_and_off_at_once(emulator: RunningEmulator, serve: Serve) -> None:
    portal = serve()
    synced_account(portal, emulator)
    settings = portal.container.settings
    env = {
        "SWITCHBOARD_DATABASE_URL": settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": settings.secret_key or "",
        "SWITCHBOARD_PUBLIC_URL": portal.url,
    }
    on = CliRunner().invoke(cli, ["directory", "settings", "acme", "--mode", "jit"], env=env)
    assert on.exit_code == 0, on.output
    assert "subscribed to Entra ID's change notifications" in " ".join(on.stdout.split())
    assert sorted(s["resource"] for s in live_subscriptions(emulator)) == ["groups", "users"]
    off = CliRunner().invoke(cli, ["directory", "settings", "acme", "--mode", "on_demand"], env=env)
    assert off.exit_code == 0, off.output
    assert "subscriptions, if any, were removed" in " ".join(off.stdout.split())
    assert live_subscriptions(emulator) == []
    assert stored_subscriptions(portal.container) == []
