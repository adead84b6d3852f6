"""A run writes its phase and counts on its row as it works, for people watching it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from switchboard.db.models import SyncRun
from switchboard.sync import progress
from switchboard.sync.engine import SyncEngine
from tests import factories
from tests.integration.sync_world import SALES, World

OP = factories.OPERATOR


def row(w: World, number: int | None = None) -> dict[str, Any]:
    with w.container.unit_of_work() as s:
        query = select(SyncRun).order_by(SyncRun.id.desc()).limit(1)
        if number is not None:
            query = select(SyncRun).where(SyncRun.number == number)
        run = s.scalars(query).one()
        return {"status": run.status, "phase": run.phase, "progress": dict(run.progress or {})}


def add(w: World, count: int, **props: Any) -> None:
    for i in range(count):
        uid = f"{props.get('officeLocation', 'hq').lower()}-{i}"
        w.directory.add_user(uid, givenName=f"N{i}", **props)
        w.directory.add_member(SALES, uid)


def test_a_reconcile_records_its_phases_and_counts_while_it_works(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "WRITE_EVERY", 0.0)  # every count written: nothing to wait for
    add(world, 7)
    add(world, 2, officeLocation="Remote")
    seen: list[dict[str, Any]] = []

    def watch(phase: str, _done: int, _total: int | None) -> None:
        # Called between the run's transactions: what the run page would read now.
        if phase == "apply":
            seen.append(row(world))

    engine = SyncEngine(world.container, world.container.directory_factory(), chunk_size=3)
    summary = engine.reconcile(OP, "acme", progress=watch)
    assert summary.status == "partial"
    assert seen, "no progress while applying"
    # A first sync applies creates while it still reads, then the rest once planned.
    assert [s["status"] for s in seen[:-1]] == ["running"] * (len(seen) - 1)
    phases = [s["phase"] for s in seen[:-1]]
    assert set(phases) <= {"reading", "applying"} and phases == sorted(phases, reverse=True)
    applied = [s["progress"]["applied"] for s in seen[:-1]]
    assert applied == sorted(applied) and applied[0] > 0
    read = [s["progress"]["read"] for s in seen[:-1]]
    assert read == sorted(read) and read[-1] == 9
    done = row(world)
    assert done["phase"] == "finished"
    assert done["progress"] == {"read": 9, "planned": 7, "applied": 7, "errors": 2}


def test_a_dry_run_and_a_delta_round_record_theirs_too(world: World) -> None:
    add(world, 3)
    world.engine.reconcile(OP, "acme", dry_run=True)
    assert row(world)["progress"] == {"read": 3, "planned": 3, "applied": 0, "errors": 0}
    world.engine.reconcile(OP, "acme")
    world.directory.change("hq-0", surname="Byron")
    world.engine.delta(OP, "acme")
    delta = row(world)
    assert delta["phase"] == "finished"
    assert delta["progress"] == {"read": 1, "planned": 1, "applied": 1, "errors": 0}
