"""Two-way sync: extensions and numbers written back to the directory, retried and reported."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from switchboard.clock import FixedClock
from switchboard.db.models import User, WriteBackTask
from switchboard.directory.errors import GraphForbidden, TransientGraphError
from switchboard.portal.accounts import get_account
from switchboard.portal.schemas import UserPatch
from switchboard.portal.users import update_user
from switchboard.sync import writeback
from tests import factories
from tests.integration.sync_world import SALES, World

OP = factories.OPERATOR
TWO_WAY = {
    "direction": "two_way",
    "write_back": {"number_to": "businessPhones", "extension_to": "extensionAttribute1"},
}


def seed(world: World, *uids: str, **props: object) -> None:
    for uid in uids:
        world.directory.add_user(uid, givenName=uid.upper(), **props)
        world.directory.add_member(SALES, uid)


def tasks(world: World) -> list[WriteBackTask]:
    with world.container.unit_of_work() as s:
        return list(s.scalars(select(WriteBackTask).order_by(WriteBackTask.id)))


def user(world: World, uid: str) -> User:
    with world.container.unit_of_work() as s:
        found = s.scalar(select(User).where(User.directory_id == uid))
        assert found is not None
        return found


def test_one_way_never_writes(world: World) -> None:
    seed(world, "u1")
    world.engine.reconcile(OP, "acme")
    assert world.directory.writes == []
    assert tasks(world) == []


def test_reconcile_writes_extensions_and_own_writes_come_back_as_no_ops(world: World) -> None:
    world.set_policy(**TWO_WAY)
    seed(world, "u1", "u2")
    summary = world.engine.reconcile(OP, "acme")
    assert summary.counts["write_back"] == 2
    assert summary.counts["written_back"] == 2
    written = dict(world.directory.writes)
    assert written["u1"] == {
        "onPremisesExtensionAttributes": {"extensionAttribute1": user(world, "u1").extension}
    }
    # Our writes show up in the next delta round: nothing to do, nothing to write.
    again = world.engine.delta(OP, "acme")
    assert again.counts == {"skip": 2}
    assert len(world.directory.writes) == 2


def test_portal_change_is_queued_then_written(world: World) -> None:
    world.set_policy(**TWO_WAY)
    seed(world, "u1")
    world.engine.reconcile(OP, "acme")
    with world.container.unit_of_work() as s:
        acct = get_account(s, OP, "acme")
        update_user(
            s,
            OP,
            acct,
            user(world, "u1").id,
            UserPatch(extension="4321", phone_numbers=["+13125550101"]),
        )
    pending = tasks(world)[-1]
    assert pending.status == "pending"
    assert pending.properties == {
        "businessPhones": ["+13125550101"],
        "onPremisesExtensionAttributes": {"extensionAttribute1": "4321"},
    }
    report = writeback.process(world.container, OP, "acme")
    assert report.written == 1
    assert world.directory.users["u1"]["businessPhones"] == ["+13125550101"]
    assert tasks(world)[-1].status == "done"


def test_reconcile_corrects_drift_in_the_directory(world: World) -> None:
    world.set_policy(**TWO_WAY)
    seed(world, "u1")
    world.engine.reconcile(OP, "acme")
    world.directory.change("u1", businessPhones=["+15555550000"])  # someone edited Entra
    summary = world.engine.delta(OP, "acme")
    assert summary.counts["written_back"] == 1
    assert world.directory.users["u1"]["businessPhones"] == []


def test_on_premises_users_get_a_clear_per_user_error(world: World) -> None:
    world.set_policy(**TWO_WAY)
    seed(world, "onprem", onPremisesSyncEnabled=True)
    summary = world.engine.reconcile(OP, "acme")
    assert summary.counts["write_back_blocked"] == 1
    assert world.directory.writes == []
    from switchboard.sync import runs

    with world.container.unit_of_work() as s:
        run = runs.get_run(s, OP, get_account(s, OP, "acme"), summary.number)
        [item] = runs.items(s, run, action="write_back")
    assert item.error_code == "writeback_blocked"
    assert "on-premises" in (item.message or "")


def test_refusals_are_reported_and_outages_retried(world: World, clock: FixedClock) -> None:
    world.set_policy(**TWO_WAY)
    seed(world, "admin", "busy")
    world.directory.refuse["admin"] = GraphForbidden(
        "Insufficient privileges", status=403, code="Authorization_RequestDenied"
    )
    world.directory.refuse["busy"] = TransientGraphError("throttled", status=429)
    summary = world.engine.reconcile(OP, "acme")
    assert summary.counts["write_back_failed"] == 1
    by_user = {t.directory_id: t for t in tasks(world)}
    assert by_user["admin"].status == "failed"
    assert "admin roles" in (by_user["admin"].last_error or "")
    assert by_user["busy"].status == "pending"
    assert by_user["busy"].attempts == 1
    # Not due yet: nothing happens; after the backoff it goes through.
    del world.directory.refuse["busy"]
    assert writeback.process(world.container, OP, "acme").written == 0
    clock.advance(timedelta(minutes=2))
    assert writeback.process(world.container, OP, "acme").written == 1
