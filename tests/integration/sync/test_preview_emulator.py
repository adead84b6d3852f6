"""The settings preview against the Entra ID emulator: the service, the API (with unsaved
changes, errors in words, another tenant's account not found) and the CLI, counting what the
emulator's directory says, with nothing written to the portal."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from switchboard.bootstrap import Container
from switchboard.cli.main import app as cli
from switchboard.connection.settings_preview import preview_settings
from switchboard.db.models import DirectoryRegistration, User
from switchboard.emulator.server import RunningEmulator, running
from switchboard.emulator.state import SeedOptions
from switchboard.portal.actors import Role
from switchboard.sync.policy import SyncPolicy
from tests import factories
from tests.integration.sync.emulator_account import connect_account
from tests.wiring import Adapters

SEED = SeedOptions(users=30, groups=4, seed=7)
OP = factories.OPERATOR
BASE = "/api/v1/accounts/acme/directory"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    state: Path = tmp_path_factory.mktemp("preview-emulator")
    with running(state, seed=SEED) as server:
        yield server


@pytest.fixture
def adapters() -> Adapters:
    """The production adapters: Microsoft Graph is the emulator here."""
    return {}


@pytest.fixture
def connected(container: Container, emulator: RunningEmulator) -> RunningEmulator:
    emulator.call(lambda: emulator.emulator.reset(SEED))
    connect_account(container, emulator, SyncPolicy(all_users=True))
    return emulator


def offices(emulator: RunningEmulator) -> Counter[str]:
    """The office of every (not deleted) user of the emulator's tenant, case-folded."""
    users = emulator.emulator.directory.users.values()
    return Counter(
        str(u.props.get("officeLocation") or "").casefold() for u in users if u.deleted_at is None
    )


def portal_users(container: Container) -> int:
    with container.unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(User)) or 0)


def test_the_service_counts_what_the_directory_says(
    container: Container, connected: RunningEmulator
) -> None:
    seen = offices(connected)
    found = preview_settings(container, OP, "acme")
    assert found.read == sum(seen.values())
    assert found.by_location == {"Branch": seen["branch"], "HQ": seen["hq"]}
    unmapped = {k: t.count for k, t in found.unmapped.items()}
    assert unmapped == {k: n for k, n in seen.items() if k not in ("hq", "branch")}
    assert "remote" in unmapped  # the seed has a 'Remote' office that maps to nothing
    assert portal_users(container) == 0

    moved = preview_settings(container, OP, "acme", {"location_rules": {"Remote": "Branch"}})
    assert moved.by_location["Branch"] == seen["branch"] + seen["remote"]
    assert "remote" not in moved.unmapped
    everyone = preview_settings(container, OP, "acme", {"default_location": "HQ"})
    assert everyone.unmapped == {}
    assert sum(everyone.by_location.values()) == found.read


def test_the_api_previews_saved_and_unsaved_settings(
    app_client: TestClient, container: Container, connected: RunningEmulator
) -> None:
    seen = offices(connected)
    headers = factories.bearer(
        factories.token_for(container, "a@acme.example", Role.ACCOUNT_ADMIN, "acme")
    )
    saved = app_client.post(f"{BASE}/preview", headers=headers)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["users"] == sum(seen.values())
    assert {"location": "HQ", "users": seen["hq"]} in body["locations"]
    remote = next(v for v in body["unmapped_values"] if v["key"] == "remote")
    assert remote["label"] == "Remote" and remote["users"] == seen["remote"]
    assert remote["examples"] and all("@" in e for e in remote["examples"])
    assert set(body["reconcile"]) <= {"create", "error"}

    unsaved = app_client.post(
        f"{BASE}/preview", json={"location_rules": {"Remote": "Branch"}}, headers=headers
    )
    assert unsaved.status_code == 200, unsaved.text
    assert {"location": "Branch", "users": seen["branch"] + seen["remote"]} in unsaved.json()[
        "locations"
    ]
    # Nothing was saved by the preview.
    settings = app_client.get(f"{BASE}/registration", headers=headers).json()["settings"]
    assert settings["location_rules"] == {}

    wrong = app_client.post(
        f"{BASE}/preview", json={"location_rules": {"Remote": "Moon Base"}}, headers=headers
    )
    assert wrong.status_code == 422
    assert "names no location" in wrong.json()["error"]["message"]
    guard = app_client.patch(
        f"{BASE}/settings", json={"deletion_guard": {"max_count": 0}}, headers=headers
    )
    assert guard.status_code == 422
    assert "must be 1 or more" in guard.json()["error"]["message"]


def test_another_tenants_account_is_not_found(
    app_client: TestClient, container: Container, connected: RunningEmulator
) -> None:
    with container.unit_of_work() as s:
        factories.tenant(s, "globex", area="415")
    theirs = factories.bearer(
        factories.token_for(container, "g@globex.example", Role.ACCOUNT_ADMIN, "globex")
    )
    response = app_client.post(f"{BASE}/preview", headers=theirs)
    assert response.status_code == 404
    missing = app_client.post("/api/v1/accounts/nobody/directory/preview", headers=theirs)
    assert missing.status_code == 404
    assert response.json()["error"]["code"] == missing.json()["error"]["code"]


def test_a_graph_failure_is_told_in_words(
    app_client: TestClient, container: Container, connected: RunningEmulator
) -> None:
    headers = factories.bearer(
        factories.token_for(container, "a@acme.example", Role.ACCOUNT_ADMIN, "acme")
    )
    # The customer's admin removed the app's permissions in Entra ID.
    with container.unit_of_work() as s:
        client_id = s.scalars(select(DirectoryRegistration.client_id)).one()
    connected.call(lambda: connected.emulator.apps.remove(client_id))
    response = app_client.post(f"{BASE}/preview", headers=headers)
    assert response.status_code == 409, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("Entra ID: ")
    assert "test the connection" in message
    assert "Traceback" not in message and "Error(" not in message


def test_the_cli_prints_the_preview(container: Container, connected: RunningEmulator) -> None:
    env = {
        "SWITCHBOARD_DATABASE_URL": container.settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(container.settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": "test-secret-key-not-for-production",
    }
    seen = offices(connected)
    runner = CliRunner()
    result = runner.invoke(cli, ["directory", "preview", "acme", "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["users"] == sum(seen.values())
    table = runner.invoke(cli, ["directory", "preview", "acme"], env=env, terminal_width=200)
    assert table.exit_code == 0, table.stderr
    assert "Values that match no location" in table.stdout
    assert "Remote" in table.stdout
    missing = runner.invoke(cli, ["directory", "preview", "nobody"], env=env)
    assert missing.exit_code == 1
    assert "nobody" in missing.stderr
