"""Scale-out: the procrastinate tick also keeps jit accounts' subscriptions (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from procrastinate import App
from sqlalchemy import select, text

from switchboard.db.models import DirectorySubscription
from switchboard.jobs import queue
from tests.fakes import FakeDirectories
from tests.integration.sync.fake_subscriptions import FakeSubscriptions
from tests.integration.sync_world import World
from tests.wiring import Adapters, ContainerBuilder


@pytest.fixture
def graph() -> FakeSubscriptions:
    return FakeSubscriptions()


@pytest.fixture
def adapters(
    directories: FakeDirectories, graph: FakeSubscriptions, build_container: ContainerBuilder
) -> Adapters:
    return {
        "settings": build_container.settings(public_url="https://portal.example.com"),
        "directory_for": directories,
        "subscriptions_for": lambda _registration: graph,
    }


@pytest.fixture
def app(world: World) -> Iterator[App]:
    if world.container.is_sqlite():
        pytest.skip("the job queue is procrastinate on PostgreSQL; SQLite uses threads")
    engine = world.container.engine
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{queue.QUEUE_SCHEMA}" CASCADE'))
    queue.ensure_queue_schema(engine)
    yield queue.make_app(world.container)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{queue.QUEUE_SCHEMA}" CASCADE'))


def test_tick_defers_subscription_upkeep_once_and_a_worker_does_it(
    world: World, app: App, graph: FakeSubscriptions
) -> None:
    world.set_policy(mode="jit")
    with app.open():
        first = queue.enqueue_due(app, world.container)
        second = queue.enqueue_due(app, world.container)
    assert first.subscriptions == ["acme"]
    assert second.subscriptions == []  # one job waiting per account (queueing lock)
    with world.container.engine.connect() as conn:
        names = [
            r[0]
            for r in conn.execute(
                text("select task_name from procrastinate.procrastinate_jobs order by id")
            )
        ]
    assert names.count("switchboard.maintain_subscriptions") == 1
    app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)
    with world.container.unit_of_work() as s:
        resources = sorted(s.scalars(select(DirectorySubscription.resource)))
    assert resources == ["groups", "users"]
    assert len(graph.live) == 2
