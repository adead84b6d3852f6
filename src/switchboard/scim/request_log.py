"""The SCIM request log: one entry per request an account's SCIM client made, for its admins.

An entry holds the method, the path (never the query string: a filter may carry a user's
name or email, and nothing a client sends as a credential or a body is kept), the user or group
the request was about, the status, what changed in words and the error an admin can act on.
Entries older than the sync log's retention (SWITCHBOARD_RUN_RETENTION_DAYS) are pruned by the
same daily job.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, delete, or_, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, ScimRequest
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import ValidationFailed
from switchboard.sync.ports import Transactions

log = logging.getLogger("switchboard.scim")

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
StatusClass = Literal["2xx", "4xx", "5xx", "ok", "failed"]
STATUS_CLASSES: tuple[StatusClass, ...] = ("2xx", "4xx", "5xx", "ok", "failed")
MAX_PAGE = 1000
SEARCH_MAX = 200
TEXT_MAX = 2000  # what changed and the error: a sentence or two, never a body
PRUNE_BATCH = 5000
EXPORT_CHUNK = 1000
CSV_COLUMNS = ("time", "method", "path", "user", "status", "change", "error", "duration_ms")
# Spreadsheets run a cell that starts with one of these as a formula: such cells get a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def record(
    session: Session,
    account_id: int,
    *,
    method: str,
    path: str,
    status: int,
    subject: str | None = None,
    change: str | None = None,
    error: str | None = None,
    duration_ms: int = 0,
) -> ScimRequest:
    """Add one entry to the account's log (the caller commits)."""
    entry = ScimRequest(
        account_id=account_id,
        at=now(session),
        method=method.upper()[:8],
        # Only the path: whatever came after "?" is dropped, whoever calls this.
        path=path.split("?", 1)[0][:300],
        subject=_clip(subject, 254),
        status=status,
        change=_clip(change, TEXT_MAX),
        error=_clip(error, TEXT_MAX),
        duration_ms=max(0, min(int(duration_ms), 2**31 - 1)),
    )
    session.add(entry)
    return entry


