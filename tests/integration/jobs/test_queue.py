"""Scale-out: procrastinate workers run the scheduled syncs from a PostgreSQL job queue."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import select, text

from switchboard.clock import FixedClock
from switchboard.db.models import SyncRun, User
from switchboard.jobs import queue
from tests.fakes import FakeDirectories
from tests.integration.sync_world import SALES, World
from tests.wiring import Adapters, ContainerBuilder


@pytest.fixture
def adapters(directories: FakeDirectories) -> Adapters:
    """The world's fake directory behind the container."""
    return {"directory_for": directories}


@pytest.fixture
def queue_schema(world: World) -> Iterator[None]:
    if world.container.is_sqlite():
        pytest.skip("the job queue is procrastinate on PostgreSQL; SQLite uses threads")
    engine = world.container.engine
    with engine.begin() as conn:  # whatever an earlier test left in the session database
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{queue.QUEUE_SCHEMA}" CASCADE'))
    assert queue.ensure_queue_schema(engine) is True
    assert queue.ensure_queue_schema(engine) is False  # once only
    yield
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{queue.QUEUE_SCHEMA}" CASCADE'))


@pytest.fixture
def app(world: World, queue_schema: None) -> App:
    return queue.make_app(world.container)


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


def sync_jobs(world: World) -> list[str]:
    """The statuses of the sync jobs in the queue (the workers' ticks left aside)."""
    return [j[1] for j in jobs(world) if j[0] == "switchboard.sync_account"]


def work(app: App, queues: list[str] | None = None) -> None:
    app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False, queues=queues)


def work_syncs(app: App) -> None:
    """Run the queued syncs only: a periodic tick due meanwhile would recover stalled jobs."""
    work(app, queues=[queue.SYNC_QUEUE])


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


def test_a_killed_workers_account_is_taken_over_by_another_worker(
    world: World,
    queue_schema: None,
    build_container: ContainerBuilder,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    settings = build_container.settings(
        worker_stalled_seconds=2,  # heartbeats every 0.7 s
        run_lease_seconds=4,
    )
    container = build_container(settings=settings, directory_for=world.directories)
    app = queue.make_app(container)
    world.directory.add_user("u1")
    world.directory.add_member(SALES, "u1")
    with app.open():
        assert len(queue.enqueue_due(app, container).started) == 1
    marker = tmp_path / "reading"
    env = {**os.environ, "SWITCHBOARD_WORKER_STALLED_SECONDS": "2"}
    doomed = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.jobs.stalling_worker",
            settings.database_url,
            str(marker),
        ],
        cwd=Path(__file__).resolve().parents[3],
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and doomed.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the first worker never started its job"
    finally:
        os.kill(doomed.pid, signal.SIGKILL)  # mid-job: no cleanup of any kind
        doomed.wait(10)
    assert sync_jobs(world) == ["doing"]
    assert runs(world) == [("schedule", "full", "running")]

    time.sleep(2.5)  # the dead worker's heartbeat is now too old
    clock.advance(datetime.now(UTC) + timedelta(seconds=5) - clock.now())  # its run's too
    # A second worker's tick (one may wait already) finds the stalled job and queues it again.
    with app.open(), contextlib.suppress(AlreadyEnqueued):
        app.tasks["switchboard.tick"].defer(timestamp=0)
    app.run_worker(
        queues=[queue.TICK_QUEUE, queue.SYNC_QUEUE],
        wait=False,
        install_signal_handlers=False,
        listen_notify=False,
    )
    assert sync_jobs(world) == ["todo"]
    # It starts once the abandoned run's lease has run out (lease minus the worker timeout).
    deadline = time.monotonic() + 10
    while sync_jobs(world) and time.monotonic() < deadline:
        time.sleep(0.5)
        work(app)
    assert runs(world) == [("schedule", "full", "abandoned"), ("schedule", "full", "succeeded")]
    assert sync_jobs(world) == []
    with world.container.unit_of_work() as s:
        assert s.scalars(select(User.directory_id)).all() == ["u1"]


def test_a_stalled_job_gives_way_to_a_newer_job_of_its_account(world: World, app: App) -> None:
    world.directory.add_user("u1")
    world.directory.add_member(SALES, "u1")
    with app.open():
        queue.enqueue_due(app, world.container)
    # As a worker pruned for silence leaves its job: doing, and no worker behind it.
    with world.container.engine.begin() as conn:
        conn.execute(text(f'set local search_path to "{queue.QUEUE_SCHEMA}"'))
        conn.execute(text("update procrastinate_jobs set status = 'doing'"))
    with app.open():
        # A newer job of the account waits already (the lock keeps it from running)...
        assert len(queue.enqueue_due(app, world.container).started) == 1
    work_syncs(app)
    assert sync_jobs(world) == ["doing", "todo"]
    with app.open():
        # ...so the stalled one is closed, not queued a second time, and the newer one runs.
        assert len(queue.recover_stalled(app, world.container)) == 1
    work(app)
    assert sync_jobs(world) == ["failed"]
    assert runs(world) == [("schedule", "full", "succeeded")]
