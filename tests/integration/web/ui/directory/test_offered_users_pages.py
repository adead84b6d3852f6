"""Admin UI, Users > Add users > From directory: manual provisioning over a fake directory, on
SQLite and PostgreSQL."""

from __future__ import annotations

import html as html_text
import re
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.db.models import SyncRun, User
from switchboard.portal.actors import Role
from switchboard.sync.engine import SyncEngine
from tests.factories import OPERATOR
from tests.integration.web.ui.directory.test_directory_tab import (  # noqa: F401 - adapters: the same fakes
    SALES,
    Env,
    adapters,
    add_users,
    make_env,
    run_path,
)

USERS = "/accounts/acme/users"
PAGE = f"{USERS}/from-directory"


def manual(app_client: TestClient, container: Container, role: Role = Role.ACCOUNT_ADMIN) -> Env:
    return make_env(app_client, container, role, provisioning="manual")


def offered(env: Env) -> list[str]:
    """The UPNs the page lists, in order."""
    page = env.client.get(PAGE)
    assert page.status_code == 200, page.text
    table = page.text.split('<table class="table" id="offers">', 1)
    if len(table) == 1:
        return []
    body = table[1].split("</table>", 1)[0]
    return re.findall(r"<br><span class=\"muted small\">([^<]+)</span>", body)


def post(env: Env, path: str, data: dict[str, Any]) -> Any:
    return env.client.post(
        PAGE + path, data={"csrf_token": env.token, **data}, follow_redirects=False
    )


def directory_users(env: Env) -> list[tuple[str | None, str]]:
    with env.container.unit_of_work() as s:
        return [
            (u.directory_id, u.source)
            for u in s.scalars(select(User).where(User.directory_id.is_not(None)).order_by(User.id))
        ]


