"""Admin UI, Directory > Mapping without JavaScript: edit the mapping, preview (saved and unsaved
settings), add a rule from the preview and see the counts move; errors of a submit all at once,
in words, under their inputs; the save's audit entry and full reconcile; viewers read only."""

from __future__ import annotations

import html as html_text
import re

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.connection import registration as service
from switchboard.db.models import AuditEvent, DirectoryRegistration, SyncRun
from switchboard.directory.errors import GraphForbidden
from switchboard.portal.actors import Role
from switchboard.sync.policy import SyncPolicy
from tests.fakes import FakeDirectories, FakeDirectory, FakeJobs
from tests.integration.web.ui.directory.test_directory_tab import (
    SALES,
    Env,
    error_under,
    make_env,
)
from tests.wiring import Adapters

FORM = {
    "first_name": "givenName",
    "last_name": "surname",
    "email": "mail",
    "email_fallback": "userPrincipalName",
    "location": "officeLocation",
    "default_location": "",
    "deletion_percent": "10",
    "deletion_count": "5",
    "creation_percent": "10",
    "creation_count": "20",
    "rule_rows": "3",
}


@pytest.fixture
def adapters() -> Adapters:
    directory = FakeDirectory()
    directory.groups = {SALES: set()}
    for uid, props in (
        ("ada", {"officeLocation": "HQ"}),
        ("alan", {"officeLocation": "Remote"}),
        ("grace", {"officeLocation": "remote", "givenName": ""}),
        ("edsger", {"officeLocation": "Chicago", "onPremisesExtensionAttributes": {}}),
        (
            "barbara",
            {
                "officeLocation": "",
                "onPremisesExtensionAttributes": {"extensionAttribute2": "Branch"},
            },
        ),
    ):
        directory.add_user(uid, **{"givenName": uid.capitalize(), **props})
        directory.add_member(SALES, uid)
    return {"directory_for": FakeDirectories(directory), "jobs": FakeJobs()}


@pytest.fixture
def env(app_client: TestClient, container: Container) -> Env:
    return make_env(app_client, container)


def policy(container: Container) -> SyncPolicy:
    with container.unit_of_work() as s:
        return service.policy_of(s.scalars(select(DirectoryRegistration)).one())


def located(html: str) -> dict[str, int]:
    found = re.findall(r'<td class="num" data-location="([^"]+)">(\d+)</td>', html)
    return {html_text.unescape(name): int(n) for name, n in found}


def unmapped(html: str) -> list[str]:
    table = html.split('id="preview-unmapped"', 1)
    if len(table) == 1:
        return []
    body = table[1].split("</table>", 1)[0]
    return [html_text.unescape(v) for v in re.findall(r'name="value" value="([^"]*)"', body)]


def test_preview_add_a_rule_from_it_and_see_the_counts_move(env: Env, container: Container) -> None:
    page = env.get("/mapping")
    assert page.status_code == 200
    assert "Office (officeLocation)" in page.text
    assert (
        "Extension attribute 15 (onPremisesExtensionAttributes.extensionAttribute15)" in page.text
    )
    assert 'id="preview"' not in page.text  # a preview only when asked for

    shown = env.get("/mapping?preview=1")
    assert located(shown.text) == {"Branch": 0, "HQ": 1}
    assert unmapped(shown.text) == ["Remote", "Chicago"]
    assert "<em>(empty)</em>" in shown.text  # barbara: no office, told to use the default
    assert "5</strong> users in scope" in shown.text
    assert re.search(r"<td>First name</td><td class=\"num\">1</td>", shown.text)
    assert "grace@contoso.example" in shown.text
    assert env.users() == []  # a preview writes nothing

    added = env.post("/mapping/rules", {"value": "Remote", "location": "Branch"})
    assert added.status_code == 303
    assert added.headers["location"].endswith("/mapping?preview=1&done=mapping-rule-added#preview")
    assert policy(container).location_rules == {"remote": "Branch"}
    refreshed = env.get(added.headers["location"].split(BASE_SPLIT, 1)[1])
    assert "Rule added" in refreshed.text
    assert located(refreshed.text) == {"Branch": 2, "HQ": 1}
    assert unmapped(refreshed.text) == ["Chicago"]
    with container.unit_of_work() as s:
        audit = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "directory.settings_updated")
        ).all()
    assert len(audit) == 1


BASE_SPLIT = "/accounts/acme/directory"


