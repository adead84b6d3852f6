"""Delta and single-user runs load only the portal users a plan can concern; the outcomes must
be those of a plan over the whole account (links by email and by name, duplicates, the guard)."""

from __future__ import annotations

from sqlalchemy import select, text

from switchboard.db.models import User
from switchboard.portal.accounts import get_account
from switchboard.portal.schemas import UserIn
from switchboard.portal.users import create_user
from tests import factories
from tests.integration.sync_world import SALES, World

OP = factories.OPERATOR


def _portal_user(world: World, first: str, last: str, email: str) -> int:
    with world.container.unit_of_work() as s:
        acct = get_account(s, OP, "acme")
        hq = s.execute(text("select id from locations where name='HQ'")).scalar_one()
        user = create_user(
            s, OP, acct, UserIn(first_name=first, last_name=last, email=email, location_id=hq)
        )
        return user.id


def _by_directory_id(world: World) -> dict[str, int]:
    with world.container.unit_of_work() as s:
        rows = s.execute(select(User.directory_id, User.id).where(User.directory_id.is_not(None)))
        return {str(d): int(i) for d, i in rows}


def _synced(world: World, count: int) -> None:
    for i in range(count):
        world.directory.add_user(f"s{i}", givenName=f"Synced{i}")
        world.directory.add_member(SALES, f"s{i}")
    assert world.engine.reconcile(OP, "acme").counts == {"create": count}


def test_single_user_links_by_email_and_by_unique_name(world: World) -> None:
    _synced(world, 4)
    by_email = _portal_user(world, "Grace", "Hopper", "G.Hopper@contoso.example")
    by_name = _portal_user(world, "Alan", "Turing", "alan@elsewhere.example")
    d = world.directory
    d.add_user("g", givenName="Grace", surname="Hopper", mail="g.hopper@contoso.example")
    d.add_user("a", givenName="alan", surname="TURING", mail="a.turing@contoso.example")
    for uid in ("g", "a"):
        d.add_member(SALES, uid)
    assert world.engine.sync_user(OP, "acme", "g@contoso.example").counts == {"link": 1}
    assert world.engine.sync_user(OP, "acme", "a@contoso.example").counts == {"link": 1}
    linked = _by_directory_id(world)
    assert linked["g"] == by_email
    assert linked["a"] == by_name


def test_delta_sees_ambiguous_names_and_emails_held_by_linked_users(world: World) -> None:
    _synced(world, 3)
    _portal_user(world, "Ada", "Byron", "ada1@elsewhere.example")
    _portal_user(world, "Ada", "Byron", "ada2@elsewhere.example")
    d = world.directory
    d.add_user("twin", surname="Byron")
    d.add_user("copy", mail="s0@contoso.example")  # the email synced user s0 holds
    for uid in ("twin", "copy"):
        d.add_member(SALES, uid)
    summary = world.engine.delta(OP, "acme")
    assert summary.counts == {"error": 2}
    with world.container.unit_of_work() as s:
        rows = s.execute(
            text("select directory_id, error_code from sync_run_items where run_id = :r"),
            {"r": summary.run_id},
        )
        codes = {str(d): str(c) for d, c in rows}
    assert codes == {"twin": "ambiguous_match", "copy": "duplicate_email"}


def test_delta_deletion_guard_counts_every_linked_user(world: World) -> None:
    _synced(world, 20)
    for i in range(6):
        world.directory.remove_member(SALES, f"s{i}")
    held = world.engine.delta(OP, "acme")
    # 6 of 20 is more than 10% and more than 5: held, although the round saw only 6 users.
    assert held.status == "held"
    assert "6 of 20" in (held.message or "")
