"""Directory sync from the admin UI: start runs, read run logs, approve held runs, write-backs.

Runs started here are "manual" and go to the job runner; the browser lands on the run's page,
which shows the run's phase and counts: live through ``run_events`` with a small script, or
by a Refresh link without it. Failed users are grouped by cause, each with its fix.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from sqlalchemy import select

from switchboard.connection.registration import find_registration, policy_of
from switchboard.db.models import SyncRunItem, User
from switchboard.portal.accounts import get_account
from switchboard.portal.validation import MAX_ID
from switchboard.sync import runs, writeback
from switchboard.sync.engine import PreparedRun, SyncEngine
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.directory.connection_pages import directory_page
from switchboard.web.ui.directory.page_actions import Outcome, duration, not_connected, outside
from switchboard.web.ui.directory.run_events import snapshot
from switchboard.web.ui.forms import FormError
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)

RUNS_PAGE = 50
ITEMS_PAGE = 100
EXPORT_CHUNK = 1000
ACTIONS = (
    "create",
    "update",
    "link",
    "relocate",
    "disable",
    "enable",
    "delete",
    "skip",
    "error",
    "write_back",
)
STATES = ("applied", "planned", "pending", "failed", "skipped", "rejected")
WRITEBACK_STATUSES = (("pending", "Queued"), ("done", "Written"), ("failed", "Refused"))
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Filter = Annotated[str, Query(max_length=32)]


def _run_number(value: int) -> int:
    """A run number out of the database's range is simply not found (0 never is)."""
    return value if 1 <= value <= MAX_ID else 0


# --- starting runs ------------------------------------------------------------------------------


def _start(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    kind: str,
    dry_run: bool = False,
    key: str | None = None,
) -> Response:
    c = container(request)
    with c.unit_of_work() as session:
        # Who may start a run comes before what the form says (a viewer gets 403, not 422).
        get_account(session, viewer.actor, slug, write=True)
    engine = SyncEngine(c, c.directory_factory())

    def prepare() -> PreparedRun:
        return engine.prepare(
            viewer.actor, slug, kind=kind, trigger="manual", dry_run=dry_run, key=key
        )

    outcome = outside(prepare)
    if outcome is Outcome.NOT_CONNECTED:
        return not_connected(slug)
    if isinstance(outcome, FormError):
        values = {"user": key or ""}
        return directory_page(request, viewer, slug, form_name="sync", values=values, error=outcome)
    assert isinstance(outcome, PreparedRun)
    label = "dry run" if dry_run else kind
    c.jobs.submit(f"directory {label} of {slug} (run {outcome.run_id})", outcome.execute)
    return RedirectResponse(f"/accounts/{slug}/directory/runs/{outcome.number}", status_code=303)


@router.post("/accounts/{slug}/directory/reconcile")
def reconcile(request: Request, slug: str, viewer: PostingViewer) -> Response:
    return _start(request, viewer, slug, kind="full")


@router.post("/accounts/{slug}/directory/dry-run")
def dry_run(request: Request, slug: str, viewer: PostingViewer) -> Response:
    return _start(request, viewer, slug, kind="full", dry_run=True)


@router.post("/accounts/{slug}/directory/delta")
def delta(request: Request, slug: str, viewer: PostingViewer) -> Response:
    return _start(request, viewer, slug, kind="delta")


@router.post("/accounts/{slug}/directory/sync-user")
def sync_user(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    key = form.text("user")[:254]
    return _start(request, viewer, slug, kind="single", key=key)


# --- run logs -----------------------------------------------------------------------------------


@router.get("/accounts/{slug}/directory/runs")
def list_runs(request: Request, slug: str, viewer: CurrentViewer, offset: Offset = 0) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "directory")
        found, total = runs.list_runs(
            session, viewer.actor, context["account"], limit=RUNS_PAGE, offset=offset
        )
        context.update(
            rows=[(r, duration(r)) for r in found],
            total=total,
            offset=offset,
            page_size=RUNS_PAGE,
        )
        return render(request, "account/directory_runs.html", context)


def _filter_error(action: str, state: str) -> FormError | None:
    if action and action not in ACTIONS:
        return FormError(f"action: choose one of {', '.join(ACTIONS)}", "action")
    if state and state not in STATES:
        return FormError(f"state: choose one of {', '.join(STATES)}", "state")
    return None


def _run_page(
    request: Request,
    viewer: Viewer,
    slug: str,
    number: int,
    *,
    action: str = "",
    state: str = "",
    offset: int = 0,
    error: FormError | None = None,
) -> Response:
    error = error or _filter_error(action, state)
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "directory")
        account = context["account"]
        run = runs.get_run(session, viewer.actor, account, number)
        items = []
        if error is None or error.field not in ("action", "state"):
            items = runs.items(
                session,
                run,
                action=action or None,
                state=state or None,
                limit=ITEMS_PAGE + 1,
                offset=offset,
            )
        running = run.status == "running"
        groups = [] if running else runs.failures(session, run)
        user_ids = {i.user_id for i in items if i.user_id is not None} | {
            u.user_id for g in groups for u in g.users if u.user_id is not None
        }
        present = (
            set(
                session.scalars(
                    select(User.id).where(User.account_id == account.id, User.id.in_(user_ids))
                )
            )
            if user_ids
            else set()
        )
        filters = {k: v for k, v in (("action", action), ("state", state)) if v}
        context.update(
            run=run,
            duration=duration(run),
            items=items[:ITEMS_PAGE],
            more=len(items) > ITEMS_PAGE,
            offset=offset,
            page_size=ITEMS_PAGE,
            present_users=present,
            filters=filters,
            action=action,
            state=state,
            actions=[a for a in ACTIONS if run.counts.get(a)],
            error=error,
            running=running,
            held=run.status == "held",
            live=snapshot(run.status, run.phase, run.progress),
            groups=groups,
            fix_pages={
                "mapping": f"/accounts/{account.slug}/directory/mapping",
                "locations": f"/accounts/{account.slug}/locations",
                "users": f"/accounts/{account.slug}/users",
                "settings": f"/accounts/{account.slug}/settings",
            },
        )
        return render(
            request, "account/directory_run.html", context, status_code=422 if error else 200
        )