def test_preview_of_unsaved_settings_then_save(env: Env, container: Container) -> None:
    typed = {
        **FORM,
        "location": "onPremisesExtensionAttributes.extensionAttribute2",
        "default_location": "HQ",
        "rule_value_0": "Chicago",
        "rule_location_0": "Branch",
    }
    preview = env.post("/mapping/preview", typed)
    assert preview.status_code == 200, preview.text
    assert "not saved" in preview.text
    # Only barbara has the extension attribute; the default takes the rest.
    assert located(preview.text) == {"Branch": 1, "HQ": 4}
    assert 'value="onPremisesExtensionAttributes.extensionAttribute2" selected' in preview.text
    assert policy(container).mapping.location == "officeLocation"  # nothing saved

    saved = env.post("/mapping", typed)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].endswith("/mapping?done=mapping-saved")
    after = policy(container)
    assert after.mapping.location == "onPremisesExtensionAttributes.extensionAttribute2"
    assert after.default_location == "HQ"
    assert after.location_rules == {"chicago": "Branch"}

    # A row ticked for removal goes; the guards and no fallback are saved too.
    again = {
        **typed,
        "rule_remove_0": "yes",
        "email_fallback": "",
        "deletion_percent": "25",
        "deletion_count": "7",
        "creation_count": "40",
    }
    assert env.post("/mapping", again).status_code == 303
    after = policy(container)
    assert after.location_rules == {}
    assert after.mapping.email_fallback is None
    assert (after.deletion_guard.max_percent, after.deletion_guard.max_count) == (25, 7)
    assert after.creation_guard.max_count == 40


def test_every_error_of_a_submit_at_once_in_words(env: Env, container: Container) -> None:
    bad = {
        **FORM,
        "first_name": "favouriteColour",
        "rule_rows": "4",
        "rule_value_0": "Remote",
        "rule_location_0": "Moon Base",
        "rule_value_1": "Chicago",
        "rule_location_1": "HQ",
        "rule_value_2": "chicago",
        "rule_location_2": "Branch",
        "rule_value_3": "",
        "rule_location_3": "HQ",
        "default_location": "Atlantis",
        "deletion_percent": "0",
        "deletion_count": "0",
        "creation_percent": "150",
        "creation_count": "many",
    }
    for path in ("/mapping", "/mapping/preview"):
        response = env.post(path, bad)
        assert response.status_code == 422, response.text
        text = response.text
        assert error_under(text, "first_name") == "Choose the first name source from the list"
        assert error_under(text, "rule_location_0") == (
            "No location named 'Moon Base'; create it under Locations or choose another"
        )
        assert "already matches 'chicago'" in error_under(text, "rule_value_2")
        assert "Enter the directory value" in error_under(text, "rule_value_3")
        assert "No location named 'Atlantis'" in error_under(text, "default_location")
        assert error_under(text, "deletion_percent") == "Enter a percentage from 1 to 100"
        assert error_under(text, "creation_percent") == "Enter a percentage from 1 to 100"
        assert "1 or more" in error_under(text, "deletion_count")
        assert "1 or more" in error_under(text, "creation_count")
        assert "9 entries need a change" in text
        # What was typed is still there.
        assert 'id="f-rule_value_2" name="rule_value_2" type="text" value="chicago"' in text
        assert 'id="preview"' not in text
    assert policy(container).default_location is None


def test_a_saved_mapping_change_reconciles_an_account_that_has_synced(
    env: Env, container: Container
) -> None:
    env.post("/reconcile")
    runs_before = env.run_ids()
    saved = env.post("/mapping", {**FORM, "default_location": "HQ"})
    assert saved.status_code == 303, saved.text
    assert re.search(r"/directory/runs/\d+\?done=directory-rescoped$", saved.headers["location"])
    assert len(env.run_ids()) == len(runs_before) + 1
    with container.unit_of_work() as s:
        newest = s.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
        assert newest is not None and newest.kind == "full"


def test_graph_failure_in_words(env: Env) -> None:
    env.directory.read_breaks_after = (
        0,
        GraphForbidden("Insufficient privileges to complete the operation.", status=403),
    )
    shown = env.get("/mapping?preview=1")
    assert shown.status_code == 200
    assert "Entra ID: Insufficient privileges to complete the operation." in shown.text
    assert "test the connection" in shown.text


def test_viewers_see_the_mapping_without_forms_or_preview(
    app_client: TestClient, container: Container
) -> None:
    env = make_env(app_client, container, Role.ACCOUNT_VIEWER)
    page = env.get("/mapping?preview=1")
    assert page.status_code == 200
    assert "can view the mapping but not change" in page.text
    assert 'id="preview"' not in page.text
    assert re.search(r'<select id="f-first_name" name="first_name" disabled', page.text)
    refused = env.post("/mapping/rules", {"value": "Remote", "location": "HQ"})
    assert refused.status_code == 403


def test_the_settings_form_links_to_the_mapping(env: Env) -> None:
    assert 'href="/accounts/acme/directory/mapping"' in env.get("/settings").text
    assert "Mapping and preview" in env.get().text


def test_not_connected_goes_to_the_connect_form(
    app_client: TestClient, container: Container
) -> None:
    env = make_env(app_client, container, connected=False)
    for response in (
        env.get("/mapping", follow_redirects=False),
        env.post("/mapping", FORM),
        env.post("/mapping/preview", FORM),
        env.post("/mapping/rules", {"value": "Remote", "location": "HQ"}),
    ):
        assert response.status_code == 303, response.text
        assert response.headers["location"].endswith("?done=directory-not-connected")