def _clip(value: str | None, size: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[:size] if value else None


@dataclass(frozen=True)
class Filters:
    """What an admin narrows the log to; every part is optional."""

    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    method: str | None = None
    status_class: str | None = None
    search: str | None = None

    def checked(self, *, empty_range_ok: bool = False) -> Filters:
        """The filters, or ValidationFailed naming the one that is wrong. ``empty_range_ok``:
        a range that ends before it starts matches nothing instead (the API's reading)."""
        method = self.method.strip().upper() if self.method else None
        if method and method not in METHODS:
            raise ValidationFailed(f"method: choose one of {', '.join(METHODS)}", field="method")
        status_class = self.status_class.strip().lower() if self.status_class else None
        if status_class and status_class not in STATUS_CLASSES:
            raise ValidationFailed(
                f"outcome: choose one of {', '.join(STATUS_CLASSES)}", field="outcome"
            )
        search = self.search.strip() if self.search else None
        if search and len(search) > SEARCH_MAX:
            raise ValidationFailed(f"search: use at most {SEARCH_MAX} characters", field="q")
        until = self.until
        if self.since and until and self.since > until:
            if not empty_range_ok:
                raise ValidationFailed("the date range ends before it starts", field="until")
            until = self.since  # from since to before since: nothing
        return Filters(self.since, until, method or None, status_class or None, search or None)

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.since is not None:
            found.append(ScimRequest.at >= self.since)
        if self.until is not None:
            found.append(ScimRequest.at < self.until)
        if self.method:
            found.append(ScimRequest.method == self.method)
        if self.status_class:
            found.append(_status_condition(self.status_class))
        if self.search:
            found.append(
                or_(
                    ScimRequest.subject.icontains(self.search, autoescape=True),
                    ScimRequest.path.icontains(self.search, autoescape=True),
                )
            )
        return found


def _status_condition(status_class: str) -> ColumnElement[bool]:
    status = ScimRequest.status
    if status_class == "ok":
        return status < 400
    if status_class == "failed":
        return status >= 400
    low = int(status_class[0]) * 100
    return and_(status >= low, status < low + 100)


def _query(account_id: int, filters: Filters) -> Select[ScimRequest]:
    return (
        select(ScimRequest)
        .where(ScimRequest.account_id == account_id, *filters.conditions())
        .order_by(ScimRequest.at.desc(), ScimRequest.id.desc())
    )


def entries(
    session: Session,
    actor: Actor,
    account: Account,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    method: str | None = None,
    status_class: str | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[ScimRequest]:
    """The account's entries, newest first. Ask for one more than a page to learn whether
    another page follows (the log can be long: it is never counted whole)."""
    actor.require_read(account.id)
    filters = Filters(since, until, method, status_class, search).checked()
    limit = max(1, min(limit, MAX_PAGE + 1))
    return list(session.scalars(_query(account.id, filters).limit(limit).offset(max(0, offset))))


def as_dict(entry: ScimRequest) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "method": entry.method,
        "path": entry.path,
        "user": entry.subject,
        "status": entry.status,
        "change": entry.change,
        "error": entry.error,
        "duration_ms": entry.duration_ms,
    }


def _csv_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _chunks(
    tx: Transactions, actor: Actor, account_id: int, filters: Filters, chunk: int
) -> Iterator[list[dict[str, Any]]]:
    """The entries in pages of ``chunk``, each read in a short transaction of its own, walked
    by (time, id) so entries logged during a long export neither repeat nor shift pages."""
    actor.require_read(account_id)
    filters = filters.checked()
    cursor: tuple[datetime, int] | None = None
    while True:
        query = _query(account_id, filters)
        if cursor is not None:
            at, entry_id = cursor
            query = query.where(
                or_(ScimRequest.at < at, and_(ScimRequest.at == at, ScimRequest.id < entry_id))
            )
        with tx.unit_of_work() as session:
            found = list(session.scalars(query.limit(chunk)))
            rows = [as_dict(e) for e in found]
            if found:
                cursor = (found[-1].at, found[-1].id)
        yield rows
        if len(found) < chunk:
            return


def csv_export(
    tx: Transactions,
    actor: Actor,
    account_id: int,
    filters: Filters = Filters(),
    *,
    chunk: int = EXPORT_CHUNK,
) -> Iterator[str]:
    """The filtered log as CSV text, a chunk of entries at a time, newest first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for rows in _chunks(tx, actor, account_id, filters, chunk):
        for row in rows:
            writer.writerow(
                [
                    row["at"],
                    row["method"],
                    _csv_cell(row["path"]),
                    _csv_cell(row["user"] or ""),
                    row["status"],
                    _csv_cell(row["change"] or ""),
                    _csv_cell(row["error"] or ""),
                    row["duration_ms"],
                ]
            )
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def json_export(
    tx: Transactions,
    actor: Actor,
    account_id: int,
    filters: Filters = Filters(),
    *,
    chunk: int = EXPORT_CHUNK,
) -> Iterator[str]:
    """The filtered log as one JSON array of entries, newest first, written a chunk at a time."""
    yield "["
    first = True
    for rows in _chunks(tx, actor, account_id, filters, chunk):
        for row in rows:
            yield ("" if first else ",") + "\n" + json.dumps(row, ensure_ascii=False)
            first = False
    yield "\n]\n"


def prune(tx: Transactions, *, retention_days: int, batch: int = PRUNE_BATCH) -> int:
    """Delete the entries older than ``retention_days``, one account and ``batch`` rows per
    short transaction along the (account, time) index; the number deleted."""
    with tx.unit_of_work() as session:
        cutoff = now(session) - timedelta(days=retention_days)
        accounts = list(session.scalars(select(Account.id).order_by(Account.id)))
    deleted = 0
    for account_id in accounts:
        while True:
            with tx.unit_of_work() as session:
                ids = select(ScimRequest.id).where(
                    ScimRequest.account_id == account_id, ScimRequest.at < cutoff
                )
                gone = list(session.scalars(ids.limit(batch)))
                if gone:
                    session.execute(delete(ScimRequest).where(ScimRequest.id.in_(gone)))
            deleted += len(gone)
            if len(gone) < batch:
                break
    if deleted:
        log.info("SCIM request log retention (%d days): pruned %d entries", retention_days, deleted)
    return deleted