@router.get("/accounts/{slug}/directory/runs/{number}")
def show_run(
    request: Request,
    slug: str,
    number: int,
    viewer: CurrentViewer,
    action: Filter = "",
    state: Filter = "",
    offset: Offset = 0,
) -> Response:
    return _run_page(
        request,
        viewer,
        slug,
        _run_number(number),
        action=action.strip(),
        state=state.strip(),
        offset=offset,
    )


@router.get("/accounts/{slug}/directory/runs/{number}/export")
def export_run(
    request: Request,
    slug: str,
    number: int,
    viewer: CurrentViewer,
    action: Filter = "",
    state: Filter = "",
) -> Response:
    """The run's items as CSV, like the API's ``?format=csv``, for the signed-in admin."""
    c = container(request)
    number = _run_number(number)
    action, state = action.strip(), state.strip()
    error = _filter_error(action, state)
    if error is not None:
        return _run_page(request, viewer, slug, number, error=error)
    with c.unit_of_work() as session:
        account = get_account(session, viewer.actor, slug)
        run = runs.get_run(session, viewer.actor, account, number)
        filename = f"{account.slug}-run-{run.number}.csv"

    def load(offset: int, limit: int) -> list[SyncRunItem]:
        # One short transaction per chunk: a long export never holds the database.
        with c.unit_of_work() as session:
            account = get_account(session, viewer.actor, slug)
            found = runs.get_run(session, viewer.actor, account, number)
            return runs.items(
                session,
                found,
                action=action or None,
                state=state or None,
                limit=limit,
                offset=offset,
            )

    return StreamingResponse(
        runs.csv_lines(load, chunk=EXPORT_CHUNK),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _resolve(request: Request, slug: str, number: int, viewer: Viewer, approve: bool) -> Response:
    c = container(request)
    engine = SyncEngine(c, c.directory_factory())
    number = _run_number(number)
    outcome = outside(lambda: engine.resolve_held(viewer.actor, slug, number, approve=approve))
    if isinstance(outcome, FormError):
        return _run_page(request, viewer, slug, number, error=outcome)
    done = "run-approved" if approve else "run-rejected"
    return RedirectResponse(
        f"/accounts/{slug}/directory/runs/{number}?done={done}", status_code=303
    )


@router.post("/accounts/{slug}/directory/runs/{number}/approve")
def approve(request: Request, slug: str, number: int, viewer: PostingViewer) -> Response:
    return _resolve(request, slug, number, viewer, True)


@router.post("/accounts/{slug}/directory/runs/{number}/reject")
def reject(request: Request, slug: str, number: int, viewer: PostingViewer) -> Response:
    return _resolve(request, slug, number, viewer, False)


# --- two-way write-backs ------------------------------------------------------------------------


def _writebacks_page(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    status: str = "",
    report: writeback.WriteBackReport | None = None,
    error: FormError | None = None,
) -> Response:
    known = {s for s, _ in WRITEBACK_STATUSES}
    if status and status not in known:
        error = FormError(f"status: choose one of {', '.join(sorted(known))}", "status")
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "directory")
        account = context["account"]
        tasks = (
            []
            if error is not None and error.field == "status"
            else writeback.list_tasks(
                session, viewer.actor, account, status=status or None, limit=200
            )
        )
        ids = {t.user_id for t in tasks if t.user_id is not None}
        names: dict[int, str] = {}
        if ids:
            for uid, first, last in session.execute(
                select(User.id, User.first_name, User.last_name).where(
                    User.account_id == account.id, User.id.in_(ids)
                )
            ):
                names[uid] = f"{first} {last}"
        registration = find_registration(session, account)
        context.update(
            tasks=tasks,
            names=names,
            status=status,
            statuses=WRITEBACK_STATUSES,
            report=report,
            error=error,
            connected=registration is not None,
            two_way=registration is not None and policy_of(registration).direction == "two_way",
        )
        return render(
            request, "account/directory_writebacks.html", context, status_code=422 if error else 200
        )


@router.get("/accounts/{slug}/directory/writebacks")
def list_writebacks(
    request: Request, slug: str, viewer: CurrentViewer, status: Filter = ""
) -> Response:
    return _writebacks_page(request, viewer, slug, status=status.strip())


@router.post("/accounts/{slug}/directory/writeback")
def push_writebacks(request: Request, slug: str, viewer: PostingViewer) -> Response:
    # Graph calls: outside any transaction of this request.
    outcome = outside(lambda: writeback.process(container(request), viewer.actor, slug))
    if outcome is Outcome.NOT_CONNECTED:
        return not_connected(slug)
    if isinstance(outcome, FormError):
        return _writebacks_page(request, viewer, slug, error=outcome)
    assert isinstance(outcome, writeback.WriteBackReport)
    # Rendered, not redirected: the report's numbers are shown once, on this answer.
    return _writebacks_page(request, viewer, slug, report=outcome)
