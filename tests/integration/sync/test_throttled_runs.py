"""Throttling longer than the Graph client waits: the run stops cleanly as `interrupted`, keeps
what it committed, and the account waits for the time Entra ID named, then syncs again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from switchboard.clock import FixedClock
from switchboard.db.models import DirectorySyncState, SyncRun, User
from switchboard.directory.errors import GraphThrottled
from switchboard.directory.models import DirectoryUser
from switchboard.jobs import sync_work
from switchboard.jobs.embedded import EmbeddedScheduler
from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal.errors import Conflict
from tests import factories
from tests.fakes import FakeDirectories, FakeDirectory
from tests.integration.sync_world import SALES, World

OP = factories.OPERATOR


class Throttling:
    """The world's directory; while ``wait`` is set, Graph asks to wait that many seconds after
    ``after`` users of a full read, and at once for membership checks."""

    def __init__(self, directory: FakeDirectory) -> None:
        self.directory = directory
        self.wait: float | None = None
        self.after = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.directory, name)

    def _throttled(self) -> GraphThrottled:
        assert self.wait is not None
        return GraphThrottled(
            "POST /$batch: 20 of 20 requests were throttled", wait_seconds=self.wait, status=429
        )

    def users_in_scope(
        self, groups: Sequence[str], select: Sequence[str]
    ) -> Iterator[DirectoryUser]:
        for n, user in enumerate(self.directory.users_in_scope(groups, select)):
            if self.wait is not None and n >= self.after:
                raise self._throttled()
            yield user

    def member_of(self, user_ids: Iterable[str], group_ids: Sequence[str]) -> dict[str, set[str]]:
        if self.wait is not None:
            raise self._throttled()
        return self.directory.member_of(user_ids, group_ids)


@pytest.fixture
def throttling(directory: FakeDirectory) -> Throttling:
    return Throttling(directory)


@pytest.fixture
def directories(throttling: Throttling) -> FakeDirectories:
    """The world's engine and container read through the throttling wrapper."""
    return FakeDirectories(throttling)


def seed(world: World, count: int) -> list[str]:
    uids = [f"u{i:02d}" for i in range(count)]
    for uid in uids:
        world.directory.add_user(uid)
        world.directory.add_member(SALES, uid)
    return uids


def run_rows(world: World) -> list[SyncRun]:
    with world.container.unit_of_work() as s:
        return list(s.scalars(select(SyncRun).order_by(SyncRun.id)))


def linked(world: World) -> set[str]:
    with world.container.unit_of_work() as s:
        return {u for u in s.scalars(select(User.directory_id)) if u}


def tick(world: World) -> sync_work.TickReport:
    return EmbeddedScheduler(world.container, InlineJobRunner()).tick()


def test_a_long_retry_after_interrupts_the_run_and_keeps_what_it_committed(
    world: World, throttling: Throttling, clock: FixedClock
) -> None:
    uids = seed(world, 10)
    throttling.wait, throttling.after = 600.0, 7
    summary = world.engine.reconcile(OP, "acme")
    assert summary.status == "interrupted"
    assert summary.message == (
        "Entra ID asked to wait 10 minutes (throttled); the sync resumes after 09:10 UTC"
    )
    # Two chunks of three were committed while reading; the seventh user was never read.
    assert linked(world) == set(uids[:6])
    assert summary.counts == {"create": 6}
    [run] = run_rows(world)
    assert run.status == "interrupted" and run.finished_at is not None
    assert run.resume_after == clock.now() + timedelta(minutes=10)
    with world.container.unit_of_work() as s:
        assert s.get(DirectorySyncState, 1) is None  # no delta link ahead of the work

    # Nothing starts before the time Entra ID named: not the scheduler, not a start by hand.
    throttling.wait = None
    report = tick(world)
    assert report.started == []
    assert report.not_due[0].decision.reason == (
        "Entra ID asked to wait (throttled); resuming after 2026-01-15 09:10 UTC"
    )
    with pytest.raises(Conflict) as refused:
        world.engine.reconcile(OP, "acme")
    assert refused.value.code == "throttled"
    assert refused.value.message == (
        "Entra ID asked Switchboard to wait (throttled): 'acme' syncs again on its own after "
        "09:10 UTC; start a run by hand after that time"
    )
    clock.advance(timedelta(minutes=9, seconds=59))
    assert tick(world).started == []

    # At that time the scheduler starts the run again at once (no failure backoff), and it ends.
    clock.advance(timedelta(seconds=1))
    report = tick(world)
    assert [d.decision.kind for d in report.started] == ["full"]
    assert linked(world) == set(uids)
    assert [(r.kind, r.status) for r in run_rows(world)] == [
        ("full", "interrupted"),
        ("full", "succeeded"),
    ]
    assert tick(world).started == []


def test_an_interrupted_delta_round_is_resumed_after_the_wait(
    world: World, throttling: Throttling, clock: FixedClock
) -> None:
    uids = seed(world, 4)
    world.engine.reconcile(OP, "acme")
    with world.container.unit_of_work() as s:
        state = s.get(DirectorySyncState, 1)
        assert state is not None
        link = state.users_delta_link
    world.directory.change(uids[0], surname="Byron")
    throttling.wait = 150.0
    summary = world.engine.delta(OP, "acme", trigger="notification")
    assert summary.status == "interrupted"
    assert summary.message == (
        "Entra ID asked to wait 3 minutes (throttled); the sync resumes after 09:03 UTC"
    )
    with world.container.unit_of_work() as s:
        state = s.get(DirectorySyncState, 1)
        assert state is not None and state.users_delta_link == link
    throttling.wait = None
    clock.advance(timedelta(minutes=2))
    assert tick(world).started == []
    clock.advance(timedelta(minutes=1))
    report = tick(world)
    assert [d.decision.kind for d in report.started] == ["delta"]
    assert report.started[0].decision.reason == ("resuming the delta run interrupted by throttling")
    with world.container.unit_of_work() as s:
        byron = s.scalar(select(User).where(User.directory_id == uids[0]))
        assert byron is not None and byron.last_name == "Byron"


def test_throttling_again_and_again_never_counts_as_failures(
    world: World, throttling: Throttling, clock: FixedClock
) -> None:
    seed(world, 4)
    throttling.wait, throttling.after = 60.0, 0
    for _ in range(3):
        report = tick(world)
        assert [d.decision.kind for d in report.started] == ["full"]
        clock.advance(timedelta(minutes=1))
    assert [r.status for r in run_rows(world)] == ["interrupted"] * 3
    throttling.wait = None
    assert [d.decision.kind for d in tick(world).started] == ["full"]
    assert run_rows(world)[-1].status == "succeeded"
