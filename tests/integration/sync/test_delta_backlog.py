"""A large delta backlog against the Entra ID emulator and its throttling, on SQLite and
PostgreSQL: one membership check per changed user would outrun Graph's budget, so a round
above the threshold reads the synced groups instead (a guarded full reconcile) and converges.

Scaled down from the 9,000-change case (threshold 1,000, write budget 3,000 per 2.5 minutes):
900 changes, a threshold of 100 and a write budget of 300 keep the same proportions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.models import SyncRun, User
from switchboard.directory.factory import graph_directory_factory
from switchboard.emulator.churn import Churner
from switchboard.emulator.server import RunningEmulator, running
from switchboard.emulator.state import SeedOptions
from switchboard.sync.engine import SyncEngine
from switchboard.sync.policy import DeletionGuard, SyncPolicy
from tests import factories
from tests.fakes import FakeDirectory
from tests.integration.sync.emulator_account import connect_account
from tests.integration.sync_world import SALES, World

SEED = SeedOptions(users=1500, groups=6, seed=8)
CHANGES = 900
THRESHOLD = 100
WRITE_BUDGET = 300
OP = factories.OPERATOR
CHANGING = {"create", "update", "delete", "relocate", "link", "enable", "disable"}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    state: Path = tmp_path_factory.mktemp("backlog-emulator")
    with running(state, seed=SEED) as server:
        yield server


@pytest.fixture
def account(container: Container, emulator: RunningEmulator) -> list[str]:
    """An account syncing the three largest groups, the deletion guard out of the way (this
    is about throttling; the guard has tests of its own)."""
    emu = emulator.emulator

    def fresh() -> None:
        emu.reset(SEED)
        emu.faults.update({"error_rate": 0.0, "latency_ms": 0})
        emu.throttle.enabled = True
        emu.throttle.read_limit_override = None
        emu.throttle.write_limit_override = WRITE_BUDGET
        emu.throttle.reset()

    emulator.call(fresh)
    d = emu.directory
    groups = sorted(d.groups, key=lambda g: -len(d.transitive_member_ids(g)))[:3]
    connect_account(
        container,
        emulator,
        SyncPolicy(groups=groups, deletion_guard=DeletionGuard(max_percent=100)),
    )
    return groups


def planned_changes(engine: SyncEngine) -> dict[str, int]:
    """What a full reconcile would still change (a dry run): nothing, once converged."""
    counts = engine.reconcile(OP, "acme", dry_run=True).counts
    return {k: v for k, v in counts.items() if k in CHANGING}


def test_a_large_backlog_becomes_a_full_reconcile_and_converges(
    container: Container, emulator: RunningEmulator, account: list[str], clock: FixedClock
) -> None:
    # Microsoft Graph (the emulator), not the fake directory of this folder's other tests.
    factory = graph_directory_factory(container.secrets, container.token_cache)
    engine = SyncEngine(container, factory, delta_backlog_max=THRESHOLD)
    first = engine.reconcile(OP, "acme")
    assert first.status in ("succeeded", "partial"), first.message
    emu = emulator.emulator
    made = emulator.call(lambda: Churner(emu.directory, seed=4).run(CHANGES))
    assert sum(made.values()) == CHANGES

    # Checked one by one, the backlog outruns the write budget: Graph asks to wait about
    # 2.5 minutes, more than the client waits, and the round stops cleanly (not a failure).
    per_user = SyncEngine(container, factory, delta_backlog_max=10 * CHANGES)
    stopped = per_user.delta(OP, "acme")
    assert stopped.status == "interrupted", stopped.message
    assert stopped.message is not None and "(throttled); the sync resumes after" in stopped.message
    with container.unit_of_work() as s:
        resume = s.scalar(select(SyncRun.resume_after).where(SyncRun.id == stopped.run_id))
    assert resume is not None and clock.now() + timedelta(minutes=2) <= resume
    # The wait passes (the emulator's windows run on wall time: start them afresh).
    clock.advance(resume - clock.now())
    emulator.call(emu.throttle.reset)

    # Above the threshold the round reads the synced groups instead: one run converges...
    backlog = engine.delta(OP, "acme")
    assert backlog.kind == "full"
    assert backlog.status in ("succeeded", "partial"), backlog.message
    assert backlog.message is not None
    assert backlog.message.endswith(
        f"changed users since the last round (more than {THRESHOLD} to check one by one): "
        "full reconcile"
    )
    assert planned_changes(engine) == {}
    # ... and the next round is an ordinary delta round again.
    emulator.call(lambda: Churner(emu.directory, seed=5).run(10))
    after = engine.delta(OP, "acme")
    assert after.kind == "delta" and after.status in ("succeeded", "partial"), after.message
    assert planned_changes(engine) == {}


class CountingChecks(FakeDirectory):
    """The fake directory, counting the users whose groups were checked one by one."""

    checked = 0

    def member_of(self, user_ids: Iterable[str], group_ids: Sequence[str]) -> dict[str, set[str]]:
        ids = list(user_ids)
        self.checked += len(ids)
        return super().member_of(ids, group_ids)


@pytest.mark.parametrize(("changes", "kind", "checked"), [(3, "delta", 3), (4, "full", 0)])
def test_the_threshold_decides_between_checks_and_a_full_read(
    world: World, changes: int, kind: str, checked: int
) -> None:
    directory = CountingChecks()
    directory.groups = world.directory.groups
    world.directories.current = directory
    engine = SyncEngine(world.container, world.container.directory_factory(), delta_backlog_max=3)
    for i in range(6):
        directory.add_user(f"u{i}")
        directory.add_member(SALES, f"u{i}")
    engine.reconcile(OP, "acme")
    for i in range(changes):
        directory.change(f"u{i}", surname="Changed")
    summary = engine.delta(OP, "acme")
    assert (summary.kind, directory.checked) == (kind, checked)
    assert summary.status == "succeeded"
    if kind == "full":
        assert summary.message == (
            "4 changed users since the last round (more than 3 to check one by one): full reconcile"
        )
    with world.container.unit_of_work() as s:
        names = s.scalars(select(User.last_name).where(User.directory_id.is_not(None)))
        assert sorted(names) == ["Changed"] * changes + ["Lovelace"] * (6 - changes)
