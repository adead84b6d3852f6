"""The embedded scheduler: a tick starts what is due, once per account, and backs off."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from switchboard.clock import FixedClock
from switchboard.db.models import SyncRun, WriteBackTask
from switchboard.directory.errors import TransientGraphError
from switchboard.directory.models import DirectoryUser
from switchboard.jobs import sync_work
from switchboard.jobs.embedded import EmbeddedScheduler
from switchboard.jobs.runner import InlineJobRunner, ThreadJobRunner
from switchboard.portal.accounts import terminate_account
from tests import factories
from tests.fakes import FakeDirectories, FakeDirectory
from tests.integration.sync_world import SALES, World
from tests.wiring import Adapters

OP = factories.OPERATOR


@pytest.fixture
def adapters(directories: FakeDirectories) -> Adapters:
    """The world's fake directory behind the container."""
    return {"directory_for": directories}


def seed(world: World, *uids: str) -> None:
    for uid in uids:
        world.directory.add_user(uid)
        world.directory.add_member(SALES, uid)


def runs(world: World) -> list[tuple[str, str, str]]:
    with world.container.unit_of_work() as s:
        return [
            (r.trigger, r.kind, r.status) for r in s.scalars(select(SyncRun).order_by(SyncRun.id))
        ]


def tick(world: World) -> sync_work.TickReport:
    return EmbeddedScheduler(world.container, InlineJobRunner()).tick()


class Outage:
    """The world's directory behind a switch: reads fail while ``down`` is set."""

    def __init__(self, directory: FakeDirectory) -> None:
        self.directory = directory
        self.down = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.directory, name)

    def users_in_scope(
        self, groups: Sequence[str], select: Sequence[str]
    ) -> Iterator[DirectoryUser]:
        if self.down:
            raise TransientGraphError("Service unavailable (503) after 6 attempts", status=503)
        return self.directory.users_in_scope(groups, select)


class Gate:
    """The world's directory, whose full read waits until the test opens the gate."""

    def __init__(self, directory: FakeDirectory) -> None:
        self.directory = directory
        self.entered = threading.Event()
        self.open = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.directory, name)

    def users_in_scope(
        self, groups: Sequence[str], select: Sequence[str]
    ) -> Iterator[DirectoryUser]:
        self.entered.set()
        assert self.open.wait(10), "the test never opened the gate"
        return self.directory.users_in_scope(groups, select)


def test_batched_every_five_minutes(world: World, clock: FixedClock) -> None:
    world.set_policy(mode="batched", schedule_minutes=5)
    seed(world, "u1")
    report = tick(world)
    assert [(d.slug, d.decision.kind) for d in report.started] == [("acme", "full")]
    assert report.started[0].decision.reason == "safety net: no delta chain yet"
    assert runs(world) == [("schedule", "full", "succeeded")]
    clock.advance(timedelta(minutes=4))
    report = tick(world)
    assert report.started == []
    assert report.not_due[0].decision.reason.startswith("next: delta at 2026-01-15 09:05 UTC")
    clock.advance(timedelta(minutes=2))
    world.directory.change("u1", surname="Byron")
    report = tick(world)
    assert [d.decision.kind for d in report.started] == ["delta"]
    assert runs(world)[-1] == ("schedule", "delta", "succeeded")
    # A manual reconcile restarts the interval.
    clock.advance(timedelta(minutes=3))
    world.engine.reconcile(OP, "acme")
    clock.advance(timedelta(minutes=3))
    assert tick(world).started == []
    clock.advance(timedelta(minutes=2))
    assert [d.decision.kind for d in tick(world).started] == ["delta"]


def test_cron_schedule(world: World, clock: FixedClock) -> None:
    world.set_policy(mode="batched", schedule_cron="30 9 * * *")
    world.engine.reconcile(OP, "acme")  # 09:00
    clock.advance(timedelta(minutes=29))
    assert tick(world).started == []
    clock.advance(timedelta(minutes=1))
    report = tick(world)
    assert report.started[0].decision.reason == (
        "batched: cron '30 9 * * *' (UTC) fires at 2026-01-15 09:30 UTC"
    )
    assert runs(world)[-1] == ("schedule", "delta", "succeeded")
    clock.advance(timedelta(hours=1))
    assert tick(world).started == []


