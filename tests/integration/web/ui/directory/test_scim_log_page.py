"""The SCIM request log page: newest first, filtered, paged, exported with the same filters;
viewers read it. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import timedelta

from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.portal.actors import Role
from switchboard.scim import request_log
from tests import factories
from tests.ui_support import make_admin, sign_in

PAGE = "/accounts/acme/directory/scim/log"


def seed(container: Container, clock: FixedClock, count: int = 3) -> None:
    """acme's requests, one a day back from now, newest last; the third from last fails."""
    with container.unit_of_work() as s:
        account_id = factories.tenant(s, "acme").account.id
    clock.advance(timedelta(days=-count))
    for n in range(count):
        clock.advance(timedelta(days=1))
        with container.unit_of_work() as s:
            failed = n == count - 3
            request_log.record(
                s,
                account_id,
                method="POST" if failed else "PATCH",
                path=f"/scim/v2/acme/Users/{n}",
                status=409 if failed else 200,
                subject=f"user{n}@contoso.com",
                change=None if failed else "updated: first name",
                error="a user with this userName already exists" if failed else None,
                duration_ms=7,
            )


def rows(page: str) -> list[str]:
    if "<tbody>" not in page:
        return []
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in body.split("</tr>")[:-1]
    ]


def viewer(app_client: TestClient, container: Container) -> None:
    make_admin(container, "viewer@acme.example", Role.ACCOUNT_VIEWER, "acme")
    sign_in(app_client, "viewer@acme.example")


def test_a_viewer_reads_the_log_newest_first_with_what_changed_and_why(
    app_client: TestClient, container: Container, clock: FixedClock
) -> None:
    seed(container, clock)
    viewer(app_client, container)
    page = app_client.get(PAGE)
    assert page.status_code == 200
    found = rows(page.text)
    assert len(found) == 3
    assert found[0].startswith(clock.now().strftime("%Y-%m-%d"))
    assert "PATCH /scim/v2/acme/Users/2 user2@contoso.com 200" in found[0]
    assert "updated: first name" in found[0]
    assert "POST /scim/v2/acme/Users/0 user0@contoso.com 409" in found[2]
    assert "a user with this userName already exists" in found[2]
    assert "does not take its users over SCIM" in page.text


def test_filters_narrow_the_page_and_its_exports(
    app_client: TestClient, container: Container, clock: FixedClock
) -> None:
    seed(container, clock)
    viewer(app_client, container)
    failed = app_client.get(PAGE, params={"outcome": "failed"})
    assert [r.split()[3] for r in rows(failed.text)] == ["/scim/v2/acme/Users/0"]
    assert 'href="/accounts/acme/directory/scim/log.csv?outcome=failed"' in failed.text
    day = (clock.now() - timedelta(days=1)).strftime("%Y-%m-%d")
    one_day = app_client.get(PAGE, params={"since": day, "until": day})
    assert [r.split()[4] for r in rows(one_day.text)] == ["user1@contoso.com"]
    text = app_client.get(PAGE, params={"q": "USER2", "method": "PATCH"})
    assert [r.split()[4] for r in rows(text.text)] == ["user2@contoso.com"]
    none = app_client.get(PAGE, params={"method": "DELETE"})
    assert rows(none.text) == [] and "No requests match these filters" in none.text

    exported = app_client.get(PAGE + ".csv", params={"method": "PATCH"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert 'filename="acme-scim-log.csv"' in exported.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(exported.text)))
    assert [r[3] for r in table[1:]] == ["user2@contoso.com", "user1@contoso.com"]
    as_json = app_client.get(PAGE + ".json", params={"outcome": "failed"})
    assert as_json.headers["content-type"].startswith("application/json")
    assert [e["error"] for e in json.loads(as_json.text)] == [
        "a user with this userName already exists"
    ]


def test_wrong_filters_are_shown_on_their_inputs(
    app_client: TestClient, container: Container, clock: FixedClock
) -> None:
    seed(container, clock)
    viewer(app_client, container)
    bad_date = app_client.get(PAGE, params={"since": "yesterday"})
    assert bad_date.status_code == 422
    assert 'id="err-since"' in bad_date.text and "YYYY-MM-DD" in bad_date.text
    backwards = app_client.get(PAGE, params={"since": "2026-02-02", "until": "2026-02-01"})
    assert backwards.status_code == 422 and 'id="err-until"' in backwards.text
    outcome = app_client.get(PAGE, params={"outcome": "3xx"})
    assert outcome.status_code == 422 and 'id="err-outcome"' in outcome.text
    # An export with a wrong filter shows the page and what to fix, never a file.
    export = app_client.get(PAGE + ".csv", params={"method": "TRACE"})
    assert export.status_code == 422 and 'id="err-method"' in export.text


def test_pages_of_fifty(app_client: TestClient, container: Container, clock: FixedClock) -> None:
    seed(container, clock, count=55)
    viewer(app_client, container)
    first = app_client.get(PAGE)
    assert len(rows(first.text)) == 50 and 'rel="next"' in first.text
    second = app_client.get(PAGE, params={"offset": 50})
    assert len(rows(second.text)) == 5 and 'rel="next"' not in second.text
    assert 'rel="prev"' in second.text
