"""The guard scenarios of the field report, against the Entra ID emulator (Graph client, msal,
engine, portal) on SQLite and PostgreSQL: users back in scope before approval, a wrong scope
with delta rounds, a settings change reconciled at once, and the whole tenant by choice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from switchboard.bootstrap import Container
from switchboard.cli.main import app as cli
from switchboard.connection import registration
from switchboard.db.models import SyncRun, User
from switchboard.emulator.server import RunningEmulator, running
from switchboard.emulator.state import SeedOptions
from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal.accounts import get_account
from switchboard.sync import rescope, runs
from switchboard.sync.engine import SyncEngine
from switchboard.sync.policy import SyncPolicy
from tests import factories
from tests.integration.sync.emulator_account import connect_account
from tests.wiring import Adapters

SEED = SeedOptions(users=10, groups=2, seed=11)
OP = factories.OPERATOR
STAFF_SIZE = 400
WRONG_SIZE = 150


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running(tmp_path_factory.mktemp("guard-emulator"), seed=SEED) as server:
        yield server


@pytest.fixture
def adapters() -> Adapters:
    """The production adapters: Microsoft Graph is the emulator here."""
    return {}


@dataclass
class Tenant:
    container: Container
    emulator: RunningEmulator
    engine: SyncEngine
    staff: str
    wrong: str
    staff_ids: list[str]
    wrong_ids: list[str]

    def call(self, work: Any) -> Any:
        return self.emulator.call(work)

    @property
    def directory(self) -> Any:
        return self.emulator.emulator.directory

    def synced(self) -> set[str]:
        with self.container.unit_of_work() as s:
            return {d for d in s.scalars(select(User.directory_id)) if d}

    def change_settings(self, patch: dict[str, Any]) -> rescope.Rescoped | None:
        """What the API, CLI and UI do on a settings change, the reconcile run inline."""
        with self.container.unit_of_work() as s:
            account = get_account(s, OP, "acme", write=True)
            reg = registration.get_registration(s, OP, account)
            before = registration.policy_of(reg)
            after = registration.policy_of(registration.update_settings(s, OP, account, patch))
            account_id = account.id
        return rescope.after_settings_change(
            self.container, InlineJobRunner(), OP, "acme", account_id, before, after, trigger="api"
        )

    def run(self, number: int) -> SyncRun:
        with self.container.unit_of_work() as s:
            found = runs.get_run(s, OP, get_account(s, OP, "acme"), number)
            assert found is not None
            s.expunge(found)
            return found


def _people(d: Any, label: str, count: int, group: str) -> list[str]:
    ids = []
    for i in range(count):
        user = d.create_user(
            {
                "accountEnabled": True,
                "displayName": f"{label} {i}",
                "givenName": label,
                "surname": f"Person{i}",
                "mailNickname": f"{label.lower()}{i}",
                "userPrincipalName": f"{label.lower()}.{i}@{d.domain}",
                "officeLocation": "HQ",
                "passwordProfile": {"password": "x"},
            }
        )
        d.add_member(group, user.id)
        ids.append(user.id)
    return ids


@pytest.fixture
def tenant(container: Container, emulator: RunningEmulator) -> Tenant:
    emu = emulator.emulator
    made: dict[str, Any] = {}

    def fresh() -> None:
        emu.reset(SEED)
        emu.clock.offset_seconds = 0.0
        emu.faults.update({"error_rate": 0.0, "latency_ms": 0})
        d = emu.directory
        for name in ("Staff", "Wrong"):
            made[name] = d.create_group(
                {
                    "displayName": name,
                    "mailEnabled": False,
                    "mailNickname": name.lower(),
                    "securityEnabled": True,
                }
            ).id
        made["staff_ids"] = _people(d, "Staff", STAFF_SIZE, made["Staff"])
        made["wrong_ids"] = _people(d, "Wrong", WRONG_SIZE, made["Wrong"])

    emulator.call(fresh)
    connect_account(container, emulator, SyncPolicy(groups=[made["Staff"]], default_location="HQ"))
    return Tenant(
        container,
        emulator,
        SyncEngine(container, container.directory_factory()),
        made["Staff"],
        made["Wrong"],
        made["staff_ids"],
        made["wrong_ids"],
    )


def test_350_back_in_scope_before_approval_are_all_kept(tenant: Tenant) -> None:
    first = tenant.engine.reconcile(OP, "acme")
    assert first.status == "succeeded", first.message
    assert tenant.synced() == set(tenant.staff_ids)
    leavers = tenant.staff_ids[:350]
    d = tenant.directory
    tenant.call(lambda: [d.remove_member(tenant.staff, uid) for uid in leavers])
    held = tenant.engine.reconcile(OP, "acme")
    assert held.status == "held"
    assert held.counts["pending"] == 350
    tenant.call(lambda: [d.add_member(tenant.staff, uid) for uid in leavers])
    approved = tenant.engine.resolve_held(OP, "acme", held.number, approve=True)
    assert approved.status == "succeeded"
    assert approved.counts["back_in_scope"] == 350
    assert "delete" not in approved.counts
    assert tenant.synced() == set(tenant.staff_ids)


def test_approval_deletes_only_who_is_still_out_of_scope(tenant: Tenant) -> None:
    tenant.engine.reconcile(OP, "acme")
    leavers = tenant.staff_ids[:100]
    d = tenant.directory
    tenant.call(lambda: [d.remove_member(tenant.staff, uid) for uid in leavers])
    held = tenant.engine.reconcile(OP, "acme")
    assert held.status == "held"
    back, gone = leavers[:60], leavers[60:70]
    tenant.call(lambda: [d.add_member(tenant.staff, uid) for uid in back])
    tenant.call(lambda: [d.delete_user(uid) for uid in gone])
    approved = tenant.engine.resolve_held(OP, "acme", held.number, approve=True)
    assert approved.counts["delete"] == 40
    assert approved.counts["back_in_scope"] == 60
    assert tenant.synced() == set(tenant.staff_ids) - set(leavers[60:])


def test_wrong_scope_held_then_delta_rounds_delete_nobody(tenant: Tenant) -> None:
    tenant.engine.reconcile(OP, "acme")
    started = tenant.change_settings({"groups": [tenant.wrong]})
    assert started is not None and started.run_number is not None
    held = tenant.run(started.run_number)
    # The wrong scope would delete every staff member and create the wrong group at once.
    assert held.status == "held", held.message
    assert "would delete 400 of 400" in (held.message or "")
    assert "would create 150 users" in (held.message or "")
    assert tenant.synced() == set(tenant.staff_ids)
    d = tenant.directory
    # Four delta rounds, each seeing 30 staff members change (7.5%: under the guard alone).
    for round_number in range(4):
        batch = tenant.staff_ids[round_number * 30 : (round_number + 1) * 30]
        tenant.call(lambda b=batch: [d.update_user(u, {"jobTitle": "Changed"}) for u in b])
        summary = tenant.engine.delta(OP, "acme")
        assert summary.kind == "delta", summary.message
        assert summary.status == "held"
        assert f"run #{held.number} waits for approval" in (summary.message or "")
    assert tenant.synced() == set(tenant.staff_ids)
    # Restoring the groups is reconciled at once: nothing missing, nothing extra.
    restored = tenant.change_settings({"groups": [tenant.staff]})
    assert restored is not None and restored.run_number is not None
    assert tenant.run(restored.run_number).status == "succeeded"
    assert tenant.synced() == set(tenant.staff_ids)


def test_a_new_group_of_the_scope_is_created_at_once_and_guarded(tenant: Tenant) -> None:
    tenant.engine.reconcile(OP, "acme")
    started = tenant.change_settings({"groups": [tenant.staff, tenant.wrong]})
    assert started is not None and started.run_number is not None
    run = tenant.run(started.run_number)
    assert run.status == "held"
    assert run.counts["pending"] == WRONG_SIZE
    assert tenant.synced() == set(tenant.staff_ids)
    approved = tenant.engine.resolve_held(OP, "acme", run.number, approve=True)
    assert approved.counts["create"] == WRONG_SIZE
    assert tenant.synced() == set(tenant.staff_ids) | set(tenant.wrong_ids)


def _cli_env(container: Container) -> dict[str, str]:
    settings = container.settings
    return {
        "SWITCHBOARD_DATABASE_URL": settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": settings.secret_key or "",
    }


def test_cli_all_users_and_an_empty_group_list(tenant: Tenant, tmp_path: Path) -> None:
    tenant.engine.reconcile(OP, "acme")
    runner = CliRunner()
    env = _cli_env(tenant.container)
    empty = runner.invoke(cli, ["directory", "settings", "acme", "--groups", ""], env=env)
    assert empty.exit_code == 2
    assert "choose at least one group, or sync all users explicitly" in " ".join(
        empty.output.split()
    )
    everyone = runner.invoke(
        cli, ["directory", "settings", "acme", "--all-users", "--json"], env=env
    )
    assert everyone.exit_code == 0, everyone.output
    body = json.loads(everyone.stdout)
    assert body["settings"]["all_users"] is True
    assert body["settings"]["groups"] == []
    # The whole tenant is reconciled at once; creating ~160 users at once waits for approval
    # (a seeded user the portal cannot take is reported, not held).
    run = tenant.run(body["reconcile_run_number"])
    assert run.status == "held"
    pending = run.counts["pending"]
    assert pending == run.counts["create"]
    assert WRONG_SIZE <= pending <= WRONG_SIZE + SEED.users
    assert tenant.synced() == set(tenant.staff_ids)
    approved = runner.invoke(cli, ["directory", "approve", "acme", str(run.id)], env=env)
    assert approved.exit_code == 0, approved.output
    assert set(tenant.wrong_ids) <= tenant.synced()
    assert len(tenant.synced()) == STAFF_SIZE + pending
