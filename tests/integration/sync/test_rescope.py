"""Changing what is in scope starts a guarded full reconcile at once; the whole tenant is an
explicit choice. API over a real database and a fake directory."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.connection import app_certificates
from switchboard.db.models import Account, DirectoryRegistration, SyncRun, User
from switchboard.jobs import sync_work
from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal.actors import Role
from switchboard.portal.clock_context import now
from switchboard.sync import runs
from tests import factories
from tests.fakes import FakeDirectories
from tests.integration.sync_world import OTHER, SALES, SUPPORT, World
from tests.wiring import Adapters

BASE = "/api/v1/accounts/acme/directory"
OP = factories.OPERATOR


@pytest.fixture
def adapters(directories: FakeDirectories) -> Adapters:
    # The reconcile a change of scope starts runs before the answer comes.
    return {"directory_for": directories, "jobs": InlineJobRunner()}


def admin(world: World) -> dict[str, str]:
    email = "admin@acme.example"
    return factories.bearer(factories.token_for(world.container, email, Role.ACCOUNT_ADMIN, "acme"))


def ready(world: World) -> dict[str, str]:
    with world.container.unit_of_work() as s:
        # The API shows the registration's certificate: give it a real one.
        registration = s.scalars(select(DirectoryRegistration)).one()
        registration.certificate_pem = app_certificates.generate("acme", now(s)).certificate_pem
    return admin(world)


def synced(world: World) -> set[str]:
    with world.container.unit_of_work() as s:
        return {d for d in s.scalars(select(User.directory_id)) if d}


def seed(world: World) -> None:
    d = world.directory
    for uid, group in (("s1", SALES), ("s2", SALES), ("o1", OTHER), ("o2", OTHER), ("x1", None)):
        d.add_user(uid, givenName=uid.upper())
        if group:
            d.add_member(group, uid)


def all_runs(world: World) -> list[SyncRun]:
    with world.container.unit_of_work() as s:
        found = list(s.scalars(select(SyncRun).order_by(SyncRun.id)))
        s.expunge_all()
        return found


def test_a_new_group_list_is_reconciled_at_once(world: World, app_client: TestClient) -> None:
    headers = ready(world)
    seed(world)
    world.engine.reconcile(OP, "acme")
    assert synced(world) == {"s1", "s2"}
    answer = app_client.patch(f"{BASE}/settings", json={"groups": [OTHER]}, headers=headers)
    assert answer.status_code == 200, answer.text
    run_id = answer.json()["reconcile_run_number"]
    assert run_id is not None
    run = app_client.get(f"{BASE}/runs/{run_id}", headers=headers).json()
    assert run["kind"] == "full" and run["trigger"] == "api"
    assert run["status"] == "succeeded", run["message"]
    assert "sync settings changed (groups)" in run["message"]
    assert synced(world) == {"o1", "o2"}


def test_other_settings_start_no_run(world: World, app_client: TestClient) -> None:
    headers = ready(world)
    seed(world)
    world.engine.reconcile(OP, "acme")
    before = len(all_runs(world))
    answer = app_client.patch(f"{BASE}/settings", json={"mode": "jit"}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["reconcile_run_number"] is None
    assert len(all_runs(world)) == before


def test_a_mapping_change_is_reconciled_at_once(world: World, app_client: TestClient) -> None:
    headers = ready(world)
    seed(world)
    world.directory.change("s1", jobTitle="Boss")
    world.engine.reconcile(OP, "acme")
    world.directory.change("s1", employeeId="E-1")
    answer = app_client.patch(
        f"{BASE}/settings", json={"mapping": {"first_name": "employeeId"}}, headers=headers
    )
    assert answer.json()["reconcile_run_number"] is not None
    with world.container.unit_of_work() as s:
        user = s.scalar(select(User).where(User.directory_id == "s1"))
        assert user is not None
        assert user.first_name == "E-1"


def test_an_account_that_never_synced_waits_for_its_first_run(
    world: World, app_client: TestClient
) -> None:
    headers = ready(world)
    answer = app_client.patch(f"{BASE}/settings", json={"groups": [OTHER]}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["reconcile_run_number"] is None
    assert all_runs(world) == []


def test_a_busy_account_gets_its_reconcile_from_the_scheduler(
    world: World, app_client: TestClient
) -> None:
    headers = ready(world)
    seed(world)
    world.engine.reconcile(OP, "acme")
    with world.container.unit_of_work() as s:
        account = s.scalars(select(Account)).one()
        s.add(
            SyncRun(
                account_id=account.id,
                number=runs.next_number(s, account.id),
                trigger="api",
                kind="delta",
                status="running",
                dry_run=False,
                counts={},
                started_at=now(s),
            )
        )
    answer = app_client.patch(f"{BASE}/settings", json={"groups": [OTHER]}, headers=headers)
    body = answer.json()
    assert body["reconcile_run_number"] is None
    assert "in progress" in body["reconcile_note"]
    with world.container.unit_of_work() as s:
        s.query(SyncRun).filter(SyncRun.status == "running").delete()
    decision = sync_work.decision_for(world.container, "acme")
    assert decision is not None
    assert decision.decision.kind == "full"
    assert "groups or mapping changed" in decision.decision.reason


def test_an_empty_group_list_is_refused(world: World, app_client: TestClient) -> None:
    headers = ready(world)
    answer = app_client.patch(f"{BASE}/settings", json={"groups": []}, headers=headers)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"] == "groups"
    assert "choose at least one group, or sync all users explicitly" in error["message"]
    both = app_client.patch(
        f"{BASE}/settings", json={"groups": [SALES], "all_users": True}, headers=headers
    )
    assert both.status_code == 422
    assert "not both" in both.json()["error"]["message"]


def test_all_users_is_the_whole_tenant(world: World, app_client: TestClient) -> None:
    headers = ready(world)
    seed(world)
    world.engine.reconcile(OP, "acme")
    answer = app_client.patch(f"{BASE}/settings", json={"all_users": True}, headers=headers)
    assert answer.status_code == 200, answer.text
    settings = answer.json()["settings"]
    assert settings["all_users"] is True
    assert settings["groups"] == []
    assert answer.json()["reconcile_run_number"] is not None
    assert synced(world) == {"s1", "s2", "o1", "o2", "x1"}
    # Choosing groups again ends the whole-tenant choice.
    back = app_client.patch(f"{BASE}/settings", json={"groups": [SUPPORT, SALES]}, headers=headers)
    assert back.json()["settings"]["all_users"] is False
    assert synced(world) == {"s1", "s2"}


def test_the_stored_policy_says_all_users(world: World, app_client: TestClient) -> None:
    headers = ready(world)
    app_client.patch(f"{BASE}/settings", json={"all_users": True}, headers=headers)
    with world.container.unit_of_work() as s:
        stored = s.scalars(select(DirectoryRegistration)).one().policy
    assert stored["all_users"] is True and stored["groups"] == []
