"""The Directory tab says when a scheduled or just-in-time account has nobody to run its syncs:
no fresh heartbeat of a scheduler (SQLite) or of a queue worker (PostgreSQL)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.jobs import heartbeat

# The fake directory and jobs of the Directory tab's tests.
from tests.integration.web.ui.directory.test_directory_tab import (  # noqa: F401 - fixture
    adapters,
    make_env,
)


def notice(page: str) -> str | None:
    found = re.search(
        r'<div class="alert alert-warn" role="alert" id="no-background">(.*?)</div>', page, re.S
    )
    return (
        " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split()) if found else None
    )


def test_a_batched_account_without_a_scheduler_or_worker_says_so(
    app_client: TestClient, container: Container, clock: FixedClock
) -> None:
    env = make_env(app_client, container, mode="batched", schedule_minutes=5)
    text = notice(env.get().text)
    assert text is not None
    assert text.startswith("Syncs will not run by themselves.")
    if container.is_sqlite():
        assert "no scheduler is running" in text
        assert "switchboard serve (without --no-scheduler), or run switchboard worker" in text
    else:
        assert "no worker is running" in text
        assert "Start at least one switchboard worker" in text

    with container.unit_of_work() as s:
        role = heartbeat.background_role(s)
        assert heartbeat.background_alive(s) is False
    heartbeat.beat(container, "test-process", role)
    with container.unit_of_work() as s:
        assert heartbeat.background_alive(s) is True
    assert notice(env.get().text) is None

    # A process that stopped beating without a word counts as gone once its row is stale.
    clock.advance(heartbeat.STALE_AFTER + timedelta(seconds=1))
    assert notice(env.get().text) is not None
    heartbeat.beat(container, "test-process", role)
    assert notice(env.get().text) is None
    heartbeat.forget(container, "test-process")
    assert notice(env.get().text) is not None


def test_the_other_role_does_not_count(app_client: TestClient, container: Container) -> None:
    env = make_env(app_client, container, mode="jit")
    other: heartbeat.Role = "worker" if container.is_sqlite() else "scheduler"
    heartbeat.beat(container, "other-process", other)
    text = notice(env.get().text)
    assert text is not None
    assert "This account syncs just in time" in text
    assert "nothing creates or renews its change-notification subscriptions" in text


def test_an_on_demand_account_needs_no_background_work(
    app_client: TestClient, container: Container
) -> None:
    env = make_env(app_client, container)
    assert notice(env.get().text) is None
