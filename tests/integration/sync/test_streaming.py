"""Full runs carry out creates and updates while the directory is still being read."""

from __future__ import annotations

from sqlalchemy import select

from switchboard.db.models import DirectorySyncState, Location, User
from switchboard.directory.errors import TransientGraphError
from switchboard.portal.accounts import get_account
from switchboard.portal.schemas import UserIn
from switchboard.portal.users import create_user
from switchboard.sync import runs
from tests import factories
from tests.integration.sync_world import OTHER, SALES, World

OP = factories.OPERATOR


def directory_ids(w: World) -> set[str]:
    with w.container.unit_of_work() as s:
        return {d for d in s.scalars(select(User.directory_id)) if d}


# The directory's read breaks after seven users, as a Graph outage midway would.
BREAK_AFTER_SEVEN = (7, TransientGraphError("the service is unavailable", status=503))


def test_a_read_that_fails_midway_keeps_the_chunks_already_applied(world: World) -> None:
    # The account's first sync: no synced users yet, so creates go while the read goes on.
    d = world.directory
    d.add_user("a-first")
    d.add_member(SALES, "a-first")
    for i in range(7):
        d.add_user(f"u{i}", givenName=f"N{i}")
        d.add_member(SALES, f"u{i}")
    d.read_breaks_after = BREAK_AFTER_SEVEN
    summary = world.engine.reconcile(OP, "acme")
    assert summary.status == "failed"
    assert "unavailable" in (summary.message or "")
    # The engine's chunks are 3: a-first and u0..u4 went in two chunks while the read went
    # on; u5 was planned but not yet written when the read failed.
    assert directory_ids(world) == {"a-first", "u0", "u1", "u2", "u3", "u4"}
    with world.container.unit_of_work() as s:
        account = get_account(s, OP, "acme")
        run = runs.get_run(s, OP, account, summary.number)
        assert run.counts == {"create": 6}
        assert {i.directory_id for i in runs.items(s, run)} == {"a-first"} | {
            f"u{i}" for i in range(5)
        }
        assert s.get(DirectorySyncState, account.id) is None  # the next run starts over
    # Nothing unseen was swept: the read never completed.
    d.read_breaks_after = None
    again = world.engine.reconcile(OP, "acme")
    assert again.status == "succeeded"
    assert again.counts == {"skip": 6, "create": 2}


def test_after_a_scope_change_creates_wait_for_the_whole_read(world: World) -> None:
    # The creation guard judges a scope change's creates together: none goes before the read
    # ends.
    d = world.directory
    d.add_user("a-linked")
    d.add_member(SALES, "a-linked")
    world.engine.reconcile(OP, "acme")
    for i in range(7):
        d.add_user(f"u{i}", givenName=f"N{i}")
        d.add_member(OTHER, f"u{i}")
    world.set_policy(groups=[SALES, OTHER])
    d.read_breaks_after = BREAK_AFTER_SEVEN
    assert world.engine.reconcile(OP, "acme").status == "failed"
    assert directory_ids(world) == {"a-linked"}
    d.read_breaks_after = None
    again = world.engine.reconcile(OP, "acme")
    assert again.status == "succeeded"
    assert again.counts == {"skip": 1, "create": 7}


def test_without_a_scope_change_new_users_are_created_while_reading(world: World) -> None:
    # Ordinary growth is not the creation guard's business: creates stream as on a first sync.
    d = world.directory
    d.add_user("a-linked")
    d.add_member(SALES, "a-linked")
    world.engine.reconcile(OP, "acme")
    for i in range(7):
        d.add_user(f"u{i}", givenName=f"N{i}")
        d.add_member(SALES, f"u{i}")
    engine = world.engine
    engine.chunk_size = 2
    d.read_breaks_after = BREAK_AFTER_SEVEN
    assert engine.reconcile(OP, "acme").status == "failed"
    assert len(directory_ids(world)) > 1


def test_a_create_waits_for_the_link_that_frees_its_email(world: World) -> None:
    # Ada is a portal user Entra ID's "a-ada" links to by name, with a new email; "b-bob" has
    # Ada's old email. Bob's create must come after Ada's link, though Bob is planned while
    # the read goes on.
    with world.container.unit_of_work() as s:
        account = get_account(s, OP, "acme")
        hq = s.scalars(select(Location.id).where(Location.name == "HQ")).one()
        create_user(
            s,
            OP,
            account,
            UserIn(first_name="Ada", last_name="King", email="ada@contoso.example", location_id=hq),
        )
    d = world.directory
    d.add_user("a-ada", givenName="Ada", surname="King", mail="ada.king@contoso.example")
    d.add_user("b-bob", givenName="Bob", surname="Stone", mail="ada@contoso.example")
    for i in range(6):  # enough users after them for several streamed chunks
        d.add_user(f"c{i}", givenName=f"N{i}")
    for uid in ["a-ada", "b-bob", *(f"c{i}" for i in range(6))]:
        d.add_member(SALES, uid)
    summary = world.engine.reconcile(OP, "acme")
    assert summary.status == "succeeded", summary
    assert summary.counts == {"link": 1, "create": 7}
    with world.container.unit_of_work() as s:
        emails = dict(s.execute(select(User.directory_id, User.email)).all())
    assert emails["a-ada"] == "ada.king@contoso.example"
    assert emails["b-bob"] == "ada@contoso.example"
