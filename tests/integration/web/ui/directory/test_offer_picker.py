"""The "From directory" picker: each offered user's name, email and office, a search on the
server, and adding every user the search found; on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from tests.integration.web.ui.directory.test_directory_tab import (  # noqa: F401 - adapters: the same fakes
    SALES,
    Env,
    adapters,
    run_path,
)
from tests.integration.web.ui.directory.test_offered_users_pages import (
    PAGE,
    directory_users,
    manual,
    post,
)


def offer(env: Env, uid: str, name: str, office: str) -> None:
    first, last = name.split()
    env.directory.add_user(
        uid, givenName=first, surname=last, displayName=name, officeLocation=office
    )
    env.directory.add_member(SALES, uid)


def listed(html: str) -> list[str]:
    table = html.split('<table class="table" id="offers">', 1)
    if len(table) == 1:
        return []
    return re.findall(r'name="selected" value="([^"]+)"', table[1].split("</table>", 1)[0])


def picker(app_client: TestClient, container: Container) -> Env:
    env = manual(app_client, container)
    offer(env, "ada", "Ada Lovelace", "HQ")
    offer(env, "alan", "Alan Turing", "Branch")
    offer(env, "grace", "Grace Hopper", "Branch")
    run_path(env.post("/reconcile"))
    return env


def test_each_offered_user_shows_name_email_office_and_location(
    app_client: TestClient, container: Container
) -> None:
    env = picker(app_client, container)
    page = env.client.get(PAGE).text
    row = re.search(r"<tr>\s*<td><input[^>]*value=\"alan\".*?</tr>", page, re.S)
    assert row is not None
    cells = [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<td>(.*?)</td>", row[0])]
    assert cells[1] == ["Alan", "Turing", "alan@contoso.example"]
    assert cells[2] == ["alan@contoso.example"] and cells[3] == ["Branch"]
    assert cells[4] == ["Branch"]  # the portal location the user lands in
    assert listed(page) == ["ada", "alan", "grace"]  # by name
    assert 'data-select-all="selected"' in page and "Add all 3 users" in page
    assert '<script src="/static/js/select-all.js" defer></script>' in page


def test_the_search_narrows_the_list_by_name_email_or_office(
    app_client: TestClient, container: Container
) -> None:
    env = picker(app_client, container)
    assert listed(env.client.get(PAGE, params={"q": "branch"}).text) == ["alan", "grace"]
    assert listed(env.client.get(PAGE, params={"q": "GRACE branch"}).text) == ["grace"]
    assert listed(env.client.get(PAGE, params={"q": "ada@contoso"}).text) == ["ada"]
    found = env.client.get(PAGE, params={"q": "branch"}).text
    assert "2 of 3 offered users match &#39;branch&#39;" in found
    assert "Add all 2 matching users" in found and 'name="q" value="branch"' in found
    none = env.client.get(PAGE, params={"q": "Atlantis"})
    assert none.status_code == 200 and "No offered user matches" in none.text
    assert env.client.get(PAGE, params={"q": "x" * 201}).status_code == 422


def test_add_all_matching_adds_what_the_search_found(
    app_client: TestClient, container: Container
) -> None:
    env = picker(app_client, container)
    added = post(env, "/add-selected", {"all": "matching", "q": "branch"})
    assert added.status_code == 200, added.text
    assert "Added:" in added.text
    assert sorted(d or "" for d, _ in directory_users(env)) == ["alan", "grace"]
    assert listed(env.client.get(PAGE).text) == ["ada"]
    nothing = post(env, "/add-selected", {"all": "matching", "q": "Atlantis"})
    assert nothing.status_code == 422 and "No offered user matches the search" in nothing.text
