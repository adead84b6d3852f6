"""Directory > Groups without script, against the Entra ID emulator: search groups by name,
pick several, save, and see their names on the settings page and the Directory tab."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.connection import registration
from switchboard.emulator.server import RunningEmulator
from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Role
from switchboard.sync.engine import SyncEngine
from tests import factories
from tests.integration.group_picker_support import (
    connect_acme,
    delete_group,
    emulated_tenant,
    group_ids,
    reset,
)
from tests.ui_support import csrf, make_admin, sign_in
from tests.wiring import Adapters

PAGE = "/accounts/acme/directory/groups"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with emulated_tenant(tmp_path_factory.mktemp("group-picker-ui")) as server:
        yield server


@pytest.fixture
def adapters() -> Adapters:
    return {"jobs": InlineJobRunner()}


@pytest.fixture
def groups(
    container: Container, emulator: RunningEmulator, app_client: TestClient
) -> dict[str, str]:
    reset(emulator)
    ids = group_ids(emulator)
    connect_acme(container, emulator, ids["Voice Users"])
    make_admin(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, "admin@acme.example")
    return ids


def saved_groups(container: Container) -> list[str]:
    with container.unit_of_work() as s:
        account = get_account(s, factories.OPERATOR, "acme")
        return list(
            registration.policy_of(
                registration.get_registration(s, factories.OPERATOR, account)
            ).groups
        )


def test_search_pick_save_and_names_everywhere(
    app_client: TestClient, container: Container, emulator: RunningEmulator, groups: dict[str, str]
) -> None:
    overview = app_client.get("/accounts/acme/directory").text
    names = re.search(r'id="synced-group-names">(.*?)</dd>', overview, re.S)
    assert names is not None and "Voice Users" in names.group(1)
    assert f'href="{PAGE}"' in overview

    page = app_client.get(PAGE, params={"search": "s"})
    assert page.status_code == 200
    # "s" starts Sales and Support, shown with their counts.
    assert f'value="{groups["Sales"]}"' in page.text
    assert f'value="{groups["Support"]}"' in page.text
    assert re.search(r"\d+ members? · 1 nested group", page.text)  # Sales holds Support
    assert re.search(r"\d+ members? · no nested groups · Support", page.text)
    # A group already chosen is marked, not offered again.
    voice = app_client.get(PAGE, params={"search": "voice"}).text
    assert (
        "chosen</span>" in voice
        and f'value="{groups["Voice Users"]}" aria-describedby' not in voice
    )
    token = csrf(app_client, PAGE)

    # Tick Sales, keep it while searching on, then tick Finance and save.
    answer = app_client.post(
        PAGE,
        data={
            "csrf_token": token,
            "search": "s",
            "action": "pick",
            "groups": [groups["Voice Users"], groups["Sales"]],
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["pick"] == [groups["Voice Users"], groups["Sales"]]
    picking = app_client.get(answer.headers["location"])
    assert "Not saved yet" in picking.text
    finance = app_client.get(PAGE, params={"picking": "1", "pick": query["pick"], "search": "fin"})
    assert f'value="{groups["Finance"]}"' in finance.text
    chosen = re.search(r'id="group-chosen">(.*?)</ul>', finance.text, re.S)
    assert chosen is not None and "Sales" in chosen.group(1)
    saved = app_client.post(
        PAGE,
        data={
            "csrf_token": token,
            "action": "save",
            "groups": [groups["Voice Users"], groups["Sales"], groups["Finance"]],
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    # Not synced yet: the next step is what the groups' users would become (the preview).
    assert saved.headers["location"] == (
        "/accounts/acme/directory/mapping?preview=1&done=directory-groups-saved"
    )
    assert saved_groups(container) == [groups["Voice Users"], groups["Sales"], groups["Finance"]]

    settings = app_client.get("/accounts/acme/directory/settings").text
    field = re.search(r'id="synced-groups">(.*?)</ul>', settings, re.S)
    assert field is not None
    for name in ("Voice Users", "Sales", "Finance"):
        assert name in field.group(1)
    assert f'name="groups" value="{groups["Sales"]}" checked' in settings
    assert "Choose groups</a>" in settings and "Synced groups (object ids)" not in settings

    # A group deleted in Entra ID says so, by id.
    delete_group(emulator, groups["Finance"])
    settings = app_client.get("/accounts/acme/directory/settings").text
    assert f"deleted group {groups['Finance']}" in settings


def test_the_settings_form_removes_an_unticked_group(
    app_client: TestClient, container: Container, groups: dict[str, str]
) -> None:
    token = csrf(app_client, PAGE)
    app_client.post(
        PAGE,
        data={
            "csrf_token": token,
            "action": "save",
            "groups": [groups["Voice Users"], groups["Sales"]],
        },
    )
    # Only Sales stays ticked; the rest of the settings as the form shows them.
    form = {"csrf_token": token, "groups": groups["Sales"], "direction": "one_way"}
    form.update(provisioning="automatic", mode="on_demand")
    answer = app_client.post("/accounts/acme/directory/settings", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert saved_groups(container) == [groups["Sales"]]


def test_a_new_scope_after_a_first_sync_starts_a_full_reconcile(
    app_client: TestClient, container: Container, groups: dict[str, str]
) -> None:
    SyncEngine(container, container.directory_factory()).reconcile(factories.OPERATOR, "acme")
    token = csrf(app_client, PAGE)
    answer = app_client.post(
        PAGE,
        data={"csrf_token": token, "action": "save", "groups": [groups["Sales"]]},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert re.fullmatch(
        r"/accounts/acme/directory/runs/\d+\?done=directory-rescoped", answer.headers["location"]
    )
    run = app_client.get(answer.headers["location"]).text
    assert "this full reconcile started at once" in run


def test_plain_messages_for_a_bad_search_and_an_empty_choice(
    app_client: TestClient, container: Container, groups: dict[str, str]
) -> None:
    bad = app_client.get(PAGE, params={"search": "sales\x1b[31m"})
    assert bad.status_code == 422
    assert "no tabs, line breaks or other control characters" in bad.text
    long = app_client.get(PAGE, params={"search": "x" * 101})
    assert long.status_code == 422 and "at most 100 characters" in long.text
    token = csrf(app_client, PAGE)
    empty = app_client.post(PAGE, data={"csrf_token": token, "action": "save"})
    assert empty.status_code == 422
    assert "Choose at least one group" in empty.text
    assert '<p class="muted" id="group-chosen-empty">No groups chosen yet.</p>' in empty.text
    assert saved_groups(container) == [groups["Voice Users"]]  # nothing was stored


def test_the_script_route_answers_json_for_the_session(
    app_client: TestClient, groups: dict[str, str]
) -> None:
    found = app_client.get(f"{PAGE}/search.json", params={"search": "eng"})
    assert found.status_code == 200
    body = found.json()
    assert [g["name"] for g in body["groups"]] == ["Engineering"]
    assert body["groups"][0]["id"] == groups["Engineering"] and body["total"] == 1
    assert isinstance(body["groups"][0]["members"], int)
    refused = app_client.get(f"{PAGE}/search.json", params={"search": "a\tb"})
    assert refused.status_code == 422 and "control characters" in refused.json()["error"]


def test_another_accounts_admin_gets_not_found(
    app_client: TestClient, container: Container, groups: dict[str, str]
) -> None:
    with container.unit_of_work() as s:
        factories.tenant(s, "globex", area="415")
    make_admin(container, "admin@globex.example", Role.ACCOUNT_ADMIN, "globex")
    app_client.cookies.clear()
    sign_in(app_client, "admin@globex.example")
    assert app_client.get(PAGE, params={"search": "s"}).status_code == 404
    assert app_client.get(f"{PAGE}/search.json", params={"search": "s"}).status_code == 404
    token = csrf(app_client, "/accounts/globex")
    posted = app_client.post(PAGE, data={"csrf_token": token, "groups": groups["Sales"]})
    assert posted.status_code == 404


def test_viewers_see_the_groups_without_forms(
    app_client: TestClient, container: Container, groups: dict[str, str]
) -> None:
    make_admin(container, "viewer@acme.example", Role.ACCOUNT_VIEWER, "acme")
    app_client.cookies.clear()
    sign_in(app_client, "viewer@acme.example")
    page = app_client.get(PAGE, params={"search": "sal"}).text
    assert "Voice Users" in page and "Sales" in page
    assert f'method="post" action="{PAGE}"' not in page and "Save groups" not in page
