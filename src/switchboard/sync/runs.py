"""Run logs: each run's trigger, kind, status, counts and per-user items.

The run in progress is ``sync.run.Run``; this module writes and reads the records it leaves.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, SyncRun, SyncRunItem
from switchboard.db.raw_rows import insert_rows, json_text
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import NotFound
from switchboard.sync.failure_groups import Group, UserRef, group_failures


class RunKind(StrEnum):
    FULL = "full"
    DELTA = "delta"
    SINGLE = "single"


class Trigger(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    NOTIFICATION = "notification"
    API = "api"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    # Deletions (and with the creation guard, creates) wait for an admin's approval.
    HELD = "held"
    # Stopped heartbeating: another start took it as dead; what it carried out stays.
    ABANDONED = "abandoned"
    # Entra ID asked to wait (throttled); the sync resumes after ``resume_after``.
    INTERRUPTED = "interrupted"


def next_number(session: Session, account_id: int) -> int:
    """The account's next run number (1, 2, ...). Call under the start's lock, so two starts
    never take the same one (the database's unique index is the backstop)."""
    last = session.scalar(select(func.max(SyncRun.number)).where(SyncRun.account_id == account_id))
    return int(last or 0) + 1


def start(
    session: Session,
    account: Account,
    *,
    trigger: Trigger | str,
    kind: RunKind | str,
    dry_run: bool,
) -> SyncRun:
    stamp = now(session)
    run = SyncRun(
        account_id=account.id,
        number=next_number(session, account.id),
        trigger=Trigger(trigger).value,
        kind=RunKind(kind).value,
        status=RunStatus.RUNNING.value,
        dry_run=dry_run,
        counts={},
        started_at=stamp,
        heartbeat_at=stamp,
    )
    session.add(run)
    session.flush()
    return run


@dataclass(frozen=True)
class ItemRecord:
    action: str
    state: str
    directory_id: str | None
    username: str | None
    user_id: int | None = None
    fields: tuple[str, ...] = ()
    error_code: str | None = None
    message: str | None = None
    details: dict[str, str] | None = None


def _clip(value: str | None, size: int) -> str | None:
    # Directory data can exceed the portal's limits; the run log must still record it.
    return value if value is None or len(value) <= size else value[: size - 1] + "…"


ITEM_COLUMNS = (
    "run_id",
    "action",
    "state",
    "directory_id",
    "username",
    "user_id",
    "fields",
    "error_code",
    "message",
    "details",
)


def add_items(session: Session, run_id: int, records: Iterable[ItemRecord]) -> None:
    # One executemany of plain tuples, no ORM objects: a 100,000-user reconcile logs 100,000
    # items. Most items of a batch name the same fields: their JSON is written once.
    field_texts: dict[tuple[str, ...], str] = {}
    rows = []
    for r in records:
        fields = field_texts.get(r.fields)
        if fields is None:
            fields = field_texts[r.fields] = json.dumps(list(r.fields))
        rows.append(
            (
                run_id,
                r.action,
                r.state,
                _clip(r.directory_id, 64),
                _clip(r.username, 254),
                r.user_id,
                fields,
                _clip(r.error_code, 64),
                r.message,
                json_text(r.details),
            )
        )
    insert_rows(session, "sync_run_items", ITEM_COLUMNS, rows)


def finish(
    session: Session,
    run_id: int,
    *,
    status: RunStatus | str,
    counts: dict[str, int],
    message: str | None = None,
    progress: dict[str, int] | None = None,
) -> SyncRun:
    run = session.get(SyncRun, run_id)
    assert run is not None
    run.status = RunStatus(status).value
    run.counts = counts
    run.message = message
    run.finished_at = now(session)
    run.phase = "finished"
    if progress is not None:
        run.progress = progress
    return run


def list_runs(
    session: Session, actor: Actor, account: Account, *, limit: int = 50, offset: int = 0
) -> tuple[list[SyncRun], int]:
    actor.require_read(account.id)
    query = select(SyncRun).where(SyncRun.account_id == account.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    runs = session.scalars(query.order_by(SyncRun.number.desc()).limit(limit).offset(offset))
    return list(runs), total


def get_run(session: Session, actor: Actor, account: Account, number: int) -> SyncRun:
    """The account's run ``number`` (its own count, 1, 2, ...). Runs are addressed by it
    everywhere people see them; the table's id stays internal, so no account learns how many
    runs the others have."""
    actor.require_read(account.id)
    run = session.scalar(
        select(SyncRun).where(SyncRun.account_id == account.id, SyncRun.number == number)
    )
    if run is None:
        raise NotFound(f"run #{number} not found in account '{account.slug}'", code="run_not_found")
    return run


def items(
    session: Session,
    run: SyncRun,
    *,
    action: str | None = None,
    state: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[SyncRunItem]:
    query = select(SyncRunItem).where(SyncRunItem.run_id == run.id)
    if action is not None:
        query = query.where(SyncRunItem.action == action)
    if state is not None:
        query = query.where(SyncRunItem.state == state)
    query = query.order_by(SyncRunItem.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


# Distinct (code, message) pairs and users read to group a run's failures: a run with more
# still shows its largest groups and their first users.
FAILURE_PAIRS_MAX = 1000
FAILURE_EXAMPLES_MAX = 2000


def failures(session: Session, run: SyncRun, *, per_group: int = 50) -> list[Group]:
    """The run's failed items grouped by cause (``sync.failure_groups``), largest first."""
    failed = (SyncRunItem.run_id == run.id, SyncRunItem.state == "failed")
    counted = session.execute(
        select(SyncRunItem.error_code, SyncRunItem.message, func.count())
        .where(*failed)
        .group_by(SyncRunItem.error_code, SyncRunItem.message)
        .order_by(func.count().desc())
        .limit(FAILURE_PAIRS_MAX)
    )
    rows = session.execute(
        select(
            SyncRunItem.error_code,
            SyncRunItem.username,
            SyncRunItem.directory_id,
            SyncRunItem.user_id,
            SyncRunItem.message,
        )
        .where(*failed)
        .order_by(SyncRunItem.id)
        .limit(FAILURE_EXAMPLES_MAX)
    )
    return group_failures(
        [(code, message, int(n)) for code, message, n in counted],
        [(r.error_code, UserRef(r.username, r.directory_id, r.user_id, r.message)) for r in rows],
        per_group=per_group,
    )


CSV_COLUMNS = (
    "directory_id",
    "username",
    "user_id",
    "action",
    "state",
    "fields",
    "error_code",
    "message",
)


def csv_lines(load: Callable[[int, int], list[SyncRunItem]], *, chunk: int = 1000) -> Iterator[str]:
    """A run's items as CSV text, read ``chunk`` items at a time through ``load(offset, limit)``
    (each call may use a short transaction of its own, so a long export holds nothing)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    offset = 0
    while True:
        found = load(offset, chunk)
        for i in found:
            writer.writerow(
                [
                    i.directory_id,
                    i.username,
                    i.user_id,
                    i.action,
                    i.state,
                    " ".join(i.fields),
                    i.error_code,
                    i.message,
                ]
            )
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if len(found) < chunk:
            return
        offset += chunk
