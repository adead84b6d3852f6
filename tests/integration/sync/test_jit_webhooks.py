"""Just-in-time sync on both databases: subscriptions kept in step with the account's mode,
and the webhook turning verified notifications into one coalesced delta round."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from switchboard.cli.main import app as cli
from switchboard.clock import FixedClock
from switchboard.connection import app_certificates, registration
from switchboard.db.models import DirectoryRegistration, DirectorySubscription, SyncRun, User
from switchboard.jobs.embedded import EmbeddedScheduler
from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Role
from switchboard.sync import subscription_upkeep
from switchboard.web.app import create_app
from tests.fakes import FakeDirectories
from tests.integration.sync.fake_subscriptions import FakeSubscriptions
from tests.integration.sync_world import SALES, World
from tests.ui_support import make_admin, sign_in
from tests.wiring import Adapters, ContainerBuilder

PUBLIC = "https://portal.example.com"
TENANT = "t"  # the tenant id the world's registration holds


@dataclass
class Jit:
    world: World
    graph: FakeSubscriptions
    client: TestClient
    clock: FixedClock

    @property
    def container(self) -> Any:
        return self.world.container

    def account_id(self) -> int:
        with self.container.unit_of_work() as s:
            return get_account(s, self.world.actor, "acme").id

    def maintain(self) -> subscription_upkeep.MaintainReport:
        return subscription_upkeep.maintain(self.container, self.account_id())

    def rows(self) -> list[DirectorySubscription]:
        with self.container.unit_of_work() as s:
            rows = list(s.scalars(select(DirectorySubscription).order_by("resource")))
            s.expunge_all()
            return rows

    def notification_runs(self) -> int:
        with self.container.unit_of_work() as s:
            return int(s.scalar(select(func.count()).where(SyncRun.trigger == "notification")) or 0)

    def item(self, kind: str = "users", **changes: Any) -> dict[str, Any]:
        sid, state = self.graph.state_of(kind)
        item = {
            "subscriptionId": sid,
            "subscriptionExpirationDateTime": "2026-02-10T00:00:00Z",
            "changeType": "updated",
            "clientState": state,
            "resource": "Users/u1",
            "resourceData": {"@odata.type": "#Microsoft.Graph.User", "id": "u1"},
            "tenantId": TENANT,
        }
        item.update(changes)
        return item


@pytest.fixture
def graph() -> FakeSubscriptions:
    return FakeSubscriptions()


@pytest.fixture
def adapters(
    directories: FakeDirectories, graph: FakeSubscriptions, build_container: ContainerBuilder
) -> Adapters:
    return {
        "settings": build_container.settings(public_url=PUBLIC, notification_min_gap_seconds=0.0),
        "jobs": InlineJobRunner(),
        "directory_for": directories,
        "subscriptions_for": lambda _registration: graph,
    }


@pytest.fixture
def jit(world: World, graph: FakeSubscriptions, clock: FixedClock) -> Iterator[Jit]:
    container = world.container
    world.directory.add_user("u1", givenName="Ada")
    world.directory.add_member(SALES, "u1")
    world.engine.reconcile(world.actor, "acme")
    world.set_policy(mode="jit")
    with TestClient(create_app(container)) as client:
        yield Jit(world, graph, client, clock)


def test_validation_handshake_echoes_the_decoded_token(jit: Jit) -> None:
    token = "Validation: Testing client application reachability <&> for subscription"
    for path in ("/webhooks/graph", "/webhooks/graph/lifecycle"):
        for method in ("GET", "POST"):
            resp = jit.client.request(method, path, params={"validationToken": token})
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/plain")
            assert resp.text == token


def test_jit_accounts_subscribe_to_users_and_groups(jit: Jit) -> None:
    report = jit.maintain()
    assert sorted(report.created) == ["groups", "users"]
    assert not report.errors
    for request in jit.graph.created:
        assert request["change_type"] == "updated,deleted"
        assert request["notification_url"] == f"{PUBLIC}/webhooks/graph"
        assert request["lifecycle_url"] == f"{PUBLIC}/webhooks/graph/lifecycle"
        assert request["expires_at"] == jit.clock.now() + timedelta(minutes=41_700)
    rows = jit.rows()
    assert [r.resource for r in rows] == ["groups", "users"]
    for row in rows:
        state = jit.graph.live[row.subscription_id]["client_state"]
        assert len(state) >= 32
        assert row.client_state_sha256 == subscription_upkeep.digest(state) != state
    assert not jit.maintain().changed  # nothing to do until renewal is due


def test_subscriptions_are_renewed_within_a_day_of_expiry_and_recreated_when_gone(
    jit: Jit,
) -> None:
    jit.maintain()
    users_sid = next(r.subscription_id for r in jit.rows() if r.resource == "users")
    jit.clock.advance(timedelta(minutes=41_700) - timedelta(hours=23))
    del jit.graph.live[users_sid]  # Graph lost this one
    report = jit.maintain()
    assert report.renewed == ["groups"]
    assert report.recreated == ["users"]
    rows = {r.resource: r for r in jit.rows()}
    assert rows["groups"].renewed_at == jit.clock.now()
    assert rows["groups"].expires_at == jit.clock.now() + timedelta(minutes=41_700)
    assert rows["users"].subscription_id != users_sid


def test_a_notification_triggers_one_delta_round_and_duplicates_coalesce(jit: Jit) -> None:
    jit.maintain()
    jit.world.directory.change("u1", surname="Changed")
    duplicate = jit.item()
    body = {
        "value": [
            duplicate,
            duplicate,
            {k[0].upper() + k[1:]: v for k, v in duplicate.items()},  # casing varies
            jit.item("groups", resource="Groups/g1"),
        ]
    }
    resp = jit.client.post("/webhooks/graph", json=body)
    assert resp.status_code == 202
    assert jit.notification_runs() == 1
    with jit.container.unit_of_work() as s:
        assert s.scalar(select(User.last_name).where(User.directory_id == "u1")) == "Changed"
        run = s.scalar(select(SyncRun).where(SyncRun.trigger == "notification"))
        assert run is not None and run.kind in ("delta", "full")


@pytest.mark.parametrize(
    "tamper",
    [
        {"clientState": "not-the-secret"},
        {"clientState": None},
        {"subscriptionId": str(uuid.uuid4())},
        {"tenantId": "someone-else"},
    ],
    ids=["wrong-client-state", "no-client-state", "unknown-subscription", "other-tenant"],
)
def test_unverified_notifications_are_ignored(jit: Jit, tamper: dict[str, Any]) -> None:
    jit.maintain()
    resp = jit.client.post("/webhooks/graph", json={"value": [jit.item(**tamper)]})
    assert resp.status_code == 202  # the same answer: it tells a caller nothing
    assert jit.notification_runs() == 0


def test_malformed_bodies_are_refused_or_ignored(jit: Jit) -> None:
    resp = jit.client.post(
        "/webhooks/graph", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_json"
    assert jit.client.post("/webhooks/graph", json={"value": "x"}).status_code == 202
    assert jit.client.get("/webhooks/graph").status_code == 405
    assert jit.notification_runs() == 0


def test_reauthorization_required_is_answered(jit: Jit) -> None:
    jit.maintain()
    sid, state = jit.graph.state_of("users")
    event = {
        "subscriptionId": sid,
        "clientState": state,
        "lifecycleEvent": "reauthorizationRequired",
        "tenantId": TENANT,
    }
    assert jit.client.post("/webhooks/graph/lifecycle", json={"value": [event]}).status_code == 202
    assert jit.graph.reauthorized == [sid]
    # Graph no longer knows it: the subscription is created again.
    del jit.graph.live[sid]
    jit.client.post("/webhooks/graph/lifecycle", json={"value": [event]})
    users = next(r for r in jit.rows() if r.resource == "users")
    assert users.subscription_id != sid
    # A forged lifecycle event does nothing.
    forged = {**event, "subscriptionId": users.subscription_id, "clientState": "guess"}
    jit.client.post("/webhooks/graph/lifecycle", json={"value": [forged]})
    assert jit.graph.reauthorized == [sid]


def test_leaving_jit_mode_deletes_the_subscriptions(jit: Jit) -> None:
    jit.maintain()
    sids = sorted(jit.graph.live)
    with jit.container.unit_of_work() as s:
        acct = get_account(s, jit.world.actor, "acme")
        registration.update_settings(s, jit.world.actor, acct, {"mode": "on_demand"})
        assert jit.graph.deleted == []  # Graph is called once the change is committed
    assert sorted(jit.graph.deleted) == sids
    assert jit.rows() == []
    assert not jit.maintain().changed  # on-demand accounts hold none


def test_a_rolled_back_mode_change_keeps_the_subscriptions(jit: Jit) -> None:
    jit.maintain()

    def change_then_fail() -> None:
        with jit.container.unit_of_work() as s:
            acct = get_account(s, jit.world.actor, "acme")
            registration.update_settings(s, jit.world.actor, acct, {"mode": "on_demand"})
            raise RuntimeError("something later in the transaction failed")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert jit.graph.deleted == []
    assert len(jit.rows()) == 2


def test_disconnecting_deletes_the_subscriptions(jit: Jit) -> None:
    jit.maintain()
    sids = sorted(jit.graph.live)
    with jit.container.unit_of_work() as s:
        acct = get_account(s, jit.world.actor, "acme", write=True)
        registration.disconnect(s, jit.world.actor, acct)
    assert sorted(jit.graph.deleted) == sids
    assert jit.rows() == []
    with jit.container.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(DirectoryRegistration)) == 0


def test_the_worker_tick_creates_and_renews_subscriptions(jit: Jit) -> None:
    scheduler = EmbeddedScheduler(jit.container, InlineJobRunner())
    assert scheduler.tick().subscriptions == ["acme"]
    assert len(jit.rows()) == 2
    assert scheduler.tick().subscriptions == []  # nothing due
    jit.clock.advance(timedelta(days=28, hours=1))
    assert scheduler.tick().subscriptions == ["acme"]
    assert len(jit.graph.renewed) == 2
    jit.world.set_policy(mode="on_demand")  # behind the service's back: the tick cleans up
    assert scheduler.tick().subscriptions == ["acme"]
    assert jit.rows() == [] and jit.graph.live == {}


def test_without_a_public_url_nothing_is_created(
    jit: Jit, adapters: Adapters, build_container: ContainerBuilder
) -> None:
    nowhere = adapters.copy()
    nowhere["settings"] = jit.container.settings.model_copy(update={"public_url": None})
    container = build_container(**nowhere)
    assert EmbeddedScheduler(container, InlineJobRunner()).tick().subscriptions == []
    report = subscription_upkeep.maintain(container, jit.account_id())
    assert not report.created
    assert "SWITCHBOARD_PUBLIC_URL" in report.errors[0]


def test_cli_lists_the_subscriptions(jit: Jit) -> None:
    jit.clock.advance(datetime.now(UTC) - jit.clock.now())  # the CLI reads the system clock
    jit.maintain()
    settings = jit.container.settings
    env = {
        "SWITCHBOARD_DATABASE_URL": settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": settings.secret_key or "",
    }
    result = CliRunner().invoke(cli, ["directory", "subscriptions", "acme", "--json"], env=env)
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [r["resource"] for r in listed] == ["groups", "users"]
    assert {r["state"] for r in listed} == {"active"}
    assert {r["subscription_id"] for r in listed} == set(jit.graph.live)
    assert all("client_state" not in k for r in listed for k in r)
    table = CliRunner().invoke(cli, ["directory", "subscriptions", "acme"], env=env)
    assert table.exit_code == 0 and "users" in table.stdout
    missing = CliRunner().invoke(cli, ["directory", "subscriptions", "nope"], env=env)
    assert missing.exit_code != 0


def test_the_directory_status_card_shows_the_subscriptions(jit: Jit) -> None:
    with jit.container.unit_of_work() as s:  # the world's stand-in registration has no PEM
        reg = s.scalars(select(DirectoryRegistration)).one()
        reg.certificate_pem = app_certificates.generate("acme", jit.clock.now()).certificate_pem
    make_admin(jit.container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    sign_in(jit.client, "admin@acme.example")
    page = jit.client.get("/accounts/acme/directory")
    assert page.status_code == 200
    assert "none: switching to jit subscribes at once" in page.text
    jit.maintain()
    text = jit.client.get("/accounts/acme/directory").text
    card = text[text.index('id="subscriptions"') :].split("</dd>")[0]
    assert "<code>groups</code> active" in card and "<code>users</code> active" in card


def test_webhooks_need_no_client_certificate_where_the_api_does(jit: Jit) -> None:
    jit.maintain()
    with TestClient(create_app(jit.container, require_client_cert=True)) as gated:
        assert gated.get("/api/v1/accounts").status_code == 403
        handshake = gated.post("/webhooks/graph", params={"validationToken": "t"})
        assert handshake.status_code == 200 and handshake.text == "t"
        jit.world.directory.change("u1", surname="Gated")
        assert gated.post("/webhooks/graph", json={"value": [jit.item()]}).status_code == 202
    assert jit.notification_runs() == 1
