"""/api/v1/accounts/{account}/directory/scim/requests: the account's SCIM request log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from switchboard.db.models import ScimRequest
from switchboard.portal.errors import ValidationFailed
from switchboard.scim import request_log
from switchboard.web.deps import DB, Caller, Offset, ReadAccount, container

router = APIRouter(prefix="/accounts/{account}/directory/scim", tags=["scim"])


class ScimRequestOut(BaseModel):
    at: datetime
    method: str
    path: str = Field(description="the path, without its query string")
    user: str | None = Field(description="the userName or group displayName it was about")
    status: int
    change: str | None = Field(description="what changed, in words")
    error: str | None = Field(description="why it was refused, in words")
    duration_ms: int

    @classmethod
    def of(cls, e: ScimRequest) -> ScimRequestOut:
        return cls(
            at=e.at,
            method=e.method,
            path=e.path,
            user=e.subject,
            status=e.status,
            change=e.change,
            error=e.error,
            duration_ms=e.duration_ms,
        )


class ScimRequestPageOut(BaseModel):
    items: list[ScimRequestOut]
    limit: int
    offset: int
    more: bool = Field(description="whether older entries follow this page")


def _time(value: str | None, name: str) -> datetime | None:
    """An RFC 3339 time (or a date); one without a zone is taken as UTC, the zone of the log."""
    if value is None:
        return None
    try:
        found = datetime.fromisoformat(value.strip().upper())
    except ValueError:
        raise ValidationFailed(
            f"{name}: enter a time as 2026-01-15T09:00:00Z or a date as 2026-01-15 (UTC)",
            field=name,
        ) from None
    if found.tzinfo is None:
        return found.replace(tzinfo=UTC)
    try:
        return found.astimezone(UTC)
    except OverflowError:  # an offset that takes year 1 or 9999 out of range: their edge
        edge = datetime.min if found.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)


def _time_query(description: str) -> Any:
    return Query(max_length=40, description=description, json_schema_extra={"format": "date-time"})


@router.get(
    "/requests",
    response_model=ScimRequestPageOut,
    responses={
        200: {
            "description": "A page of entries (JSON), or every matching entry (format=csv)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def list_requests(
    request: Request,
    account: ReadAccount,
    session: DB,
    actor: Caller,
    method: Annotated[Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None, Query()] = None,
    outcome: Annotated[
        Literal["2xx", "4xx", "5xx", "ok", "failed"] | None,
        Query(description="2xx, 4xx, 5xx; ok (below 400) or failed (400 and above)"),
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="text in the user or the path")
    ] = None,
    since: Annotated[str | None, _time_query("from this time, inclusive (UTC if no zone)")] = None,
    until: Annotated[str | None, _time_query("before this time (UTC if no zone)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
    format: Literal["json", "csv"] = "json",
) -> ScimRequestPageOut | Response:
    """Newest first. ``format=csv`` exports every entry that matches the filters (``limit``
    and ``offset`` page the JSON answer only)."""
    filters = request_log.Filters(
        _time(since, "since"), _time(until, "until"), method, outcome, q
    ).checked(empty_range_ok=True)
    if format == "csv":
        filename = f"{account.slug}-scim-requests.csv"
        return StreamingResponse(
            request_log.csv_export(container(request), actor, account.id, filters),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    found = request_log.entries(
        session,
        actor,
        account,
        since=filters.since,
        until=filters.until,
        method=filters.method,
        status_class=filters.status_class,
        search=filters.search,
        limit=limit + 1,
        offset=offset,
    )
    return ScimRequestPageOut(
        items=[ScimRequestOut.of(e) for e in found[:limit]],
        limit=limit,
        offset=offset,
        more=len(found) > limit,
    )
