"""Two procrastinate workers share the PostgreSQL queue (threads with their own event loops,
as `serve --worker` runs one): a due schedule runs once, one account's runs never overlap,
and each worker's heartbeat row lives exactly as long as the worker."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.models import (
    Account,
    DirectoryRegistration,
    ProcessHeartbeat,
    SyncRun,
)
from switchboard.directory.models import DirectoryUser, UserDeltaRound
from switchboard.jobs import queue
from switchboard.jobs.background import QueueWorkerThread
from switchboard.portal.clock_context import now
from switchboard.sync.policy import SyncPolicy
from tests import factories
from tests.fakes import FakeDirectory
from tests.integration.sync_world import SALES, SUPPORT, World
from tests.wiring import Adapters, ContainerBuilder

# Long enough that a second run of an account would overlap the first one if it could start.
READ_PAUSE = 0.3
POLICY = SyncPolicy(groups=[SALES, SUPPORT], mode="batched", schedule_minutes=5)


class Tracker:
    """The directory factory: counts the runs of each account that have their directory open
    (a run opens it as it starts and closes it as it ends), and the most at once."""

    def __init__(self, directory: FakeDirectory) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self.open: Counter[int] = Counter()
        self.most: Counter[int] = Counter()

    def __call__(self, registration: DirectoryRegistration) -> Tracked:
        with self._lock:
            self.open[registration.account_id] += 1
            self.most[registration.account_id] = max(
                self.most[registration.account_id], self.open[registration.account_id]
            )
        return Tracked(self, registration.account_id)

    def closed(self, account_id: int) -> None:
        with self._lock:
            self.open[account_id] -= 1


class Tracked:
    def __init__(self, tracker: Tracker, account_id: int) -> None:
        self.tracker = tracker
        self.account_id = account_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tracker.directory, name)

    def users_in_scope(
        self, groups: Sequence[str], select: Sequence[str]
    ) -> Iterator[DirectoryUser]:
        time.sleep(READ_PAUSE)
        return self.tracker.directory.users_in_scope(groups, select)

    def users_delta(self, delta_link: str | None, select: Sequence[str]) -> UserDeltaRound:
        time.sleep(READ_PAUSE)
        return self.tracker.directory.users_delta(delta_link, select)

    def close(self) -> None:
        self.tracker.closed(self.account_id)


@pytest.fixture
def tracker(directory: FakeDirectory) -> Tracker:
    return Tracker(directory)


@pytest.fixture
def adapters(tracker: Tracker) -> Adapters:
    return {"directory_for": tracker}


@pytest.fixture
def fresh_queue(world: World) -> Iterator[None]:
    if world.container.is_sqlite():
        pytest.skip("queue workers are procrastinate on PostgreSQL; SQLite has the scheduler")
    engine = world.container.engine
    drop = text(f'DROP SCHEMA IF EXISTS "{queue.QUEUE_SCHEMA}" CASCADE')
    with engine.begin() as conn:
        conn.execute(drop)
    yield
    with engine.begin() as conn:
        conn.execute(drop)


def connect_second_account(container: Container, slug: str) -> None:
    with container.unit_of_work() as s:
        account = factories.tenant(s, slug, area="415").account
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
                policy=POLICY.model_dump(mode="json"),
                created_at=stamp,
                updated_at=stamp,
            )
        )


def runs_by_account(container: Container) -> dict[str, list[tuple[str, str, str]]]:
    with container.unit_of_work() as s:
        rows = s.execute(
            select(Account.slug, SyncRun.trigger, SyncRun.kind, SyncRun.status)
            .join(Account, Account.id == SyncRun.account_id)
            .order_by(SyncRun.id)
        ).all()
    out: dict[str, list[tuple[str, str, str]]] = {"acme": [], "beta": []}
    for slug, trigger, kind, status in rows:
        out[slug].append((trigger, kind, status))
    return out


def wait_for(what: str, done: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def queue_idle(container: Container) -> bool:
    with container.engine.connect() as conn:
        busy = conn.scalar(
            text(
                "select count(*) from procrastinate.procrastinate_jobs"
                " where task_name = 'switchboard.sync_account' and status in ('todo', 'doing')"
            )
        )
    return bool(busy == 0)


def last_tick(container: Container) -> int:
    with container.engine.connect() as conn:
        value = conn.scalar(
            text(
                "select coalesce(max(defer_timestamp), 0)"
                " from procrastinate.procrastinate_periodic_defers"
                " where task_name = 'switchboard.tick'"
            )
        )
    return int(value or 0)


def test_two_workers_run_each_schedule_once_and_never_one_account_twice(
    world: World,
    fresh_queue: None,
    build_container: ContainerBuilder,
    tracker: Tracker,
    clock: FixedClock,
) -> None:
    world.set_policy(**POLICY.model_dump(include={"mode", "schedule_minutes"}))
    connect_second_account(world.container, "beta")
    for uid in ("u1", "u2", "u3"):
        world.directory.add_user(uid)
        world.directory.add_member(SALES, uid)
    workers = [QueueWorkerThread(build_container(directory_for=tracker)) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        with world.container.unit_of_work() as s:
            beats = {(h.id, h.role) for h in s.scalars(select(ProcessHeartbeat))}
        assert {role for _id, role in beats} == {"worker"}
        assert {h_id for h_id, _role in beats} == {w.heartbeat.id for w in workers}
        assert len(beats) == 2  # one row per worker

        # The safety net's first full run of each account, once, whichever worker takes it.
        def first_runs_done() -> bool:
            by = runs_by_account(world.container)
            return all(by[slug] == [("schedule", "full", "succeeded")] for slug in by)

        wait_for("the first run of each account", first_runs_done)
        # Two more ticks of the schedule (every 5 s): the clock has not moved, nothing is due.
        seen = last_tick(world.container)
        wait_for("two more ticks", lambda: last_tick(world.container) >= seen + 10, 30)
        wait_for("an idle queue", lambda: queue_idle(world.container))
        assert first_runs_done()

        # Every five minutes a delta round, one per account per step of the clock.
        for step in range(1, 4):
            clock.advance(timedelta(minutes=6))

            def stepped(n: int = step) -> bool:
                by = runs_by_account(world.container)
                return all(len(by[slug]) == 1 + n for slug in by) and queue_idle(world.container)

            wait_for(f"the delta rounds of step {step}", stepped)
        by = runs_by_account(world.container)
        for slug in ("acme", "beta"):
            assert by[slug] == [("schedule", "full", "succeeded")] + 3 * [
                ("schedule", "delta", "succeeded")
            ]
        assert set(tracker.most.values()) == {1}  # never two runs of one account at once
        assert sum(tracker.open.values()) == 0
    finally:
        for worker in workers:
            worker.stop()
    for worker in workers:
        assert worker.failure is None
        assert not worker.is_alive()
    with world.container.unit_of_work() as s:
        assert s.scalars(select(ProcessHeartbeat)).all() == []
