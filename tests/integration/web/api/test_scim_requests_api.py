"""GET /api/v1/accounts/{account}/directory/scim/requests: the SCIM request log over the API,
filtered and paged, as JSON or CSV. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.portal.actors import Role
from switchboard.scim import request_log
from tests import factories

URL = "/api/v1/accounts/acme/directory/scim/requests"


def seed(container: Container, clock: FixedClock) -> None:
    with container.unit_of_work() as s:
        account_id = factories.tenant(s, "acme").account.id
    for n in range(7):
        with container.unit_of_work() as s:
            request_log.record(
                s,
                account_id,
                method="PATCH" if n % 2 else "POST",
                path=f"/scim/v2/acme/Users/{n}",
                status=400 if n == 3 else 200,
                subject=f"user{n}@contoso.com",
                change=None if n == 3 else "updated: email",
                error="emails[0].value: enter an email address" if n == 3 else None,
                duration_ms=n,
            )
        clock.advance(timedelta(minutes=10))


def test_a_viewer_pages_through_the_log_newest_first(
    app_client: TestClient, container: Container, clock: FixedClock
) -> None:
    seed(container, clock)
    viewer = factories.token_for(container, "v@acme.example", Role.ACCOUNT_VIEWER, "acme")
    headers = factories.bearer(viewer)
    first = app_client.get(URL, params={"limit": 3}, headers=headers).json()
    assert [i["user"] for i in first["items"]] == [f"user{n}@contoso.com" for n in (6, 5, 4)]
    assert (first["limit"], first["offset"], first["more"]) == (3, 0, True)
    last = app_client.get(URL, params={"limit": 3, "offset": 6}, headers=headers).json()
    assert [i["user"] for i in last["items"]] == ["user0@contoso.com"] and not last["more"]
    item = first["items"][0]
    assert set(item) == {"at", "method", "path", "user", "status", "change", "error", "duration_ms"}


def test_filters_and_the_csv_export(
    app_client: TestClient, container: Container, clock: FixedClock
) -> None:
    seed(container, clock)
    admin = factories.bearer(
        factories.token_for(container, "a@acme.example", Role.ACCOUNT_ADMIN, "acme")
    )
    failed = app_client.get(URL, params={"outcome": "failed"}, headers=admin).json()["items"]
    assert [(i["user"], i["status"], i["error"]) for i in failed] == [
        ("user3@contoso.com", 400, "emails[0].value: enter an email address")
    ]
    patches = app_client.get(URL, params={"method": "PATCH", "q": "USER5"}, headers=admin)
    assert [i["path"] for i in patches.json()["items"]] == ["/scim/v2/acme/Users/5"]
    start = clock.now() - timedelta(minutes=70)
    window = {
        "since": (start + timedelta(minutes=20)).isoformat(),
        "until": (start + timedelta(minutes=40)).isoformat(),
    }
    ranged = app_client.get(URL, params=window, headers=admin).json()["items"]
    assert [i["user"] for i in ranged] == ["user3@contoso.com", "user2@contoso.com"]

    exported = app_client.get(URL, params={"format": "csv", "outcome": "ok"}, headers=admin)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "acme-scim-requests.csv" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert tuple(rows[0]) == request_log.CSV_COLUMNS
    assert len(rows) == 1 + 6 and all(r[4] == "200" for r in rows[1:])


def test_wrong_filters_are_refused_naming_them(
    app_client: TestClient, container: Container, clock: FixedClock
) -> None:
    seed(container, clock)
    admin = factories.bearer(
        factories.token_for(container, "a@acme.example", Role.ACCOUNT_ADMIN, "acme")
    )
    for params in ({"outcome": "3xx"}, {"method": "TRACE"}, {"limit": "0"}):
        assert app_client.get(URL, params=params, headers=admin).status_code == 422
    backwards = app_client.get(
        URL,
        params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        headers=admin,
    )
    # A range that ends before it starts is valid input that matches nothing.
    assert backwards.status_code == 200
    assert backwards.json()["items"] == []
