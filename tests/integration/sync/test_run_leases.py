"""Run leases: one running run per account, held by a heartbeat, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.testclient import TestClient
from typer.testing import CliRunner

from switchboard.cli.main import app as cli
from switchboard.clock import FixedClock
from switchboard.db.models import Account, SyncRun, User
from switchboard.directory.models import DirectoryUser
from switchboard.portal.actors import Role
from switchboard.portal.errors import Conflict
from switchboard.sync import runs
from switchboard.sync.engine import PreparedRun
from switchboard.sync.notification_intake import delta_round
from tests import factories
from tests.fakes import FakeDirectories, FakeDirectory
from tests.integration.sync_world import SALES, World
from tests.wiring import ContainerBuilder

OP = factories.OPERATOR
LEASE = timedelta(seconds=60)


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
        assert self.open.wait(20), "the test never opened the gate"
        return self.directory.users_in_scope(groups, select)


def seed(world: World, *uids: str) -> None:
    for uid in uids:
        world.directory.add_user(uid)
        world.directory.add_member(SALES, uid)


def account_id(world: World) -> int:
    with world.container.unit_of_work() as s:
        found = s.scalar(select(Account.id).where(Account.slug == world.slug))
        assert found is not None
        return found


def all_runs(world: World) -> list[SyncRun]:
    with world.container.unit_of_work() as s:
        return list(s.scalars(select(SyncRun).order_by(SyncRun.id)))


def left_by_a_killed_process(world: World, *, heartbeat_at: datetime | None = None) -> int:
    """A run row as a SIGKILLed run leaves it: running, with what it had committed."""
    with world.container.unit_of_work() as s:
        account = s.get(Account, account_id(world))
        assert account is not None
        run = runs.start(s, account, trigger="schedule", kind="full", dry_run=False)
        if heartbeat_at is not None:
            run.heartbeat_at = heartbeat_at
        run.counts = {"create": 2}
        runs.add_items(
            s,
            run.id,
            [runs.ItemRecord("create", "applied", f"k{i}", f"k{i}@x.example") for i in range(3)],
        )
        return run.id


def race(*starts: Callable[[], object], first_done: threading.Event | None = None) -> list[object]:
    """Call every start at the same moment, each in its own thread; each one's outcome is its
    return value or the exception it raised (``first_done`` is set when one has it)."""
    barrier = threading.Barrier(len(starts))
    outcomes: list[object] = [None] * len(starts)

    def call(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = starts[index]()
        except Exception as exc:  # the outcome under test, whatever it is
            outcomes[index] = exc
        if first_done is not None:
            first_done.set()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(starts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def test_the_database_allows_one_running_run_per_account(world: World) -> None:
    def another(*, dry_run: bool) -> None:
        with world.container.unit_of_work() as s:
            account = s.get(Account, account_id(world))
            assert account is not None
            runs.start(s, account, trigger="manual", kind="full", dry_run=dry_run)

    left_by_a_killed_process(world)
    with pytest.raises(IntegrityError):
        another(dry_run=False)
    another(dry_run=True)  # dry runs change nothing and are not covered


def test_two_starts_racing_run_exactly_once(world: World) -> None:
    seed(world, "u1", "u2")
    for _ in range(4):
        outcomes = race(
            lambda: world.engine.prepare(OP, "acme", kind="full", trigger="manual"),
            lambda: world.engine.prepare(OP, "acme", kind="delta", trigger="api"),
        )
        started = [o for o in outcomes if isinstance(o, PreparedRun)]
        refused = [o for o in outcomes if isinstance(o, Conflict)]
        assert (len(started), len(refused)) == (1, 1), outcomes
        assert refused[0].code == "run_in_progress"
        assert f"run #{started[0].number} " in refused[0].message
        assert "still in progress for 'acme'" in refused[0].message
        assert started[0].execute().status == "succeeded"
    statuses = [r.status for r in all_runs(world)]
    assert statuses == ["succeeded"] * 4


def test_a_manual_run_racing_a_notification_round(world: World) -> None:
    gate = Gate(world.directory)
    world.directories.current = gate
    engine = type(world.engine)(world.container, world.container.directory_factory())
    seed(world, "u1")
    outcomes: list[object] = []

    def manual() -> object:
        return engine.reconcile(OP, "acme")

    def notified() -> object:
        return delta_round(world.container, account_id(world))

    loser_answered = threading.Event()
    runner = threading.Thread(
        target=lambda: outcomes.extend(race(manual, notified, first_done=loser_answered))
    )
    runner.start()
    # Whichever started reads behind the gate; the other has its answer meanwhile.
    assert gate.entered.wait(20)
    assert loser_answered.wait(20)
    gate.open.set()
    runner.join(30)
    manual_outcome, notification_outcome = outcomes
    if isinstance(manual_outcome, Conflict):  # the notification round won
        assert manual_outcome.code == "run_in_progress"
        assert all_runs(world)[0].trigger == "notification"
    else:  # the manual run won; the round is told the account is busy (and retries later)
        assert notification_outcome == "busy", outcomes
        assert all_runs(world)[0].trigger == "manual"
    assert [r.status for r in all_runs(world)] == ["succeeded"]


def test_a_silent_run_is_abandoned_and_the_next_run_goes_ahead(
    world: World, clock: FixedClock
) -> None:
    seed(world, "u1")
    dead = left_by_a_killed_process(world)
    clock.advance(LEASE)
    summary = world.engine.reconcile(OP, "acme")
    assert summary.status == "succeeded"
    old, new = all_runs(world)
    assert (old.id, old.status, new.id) == (dead, "abandoned", summary.run_id)
    assert old.finished_at == clock.now()
    assert old.message == (
        "stopped without finishing (no sign of life since 09:00:00 UTC);"
        " what it had carried out stays"
    )
    assert old.counts == {"create": 3}  # what its committed items say


def test_a_fresh_heartbeat_refuses_the_start(world: World, clock: FixedClock) -> None:
    clock.advance(timedelta(hours=3))
    recent = clock.now() - timedelta(seconds=30)
    # Started long ago, but heard from half a minute ago: alive, however old.
    with world.container.unit_of_work() as s:
        account = s.get(Account, account_id(world))
        assert account is not None
        run = runs.start(s, account, trigger="schedule", kind="full", dry_run=False)
        run.started_at = clock.now() - timedelta(hours=3)
        run.heartbeat_at = recent
        busy = run.number
    with pytest.raises(Conflict) as refused:
        world.engine.delta(OP, "acme", trigger="manual")
    assert refused.value.code == "run_in_progress"
    assert refused.value.message == (
        f"run #{busy} (full reconcile, schedule, started 09:00:00 UTC) is still in progress"
        " for 'acme'; wait for it to finish, then start again"
    )
    # A dry run changes nothing: it neither waits for the lease nor takes it.
    assert world.engine.reconcile(OP, "acme", dry_run=True).status == "succeeded"
    clock.advance(timedelta(seconds=30))
    assert world.engine.reconcile(OP, "acme").status == "succeeded"
    assert [r.status for r in all_runs(world)] == ["abandoned", "succeeded", "succeeded"]


def test_a_run_heartbeats_while_it_works_and_never_after(
    world: World, clock: FixedClock, build_container: ContainerBuilder
) -> None:
    gate = Gate(world.directory)
    leased = build_container(
        settings=build_container.settings(run_lease_seconds=1),  # a beat every 0.25 s
        directory_for=FakeDirectories(gate),
    )
    engine = type(world.engine)(leased, leased.directory_factory())
    seed(world, "u1")
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(engine.reconcile(OP, "acme")))
    worker.start()
    assert gate.entered.wait(20)
    clock.advance(timedelta(minutes=5))  # far beyond the lease: only the heartbeat saves it

    def heartbeat() -> datetime | None:
        return all_runs(world)[0].heartbeat_at

    deadline = time.monotonic() + 10
    while heartbeat() != clock.now() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert heartbeat() == clock.now()
    with pytest.raises(Conflict):
        engine.delta(OP, "acme")
    gate.open.set()
    worker.join(20)
    assert [getattr(d, "status", d) for d in done] == ["succeeded"]
    beat = heartbeat()
    clock.advance(timedelta(minutes=1))
    time.sleep(0.6)  # two beats' time: the stopped heartbeat writes nothing
    (run,) = all_runs(world)
    assert (run.status, run.heartbeat_at) == ("succeeded", beat)


def test_a_run_whose_lease_was_taken_changes_nothing_more(world: World, clock: FixedClock) -> None:
    seed(world, "u1")
    slow = world.engine.prepare(OP, "acme", kind="full", trigger="manual")  # waits for a runner
    clock.advance(LEASE)
    assert world.engine.reconcile(OP, "acme").status == "succeeded"
    seed(world, "u2")
    late = slow.execute()
    assert late.status == "abandoned"
    first, second = all_runs(world)
    assert (first.status, second.status) == ("abandoned", "succeeded")
    with world.container.unit_of_work() as s:
        assert set(s.scalars(select(User.directory_id))) == {"u1"}  # u2 waits for the next run


def test_api_answers_409_while_a_run_is_in_progress(world: World, app_client: TestClient) -> None:
    running = world.engine.prepare(OP, "acme", kind="full", trigger="manual")
    headers = factories.bearer(
        factories.token_for(world.container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    )
    try:
        answer = app_client.post(
            "/api/v1/accounts/acme/directory/reconcile", json={}, headers=headers
        )
        assert answer.status_code == 409, answer.text
        body = answer.json()
        assert body["error"]["code"] == "run_in_progress"
        assert f"run #{running.number} (full reconcile, manual" in body["error"]["message"]
    finally:
        running.execute()


def test_cli_exits_1_with_the_reason_while_a_run_is_in_progress(world: World) -> None:
    # The command runs on the real clock: a run heard from a moment ago.
    run_id = left_by_a_killed_process(world, heartbeat_at=datetime.now(UTC))
    with world.container.unit_of_work() as s:
        left = s.get(SyncRun, run_id)
        assert left is not None
        number = left.number
    env = {
        "SWITCHBOARD_DATABASE_URL": world.container.settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(world.container.settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": "test-secret-key-not-for-production",
    }
    result = CliRunner().invoke(cli, ["directory", "reconcile", "acme"], env=env)
    assert result.exit_code == 1
    words = " ".join(result.stderr.split())
    assert f"run #{number} (full reconcile, schedule, started" in words
    assert "is still in progress for 'acme'; wait for it to finish" in words
    assert "Traceback" not in result.stdout + result.stderr
