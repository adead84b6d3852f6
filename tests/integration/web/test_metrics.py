"""/metrics on SQLite and PostgreSQL, parsed with prometheus-client's own text parser: the
counters move by what sync runs did, and the database's figures say what it holds now."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from switchboard.bootstrap import Container, build
from switchboard.clock import FixedClock
from switchboard.db.models import DirectoryRegistration, DirectorySubscription, WriteBackTask
from switchboard.directory.errors import GraphError
from switchboard.jobs import database_metrics, queue
from switchboard.jobs.heartbeat import beat
from switchboard.portal.clock_context import now
from switchboard.web.app import create_app
from tests import factories
from tests.fakes import FakeDirectories
from tests.integration.sync_world import SALES, World
from tests.wiring import Adapters, ContainerBuilder

OP = factories.OPERATOR
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def adapters(directories: FakeDirectories) -> Adapters:
    return {"directory_for": directories}


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.container)) as c:
        yield c


def scrape(client: TestClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def at(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return at(after, name, **labels) - at(before, name, **labels)


def connect_other(world: World, slug: str) -> None:
    """A second account connected now, never synced."""
    with world.container.unit_of_work() as s:
        account = factories.account(s, slug)
        stamp = now(s)
        s.add(
            DirectoryRegistration(
                account_id=account.id,
                tenant_id="t2",
                client_id="c2",
                cloud="global",
                authority_url="https://login.microsoftonline.com",
                graph_url="https://graph.microsoft.com",
                certificate_pem="-",
                private_key_encrypted="-",
                policy={},
                created_at=stamp,
                updated_at=stamp,
            )
        )


def queue_work(world: World) -> None:
    """Two write-backs waiting and one failed; subscriptions expiring in 3 hours and 10 days."""
    with world.container.unit_of_work() as s:
        stamp: datetime = now(s)
        account_id = s.scalar(text("select id from accounts where slug = 'acme'"))
        for n, status in enumerate(("pending", "pending", "failed")):
            s.add(
                WriteBackTask(
                    account_id=account_id,
                    directory_id=f"u{n:03d}",
                    properties={"extension": "1000"},
                    status=status,
                    next_attempt_at=stamp,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
        for resource, left in (("users", timedelta(hours=3)), ("groups", timedelta(days=10))):
            s.add(
                DirectorySubscription(
                    account_id=account_id,
                    subscription_id=f"sub-{resource}",
                    resource=resource,
                    expires_at=stamp + left,
                    client_state_sha256="0" * 64,
                    created_at=stamp,
                )
            )


def test_runs_move_the_counters_and_the_database_figures_follow(
    world: World, client: TestClient, clock: FixedClock
) -> None:
    before = scrape(client)
    ids = [f"u{i:03d}" for i in range(20)]
    for uid in ids:
        world.directory.add_user(uid, givenName=uid.upper())
        world.directory.add_member(SALES, uid)
    assert world.engine.reconcile(OP, "acme").status == "succeeded"
    for uid in ids[:8]:
        world.directory.remove_member(SALES, uid)
    assert world.engine.reconcile(OP, "acme").status == "held"
    clock.advance(timedelta(hours=1))
    connect_other(world, "globex")
    world.directory.read_breaks_after = (0, GraphError("the service is unavailable"))
    assert world.engine.reconcile(OP, "acme").status == "failed"
    queue_work(world)
    clock.advance(timedelta(hours=1))
    beat(world.container, "host:1:worker", "worker")
    after = scrape(client)

    runs = "switchboard_sync_runs_total"
    for outcome in ("succeeded", "held", "failed"):
        assert moved(before, after, runs, kind="full", trigger="manual", outcome=outcome) == 1
    duration = "switchboard_sync_run_duration_seconds_count"
    assert moved(before, after, duration, kind="full") == 3
    items = "switchboard_sync_plan_items_total"
    # The first run created 20; the held one decided about 8 deletions and 12 unchanged.
    assert moved(before, after, items, action="create") == 20
    assert moved(before, after, items, action="delete") == 8
    assert moved(before, after, items, action="skip") == 12
    # The scrape itself was counted by its route template.
    http = "switchboard_http_requests_total"
    assert moved(before, after, http, route="/metrics", method="GET", status="200") == 1

    assert at(after, "switchboard_metrics_database_up") == 1
    assert at(after, "switchboard_sync_accounts") == 2
    age = "switchboard_sync_account_last_success_age_seconds"
    assert at(after, age, account="acme") == 7200  # the first run, two hours ago
    assert at(after, age, account="globex") == 3600  # connected an hour ago, never synced
    failed = "switchboard_sync_account_last_run_failed"
    assert (at(after, failed, account="acme"), at(after, failed, account="globex")) == (1, 0)
    assert at(after, "switchboard_sync_held_runs") == 1
    assert at(after, "switchboard_sync_held_run_oldest_age_seconds") == 7200
    writebacks = "switchboard_writeback_tasks"
    assert [at(after, writebacks, state=s) for s in ("pending", "done", "failed")] == [2, 0, 1]
    assert at(after, "switchboard_subscriptions") == 2
    assert at(after, "switchboard_subscriptions_expiring_soon") == 1
    processes = "switchboard_background_processes"
    assert (at(after, processes, role="worker"), at(after, processes, role="scheduler")) == (1, 0)
    # /readyz's checks: on SQLite the embedded scheduler is what counts, not a worker.
    ready = "switchboard_readiness_check"
    background = 0 if world.container.is_sqlite() else 1
    assert [at(after, ready, check=c) for c in ("database", "migrations", "background")] == [
        1,
        1,
        background,
    ]


def test_per_account_series_are_bounded_stalest_first(
    world: World, client: TestClient, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.advance(timedelta(hours=1))
    connect_other(world, "globex")  # an hour after acme: less stale
    monkeypatch.setattr(database_metrics, "ACCOUNT_SERIES_MAX", 1)
    samples = scrape(client)
    age = "switchboard_sync_account_last_success_age_seconds"
    listed = {dict(labels)["account"] for name, labels in samples if name == age}
    assert listed == {"acme"}
    assert at(samples, "switchboard_sync_accounts") == 2


def test_the_job_queue_depth_on_postgresql(world: World, client: TestClient) -> None:
    engine = world.container.engine
    if world.container.is_sqlite():
        assert not any(n == "switchboard_job_queue_jobs" for n, _ in scrape(client))
        return
    with engine.begin() as conn:  # whatever an earlier test left in the session database
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{queue.QUEUE_SCHEMA}" CASCADE'))
    assert not any(n == "switchboard_job_queue_jobs" for n, _ in scrape(client))
    queue.ensure_queue_schema(engine)
    try:
        with engine.begin() as conn:
            # procrastinate's triggers name its tables without the schema.
            conn.execute(text(f'SET LOCAL search_path TO "{queue.QUEUE_SCHEMA}"'))
            for task in ("switchboard.sync_account", "switchboard.push_writebacks"):
                conn.execute(
                    text(
                        "insert into procrastinate.procrastinate_jobs (queue_name, task_name)"
                        " values ('sync', :task)"
                    ),
                    {"task": task},
                )
        samples = scrape(client)
        jobs = "switchboard_job_queue_jobs"
        assert (at(samples, jobs, status="todo"), at(samples, jobs, status="doing")) == (2, 0)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{queue.QUEUE_SCHEMA}" CASCADE'))


@pytest.fixture
def token_client(build_container: ContainerBuilder) -> Iterator[TestClient]:
    container = build_container(settings=build_container.settings(metrics_token="s3cret-token"))
    with TestClient(create_app(container)) as c:
        yield c


def test_a_metrics_token_is_required_when_set(token_client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Basic czNjcmV0LXRva2Vu"}):
        refused = token_client.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "SWITCHBOARD_METRICS_TOKEN" in refused.json()["error"]["message"]
    wrong = token_client.get("/metrics", headers={"Authorization": "Bearer s3cret-tokeN"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "metrics_token_wrong"
    samples = scrape(token_client, Authorization="Bearer s3cret-token")
    assert at(samples, "switchboard_metrics_database_up") == 1


def test_without_a_token_set_metrics_are_open(container: Container) -> None:
    assert container.settings.metrics_token is None
    with TestClient(create_app(container)) as c:
        assert at(scrape(c), "switchboard_metrics_database_up") == 1


def test_a_scrape_survives_a_database_that_is_gone(
    build_container: ContainerBuilder, clock: FixedClock, tmp_path: Path
) -> None:
    gone = create_engine(f"sqlite:///{tmp_path}")  # a directory: SQLite cannot open it
    container = build(build_container.settings(), engine=gone, clock=clock)
    try:
        with TestClient(create_app(container)) as c:
            samples = scrape(c)
    finally:
        container.close()
        gone.dispose()
    assert at(samples, "switchboard_metrics_database_up") == 0
    assert at(samples, "switchboard_readiness_check", check="database") == 0
    assert not any(n == "switchboard_sync_held_runs" for n, _ in samples)
    # The process's own counters are still there.
    assert any(n == "switchboard_http_requests_total" for n, _ in samples)
