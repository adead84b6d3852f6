"""Runs are numbered per account: each account's first run is #1, and a run is addressed by its
number within the account (API and UI), so no account sees another's run or learns how many
runs the others have. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.db.models import DirectoryRegistration
from switchboard.portal.actors import Role
from switchboard.sync.engine import SyncEngine
from tests import factories
from tests.fakes import FakeDirectory
from tests.integration import fleet_seed
from tests.ui_support import make_admin, sign_in
from tests.wiring import Adapters

OP = factories.OPERATOR


class PerAccount:
    """One fake Entra ID per account, ten users in the synced group."""

    def __init__(self) -> None:
        self.by_account: dict[int, FakeDirectory] = {}

    def __call__(self, registration: DirectoryRegistration) -> FakeDirectory:
        if registration.account_id not in self.by_account:
            fake = FakeDirectory()
            fake.groups[fleet_seed.GROUP] = set()
            for n in range(10):
                fake.add_user(f"u{n}", givenName="User", surname=f"N{n}")
                fake.add_member(fleet_seed.GROUP, f"u{n}")
            self.by_account[registration.account_id] = fake
        return self.by_account[registration.account_id]


@pytest.fixture
def adapters() -> Adapters:
    return {"directory_for": PerAccount()}


@pytest.fixture
def accounts(container: Container) -> dict[str, int]:
    """alpha: one dry run (#1). bravo: a reconcile (#1), a delta round (#2) and a held full
    reconcile (#3). Both account ids, by slug."""
    ids: dict[str, int] = {}
    with container.unit_of_work() as s:
        for slug, area in (("alpha", "312"), ("bravo", "415")):
            account = factories.tenant(s, slug, area).account
            fleet_seed.connect(s, account.id, account.created_at)
            ids[slug] = account.id
    directories = container.directory_factory()
    assert isinstance(directories, PerAccount)
    engine = SyncEngine(container, directories)
    assert engine.reconcile(OP, "alpha", dry_run=True).number == 1
    assert engine.reconcile(OP, "bravo").number == 1
    assert engine.delta(OP, "bravo").number == 2
    bravo = directories.by_account[ids["bravo"]]
    for n in range(8):
        bravo.remove_member(fleet_seed.GROUP, f"u{n}")
    held = engine.reconcile(OP, "bravo")
    assert (held.number, held.status) == (3, "held")
    return ids


def test_each_account_counts_its_own_runs_from_one(
    container: Container, app_client: TestClient, accounts: dict[str, int]
) -> None:
    token = factories.token_for(container, "ops@provider.example", Role.PROVIDER_ADMIN)
    headers = factories.bearer(token)
    alpha = app_client.get("/api/v1/accounts/alpha/directory/runs", headers=headers).json()
    bravo = app_client.get("/api/v1/accounts/bravo/directory/runs", headers=headers).json()
    assert [r["number"] for r in alpha["items"]] == [1]
    assert [r["number"] for r in bravo["items"]] == [3, 2, 1]
    assert all("id" not in r for r in alpha["items"] + bravo["items"])
    # Run #1 of each account is that account's own first run.
    first_a = app_client.get("/api/v1/accounts/alpha/directory/runs/1", headers=headers).json()
    first_b = app_client.get("/api/v1/accounts/bravo/directory/runs/1", headers=headers).json()
    assert (first_a["number"], first_a["dry_run"]) == (1, True)
    assert (first_b["number"], first_b["dry_run"]) == (1, False)
    assert {i["state"] for i in first_a["items"]} == {"planned"}
    assert {i["state"] for i in first_b["items"]} == {"applied"}


def test_another_accounts_run_number_is_the_callers_own_run_or_not_found(
    container: Container, app_client: TestClient, accounts: dict[str, int]
) -> None:
    token = factories.token_for(container, "admin@alpha.example", Role.ACCOUNT_ADMIN, "alpha")
    headers = factories.bearer(token)
    base = "/api/v1/accounts/alpha/directory/runs"
    # Bravo's #1 through alpha: alpha's own #1 (its dry run), never bravo's.
    mine = app_client.get(f"{base}/1", headers=headers).json()
    assert mine["dry_run"] is True
    # Bravo's held #3 through alpha: alpha has no #3.
    for method, path in (("GET", "/3"), ("POST", "/3/approve"), ("POST", "/3/reject")):
        response = app_client.request(method, base + path, headers=headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == {
            "code": "run_not_found",
            "message": "run #3 not found in account 'alpha'",
            "field": None,
        }
    exported = app_client.get(f"{base}/1?format=csv", headers=headers)
    assert 'filename="alpha-run-1.csv"' in exported.headers["content-disposition"]
    # Bravo's held run is still held; its admin approves it by bravo's number.
    bravo = factories.bearer(
        factories.token_for(container, "admin@bravo.example", Role.ACCOUNT_ADMIN, "bravo")
    )
    held = app_client.get("/api/v1/accounts/bravo/directory/runs/3", headers=bravo).json()
    assert held["status"] == "held"
    approved = app_client.post("/api/v1/accounts/bravo/directory/runs/3/approve", headers=bravo)
    assert approved.status_code == 200, approved.text
    assert approved.json()["number"] == 3
    audit = app_client.get("/api/v1/accounts/bravo/audit", headers=bravo).json()
    approvals = [e for e in audit if e["action"] == "sync.deletions_approved"]
    assert [(e["object_type"], e["object_id"]) for e in approvals] == [("sync_run", "3")]


def test_the_ui_addresses_runs_by_number(
    container: Container, app_client: TestClient, accounts: dict[str, int]
) -> None:
    make_admin(container, "admin@alpha.example", Role.ACCOUNT_ADMIN, "alpha")
    sign_in(app_client, "admin@alpha.example")
    page = app_client.get("/accounts/alpha/directory/runs/1")
    assert page.status_code == 200
    assert "Run #1: dry run of a full reconcile" in page.text
    assert app_client.get("/accounts/alpha/directory/runs/3").status_code == 404
    assert app_client.get("/accounts/alpha/directory/runs/3/export").status_code == 404
    listing = app_client.get("/accounts/alpha/directory/runs").text
    assert 'href="/accounts/alpha/directory/runs/1">#1</a>' in listing
    assert "/directory/runs/2" not in listing and "/directory/runs/3" not in listing
