"""The group picker's API against the Entra ID emulator: search the tenant's groups by name,
and the synced groups by name in the registration."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.emulator.server import RunningEmulator
from switchboard.portal.actors import Role
from switchboard.sync.policy import SyncPolicy
from tests import factories
from tests.integration.group_picker_support import (
    connect_acme,
    delete_group,
    emulated_tenant,
    group_ids,
    reset,
)
from tests.integration.sync.emulator_account import connect_account

BASE = "/api/v1/accounts/acme/directory"
_admins = itertools.count(1)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with emulated_tenant(tmp_path_factory.mktemp("group-picker-api")) as server:
        yield server


@pytest.fixture
def groups(container: Container, emulator: RunningEmulator) -> dict[str, str]:
    reset(emulator)
    ids = group_ids(emulator)
    connect_acme(container, emulator, ids["Voice Users"], ids["Support"])
    return ids


def admin(container: Container, slug: str = "acme") -> dict[str, str]:
    """A new admin of the account each time (a token per call)."""
    email = f"admin{next(_admins)}@{slug}.example"
    return factories.bearer(factories.token_for(container, email, Role.ACCOUNT_ADMIN, slug))


def test_search_by_name_with_counts_and_nesting(
    app_client: TestClient, container: Container, groups: dict[str, str]
) -> None:
    found = app_client.get(f"{BASE}/groups", params={"search": "s"}, headers=admin(container))
    assert found.status_code == 200, found.text
    body = found.json()
    assert [g["name"] for g in body["groups"]] == ["Sales", "Support"]
    assert body["total"] == 2
    sales = body["groups"][0]
    assert sales["id"] == groups["Sales"]
    assert sales["nested_groups"] == 1 and sales["members"] > body["groups"][1]["members"] > 0
    assert sales["description"] == "Sales (seeded)" and sales["security_enabled"] is True
    first = app_client.get(f"{BASE}/groups", headers=admin(container)).json()
    assert first["total"] == 6 and first["groups"][0]["name"] == "Engineering"


def test_registration_names_the_synced_groups(
    app_client: TestClient, container: Container, emulator: RunningEmulator, groups: dict[str, str]
) -> None:
    headers = admin(container)
    body = app_client.get(f"{BASE}/registration", headers=headers).json()
    assert body["settings"]["groups"] == [groups["Voice Users"], groups["Support"]]
    assert [(g["name"], g["deleted"]) for g in body["groups_detail"]] == [
        ("Voice Users", False),
        ("Support", False),
    ]
    assert body["groups_note"] is None
    delete_group(emulator, groups["Support"])
    body = app_client.get(f"{BASE}/registration", headers=headers).json()
    gone = body["groups_detail"][1]
    assert gone == {
        "id": groups["Support"],
        "name": None,
        "label": f"deleted group {groups['Support']}",
        "deleted": True,
    }


def test_search_text_is_checked_with_a_plain_message(
    app_client: TestClient, container: Container, groups: dict[str, str]
) -> None:
    headers = admin(container)
    bad = app_client.get(f"{BASE}/groups", params={"search": "a\nb"}, headers=headers)
    assert bad.status_code == 422
    assert "control characters" in bad.text and "search" in bad.json()["error"]["field"]
    long = app_client.get(f"{BASE}/groups", params={"search": "y" * 101}, headers=headers)
    assert long.status_code == 422 and "at most 100 characters" in long.text


def test_a_missing_permission_is_named_with_how_to_grant_it(
    app_client: TestClient, container: Container, emulator: RunningEmulator
) -> None:
    reset(emulator)

    connect_account(container, emulator, SyncPolicy(all_users=True), roles="User.Read.All")
    answer = app_client.get(f"{BASE}/groups", params={"search": "s"}, headers=admin(container))
    assert answer.status_code == 409
    message = answer.json()["error"]["message"]
    assert "GroupMember.Read.All" in message and "Grant admin consent" in message


def test_another_accounts_admin_gets_not_found(
    app_client: TestClient, container: Container, groups: dict[str, str]
) -> None:
    with container.unit_of_work() as s:
        factories.tenant(s, "globex", area="415")
    other = admin(container, "globex")
    assert (
        app_client.get(f"{BASE}/groups", params={"search": "s"}, headers=other).status_code == 404
    )
