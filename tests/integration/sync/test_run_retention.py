"""Run-log retention: old runs and their items go in short batches; running runs, held runs
and each account's newest run stay, and run numbers go on from where they were."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.models import Account, SyncRun, SyncRunItem
from switchboard.jobs import queue, sync_work
from switchboard.jobs.embedded import EmbeddedScheduler
from switchboard.jobs.runner import InlineJobRunner
from switchboard.sync import run_retention, runs
from tests import factories
from tests.wiring import ContainerBuilder

DAYS = 90


def add_run(
    container: Container,
    slug: str,
    started: datetime,
    *,
    status: str = "succeeded",
    items: int = 2,
) -> int:
    """A run of ``slug`` with ``items`` items, numbered as the engine numbers them."""
    with container.unit_of_work() as s:
        account = s.scalars(select(Account).where(Account.slug == slug)).one()
        run = SyncRun(
            account_id=account.id,
            number=runs.next_number(s, account.id),
            trigger="schedule",
            kind="delta",
            status=status,
            dry_run=False,
            counts={},
            started_at=started,
            finished_at=None if status == "running" else started + timedelta(minutes=1),
            heartbeat_at=started,
        )
        s.add(run)
        s.flush()
        state = "pending" if status == "held" else "applied"
        s.add_all(
            SyncRunItem(run_id=run.id, directory_id=f"d{i}", action="update", state=state)
            for i in range(items)
        )
        return run.id


def remaining(container: Container) -> tuple[set[int], int]:
    with container.unit_of_work() as s:
        run_ids = set(s.scalars(select(SyncRun.id)))
        orphans = s.scalar(
            select(func.count()).select_from(SyncRunItem).where(SyncRunItem.run_id.not_in(run_ids))
        )
        return run_ids, int(orphans or 0)


def items_of(container: Container, run_id: int) -> int:
    with container.unit_of_work() as s:
        count = s.scalar(
            select(func.count()).select_from(SyncRunItem).where(SyncRunItem.run_id == run_id)
        )
        return int(count or 0)


def test_old_runs_go_with_their_items_and_the_rest_stays(
    container: Container, clock: FixedClock
) -> None:
    with container.unit_of_work() as s:
        factories.tenant(s, "acme")
        factories.tenant(s, "beta", area="415")
    now = clock.now()
    old, recent = now - timedelta(days=DAYS + 1), now - timedelta(days=DAYS - 1)
    gone = [add_run(container, "acme", old, items=3) for _ in range(5)]
    held = add_run(container, "acme", old, status="held")
    running = add_run(container, "acme", old, status="running")
    kept_recent = add_run(container, "acme", recent)
    # beta's runs are all old; its newest stays, so its numbering goes on.
    beta_gone = add_run(container, "beta", old)
    beta_newest = add_run(container, "beta", old + timedelta(hours=1))

    pruned = run_retention.prune(container, retention_days=DAYS, batch=2, item_slice=4)

    assert (pruned.runs, pruned.items) == (6, 5 * 3 + 2)
    run_ids, orphans = remaining(container)
    assert run_ids == {held, running, kept_recent, beta_newest}
    assert orphans == 0
    assert not set(gone) & run_ids and beta_gone not in run_ids
    assert items_of(container, held) == 2  # the held run's pending items wait for approval
    # Small batches: acme's five old runs took three batches of at most two runs, each with
    # its own transactions for items and runs.
    assert pruned.transactions >= 3 * 2 + 2
    with container.unit_of_work() as s:
        beta = s.scalars(select(Account).where(Account.slug == "beta")).one()
        assert runs.next_number(s, beta.id) == 3

    # Nothing left to prune: a second pass changes nothing.
    assert run_retention.prune(container, retention_days=DAYS).runs == 0
    assert remaining(container)[0] == run_ids


def test_the_retention_period_comes_from_the_settings(
    build_container: ContainerBuilder, clock: FixedClock
) -> None:
    container = build_container(settings=build_container.settings(run_retention_days=10))
    with container.unit_of_work() as s:
        factories.tenant(s, "acme")
    now = clock.now()
    eleven = add_run(container, "acme", now - timedelta(days=11))
    nine = add_run(container, "acme", now - timedelta(days=9))
    newest = add_run(container, "acme", now)
    sync_work.prune_run_log(container)
    assert remaining(container) == ({nine, newest}, 0)
    assert eleven not in remaining(container)[0]


def test_the_embedded_scheduler_prunes_at_start_then_daily(
    container: Container, clock: FixedClock
) -> None:
    with container.unit_of_work() as s:
        factories.tenant(s, "acme")
    old = clock.now() - timedelta(days=DAYS + 5)
    first = add_run(container, "acme", old)
    add_run(container, "acme", clock.now())
    scheduler = EmbeddedScheduler(container, InlineJobRunner())
    assert scheduler.tick().pruning
    assert first not in remaining(container)[0]
    # The next prune waits a day (process time): the next ticks leave a new old run alone.
    second = add_run(container, "acme", old)
    add_run(container, "acme", clock.now())  # so that the old one is not the newest
    assert not scheduler.tick().pruning
    assert second in remaining(container)[0]


def test_the_queue_prunes_with_its_periodic_job(container: Container, clock: FixedClock) -> None:
    if container.is_sqlite():
        pytest.skip("the job queue is procrastinate on PostgreSQL; SQLite's tick prunes")
    with container.unit_of_work() as s:
        factories.tenant(s, "acme")
    old = add_run(container, "acme", clock.now() - timedelta(days=DAYS + 1))
    newest = add_run(container, "acme", clock.now())
    drop = text(f'DROP SCHEMA IF EXISTS "{queue.QUEUE_SCHEMA}" CASCADE')
    with container.engine.begin() as conn:
        conn.execute(drop)
    try:
        queue.ensure_queue_schema(container.engine)
        app = queue.make_app(container)
        # Daily, once for the whole fleet (a periodic task with a queueing lock).
        crons = {p.task.name: p.cron for p in app.periodic_registry.periodic_tasks.values()}
        assert crons["switchboard.prune_runs"] == queue.PRUNE_CRON
        with app.open():
            app.tasks["switchboard.prune_runs"].defer(timestamp=0)
        app.run_worker(
            queues=[queue.TICK_QUEUE],
            wait=False,
            install_signal_handlers=False,
            listen_notify=False,
        )
        assert remaining(container) == ({newest}, 0)
        assert old not in remaining(container)[0]
    finally:
        with container.engine.begin() as conn:
            conn.execute(drop)
