"""A scheduler kept from tick to tick re-reads the run history only of accounts that changed,
and still sees every change that makes work due: time, settings, new runs, new accounts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from switchboard.clock import FixedClock
from switchboard.jobs import scan_cache
from switchboard.jobs.embedded import EmbeddedScheduler
from switchboard.jobs.runner import InlineJobRunner
from tests.fakes import FakeDirectories
from tests.integration.jobs.test_queue_workers import connect_second_account
from tests.integration.sync_world import SALES, World
from tests.wiring import Adapters


@pytest.fixture
def adapters(directories: FakeDirectories) -> Adapters:
    return {"directory_for": directories}


@contextmanager
def history_reads(world: World) -> Iterator[list[str]]:
    """The statements that read an account's run history, while the block runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2])
        if "FROM sync_runs" in statement and "LIMIT" in statement.upper():
            seen.append(statement)

    engine = world.container.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def started(scheduler: EmbeddedScheduler) -> list[tuple[str, str]]:
    return [(d.slug, d.decision.kind) for d in scheduler.tick().started]


def test_unchanged_accounts_keep_their_decision_until_its_time(
    world: World, clock: FixedClock
) -> None:
    world.set_policy(mode="batched", schedule_minutes=5)
    world.directory.add_user("u1")
    world.directory.add_member(SALES, "u1")
    scheduler = EmbeddedScheduler(world.container, InlineJobRunner())
    assert started(scheduler) == [("acme", "full")]
    with history_reads(world) as reads:
        assert started(scheduler) == []  # its run is new: read again, not due
    assert reads
    with history_reads(world) as reads:
        clock.advance(timedelta(minutes=4))
        assert started(scheduler) == []
    assert reads == []  # nothing changed and 09:05 has not come: no history read

    # The time it named has come.
    clock.advance(timedelta(minutes=1))
    assert started(scheduler) == [("acme", "delta")]

    # A change of settings is seen at once: a new group makes a full reconcile due now.
    clock.advance(timedelta(minutes=1))
    assert started(scheduler) == []
    world.set_policy(groups=[SALES])
    assert started(scheduler) == [("acme", "full")]

    assert started(scheduler) == []  # 09:06: next delta at 09:11

    # A run started elsewhere (by hand) is a change: that account's history is read again.
    clock.advance(timedelta(minutes=1))
    world.engine.delta(world.actor, "acme")  # 09:07
    with history_reads(world) as reads:
        assert started(scheduler) == []
    assert reads
    with history_reads(world) as reads:
        assert started(scheduler) == []
    assert reads == []
    clock.advance(timedelta(minutes=4))
    assert started(scheduler) == []  # 09:11: five minutes after the manual round is 09:12
    clock.advance(timedelta(minutes=1))
    assert started(scheduler) == [("acme", "delta")]


def test_a_new_account_is_decided_at_once_and_a_full_scan_comes_every_minute(
    world: World, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.set_policy(mode="batched", schedule_minutes=5)
    scheduler = EmbeddedScheduler(world.container, InlineJobRunner())
    assert started(scheduler) == [("acme", "full")]
    connect_second_account(world.container, "beta")
    assert started(scheduler) == [("beta", "full")]
    assert started(scheduler) == []
    # With the full scan due, every account's history is read again, changed or not.
    monkeypatch.setattr(scan_cache, "FULL_SCAN_SECONDS", 0.0)
    with history_reads(world) as reads:
        assert started(scheduler) == []
    assert len(reads) >= 2
