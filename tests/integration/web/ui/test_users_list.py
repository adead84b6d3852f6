"""The users list: filters by source, status and location, sorting, both kept across pages;
a hand-typed unknown value is said plainly."""

from __future__ import annotations

import html
import re

from sqlalchemy import update
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.db.models import User
from switchboard.portal import users
from switchboard.portal.actors import Role
from switchboard.portal.schemas import UserIn
from tests import factories
from tests.ui_support import make_admin, sign_in

OP = factories.OPERATOR


def _seed(container: Container) -> factories.Tenant:
    """30 users: every third at Branch, every fifth from the directory, every tenth disabled."""
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
        for n in range(30):
            location = tenant.branch if n % 3 == 0 else tenant.hq
            user = users.create_user(
                session,
                OP,
                tenant.account,
                UserIn(
                    first_name=f"User{n:02d}",
                    last_name=f"Last{29 - n:02d}",
                    email=f"u{n:02d}@acme.example",
                    location_id=location.id,
                ),
            )
            changes: dict[str, object] = {}
            if n % 5 == 0:
                changes.update(source="directory", directory_id=f"dir-{n}")
            if n % 10 == 0:
                changes["status"] = "disabled_in_directory"
            if changes:  # set-up only: the sync would write these
                session.execute(update(User).where(User.id == user.id).values(**changes))
    make_admin(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    return tenant


def _emails(page: str) -> list[str]:
    return re.findall(r"<td>(u\d\d@acme\.example)</td>", page)


def _link(page: str, rel: str) -> str:
    found = re.search(rf'<a class="btn" href="([^"]+)" rel="{rel}">', page)
    assert found is not None, f"no {rel} link"
    return html.unescape(found.group(1))


def test_filters_and_sorting_are_done_by_the_database_and_survive_paging(
    app_client: TestClient, container: Container
) -> None:
    tenant = _seed(container)
    sign_in(app_client, "admin@acme.example")
    base = "/accounts/acme/users"
    directory = app_client.get(base, params={"source": "directory"}).text
    assert _emails(directory) == [f"u{n:02d}@acme.example" for n in (25, 20, 15, 10, 5, 0)]
    local = app_client.get(base, params={"source": "local", "sort": "email"}).text
    assert "24 users" in local and _emails(local)[0] == "u01@acme.example"
    disabled = app_client.get(base, params={"status": "disabled_in_directory"}).text
    assert sorted(_emails(disabled)) == ["u00@acme.example", "u10@acme.example", "u20@acme.example"]
    branch = app_client.get(
        base, params={"location": tenant.branch.id, "sort": "email", "dir": "desc"}
    ).text
    assert _emails(branch)[:2] == ["u27@acme.example", "u24@acme.example"]
    assert 'aria-sort="descending"' in branch
    by_extension = app_client.get(base, params={"sort": "extension", "dir": "desc"}).text
    extensions = re.findall(r"<td>(\d{4})</td>", by_extension)
    assert extensions == sorted(extensions, reverse=True) and len(extensions) == 25
    by_location = app_client.get(base, params={"sort": "location"}).text
    assert "Branch" in by_location.split("<tbody>")[1].split("</tr>")[0]

    # 30 users sorted by email descending: page 2 holds the last 5, filters kept in the links.
    first = app_client.get(base, params={"sort": "email", "dir": "desc"}).text
    assert _emails(first)[0] == "u29@acme.example"
    nxt = _link(first, "next")
    assert "sort=email" in nxt and "dir=desc" in nxt and "page=2" in nxt
    second = app_client.get(nxt).text
    assert _emails(second) == [f"u{n:02d}@acme.example" for n in (4, 3, 2, 1, 0)]
    back = _link(second, "prev")
    assert "sort=email" in back and "dir=desc" in back


def test_unknown_filter_values_are_said_plainly(
    app_client: TestClient, container: Container
) -> None:
    _seed(container)
    sign_in(app_client, "admin@acme.example")
    for params, said in (
        ({"source": "alien"}, "Choose a source from the list; 'alien' is not one"),
        ({"status": "gone"}, "Choose a status from the list"),
        ({"location": "999999"}, "Choose a location from the list"),
        ({"sort": "salary"}, "Choose a column to sort by from the list"),
        ({"dir": "sideways"}, "Choose an order from the list"),
    ):
        page = app_client.get("/accounts/acme/users", params=params)
        assert page.status_code == 422
        assert said in html.unescape(page.text)
        assert _emails(page.text) == []


def test_the_api_sorts_and_filters_too(app_client: TestClient, container: Container) -> None:
    _seed(container)
    token = factories.token_for(container, "bot@acme.example", Role.ACCOUNT_VIEWER, "acme")
    found = app_client.get(
        "/api/v1/accounts/acme/users",
        params={"source": "directory", "sort": "email", "order": "desc", "limit": 2},
        headers=factories.bearer(token),
    ).json()
    assert found["total"] == 6
    assert [u["email"] for u in found["items"]] == ["u25@acme.example", "u20@acme.example"]
    refused = app_client.get(
        "/api/v1/accounts/acme/users", params={"sort": "salary"}, headers=factories.bearer(token)
    )
    assert refused.status_code == 422
