"""The directory sync API over a real database and a fake directory."""

from __future__ import annotations

import csv
import io

import pytest
from starlette.testclient import TestClient

from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal.actors import Role
from tests import factories
from tests.fakes import FakeDirectories
from tests.integration.sync_world import SALES, World
from tests.wiring import Adapters

BASE = "/api/v1/accounts/acme/directory"


@pytest.fixture
def adapters(directories: FakeDirectories) -> Adapters:
    # A run started without waiting finishes before the answer comes.
    return {"directory_for": directories, "jobs": InlineJobRunner()}


def admin(world: World, role: Role = Role.ACCOUNT_ADMIN) -> dict[str, str]:
    email = f"{role.value}@acme.example"
    return factories.bearer(factories.token_for(world.container, email, role, "acme"))


def seed(world: World, n: int = 3) -> None:
    for i in range(n):
        world.directory.add_user(f"u{i}", givenName=f"N{i}")
        world.directory.add_member(SALES, f"u{i}")


def test_reconcile_dry_run_then_real_then_runs(world: World, app_client: TestClient) -> None:
    seed(world)
    headers = admin(world)
    dry = app_client.post(f"{BASE}/reconcile", json={"dry_run": True}, headers=headers)
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert body["dry_run"] is True
    assert body["counts"] == {"create": 3}
    assert {i["state"] for i in body["items"]} == {"planned"}
    users = app_client.get("/api/v1/accounts/acme/users", headers=headers).json()
    assert users["total"] == 0

    real = app_client.post(f"{BASE}/reconcile", json={}, headers=headers).json()
    assert real["status"] == "succeeded"
    assert real["kind"] == "full"
    assert real["trigger"] == "api"
    listed = app_client.get(f"{BASE}/runs", headers=headers).json()
    # Runs are numbered per account, in the order they started; no global id is shown.
    assert [r["number"] for r in listed["items"]] == [real["number"], body["number"]] == [2, 1]
    assert all("id" not in r for r in listed["items"])
    one = app_client.get(f"{BASE}/runs/{real['number']}", headers=headers).json()
    assert [i["action"] for i in one["items"]] == ["create"] * 3
    exported = app_client.get(f"{BASE}/runs/{real['number']}?format=csv", headers=headers)
    assert exported.headers["content-type"].startswith("text/csv")
    assert 'filename="acme-run-2.csv"' in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["directory_id"] for r in rows} == {"u0", "u1", "u2"}


def test_reconcile_without_waiting_answers_202(world: World, app_client: TestClient) -> None:
    seed(world)
    headers = admin(world)
    answer = app_client.post(f"{BASE}/reconcile", json={"wait": False}, headers=headers)
    assert answer.status_code == 202
    run = app_client.get(f"{BASE}/runs/{answer.json()['number']}", headers=headers).json()
    assert run["status"] == "succeeded"


def test_sync_user_and_held_run_approval(world: World, app_client: TestClient) -> None:
    seed(world, 10)
    headers = admin(world)
    app_client.post(f"{BASE}/reconcile", json={}, headers=headers)
    one = app_client.post(
        f"{BASE}/sync-user", json={"user": "u1@contoso.example"}, headers=headers
    ).json()
    assert one["kind"] == "single"
    assert one["counts"] == {"skip": 1}
    for i in range(8):
        world.directory.remove_member(SALES, f"u{i}")
    held = app_client.post(f"{BASE}/reconcile", json={}, headers=headers).json()
    assert held["status"] == "held"
    approved = app_client.post(f"{BASE}/runs/{held['number']}/approve", headers=headers).json()
    assert approved["status"] == "succeeded"
    again = app_client.post(f"{BASE}/runs/{held['number']}/approve", headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "run_not_held"


def test_errors_and_roles(world: World, app_client: TestClient) -> None:
    viewer = admin(world, Role.ACCOUNT_VIEWER)
    refused = app_client.post(f"{BASE}/reconcile", json={}, headers=viewer)
    assert refused.status_code == 403
    assert app_client.get(f"{BASE}/runs", headers=viewer).status_code == 200
    bad = app_client.post(f"{BASE}/reconcile", json={"dry": True}, headers=admin(world))
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "dry"
    missing = app_client.get(f"{BASE}/runs/999", headers=viewer)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "run_not_found"
