"""The SCIM request log of an account: every request its SCIM client made, newest first,
filtered by method, outcome, text and dates, and exported as CSV or JSON with the same filters.
Viewers may read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from switchboard.portal.accounts import get_account
from switchboard.portal.errors import ValidationFailed
from switchboard.scim import request_log
from switchboard.scim.source import get_source
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.forms import FormError
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)

PAGE_SIZE = 50
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Text = Annotated[str, Query(max_length=200)]
OUTCOMES = (
    ("", "Any outcome"),
    ("ok", "Succeeded"),
    ("failed", "Failed"),
    ("2xx", "2xx"),
    ("4xx", "4xx (refused)"),
    ("5xx", "5xx (server error)"),
)
METHOD_OPTIONS = (("", "Any method"), *((m, m) for m in request_log.METHODS))


@dataclass(frozen=True)
class _Query:
    """The filters as the form sent them, and as the log reads them."""

    values: dict[str, str]
    filters: request_log.Filters | None
    error: FormError | None

    @property
    def given(self) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if v}


def _day(value: str, name: str, label: str) -> date | FormError | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return FormError(f"{label}: enter a date as YYYY-MM-DD", name)


def _read(method: str, outcome: str, q: str, since: str, until: str) -> _Query:
    values = {
        "method": method.strip().upper(),
        "outcome": outcome.strip().lower(),
        "q": q.strip(),
        "since": since.strip(),
        "until": until.strip(),
    }
    first = _day(values["since"], "since", "from")
    last = _day(values["until"], "until", "to")
    for found in (first, last):
        if isinstance(found, FormError):
            return _Query(values, None, found)
    assert not isinstance(first, FormError) and not isinstance(last, FormError)
    if first and last and last < first:
        return _Query(values, None, FormError("to: choose a day on or after the first", "until"))
    try:
        filters = request_log.Filters(
            since=datetime.combine(first, time(), UTC) if first else None,
            # The "to" day is included: entries before the next midnight (UTC).
            until=datetime.combine(last + timedelta(days=1), time(), UTC) if last else None,
            method=values["method"] or None,
            status_class=values["outcome"] or None,
            search=values["q"] or None,
        ).checked()
    except ValidationFailed as exc:
        return _Query(values, None, FormError(exc.message, exc.field))
    return _Query(values, filters, None)


def _page(request: Request, viewer: Viewer, slug: str, query: _Query, offset: int) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "directory")
        account = context["account"]
        found = []
        if query.filters is not None:
            f = query.filters
            found = request_log.entries(
                session,
                viewer.actor,
                account,
                since=f.since,
                until=f.until,
                method=f.method,
                status_class=f.status_class,
                search=f.search,
                limit=PAGE_SIZE + 1,
                offset=offset,
            )
        context.update(
            entries=found[:PAGE_SIZE],
            more=len(found) > PAGE_SIZE,
            offset=offset,
            page_size=PAGE_SIZE,
            values=query.values,
            filters=query.given,
            methods=METHOD_OPTIONS,
            outcomes=OUTCOMES,
            error=query.error,
            scim_connected=get_source(session, account) is not None,
        )
        return render(
            request,
            "account/directory_scim_log.html",
            context,
            status_code=422 if query.error else 200,
        )


@router.get("/accounts/{slug}/directory/scim/log")
def scim_log(
    request: Request,
    slug: str,
    viewer: CurrentViewer,
    method: Text = "",
    outcome: Text = "",
    q: Text = "",
    since: Text = "",
    until: Text = "",
    offset: Offset = 0,
) -> Response:
    return _page(request, viewer, slug, _read(method, outcome, q, since, until), offset)


def _export(request: Request, viewer: Viewer, slug: str, query: _Query, kind: str) -> Response:
    if query.filters is None:
        return _page(request, viewer, slug, query, 0)
    c = container(request)
    with c.unit_of_work() as session:
        account = get_account(session, viewer.actor, slug)
        account_id, name = account.id, account.slug
    if kind == "csv":
        body = request_log.csv_export(c, viewer.actor, account_id, query.filters)
        media_type = "text/csv; charset=utf-8"
    else:
        body = request_log.json_export(c, viewer.actor, account_id, query.filters)
        media_type = "application/json"
    return StreamingResponse(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}-scim-log.{kind}"'},
    )


@router.get("/accounts/{slug}/directory/scim/log.csv")
def scim_log_csv(
    request: Request,
    slug: str,
    viewer: CurrentViewer,
    method: Text = "",
    outcome: Text = "",
    q: Text = "",
    since: Text = "",
    until: Text = "",
) -> Response:
    return _export(request, viewer, slug, _read(method, outcome, q, since, until), "csv")


@router.get("/accounts/{slug}/directory/scim/log.json")
def scim_log_json(
    request: Request,
    slug: str,
    viewer: CurrentViewer,
    method: Text = "",
    outcome: Text = "",
    q: Text = "",
    since: Text = "",
    until: Text = "",
) -> Response:
    return _export(request, viewer, slug, _read(method, outcome, q, since, until), "json")
