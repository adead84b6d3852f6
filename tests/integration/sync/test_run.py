"""The Run object: started under the lease with the account's next number, and the one writer
of its row until it is finished, failed, interrupted or abandoned."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from switchboard.db.models import DirectoryRegistration, SyncRun
from switchboard.portal.errors import Conflict
from switchboard.sync import lease, runs
from switchboard.sync.run import Run, Started
from switchboard.sync.runs import RunKind, RunStatus, Trigger
from tests import factories
from tests.integration.sync_world import World


def start(world: World, slug: str = "acme", *, dry_run: bool = False) -> Started:
    return Run.start(
        world.container,
        lambda _registration: world.directory,
        world.actor,
        slug,
        kind=RunKind.DELTA,
        trigger=Trigger.SCHEDULE,
        dry_run=dry_run,
    )


def row(world: World, run: Run) -> SyncRun:
    with world.container.unit_of_work() as s:
        found = s.get(SyncRun, run.id)
        assert found is not None
        s.expunge(found)
        return found


def test_start_records_a_running_run_with_the_accounts_next_number(world: World) -> None:
    first = start(world, dry_run=True).run
    second = start(world, dry_run=True).run
    assert (first.number, second.number) == (1, 2)
    stored = row(world, second)
    assert (stored.number, stored.kind, stored.trigger, stored.status) == (
        2,
        "delta",
        "schedule",
        "running",
    )
    assert second.kind is RunKind.DELTA and second.message is None


def test_numbers_count_per_account(world: World) -> None:
    start(world, dry_run=True)
    with world.container.unit_of_work() as s:
        other = factories.account(s, "globex")
        template = s.scalars(select(DirectoryRegistration)).one()
        s.add(
            DirectoryRegistration(
                **{
                    c.key: getattr(template, c.key)
                    for c in DirectoryRegistration.__table__.columns
                    if c.key not in ("id", "account_id")
                },
                account_id=other.id,
            )
        )
    assert start(world, "globex").run.number == 1
    assert start(world, dry_run=True).run.number == 2


def test_a_refused_start_takes_no_number(world: World) -> None:
    live = start(world).run
    with pytest.raises(Conflict) as refused:
        start(world)
    assert refused.value.code == "run_in_progress"
    assert start(world, dry_run=True).run.number == live.number + 1


def test_an_account_not_connected_refuses_the_start(world: World) -> None:
    with world.container.unit_of_work() as s:
        s.query(DirectoryRegistration).delete()
    with pytest.raises(Conflict) as refused:
        start(world)
    assert refused.value.code == "not_connected"


def test_finish_closes_the_row_and_sums_it_up(world: World) -> None:
    run = start(world).run
    with world.container.unit_of_work() as s:
        run.hold(s)
        run.add_items(s, [runs.ItemRecord("create", "applied", "u1", "ada")])
        summary = run.finish(s, RunStatus.SUCCEEDED, {"create": 1}, None)
    assert (summary.run_id, summary.kind, summary.trigger, summary.status) == (
        run.id,
        "delta",
        "schedule",
        "succeeded",
    )
    stored = row(world, run)
    assert (stored.status, stored.counts, stored.finished_at is not None) == (
        "succeeded",
        {"create": 1},
        True,
    )


def test_a_delta_that_becomes_full_says_why(world: World) -> None:
    run = start(world).run
    run.become_full("the delta link expired: full reconcile")
    stored = row(world, run)
    assert (stored.kind, stored.message) == ("full", "the delta link expired: full reconcile")
    assert run.kind is RunKind.FULL and run.message == stored.message


def test_a_note_says_why_the_run_runs(world: World) -> None:
    run = start(world).run
    run.note("sync settings changed (groups): full reconcile")
    assert (
        row(world, run).message == run.message == "sync settings changed (groups): full reconcile"
    )


def test_fail_keeps_the_counts_committed(world: World) -> None:
    run = start(world).run
    with world.container.unit_of_work() as s:
        run.save_counts(s, {"update": 3})
    summary = run.fail("Entra ID: unavailable")
    assert (summary.status, summary.counts, summary.message) == (
        "failed",
        {"update": 3},
        "Entra ID: unavailable",
    )
    assert row(world, run).status == "failed"


def test_a_run_taken_as_stopped_keeps_that_mark(world: World) -> None:
    run = start(world).run
    with world.container.unit_of_work() as s:
        stored = s.get(SyncRun, run.id)
        assert stored is not None
        lease.abandon(s, stored, stored.started_at)
    with world.container.unit_of_work() as s, pytest.raises(lease.LeaseLost):
        run.hold(s)
    failed = run.fail("Entra ID: unavailable")
    assert failed.status == "abandoned" and "stopped without finishing" in (failed.message or "")
    assert run.abandoned().status == "abandoned"
    assert row(world, run).status == "abandoned"


def test_interrupt_records_when_the_account_may_sync_again(world: World) -> None:
    run = start(world).run
    summary = run.interrupt(90)
    stored = row(world, run)
    assert summary.status == stored.status == "interrupted"
    assert stored.resume_after is not None and stored.resume_after > stored.started_at
    assert "throttled" in (summary.message or "")


def test_the_heartbeat_stops_with_the_run(world: World) -> None:
    run = start(world).run
    run.start_heartbeat()
    run.stop_heartbeat()
    with world.container.unit_of_work() as s:
        run.hold(s)  # still its lease: nothing took it
