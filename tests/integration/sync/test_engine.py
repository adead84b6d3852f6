"""The sync semantics end to end: engine + real database (SQLite and PostgreSQL) + a fake
directory behind the DirectorySource interface."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, select, text

from switchboard.db.models import Base, DirectorySyncState, Media, User
from switchboard.portal import media as media_service
from switchboard.portal.accounts import get_account, update_account
from switchboard.portal.schemas import AccountPatch, UserIn, UserPatch
from switchboard.portal.users import create_user, update_user
from switchboard.sync import runs
from switchboard.sync.engine import SyncEngine
from tests import factories
from tests.faults import on_write
from tests.integration.sync_world import NESTED, OTHER, SALES, SUPPORT, World

OP = factories.OPERATOR


def portal_users(w: World) -> dict[str, User]:
    with w.container.unit_of_work() as s:
        return {u.directory_id or u.username: u for u in s.scalars(select(User))}


def test_full_reconcile_creates_users_of_synced_groups_including_nested(world: World) -> None:
    d = world.directory
    d.add_user("u1")
    d.add_user("u2", givenName="Grace", surname="Hopper")
    d.add_user("u3", givenName="Alan", surname="Turing")
    d.add_user("u4", givenName="Not", surname="Synced")
    d.add_member(SUPPORT, "u1")
    d.add_member(NESTED, "u2")  # in SALES through NESTED
    d.add_member(SALES, "u3")
    d.add_member(OTHER, "u4")
    summary = world.engine.reconcile(OP, "acme")
    assert summary.status == "succeeded"
    assert summary.counts == {"create": 3}
    users = portal_users(world)
    assert set(users) == {"u1", "u2", "u3"}
    assert users["u2"].source == "directory"
    assert users["u2"].first_name == "Grace"
    # The second reconcile has nothing to do.
    assert world.engine.reconcile(OP, "acme").counts == {"skip": 3}


def test_semantics_through_delta_rounds(world: World) -> None:
    d = world.directory
    for uid in ("u1", "u2", "u3", "u4", "u5"):
        d.add_user(uid, givenName=uid.upper())
        d.add_member(SALES, uid)
    world.engine.reconcile(OP, "acme")
    with world.container.unit_of_work() as s:
        acct = get_account(s, OP, "acme")
        u2 = s.scalar(select(User).where(User.directory_id == "u2"))
        assert u2 is not None
        update_user(
            s, OP, acct, u2.id, UserPatch(license="Business Voice", phone_numbers=["+13125550100"])
        )
        media_service.ingest(
            s,
            OP,
            acct,
            media_service.MediaIn(
                kind="voicemail",
                user_id=u2.id,
                recorded_at=datetime(2026, 1, 10, tzinfo=UTC),
                duration_seconds=3,
            ),
            io.BytesIO(b"RIFF...."),
            content_type="audio/wav",
        )
        ext2 = u2.extension

    d.change("u1", surname="Byron", mail="ada.byron@contoso.example")  # update
    d.change("u2", officeLocation="Branch")  # relocate
    d.change("u3", accountEnabled=False)  # disable
    d.soft_delete("u4")  # delete
    d.remove_member(SALES, "u5")  # out of scope
    summary = world.engine.delta(OP, "acme")
    assert summary.kind == "delta"
    assert summary.counts == {"update": 1, "relocate": 1, "disable": 1, "delete": 2}
    users = portal_users(world)
    assert users["u1"].last_name == "Byron"
    assert users["u1"].email == "ada.byron@contoso.example"
    assert users["u3"].status == "disabled_in_directory"
    assert "u4" not in users
    assert "u5" not in users
    assert users["u2"].extension == ext2
    with world.container.unit_of_work() as s:
        moved = s.get(User, users["u2"].id)
        assert moved is not None
        assert moved.location.name == "Branch"
        assert moved.license is not None and moved.license.name == "Business Voice"
        assert moved.numbers == []  # the HQ number was released
        media = s.scalars(select(Media)).one()
        assert media.user_id == moved.id

    d.restore("u4")
    d.change("u3", accountEnabled=True)
    summary = world.engine.delta(OP, "acme")
    assert summary.counts == {"create": 1, "enable": 1}
    assert portal_users(world)["u3"].status == "active"


def test_link_existing_portal_user_by_email(world: World) -> None:
    with world.container.unit_of_work() as s:
        acct = get_account(s, OP, "acme")
        hq = acct.id and s.execute(text("select id from locations where name='HQ'")).scalar_one()
        local = create_user(
            s,
            OP,
            acct,
            UserIn(
                first_name="Ada",
                last_name="L",
                email="U1@contoso.example",
                location_id=hq,
                extension="1234",
            ),
        )
        local_id = local.id
    world.directory.add_user("u1")
    world.directory.add_member(SALES, "u1")
    summary = world.engine.reconcile(OP, "acme")
    assert summary.counts == {"link": 1}
    user = portal_users(world)["u1"]
    assert user.id == local_id
    assert user.extension == "1234"
    assert user.source == "directory"
    assert user.last_name == "Lovelace"


def test_bad_directory_users_become_run_items_and_everyone_else_syncs(world: World) -> None:
    d = world.directory
    d.add_user("good1")
    d.add_user("nosurname", surname=None)
    d.add_user("badmail", mail="nope")
    d.add_user("mars", officeLocation="Mars")
    d.add_user("good2", givenName="Grace")
    for uid in ("good1", "nosurname", "badmail", "mars", "good2"):
        d.add_member(SALES, uid)
    summary = world.engine.reconcile(OP, "acme")
    assert summary.status == "partial"
    assert summary.counts == {"create": 2, "error": 3}
    assert set(portal_users(world)) == {"good1", "good2"}
    with world.container.unit_of_work() as s:
        acct = get_account(s, OP, "acme")
        run = runs.get_run(s, OP, acct, summary.number)
        errors = {
            i.directory_id: (i.error_code, i.message)
            for i in runs.items(s, run)
            if i.action == "error"
        }
    assert errors["mars"][0] == "unmapped_location"
    assert "location rule" in (errors["mars"][1] or "")
    assert errors["nosurname"][0] == "missing_attribute"


def test_a_upn_the_portal_cannot_hold_is_a_per_user_error(world: World) -> None:
    d = world.directory
    for uid in ("a", "b"):
        d.add_user(uid, givenName=uid.upper())
        d.add_member(SALES, uid)
    d.change("b", userPrincipalName="b" * 250 + "@contoso.example")
    summary = world.engine.reconcile(OP, "acme")
    assert summary.counts == {"create": 1, "error": 1}
    with world.container.unit_of_work() as s:
        run = runs.get_run(s, OP, get_account(s, OP, "acme"), summary.number)
        [error] = runs.items(s, run, action="error")
    assert error.error_code == "invalid_attribute"
    assert "254 characters" in (error.message or "")


def test_apply_failure_of_one_user_does_not_stop_the_rest(world: World) -> None:
    # A 2-digit dial plan with 88 of its 90 extensions taken: of four new directory users,
    # two get extensions and two fail when applied; everyone else is unaffected.
    with world.container.unit_of_work() as s:
        acct = get_account(s, OP, "acme")
        update_account(s, OP, "acme", AccountPatch(extension_length=2))
        hq = s.execute(text("select id from locations where name='HQ'")).scalar_one()
        for i in range(88):
            create_user(
                s,
                OP,
                acct,
                UserIn(
                    first_name="Local",
                    last_name=f"N{i}",
                    email=f"local{i}@acme.example",
                    location_id=hq,
                ),
            )
    d = world.directory
    for uid in ("a", "b", "c", "d"):
        d.add_user(uid, givenName=uid.upper())
        d.add_member(SALES, uid)
    summary = world.engine.reconcile(OP, "acme")
    assert summary.status == "partial"
    assert summary.counts == {"create": 4, "failed": 2}
    assert len(set(portal_users(world)) & {"a", "b", "c", "d"}) == 2
    with world.container.unit_of_work() as s:
        run = runs.get_run(s, OP, get_account(s, OP, "acme"), summary.number)
        failed = [i for i in runs.items(s, run) if i.state == "failed"]
    assert {i.error_code for i in failed} == {"extensions_exhausted"}


def test_deletion_guard_holds_then_approve_or_reject(world: World) -> None:
    d = world.directory
    for i in range(10):
        d.add_user(f"u{i}", givenName=f"N{i}")
        d.add_member(SALES, f"u{i}")
    world.engine.reconcile(OP, "acme")
    for i in range(7):
        d.remove_member(SALES, f"u{i}")
    held = world.engine.reconcile(OP, "acme")
    assert held.status == "held"
    assert held.counts["pending"] == 7
    assert len(portal_users(world)) == 10
    rejected = world.engine.resolve_held(OP, "acme", held.number, approve=False)
    assert rejected.status == "succeeded"
    assert len(portal_users(world)) == 10
    held = world.engine.reconcile(OP, "acme")
    approved = world.engine.resolve_held(OP, "acme", held.number, approve=True)
    assert approved.status == "succeeded"
    assert len(portal_users(world)) == 3


def test_empty_enumeration_is_held(world: World) -> None:
    world.directory.add_user("u1")
    world.directory.add_member(SALES, "u1")
    world.engine.reconcile(OP, "acme")
    world.directory.remove_member(SALES, "u1")
    summary = world.engine.reconcile(OP, "acme")
    assert summary.status == "held"
    assert "no users in scope" in (summary.message or "")


def test_dry_run_returns_the_plan_and_changes_nothing(world: World) -> None:
    world.directory.add_user("u1")
    world.directory.add_member(SALES, "u1")
    summary = world.engine.reconcile(OP, "acme", dry_run=True)
    assert summary.dry_run
    assert [i.action.value for i in summary.planned] == ["create"]
    assert portal_users(world) == {}
    with world.container.unit_of_work() as s:
        assert s.get(DirectorySyncState, 1) is None


def test_expired_delta_token_leads_to_full_reconcile(world: World) -> None:
    world.directory.add_user("u1")
    world.directory.add_member(SALES, "u1")
    world.engine.reconcile(OP, "acme")
    world.directory.add_user("u2", givenName="Grace")
    world.directory.add_member(SALES, "u2")
    world.directory.expire()
    summary = world.engine.delta(OP, "acme")
    assert summary.kind == "full"
    assert summary.counts == {"create": 1, "skip": 1}


def test_single_user_sync_by_upn(world: World) -> None:
    world.directory.add_user("u1")
    world.directory.add_member(SALES, "u1")
    summary = world.engine.sync_user(OP, "acme", "u1@contoso.example")
    assert summary.kind == "single"
    assert summary.counts == {"create": 1}
    world.directory.hard_delete("u1")
    assert world.engine.sync_user(OP, "acme", "u1@contoso.example").counts == {"delete": 1}
    missing = world.engine.sync_user(OP, "acme", "ghost@contoso.example")
    assert missing.counts == {"error": 1}


def test_crash_before_the_delta_link_is_saved_converges(world: World) -> None:
    d = world.directory
    for uid in ("u1", "u2", "u3", "u4"):
        d.add_user(uid)
        d.add_member(SALES, uid)
    world.engine.reconcile(OP, "acme")
    for uid in ("u1", "u2", "u3", "u4"):
        d.change(uid, surname="Changed")
    with world.container.unit_of_work() as s:
        link_before = s.get(DirectorySyncState, 1)
        assert link_before is not None
        saved = link_before.users_delta_link

    def crash(_connection: Connection) -> None:
        raise RuntimeError("power cut")

    # The power goes as the last chunk saves the new delta links.
    with (
        on_write(world.container.engine, DirectorySyncState.__table__, crash),
        pytest.raises(RuntimeError, match="power cut"),
    ):
        world.engine.delta(OP, "acme")
    with world.container.unit_of_work() as s:
        state = s.get(DirectorySyncState, 1)
        assert state is not None and state.users_delta_link == saved
    # The first chunk (3 users) committed; the last did not. The next round replays all four.
    summary = world.engine.delta(OP, "acme")
    assert summary.status == "succeeded"
    assert {u.last_name for u in portal_users(world).values()} == {"Changed"}


def test_replays_and_duplicates_are_idempotent(world: World) -> None:
    d = world.directory
    d.add_user("u1")
    d.add_member(SALES, "u1")
    world.engine.reconcile(OP, "acme")
    d.change("u1", givenName="Augusta")
    d.change("u1", givenName="Augusta")
    first = world.engine.delta(OP, "acme")
    assert first.counts == {"update": 1}
    engine = SyncEngine(world.container, lambda _r: d)
    with world.container.unit_of_work() as s:
        state = s.get(DirectorySyncState, 1)
        assert state is not None
        state.users_delta_link = "users:0"  # replay the whole log
    again = engine.delta(OP, "acme")
    assert again.counts == {"skip": 1}


def test_data_minimisation(world: World) -> None:
    marker = "SECRET-MARKER-7c1"
    world.directory.add_user(
        "u1",
        jobTitle=marker,
        department=marker,
        mobilePhone=marker,
        onPremisesExtensionAttributes={"extensionAttribute9": marker},
    )
    world.directory.add_member(SALES, "u1")
    world.set_policy()
    world.engine.reconcile(OP, "acme")
    with world.container.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                assert marker not in repr(tuple(row)), table.name
