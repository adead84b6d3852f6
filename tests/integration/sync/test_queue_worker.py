"""Scale-out: procrastinate workers run the scheduled syncs from a PostgreSQL job queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from procrastinate import App
from sqlalchemy import select, text

from switchboard.clock import FixedClock
from switchboard.db.models import SyncRun
from switchboard.jobs import queue
from tests.integration.sync.conftest import SALES, World


@pytest.fixture
def app(world: World) -> Iterator[App]:
    if world.container.is_sqlite():
        pytest.skip("the job queue is procrastinate on PostgreSQL; SQLite uses threads")
    engine = world.container.engine
    with engine.begin() as conn:  # whatever an earlier test left in the session database
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{queue.QUEUE_SCHEMA}" CASCADE'))
    assert queue.ensure_queue_schema(engine) is True
    assert queue.ensure_queue_schema(engine) is False  # once only
    yield queue.make_app(world.container)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{queue.QUEUE_SCHEMA}" CASCADE'))


def runs(world: World) -> list[tuple[str, str, str]]:
    with world.container.unit_of_work() as s:
        return [
            (r.trigger, r.kind, r.status) for r in s.scalars(select(SyncRun).order_by(SyncRun.id))
        ]


def jobs(world: World) -> list[tuple[str, str, str | None, str | None]]:
    with world.container.engine.connect() as conn:
        rows = conn.execute(
            text(
                "select task_name, status::text, lock, queueing_lock"
                " from procrastinate.procrastinate_jobs order by id"
            )
        ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def work(app: App) -> None:
    app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)


def test_tick_enqueues_due_accounts_once_and_a_worker_runs_them(
    world: World, app: App, clock: FixedClock
) -> None:
    world.directory.add_user("u1")
    world.directory.add_member(SALES, "u1")
    with app.open():
        first = queue.enqueue_due(app, world.container)
        second = queue.enqueue_due(app, world.container)
    assert [(d.slug, d.decision.kind) for d in first.started] == [("acme", "full")]
    # A job for the account is already waiting: the queueing lock refuses another, and the
    # lock keeps two workers from running jobs of one account at the same time.
    assert [d.slug for d in second.already_busy] == ["acme"]
    account_id = first.started[0].account_id
    assert jobs(world) == [
        (
            "switchboard.sync_account",
            "todo",
            f"switchboard.account:{account_id}",
            f"switchboard.sync:{account_id}",
        )
    ]
    work(app)
    assert runs(world) == [("schedule", "full", "succeeded")]
    assert jobs(world) == []  # successful jobs are deleted; the run log keeps the outcome

    # The periodic tick, run by a worker, finds the daily delta due and defers it.
    clock.advance(timedelta(hours=25))
    with app.open():
        app.tasks["switchboard.tick"].defer(timestamp=0)
    work(app)
    assert runs(world)[-1] == ("schedule", "delta", "succeeded")
    assert jobs(world) == []
    assert [r[:2] for r in runs(world)] == [("schedule", "full"), ("schedule", "delta")]
