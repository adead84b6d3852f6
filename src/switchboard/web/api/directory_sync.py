"""/api/v1/accounts/{account}/directory: reconcile, delta, single-user sync and run logs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from switchboard.connection.registration import ConnectionTestRecord
from switchboard.connection.verification import verify_connection
from switchboard.db.models import SyncRun, SyncRunItem, WriteBackTask
from switchboard.directory.errors import GraphError
from switchboard.portal.errors import Conflict
from switchboard.sync import offers, runs, writeback
from switchboard.sync.engine import RunSummary, SyncEngine
from switchboard.web.deps import DB, Caller, Offset, PathId, ReadAccount, container

router = APIRouter(prefix="/accounts/{account}/directory", tags=["directory sync"])


class ReconcileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dry_run: bool = False
    wait: bool = Field(default=True, description="false: answer 202 at once, the run goes on")


class SyncUserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=254, description="userPrincipalName or object id")


class RunItemOut(BaseModel):
    directory_id: str | None
    username: str | None
    user_id: int | None
    action: str
    state: str
    fields: list[str]
    error_code: str | None
    message: str | None

    @classmethod
    def of(cls, i: SyncRunItem) -> RunItemOut:
        return cls(
            directory_id=i.directory_id,
            username=i.username,
            user_id=i.user_id,
            action=i.action,
            state=i.state,
            fields=list(i.fields),
            error_code=i.error_code,
            message=i.message,
        )


class RunOut(BaseModel):
    number: int = Field(
        description="the run's number within its account (1, 2, ...); the runs routes address"
        " the run by it"
    )
    trigger: str
    kind: str
    status: str = Field(
        description="running, succeeded, partial, failed, held (deletions wait for approval)"
        ", abandoned (it stopped without finishing; what it had carried out stays)"
        " or interrupted (Entra ID asked to wait; the sync resumes after the time named in"
        " the message)"
    )
    dry_run: bool
    counts: dict[str, int]
    phase: str | None = Field(
        None,
        description="reading, planning, applying while the run works; finished once it ended"
        " (none for runs from before phases were recorded)",
    )
    progress: dict[str, int] | None = Field(
        None,
        description="users read, changes planned, changes applied and errors so far; updated"
        " about twice a second while the run works",
    )
    decision: str | None = Field(None, description="a held run once decided: approved or rejected")
    decided_by: str | None = Field(
        None, description="a held run: who approved or rejected its held changes"
    )
    decided_at: datetime | None = None
    message: str | None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    items: list[RunItemOut] | None = None

    @classmethod
    def of(cls, r: SyncRun, items: list[SyncRunItem] | None = None) -> RunOut:
        return cls(
            number=r.number,
            trigger=r.trigger,
            kind=r.kind,
            status=r.status,
            dry_run=r.dry_run,
            counts=dict(r.counts),
            phase=r.phase,
            progress=dict(r.progress) if r.progress is not None else None,
            decision=r.decision,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
            message=r.message,
            started_at=r.started_at,
            finished_at=r.finished_at,
            items=[RunItemOut.of(i) for i in items] if items is not None else None,
        )


class RunPageOut(BaseModel):
    items: list[RunOut]
    total: int
    limit: int
    offset: int


def _engine(request: Request, session: DB) -> SyncEngine:
    # The run commits in transactions of its own; the request's (token bookkeeping) must not
    # hold locks meanwhile, which SQLite would not survive.
    session.commit()
    c = container(request)
    return SyncEngine(c, c.directory_factory())


def _summary(session: DB, account: ReadAccount, actor: Caller, summary: RunSummary) -> RunOut:
    run = runs.get_run(session, actor, account, summary.number)
    session.refresh(run)
    return RunOut.of(run, runs.items(session, run, limit=1000))


@router.post("/reconcile")
def reconcile(
    body: ReconcileIn,
    request: Request,
    response: Response,
    account: ReadAccount,
    session: DB,
    actor: Caller,
) -> RunOut:
    """Run a full reconcile (or a dry run that only records the plan)."""
    prepared = _engine(request, session).prepare(
        actor, account.slug, kind="full", trigger="api", dry_run=body.dry_run
    )
    if not body.wait:
        container(request).jobs.submit(f"reconcile:{account.slug}", prepared.execute)
        response.status_code = status.HTTP_202_ACCEPTED
        run = runs.get_run(session, actor, account, prepared.number)
        return RunOut.of(run)
    return _summary(session, account, actor, prepared.execute())


@router.post("/delta")
def delta(request: Request, account: ReadAccount, session: DB, actor: Caller) -> RunOut:
    """Run an incremental round from the saved delta links (a full reconcile when none)."""
    summary = _engine(request, session).delta(actor, account.slug, trigger="api")
    return _summary(session, account, actor, summary)


@router.post("/sync-user")
def sync_user(
    body: SyncUserIn, request: Request, account: ReadAccount, session: DB, actor: Caller
) -> RunOut:
    """Sync one user now, by userPrincipalName or object id."""
    summary = _engine(request, session).sync_user(actor, account.slug, body.user, trigger="api")
    return _summary(session, account, actor, summary)


@router.get("/runs")
def list_runs(
    account: ReadAccount,
    session: DB,
    actor: Caller,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> RunPageOut:
    found, total = runs.list_runs(session, actor, account, limit=limit, offset=offset)
    return RunPageOut(items=[RunOut.of(r) for r in found], total=total, limit=limit, offset=offset)


@router.get("/runs/{run_number}", response_model=None)
def get_run(
    run_number: PathId,
    account: ReadAccount,
    session: DB,
    actor: Caller,
    format: Literal["json", "csv"] = "json",
    action: str | None = Query(default=None, max_length=16),
    state: str | None = Query(default=None, max_length=16),
) -> RunOut | Response:
    """One run (by its number in the account) with its per-user items; ``?format=csv``
    exports the items as CSV."""
    run = runs.get_run(session, actor, account, run_number)
    items = runs.items(session, run, action=action, state=state)
    if format == "csv":
        filename = f"{account.slug}-run-{run.number}.csv"
        return Response(
            "".join(runs.csv_lines(lambda offset, limit: items[offset : offset + limit])),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return RunOut.of(run, items)


@router.post("/runs/{run_number}/approve")
def approve(
    run_number: PathId, request: Request, account: ReadAccount, session: DB, actor: Caller
) -> RunOut:
    """Carry out the deletions a guard held back."""
    summary = _engine(request, session).resolve_held(actor, account.slug, run_number, approve=True)
    return _summary(session, account, actor, summary)


@router.post("/runs/{run_number}/reject")
def reject(
    run_number: PathId, request: Request, account: ReadAccount, session: DB, actor: Caller
) -> RunOut:
    """Drop the deletions a guard held back; the users stay."""
    summary = _engine(request, session).resolve_held(actor, account.slug, run_number, approve=False)
    return _summary(session, account, actor, summary)


class WriteBackOut(BaseModel):
    id: int
    user_id: int | None
    directory_id: str
    properties: dict[str, object]
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, t: WriteBackTask) -> WriteBackOut:
        return cls(
            id=t.id,
            user_id=t.user_id,
            directory_id=t.directory_id,
            properties=dict(t.properties),
            status=t.status,
            attempts=t.attempts,
            last_error=t.last_error,
            next_attempt_at=t.next_attempt_at,
            updated_at=t.updated_at,
        )


class WriteBackReportOut(BaseModel):
    written: int
    failed: int
    retrying: int
    errors: list[str]


@router.get("/writebacks")
def list_writebacks(
    account: ReadAccount,
    session: DB,
    actor: Caller,
    status: Literal["pending", "done", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[WriteBackOut]:
    """Two-way sync: queued, written and refused writes to Entra ID, newest first."""
    return [
        WriteBackOut.of(t)
        for t in writeback.list_tasks(session, actor, account, status=status, limit=limit)
    ]


@router.post("/writeback")
def push_writebacks(
    request: Request, account: ReadAccount, session: DB, actor: Caller
) -> WriteBackReportOut:
    """Write the due queued changes to Entra ID now."""
    session.commit()  # Graph calls happen outside the request's transaction
    report = writeback.process(container(request), actor, account.slug)
    return WriteBackReportOut(
        written=report.written, failed=report.failed, retrying=report.retrying, errors=report.errors
    )


@router.post("/test")
def test_connection(
    request: Request, account: ReadAccount, session: DB, actor: Caller
) -> ConnectionTestRecord:
    """Get a token with each certificate and check every permission the settings need.

    The outcome is recorded on the registration (``last_test``); a failed check names the
    missing permission and where to grant it. A rotated certificate proven here can be promoted.
    """
    session.commit()  # Graph calls happen outside the request's transaction
    try:
        return verify_connection(container(request), actor, account.slug)
    except GraphError as exc:
        raise Conflict(f"Entra ID: {exc.message}", code="directory_unreachable") from exc


class OfferOut(BaseModel):
    directory_id: str
    username: str | None
    run_number: int = Field(description="the number of the run that found the user in scope")
    seen_at: datetime


@router.get("/offers")
def list_offers(account: ReadAccount, session: DB, actor: Caller) -> list[OfferOut]:
    """Manual provisioning: directory users in scope that are not portal users yet."""
    return [
        OfferOut(
            directory_id=o.directory_id,
            username=o.username,
            run_number=o.run_number,
            seen_at=o.seen_at,
        )
        for o in offers.list_offers(session, actor, account)
    ]


@router.post("/offers/add")
def add_offered(
    body: SyncUserIn, request: Request, account: ReadAccount, session: DB, actor: Caller
) -> RunOut:
    """Add a directory user now (even under manual provisioning), by object id or UPN."""
    summary = _engine(request, session).sync_user(
        actor, account.slug, body.user, trigger="api", provision=True
    )
    return _summary(session, account, actor, summary)
