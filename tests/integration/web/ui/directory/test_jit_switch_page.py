"""Admin UI, Directory settings: switching jit on subscribes at once, switching it off removes
the subscriptions at once, and a refused subscription is told in words while the mode stays
saved (Graph's /subscriptions in memory; the end-to-end case over HTTP is in
tests/integration/sync/test_jit_emulator.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.connection import registration as service
from switchboard.db.models import DirectoryRegistration, DirectorySubscription
from switchboard.directory.errors import GraphError
from switchboard.directory.graph_subscriptions import GraphSubscription
from switchboard.jobs import sync_work
from switchboard.portal.actors import Role
from tests.fakes import FakeDirectories, FakeDirectory, FakeJobs
from tests.integration.sync.fake_subscriptions import FakeSubscriptions
from tests.integration.web.ui.directory.test_directory_tab import (
    CONNECT,
    SALES,
    Env,
    make_env,
)
from tests.wiring import Adapters, ContainerBuilder

PUBLIC = "https://portal.example.com"
REFUSAL = "Subscription validation request failed. Notification endpoint must respond with 200 OK"


class RefusingSubscriptions(FakeSubscriptions):
    """Graph refusing every new subscription, as when it cannot validate the endpoint."""

    def create_subscription(self, **request: Any) -> GraphSubscription:
        raise GraphError(REFUSAL, status=400, code="InvalidRequest")


@pytest.fixture
def graph(request: pytest.FixtureRequest) -> FakeSubscriptions:
    refusing = getattr(request, "param", False)
    return RefusingSubscriptions() if refusing else FakeSubscriptions()


@pytest.fixture
def public_url() -> str | None:
    return PUBLIC


@pytest.fixture
def adapters(
    graph: FakeSubscriptions, public_url: str | None, build_container: ContainerBuilder
) -> Adapters:
    directory = FakeDirectory()
    directory.groups = {SALES: set()}
    return {
        "settings": build_container.settings(public_url=public_url),
        "directory_for": FakeDirectories(directory),
        "jobs": FakeJobs(),
        "subscriptions_for": lambda _registration: graph,
    }


def save(env: Env, **changes: str) -> Any:
    return env.post("/settings", {**CONNECT, **changes})


def stored(container: Container) -> list[str]:
    with container.unit_of_work() as s:
        return sorted(s.scalars(select(DirectorySubscription.resource)))


def mode(container: Container) -> str:
    with container.unit_of_work() as s:
        return service.policy_of(s.scalars(select(DirectoryRegistration)).one()).mode


def test_switching_jit_on_subscribes_and_off_removes_at_once(
    app_client: TestClient, container: Container, graph: FakeSubscriptions
) -> None:
    env = make_env(app_client, container)
    on = save(env, mode="jit")
    assert on.status_code == 303, on.text
    assert on.headers["location"].endswith("?done=directory-jit-subscribed")
    assert sorted(r["resource"] for r in graph.live.values()) == ["groups", "users"]
    assert stored(container) == ["groups", "users"]
    page = env.get(on.headers["location"].removeprefix("/accounts/acme/directory"))
    assert "subscribed to Entra ID&#39;s change notifications" in page.text

    unchanged = save(env, mode="jit", default_location="")  # still jit: nothing to do again
    assert unchanged.headers["location"].endswith("?done=directory-settings-saved")
    assert len(graph.created) == 2

    off = save(env, mode="on_demand")
    assert off.headers["location"].endswith("?done=directory-jit-left")
    assert graph.live == {}
    assert stored(container) == []


@pytest.mark.parametrize("graph", [True], indirect=True)
def test_a_refused_subscription_is_told_in_words_and_the_mode_stays(
    app_client: TestClient, container: Container
) -> None:
    env = make_env(app_client, container)
    answer = save(env, mode="jit")
    assert answer.status_code == 200
    assert "subscribing to Entra ID&#39;s change notifications failed" in answer.text
    assert "Subscription validation request failed" in answer.text
    assert mode(container) == "jit"
    assert stored(container) == []
    assert [slug for _id, slug in sync_work.subscription_work(container)] == ["acme"]


@pytest.mark.parametrize("public_url", [None])
def test_without_a_public_url_the_page_says_why_nothing_was_subscribed(
    app_client: TestClient, container: Container, graph: FakeSubscriptions
) -> None:
    env = make_env(app_client, container, Role.PROVIDER_ADMIN)
    answer = save(env, mode="jit")
    assert answer.headers["location"].endswith("?done=directory-jit-no-public-url")
    page = env.get("?done=directory-jit-no-public-url")
    assert "SWITCHBOARD_PUBLIC_URL is not set" in page.text
    assert graph.created == []
    assert mode(container) == "jit"
