"""The SCIM request log: reading it filtered, page by page, exporting it and pruning it with the
sync log's retention; one account never reads another's. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.models import Account, ScimRequest
from switchboard.jobs import sync_work
from switchboard.portal.actors import Role
from switchboard.portal.errors import NotFound, ValidationFailed
from switchboard.scim import request_log
from tests import factories
from tests.wiring import ContainerBuilder

OP = factories.OPERATOR


def seed(container: Container, clock: FixedClock) -> tuple[int, int]:
    """acme: five requests an hour apart (oldest first); beta: one."""
    with container.unit_of_work() as s:
        acme = factories.tenant(s, "acme").account.id
        beta = factories.tenant(s, "beta", area="415").account.id
    rows = [
        ("POST", "/scim/v2/acme/Users", 201, "alice@contoso.com", "created", None),
        ("GET", "/scim/v2/acme/Users", 200, None, None, None),
        ("PATCH", "/scim/v2/acme/Users/1", 200, "alice@contoso.com", "updated: first name", None),
        ("POST", "/scim/v2/acme/Users", 409, "bob@contoso.com", None, "userName bob is taken"),
        ("DELETE", "/scim/v2/acme/Groups/7", 500, "Sales", None, "the server failed"),
    ]
    for method, path, status, subject, change, error in rows:
        with container.unit_of_work() as s:
            request_log.record(
                s,
                acme,
                method=method,
                path=path,
                status=status,
                subject=subject,
                change=change,
                error=error,
                duration_ms=12,
            )
        clock.advance(timedelta(hours=1))
    with container.unit_of_work() as s:
        request_log.record(
            s, beta, method="POST", path="/scim/v2/beta/Users", status=201, subject="eve@beta"
        )
    return acme, beta


def read(container: Container, slug: str = "acme", **filters: Any) -> list[tuple[str, int]]:
    with container.unit_of_work() as s:
        account = s.scalars(select(Account).where(Account.slug == slug)).one()
        found = request_log.entries(s, OP, account, **filters)
        return [(e.method, e.status) for e in found]


def test_record_keeps_the_path_only_and_clips_long_words(
    container: Container, clock: FixedClock
) -> None:
    with container.unit_of_work() as s:
        account_id = factories.tenant(s, "acme").account.id
        entry = request_log.record(
            s,
            account_id,
            method="patch",
            path='/scim/v2/acme/Users?filter=userName eq "x"',
            status=200,
            subject="  ",
            change="c" * 5000,
            error=None,
            duration_ms=-3,
        )
        s.flush()
        assert (entry.method, entry.path, entry.subject) == ("PATCH", "/scim/v2/acme/Users", None)
        assert len(entry.change or "") == request_log.TEXT_MAX and entry.duration_ms == 0
        assert entry.at == clock.now()


def test_entries_newest_first_filtered_and_paged(container: Container, clock: FixedClock) -> None:
    seed(container, clock)
    assert read(container) == [
        ("DELETE", 500),
        ("POST", 409),
        ("PATCH", 200),
        ("GET", 200),
        ("POST", 201),
    ]
    assert read(container, method="post") == [("POST", 409), ("POST", 201)]
    assert read(container, status_class="failed") == [("DELETE", 500), ("POST", 409)]
    assert read(container, status_class="ok") == [("PATCH", 200), ("GET", 200), ("POST", 201)]
    assert read(container, status_class="4xx") == [("POST", 409)]
    assert read(container, status_class="2xx", method="GET") == [("GET", 200)]
    # Text in the user or in the path, any case; % and _ are taken as they are.
    assert read(container, search="ALICE") == [("PATCH", 200), ("POST", 201)]
    assert read(container, search="groups") == [("DELETE", 500)]
    assert read(container, search="%") == []
    start = clock.now() - timedelta(hours=5)  # the first entry's time
    assert read(container, since=start + timedelta(hours=1), until=start + timedelta(hours=3)) == [
        ("PATCH", 200),
        ("GET", 200),
    ]
    assert read(container, limit=2, offset=2) == [("PATCH", 200), ("GET", 200)]
    assert read(container, slug="beta") == [("POST", 201)]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"method": "TRACE"}, "method"),
        ({"status_class": "3xx"}, "outcome"),
        ({"search": "x" * 201}, "q"),
    ],
)
def test_a_wrong_filter_is_refused_naming_it(
    container: Container, clock: FixedClock, filters: dict[str, Any], field: str
) -> None:
    seed(container, clock)
    with pytest.raises(ValidationFailed) as refused:
        read(container, **filters)
    assert refused.value.field == field


def test_a_date_range_that_ends_before_it_starts_is_refused(
    container: Container, clock: FixedClock
) -> None:
    seed(container, clock)
    with pytest.raises(ValidationFailed, match="ends before it starts"):
        read(container, since=clock.now(), until=clock.now() - timedelta(days=1))


def test_an_admin_of_another_account_reads_nothing(container: Container, clock: FixedClock) -> None:
    seed(container, clock)
    with container.unit_of_work() as s:
        acme = s.scalars(select(Account).where(Account.slug == "acme")).one()
        beta = s.scalars(select(Account).where(Account.slug == "beta")).one()
        stranger = factories.actor_of(Role.ACCOUNT_ADMIN, beta)
        with pytest.raises(NotFound):
            request_log.entries(s, stranger, acme)
        viewer = factories.actor_of(Role.ACCOUNT_VIEWER, acme)
        assert len(request_log.entries(s, viewer, acme)) == 5
    with pytest.raises(NotFound):
        list(request_log.csv_export(container, stranger, acme.id))


def test_exports_honour_the_filters_across_chunks(container: Container, clock: FixedClock) -> None:
    acme, _ = seed(container, clock)
    text = "".join(request_log.csv_export(container, OP, acme, chunk=2))
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == request_log.CSV_COLUMNS
    assert [r[1] for r in rows[1:]] == ["DELETE", "POST", "PATCH", "GET", "POST"]
    assert rows[2][3:7] == ["bob@contoso.com", "409", "", "userName bob is taken"]

    failed = request_log.Filters(status_class="failed")
    data = json.loads("".join(request_log.json_export(container, OP, acme, failed, chunk=1)))
    assert [(d["method"], d["status"], d["user"]) for d in data] == [
        ("DELETE", 500, "Sales"),
        ("POST", 409, "bob@contoso.com"),
    ]
    assert set(data[0]) == {
        "at",
        "method",
        "path",
        "user",
        "status",
        "change",
        "error",
        "duration_ms",
    }
    assert (
        json.loads(
            "".join(request_log.json_export(container, OP, acme, request_log.Filters(search="zzz")))
        )
        == []
    )


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_quoted(
    container: Container, clock: FixedClock
) -> None:
    with container.unit_of_work() as s:
        account_id = factories.tenant(s, "acme").account.id
        request_log.record(
            s,
            account_id,
            method="POST",
            path="/scim/v2/acme/Users",
            status=201,
            subject='=HYPERLINK("http://x")',
        )
    rows = list(csv.reader(io.StringIO("".join(request_log.csv_export(container, OP, account_id)))))
    assert rows[1][3] == '\'=HYPERLINK("http://x")'


def count(container: Container) -> int:
    with container.unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(ScimRequest)) or 0)


def test_prune_drops_entries_older_than_the_retention_in_batches(
    container: Container, clock: FixedClock
) -> None:
    seed(container, clock)  # now: five hours after acme's first entry
    assert request_log.prune(container, retention_days=1) == 0
    clock.advance(timedelta(days=1, hours=-2, minutes=-30))
    # Older than a day: acme's first three entries.
    assert request_log.prune(container, retention_days=1, batch=2) == 3
    assert read(container) == [("DELETE", 500), ("POST", 409)]
    assert read(container, slug="beta") == [("POST", 201)]


def test_the_daily_run_log_prune_also_prunes_the_scim_log_with_its_setting(
    build_container: ContainerBuilder, clock: FixedClock
) -> None:
    container = build_container(settings=build_container.settings(run_retention_days=10))
    seed(container, clock)
    clock.advance(timedelta(days=10, hours=-3))
    sync_work.prune_run_log(container)
    assert count(container) == 6 - 2  # acme's two oldest, past ten days
    clock.advance(timedelta(days=1))
    sync_work.prune_run_log(container)
    assert count(container) == 0
