"""The whole chain against the Entra ID emulator: registration certificate -> msal -> Graph client
-> engine -> portal, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from switchboard.bootstrap import Container
from switchboard.cli.main import app as cli
from switchboard.clock import FixedClock
from switchboard.db.models import User
from switchboard.emulator.server import RunningEmulator, running
from switchboard.emulator.state import SeedOptions
from switchboard.portal.accounts import get_account
from switchboard.sync.engine import SyncEngine
from switchboard.sync.policy import SyncPolicy
from tests import factories
from tests.emulator_control import DEFAULT_DELTA_PAGE_SIZE, set_delta_page_size
from tests.integration.sync.emulator_account import connect_account
from tests.wiring import Adapters

SEED = SeedOptions(users=60, groups=6, seed=5)
OP = factories.OPERATOR
MAPPED = {"hq": "HQ", "branch": "Branch"}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    state: Path = tmp_path_factory.mktemp("sync-emulator")
    with running(state, seed=SEED) as server:
        yield server


@pytest.fixture
def adapters() -> Adapters:
    """The production adapters: Microsoft Graph is the emulator here."""
    return {}


@dataclass
class Connected:
    container: Container
    emulator: RunningEmulator
    groups: list[str]
    engine: SyncEngine

    def directory(self) -> Any:
        return self.emulator.emulator.directory


@pytest.fixture
def connected(container: Container, emulator: RunningEmulator) -> Connected:
    emu = emulator.emulator

    def fresh() -> None:
        emu.reset(SEED)
        emu.clock.offset_seconds = 0.0
        emu.faults.update(
            {
                "error_rate": 0.0,
                "latency_ms": 0,
                "retry_after_seconds": 1.0,
                "error_kinds": ["429", "503"],
                "error_targets": ["graph", "token"],
                "error_budget": None,
            }
        )

    emulator.call(fresh)
    set_delta_page_size(emulator, DEFAULT_DELTA_PAGE_SIZE)
    directory = emu.directory
    # The two groups with the most (transitive) user members.
    sizes = sorted(
        (
            (len([m for m in directory.transitive_member_ids(g) if m in directory.users]), g)
            for g in directory.groups
        ),
        reverse=True,
    )
    groups = [g for _n, g in sizes[:2]]
    connect_account(container, emulator, SyncPolicy(groups=groups))
    return Connected(
        container, emulator, groups, SyncEngine(container, container.directory_factory())
    )


def expected_outcomes(c: Connected) -> dict[str, str]:
    """What the semantics say each in-scope user becomes, worked out from the emulator."""
    d = c.directory()
    ids: set[str] = set()
    for g in c.groups:
        ids |= {m for m in d.transitive_member_ids(g) if m in d.users}
    outcomes = {}
    for uid in ids:
        user = d.users[uid]
        if user.deleted_at is not None:
            continue
        p = user.props
        location = (p.get("officeLocation") or "").casefold()
        if not p.get("givenName") or not p.get("surname") or location not in MAPPED:
            outcomes[uid] = "error"
        else:
            outcomes[uid] = "create"
    return outcomes


def synced(c: Connected) -> dict[str, User]:
    with c.container.unit_of_work() as s:
        return {u.directory_id: u for u in s.scalars(select(User)) if u.directory_id}


def test_first_reconcile_matches_the_semantics(connected: Connected) -> None:
    expected = expected_outcomes(connected)
    summary = connected.engine.reconcile(OP, "acme")
    assert summary.status in ("succeeded", "partial"), summary.message
    want = {k: list(expected.values()).count(k) for k in set(expected.values())}
    assert summary.counts == want
    created = synced(connected)
    assert set(created) == {u for u, o in expected.items() if o == "create"}
    d = connected.directory()
    for uid, user in created.items():
        props = d.users[uid].props
        assert user.first_name == props["givenName"]
        assert user.last_name == props["surname"]
        assert user.email.casefold() == (props.get("mail") or props["userPrincipalName"]).casefold()
        assert user.location.name == MAPPED[props["officeLocation"].casefold()]
        assert user.status == (
            "active" if props.get("accountEnabled", True) else "disabled_in_directory"
        )
    again = connected.engine.reconcile(OP, "acme")
    assert again.counts.get("create", 0) == 0
    assert again.counts.get("skip") == len(created)


def test_delta_round_after_directory_changes(connected: Connected) -> None:
    connected.engine.reconcile(OP, "acme")
    before = synced(connected)
    d = connected.directory()
    emu = connected.emulator
    members = sorted(before)
    renamed, moved, disabled, deleted = members[:4]
    direct = next(m for m in members[4:] if any(m in d.groups[g].members for g in connected.groups))
    group = next(g for g in connected.groups if direct in d.groups[g].members)
    other_groups = d.transitive_groups_of(direct) & set(connected.groups)
    new_location = "Branch" if before[moved].location.name == "HQ" else "HQ"

    def change() -> None:
        d.update_user(renamed, {"surname": "Renamed"})
        d.update_user(moved, {"officeLocation": new_location})
        d.update_user(disabled, {"accountEnabled": False})
        d.delete_user(deleted)
        d.remove_member(group, direct)

    emu.call(change)
    still_in_scope = bool(other_groups - {group}) or any(
        direct in d.transitive_member_ids(g) for g in connected.groups
    )
    summary = connected.engine.delta(OP, "acme")
    assert summary.kind == "delta", summary.message
    after = synced(connected)
    assert after[renamed].last_name == "Renamed"
    assert after[moved].location.name == new_location
    assert after[moved].extension == before[moved].extension
    assert after[disabled].status == "disabled_in_directory"
    assert deleted not in after
    assert (direct in after) == still_in_scope


def test_cli_reconcile_and_runs(connected: Connected, tmp_path: Path) -> None:
    settings = connected.container.settings
    env = {
        "SWITCHBOARD_DATABASE_URL": settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": settings.secret_key or "",
    }
    runner = CliRunner()
    tested = runner.invoke(cli, ["directory", "test", "acme", "--json"], env=env)
    assert tested.exit_code == 0, tested.output
    assert json.loads(tested.stdout)["ok"] is True
    dry = runner.invoke(cli, ["directory", "reconcile", "acme", "--dry-run", "--json"], env=env)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["dry_run"] is True
    real = runner.invoke(cli, ["directory", "reconcile", "acme", "--json"], env=env)
    assert real.exit_code == 0, real.output
    summary = json.loads(real.stdout)
    assert summary["counts"].get("create", 0) > 0
    shown = runner.invoke(cli, ["directory", "reconcile", "acme"], env=env)  # progress bar
    assert shown.exit_code == 0, shown.output
    # Runs are named by the account's own numbers: the dry run was #1, this one #2.
    assert "run_id" not in summary and summary["number"] == 2
    assert f"details: switchboard directory run acme {summary['number'] + 1}" in shown.stdout
    listed = runner.invoke(cli, ["directory", "runs", "acme", "--json"], env=env)
    assert [r["number"] for r in json.loads(listed.stdout)] == [3, 2, 1]
    assert all("id" not in r for r in json.loads(listed.stdout))
    with connected.container.unit_of_work() as s:
        assert get_account(s, OP, "acme").status == "active"


def test_reconcile_through_a_429_and_503_storm(connected: Connected) -> None:
    expected = expected_outcomes(connected)
    emu = connected.emulator.emulator
    connected.emulator.call(
        lambda: emu.faults.update(
            {"error_rate": 0.3, "error_kinds": ["429", "503"], "retry_after_seconds": 0.05}
        )
    )
    summary = connected.engine.reconcile(OP, "acme")
    assert summary.status in ("succeeded", "partial"), summary.message
    assert set(synced(connected)) == {u for u, o in expected.items() if o == "create"}


def test_scope_changes_restores_and_pages_of_members(connected: Connected) -> None:
    connected.engine.reconcile(OP, "acme")
    d = connected.directory()
    emu = connected.emulator
    group = connected.groups[0]
    # Members of one group arrive split across pages of two objects.
    set_delta_page_size(emu, 2)
    newcomers = []

    def add_people() -> None:
        for i in range(5):
            user = d.create_user(
                {
                    "accountEnabled": True,
                    "displayName": f"New {i}",
                    "givenName": "New",
                    "surname": f"Person{i}",
                    "mailNickname": f"new{i}",
                    "userPrincipalName": f"new.person{i}@{d.domain}",
                    "officeLocation": "HQ",
                    "passwordProfile": {"password": "x"},
                }
            )
            newcomers.append(user.id)
            d.add_member(group, user.id)

    emu.call(add_people)
    summary = connected.engine.delta(OP, "acme")
    assert summary.kind == "delta", summary.message
    assert set(newcomers) <= set(synced(connected))

    # Out of every synced group: deleted; back in: created again.
    leaver = newcomers[0]
    emu.call(lambda: d.remove_member(group, leaver))
    connected.engine.delta(OP, "acme")
    assert leaver not in synced(connected)
    emu.call(lambda: d.add_member(group, leaver))
    connected.engine.delta(OP, "acme")
    assert leaver in synced(connected)

    # Soft delete, then restore: deleted, then back as a user again.
    gone = newcomers[1]
    emu.call(lambda: d.delete_user(gone))
    connected.engine.delta(OP, "acme")
    assert gone not in synced(connected)
    emu.call(lambda: d.restore_user(gone))
    connected.engine.delta(OP, "acme")
    assert gone in synced(connected)


def test_expired_delta_token_falls_back_to_a_full_reconcile(connected: Connected) -> None:
    connected.engine.reconcile(OP, "acme")
    emu = connected.emulator.emulator
    connected.emulator.call(lambda: emu.clock.advance(8 * 24 * 3600))
    summary = connected.engine.delta(OP, "acme")
    assert summary.kind == "full"
    assert "expired" in (summary.message or "")
    assert summary.status in ("succeeded", "partial")


# --- transient trouble: the token endpoint retried, a long Retry-After interrupts ----------


def inject(c: Connected, **faults: Any) -> None:
    emu = c.emulator.emulator
    c.emulator.call(lambda: emu.faults.update({"error_rate": 1.0, **faults}))


def test_token_endpoint_503s_are_retried_and_the_run_succeeds(connected: Connected) -> None:
    expected = expected_outcomes(connected)
    inject(
        connected,
        error_kinds=["503"],
        error_targets=["token"],
        error_budget=3,
        retry_after_seconds=0.05,
    )
    summary = connected.engine.reconcile(OP, "acme")
    assert summary.status in ("succeeded", "partial"), summary.message
    assert set(synced(connected)) == {u for u, o in expected.items() if o == "create"}
    assert connected.emulator.call(lambda: connected.emulator.emulator.faults.error_budget) == 0


def test_a_token_endpoint_that_stays_down_fails_the_run_in_words(connected: Connected) -> None:
    inject(connected, error_kinds=["503"], error_targets=["token"], retry_after_seconds=0.05)
    summary = connected.engine.reconcile(OP, "acme")
    host = connected.emulator.url.split("://", 1)[1]
    assert summary.status == "failed"
    assert summary.message == (
        f"Entra ID: the token endpoint at {host} is unavailable (HTTP 503) "
        "(gave up after 6 attempts)"
    )
    assert synced(connected) == {}


def test_a_long_retry_after_from_graph_interrupts_the_run(
    connected: Connected, clock: FixedClock
) -> None:
    inject(connected, error_kinds=["429"], error_targets=["graph"], retry_after_seconds=300)
    summary = connected.engine.reconcile(OP, "acme")
    assert summary.status == "interrupted"
    assert summary.message == (
        "Entra ID asked to wait 5 minutes (throttled); the sync resumes after 09:05 UTC"
    )
    inject(connected, error_rate=0.0)
    clock.advance(timedelta(minutes=5))
    again = connected.engine.reconcile(OP, "acme")
    assert again.status in ("succeeded", "partial"), again.message