def test_safety_net_on_demand_daily_delta_and_full_after_six_days(
    world: World, clock: FixedClock
) -> None:
    seed(world, "u1")
    world.engine.reconcile(OP, "acme")
    clock.advance(timedelta(hours=23))
    assert tick(world).started == []
    clock.advance(timedelta(hours=2))  # 25 h
    report = tick(world)
    assert [d.decision.kind for d in report.started] == ["delta"]
    assert "one at least daily" in report.started[0].decision.reason
    kinds = []
    for _ in range(6):
        clock.advance(timedelta(hours=24, minutes=1))
        kinds += [d.decision.kind for d in tick(world).started]
    # Day 6 after the manual reconcile brings the full one; delta rounds before and after.
    assert kinds == ["delta", "delta", "delta", "delta", "full", "delta"]
    assert runs(world)[-2] == ("schedule", "full", "succeeded")


def test_accounts_that_are_not_due_or_terminated_are_left_alone(
    world: World, clock: FixedClock
) -> None:
    world.engine.reconcile(OP, "acme")
    assert tick(world).started == []
    with world.container.unit_of_work() as s:
        terminate_account(s, OP, "acme")
    clock.advance(timedelta(days=7))
    report = tick(world)
    # Termination removes the Entra ID connection, so the account is not even considered.
    assert (report.started, report.not_due) == ([], [])
    assert len(runs(world)) == 1


def test_failed_runs_back_off(world: World, clock: FixedClock) -> None:
    outage = Outage(world.directory)
    world.directories.current = outage
    outage.down = True
    assert [d.decision.kind for d in tick(world).started] == ["full"]
    assert runs(world) == [("schedule", "full", "failed")]
    report = tick(world)
    assert report.started == []
    assert report.not_due[0].decision.reason.startswith("backing off after 1 failed run(s)")
    clock.advance(timedelta(minutes=10))
    assert len(tick(world).started) == 1  # second failure: now wait 20 minutes
    clock.advance(timedelta(minutes=19))
    assert tick(world).started == []
    clock.advance(timedelta(minutes=1))
    outage.down = False
    tick(world)
    assert runs(world) == [
        ("schedule", "full", "failed"),
        ("schedule", "full", "failed"),
        ("schedule", "full", "succeeded"),
    ]
    assert tick(world).started == []


def test_never_two_runs_of_one_account_at_once(world: World) -> None:
    gate = Gate(world.directory)
    world.directories.current = gate
    runner = ThreadJobRunner(workers=3)
    scheduler = EmbeddedScheduler(world.container, runner)
    try:
        assert len(scheduler.tick().started) == 1
        assert gate.entered.wait(10)
        # While the first run reads: the run row says so, and the runner holds the key.
        again = scheduler.tick()
        assert again.started == []
        assert "is in progress" in again.not_due[0].decision.reason
        account_id = again.not_due[0].account_id
        assert runner.busy(f"sync:{account_id}")
        assert not runner.submit("second", lambda: None, key=f"sync:{account_id}")
        # Another process asking directly is refused too.
        assert sync_work.run_sync(world.container, account_id, "full") is None
    finally:
        gate.open.set()
        assert runner.wait_idle(10)
        runner.shutdown()
    assert runs(world) == [("schedule", "full", "succeeded")]


def test_due_write_backs_are_pushed(world: World, clock: FixedClock) -> None:
    world.set_policy(
        direction="two_way",
        write_back={"number_to": "businessPhones", "extension_to": "extensionAttribute1"},
    )
    seed(world, "u1")
    world.directory.refuse["u1"] = TransientGraphError("throttled", status=429)
    world.engine.reconcile(OP, "acme")
    with world.container.unit_of_work() as s:
        task = s.scalars(select(WriteBackTask)).one()
        assert (task.status, task.attempts) == ("pending", 1)
    del world.directory.refuse["u1"]
    assert tick(world).writebacks == []  # its retry is a minute away
    clock.advance(timedelta(minutes=1))
    assert tick(world).writebacks == ["acme"]
    with world.container.unit_of_work() as s:
        assert s.scalars(select(WriteBackTask.status)).one() == "done"
    assert world.directory.writes[-1][0] == "u1"
    assert tick(world).writebacks == []