def section(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">(.*?)</(?:div|p)>', html, re.S)
    assert found is not None, f"no #{element_id} in the page"
    return html_text.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


def test_offered_users_are_listed_and_added_one_at_a_time(
    app_client: TestClient, container: Container
) -> None:
    env = manual(app_client, container)
    add_users(env, "ada", "alan")
    # Nested: a group inside the synced group brings its members into scope too.
    env.directory.add_user("grace", givenName="Grace")
    env.directory.add_member("eng", "grace")
    env.directory.add_member(SALES, "eng")
    assert offered(env) == []  # no reconcile yet
    reconcile = env.client.get(run_path(env.post("/reconcile")))
    assert "skip" in reconcile.text and directory_users(env) == []

    users_tab = env.client.get(USERS).text
    assert 'href="/accounts/acme/users/new">New user' in users_tab
    assert f'href="{PAGE}">From directory' in users_tab
    assert offered(env) == [
        "ada@contoso.example",
        "alan@contoso.example",
        "grace@contoso.example",
    ]
    page = env.client.get(PAGE).text
    assert "Provisioning is manual" in page and "2026-01-15 09:00" in page

    run = run_path(post(env, "/add", {"user": "ada"}))
    shown = env.client.get(run).text
    assert "one user" in shown and "create" in shown and "applied" in shown
    assert directory_users(env) == [("ada", "directory")]
    assert offered(env) == ["alan@contoso.example", "grace@contoso.example"]
    with env.container.unit_of_work() as s:
        assert s.scalars(select(SyncRun.trigger)).all() == ["manual", "manual"]


def test_add_selected_names_who_was_added_and_who_left_the_synced_groups(
    app_client: TestClient, container: Container
) -> None:
    env = manual(app_client, container)
    add_users(env, "ada", "alan", "bob")
    run_path(env.post("/reconcile"))
    env.directory.remove_member(SALES, "bob")  # left the scope after the reconcile

    answer = post(env, "/add-selected", {"selected": ["ada", "bob", "alan", "ada"]})
    assert answer.status_code == 200
    text: str = answer.text
    assert section(text, "added").split() == [
        "Added:",
        "ada@contoso.example,",
        "alan@contoso.example.",
    ]
    refused = section(text, "not-added")
    assert "bob@contoso.example: has left the synced groups" in refused
    assert "add the user to a synced group in Entra ID" in refused
    assert sorted(directory_users(env)) == [("ada", "directory"), ("alan", "directory")]
    with env.container.unit_of_work() as s:
        ids = {u.directory_id: u.id for u in s.scalars(select(User))}
        runs = s.scalars(select(SyncRun).where(SyncRun.kind == "single")).all()
    assert f'href="{USERS}/{ids["ada"]}">ada@contoso.example' in text
    assert len(runs) == 3  # one per ticked user, the repeated tick ignored
    assert f'href="/accounts/acme/directory/runs/{runs[1].number}">run #{runs[1].number}' in text


def test_adding_one_who_left_the_synced_groups_says_so_on_the_run(
    app_client: TestClient, container: Container
) -> None:
    env = manual(app_client, container)
    add_users(env, "ada")
    run_path(env.post("/reconcile"))
    env.directory.remove_member(SALES, "ada")
    shown = env.client.get(run_path(post(env, "/add", {"user": "ada"}))).text
    assert "not in a synced group; add the user to one in Entra ID" in shown
    assert "out_of_scope" not in shown  # internal codes stay in the CSV export
    assert directory_users(env) == []


def test_nothing_chosen_or_too_many_is_explained(
    app_client: TestClient, container: Container
) -> None:
    env = manual(app_client, container)
    add_users(env, "ada")
    run_path(env.post("/reconcile"))
    before = env.run_ids()
    none = post(env, "/add-selected", {})
    assert none.status_code == 422
    assert "Tick at least one user to add" in none.text
    assert "ada@contoso.example" in none.text  # the list is still there
    many = post(env, "/add-selected", {"selected": [f"u{i}" for i in range(51)]})
    assert many.status_code == 422
    assert "At most 50 users at a time; 51 were ticked" in many.text
    blank = post(env, "/add", {"user": " "})
    assert blank.status_code == 422
    assert "Choose the directory user to add" in blank.text
    assert env.run_ids() == before
    forged = env.client.post(PAGE + "/add", data={"user": "ada"}, follow_redirects=False)
    assert forged.status_code == 403 and "security token" in forged.text
    assert env.run_ids() == before


def test_empty_list_suggests_a_reconcile(app_client: TestClient, container: Container) -> None:
    env = manual(app_client, container)
    page = env.client.get(PAGE).text
    assert "No directory users are waiting to be added" in page
    assert 'action="/accounts/acme/directory/reconcile"' in page
    assert 'id="offers"' not in page


def test_automatic_provisioning_explains_that_every_sync_adds_users(
    app_client: TestClient, container: Container
) -> None:
    env = make_env(app_client, container)  # automatic provisioning
    add_users(env, "ada")
    run_path(env.post("/reconcile"))
    assert directory_users(env) == [("ada", "directory")]
    page = env.client.get(PAGE).text
    automatic = section(page, "automatic")
    assert "every sync adds the users of the synced groups" in automatic
    assert 'href="/accounts/acme/directory">Directory tab</a>' in page
    assert "No directory users are waiting" not in page and 'id="offers"' not in page


def test_without_a_connection_only_new_user_is_offered(
    app_client: TestClient, container: Container
) -> None:
    env = make_env(app_client, container, connected=False)
    users_tab = env.client.get(USERS).text
    assert 'href="/accounts/acme/users/new">New user' in users_tab
    assert "from-directory" not in users_tab
    away = env.client.get(PAGE, follow_redirects=False)
    assert away.headers["location"] == "/accounts/acme/directory?done=directory-not-connected"
    refused = post(env, "/add", {"user": "ada"})
    assert refused.headers["location"] == away.headers["location"]


def test_a_viewer_sees_the_list_without_buttons_and_cannot_add(
    app_client: TestClient, container: Container
) -> None:
    env = manual(app_client, container, Role.ACCOUNT_VIEWER)
    add_users(env, "ada")
    SyncEngine(container, container.directory_factory()).reconcile(OPERATOR, "acme")
    users_tab = env.client.get(USERS).text
    assert "New user" not in users_tab and f'href="{PAGE}"' in users_tab
    page = env.client.get(PAGE).text
    assert offered(env) == ["ada@contoso.example"]
    assert re.findall(r'<form method="post" action="([^"]+)"', page) == ["/logout"]
    # Sign out and the search (a GET form) are the only buttons.
    page = page.replace('<button type="submit" class="btn">Search</button>', "")
    assert "<button" not in page.replace('<button type="submit" class="btn btn-quiet">', "")
    assert "Read-only" in page and "An account admin can add them" in page
    before = env.run_ids()
    for path, data in (("/add", {"user": "ada"}), ("/add-selected", {"selected": "ada"})):
        response = post(env, path, data)
        assert response.status_code == 403, path
        assert "can only read" in response.text
    assert env.run_ids() == before and directory_users(env) == []
