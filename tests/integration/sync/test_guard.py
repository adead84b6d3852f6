"""The deletion guard across runs, the creation guard and approval that re-checks the directory:
engine + real database (SQLite and PostgreSQL) + a fake directory."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from switchboard.clock import FixedClock
from switchboard.db.models import SyncRunItem, User
from switchboard.portal.accounts import get_account
from switchboard.portal.errors import Conflict
from switchboard.sync import runs
from tests import factories
from tests.integration.sync_world import OTHER, SALES, World

OP = factories.OPERATOR


def synced(w: World) -> set[str]:
    with w.container.unit_of_work() as s:
        return {d for d in s.scalars(select(User.directory_id)) if d}


def items(w: World, number: int) -> list[SyncRunItem]:
    with w.container.unit_of_work() as s:
        run = runs.get_run(s, OP, get_account(s, OP, "acme"), number)
        found = runs.items(s, run)
        s.expunge_all()
        return found


def populate(w: World, n: int, group: str = SALES, prefix: str = "u") -> list[str]:
    ids = [f"{prefix}{i:03d}" for i in range(n)]
    for uid in ids:
        w.directory.add_user(uid, givenName=uid.upper())
        w.directory.add_member(group, uid)
    return ids


def test_approve_keeps_users_back_in_scope_and_deletes_the_rest(world: World) -> None:
    ids = populate(world, 20)
    world.engine.reconcile(OP, "acme")
    for uid in ids[:8]:
        world.directory.remove_member(SALES, uid)
    held = world.engine.reconcile(OP, "acme")
    assert held.status == "held"
    # Before the admin decides, five of the eight are added back to the group.
    for uid in ids[:5]:
        world.directory.add_member(SALES, uid)
    approved = world.engine.resolve_held(OP, "acme", held.number, approve=True)
    assert approved.status == "succeeded"
    assert synced(world) == set(ids[:5]) | set(ids[8:])
    assert approved.counts["delete"] == 3
    assert approved.counts["back_in_scope"] == 5
    assert "pending" not in approved.counts
    by_user = {i.directory_id: i for i in items(world, held.number) if i.action == "delete"}
    assert {by_user[u].state for u in ids[:5]} == {"skipped"}
    assert {by_user[u].message for u in ids[:5]} == {"back in scope in Entra ID; kept"}
    assert {by_user[u].state for u in ids[5:8]} == {"applied"}
    assert "3 deleted" in (approved.message or "") and "5 back in scope" in (approved.message or "")


def test_approve_deletes_users_gone_from_the_directory_since(world: World) -> None:
    ids = populate(world, 20)
    world.engine.reconcile(OP, "acme")
    for uid in ids[:8]:
        world.directory.remove_member(SALES, uid)
    held = world.engine.reconcile(OP, "acme")
    world.directory.hard_delete(ids[0])
    world.directory.add_member(SALES, ids[1])
    world.engine.resolve_held(OP, "acme", held.number, approve=True)
    assert synced(world) == {ids[1], *ids[8:]}


def test_while_a_run_is_held_delta_rounds_delete_nobody(world: World) -> None:
    ids = populate(world, 40)
    world.engine.reconcile(OP, "acme")
    # A wrong scope: the full run would delete everyone and is held.
    world.set_policy(groups=[OTHER])
    held = world.engine.reconcile(OP, "acme")
    assert held.status == "held"
    # Delta rounds go on; each sees a few of the users out of scope (under 10% each).
    rounds = []
    for start in range(0, 12, 3):
        for uid in ids[start : start + 3]:
            world.directory.change(uid, surname="Changed")
        rounds.append(world.engine.delta(OP, "acme"))
    assert synced(world) == set(ids)
    for summary in rounds:
        assert summary.kind == "delta"
        assert summary.status == "held"
        assert summary.counts["pending"] == 3
        assert f"run #{held.number} waits for approval" in (summary.message or "")
    # Everything else of those rounds was carried out: a newcomer of the (wrong) scope came in.
    world.directory.add_user("new1", givenName="New")
    world.directory.add_member(OTHER, "new1")
    newcomer = world.engine.delta(OP, "acme")
    assert newcomer.counts.get("create") == 1
    assert "new1" in synced(world)
    # The scope is put right; the admin rejects the held runs and nobody was deleted.
    world.set_policy(groups=[SALES])
    for summary in [held, *rounds]:
        world.engine.resolve_held(OP, "acme", summary.number, approve=False)
    assert set(ids) <= synced(world)


def test_held_deltas_approved_later_are_checked_against_the_directory(world: World) -> None:
    ids = populate(world, 40)
    world.engine.reconcile(OP, "acme")
    world.set_policy(groups=[OTHER])
    held = world.engine.reconcile(OP, "acme")
    world.directory.change(ids[0], surname="Changed")
    round_ = world.engine.delta(OP, "acme")
    assert round_.status == "held"
    world.set_policy(groups=[SALES])
    approved = world.engine.resolve_held(OP, "acme", round_.number, approve=True)
    assert approved.counts.get("back_in_scope") == 1
    assert ids[0] in synced(world)
    world.engine.resolve_held(OP, "acme", held.number, approve=False)


def test_deletions_are_counted_over_a_sliding_day(world: World, clock: FixedClock) -> None:
    ids = populate(world, 50)
    world.engine.reconcile(OP, "acme")
    # 4 of 50 (8%) in each round: alone, no round would be held.
    for uid in ids[:4]:
        world.directory.remove_member(SALES, uid)
    clock.advance(timedelta(hours=1))
    first = world.engine.delta(OP, "acme")
    assert first.status == "succeeded"
    assert first.counts["delete"] == 4
    for uid in ids[4:8]:
        world.directory.remove_member(SALES, uid)
    clock.advance(timedelta(hours=1))
    second = world.engine.delta(OP, "acme")
    assert second.status == "held"
    assert "8 of 50 synced users within a day" in (second.message or "")
    assert len(synced(world)) == 46
    world.engine.resolve_held(OP, "acme", second.number, approve=False)
    # A day after the first round, its deletions have left the window.
    clock.advance(timedelta(hours=23, minutes=1))
    for uid in ids[8:11]:
        world.directory.remove_member(SALES, uid)
    third = world.engine.delta(OP, "acme")
    assert third.status == "succeeded", third.message
    assert third.counts["delete"] == 3


def test_approved_deletions_do_not_fill_the_window(world: World) -> None:
    ids = populate(world, 50)
    world.engine.reconcile(OP, "acme")
    for uid in ids[:10]:
        world.directory.remove_member(SALES, uid)
    held = world.engine.delta(OP, "acme")
    assert held.status == "held"
    world.engine.resolve_held(OP, "acme", held.number, approve=True)
    assert len(synced(world)) == 40
    world.directory.remove_member(SALES, ids[10])
    after = world.engine.delta(OP, "acme")
    assert after.status == "succeeded"
    assert after.counts["delete"] == 1


def test_mass_creation_on_a_synced_account_is_held(world: World) -> None:
    populate(world, 30)
    first = world.engine.reconcile(OP, "acme")
    assert first.status == "succeeded"  # an account's first sync is never held for creating
    wrong = populate(world, 40, group=OTHER, prefix="w")
    world.set_policy(groups=[SALES, OTHER])
    held = world.engine.reconcile(OP, "acme")
    assert held.status == "held"
    assert "would create 40 users while 30 are synced" in (held.message or "")
    assert held.counts["pending"] == 40
    assert len(synced(world)) == 30
    # Before approval, half of them leave the group again: only the rest is created.
    for uid in wrong[:20]:
        world.directory.remove_member(OTHER, uid)
    approved = world.engine.resolve_held(OP, "acme", held.number, approve=True)
    assert approved.status == "succeeded"
    assert synced(world) - {f"u{i:03d}" for i in range(30)} == set(wrong[20:])
    assert approved.counts["create"] == 20
    assert approved.counts["not_created"] == 20
    left = [i for i in items(world, held.number) if i.directory_id in wrong[:20]]
    assert {i.message for i in left} == {"no longer in a synced group in Entra ID; not created"}


def test_rejected_creates_are_not_made(world: World) -> None:
    populate(world, 30)
    world.engine.reconcile(OP, "acme")
    populate(world, 40, group=OTHER, prefix="w")
    world.set_policy(groups=[SALES, OTHER])
    held = world.engine.reconcile(OP, "acme")
    rejected = world.engine.resolve_held(OP, "acme", held.number, approve=False)
    assert rejected.status == "succeeded"
    assert len(synced(world)) == 30
    assert {i.state for i in items(world, held.number) if i.action == "create"} == {"rejected"}


def test_a_few_new_users_are_not_held(world: World) -> None:
    populate(world, 30)
    world.engine.reconcile(OP, "acme")
    populate(world, 5, prefix="n")
    summary = world.engine.reconcile(OP, "acme")
    assert summary.status == "succeeded"
    assert summary.counts["create"] == 5


def test_approval_waits_for_a_run_in_progress(world: World) -> None:
    ids = populate(world, 20)
    world.engine.reconcile(OP, "acme")
    for uid in ids[:8]:
        world.directory.remove_member(SALES, uid)
    held = world.engine.reconcile(OP, "acme")
    assert held.status == "held"
    with world.container.unit_of_work() as s:
        account = get_account(s, OP, "acme")
        busy = runs.start(s, account, trigger="schedule", kind="delta", dry_run=False).number
    with pytest.raises(Conflict) as refused:
        world.engine.resolve_held(OP, "acme", held.number, approve=True)
    assert refused.value.code == "run_in_progress"
    assert f"run #{busy} (delta round" in refused.value.message
    assert refused.value.message.endswith("wait for it to finish, then approve again")
    assert len(synced(world)) == 20
    with world.container.unit_of_work() as s:
        runs.finish(s, busy, status="succeeded", counts={})
    approved = world.engine.resolve_held(OP, "acme", held.number, approve=True)
    assert approved.counts["delete"] == 8
    assert len(synced(world)) == 12
