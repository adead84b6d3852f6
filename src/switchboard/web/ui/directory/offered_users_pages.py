"""Users > Add users > From directory: the directory users a manual-provisioning sync offered.

Adding one starts a single-user run that creates the user even under manual provisioning; the
browser lands on that run. "Add selected" runs them one after another (one run per user, as the
engine allows one run of an account at a time) and answers with who was added and why anyone
was not. Viewers see the list without buttons.

The list shows each user's display name, email and office; a search (GET ``q``, filtered here
on the server) narrows it, and "Add all matching" adds what the search found, so neither
searching nor selecting everything needs JavaScript (a script adds a select-all box).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.connection.registration import find_registration, policy_of
from switchboard.db.models import Account
from switchboard.portal.accounts import get_account
from switchboard.portal.users import synced_user_id
from switchboard.sync import offers, runs
from switchboard.sync.engine import PreparedRun, RunSummary, SyncEngine
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.directory.page_actions import Outcome, not_connected, outside
from switchboard.web.ui.forms import FormError
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)

# Each selected user is a run of its own with a Graph lookup; keep one answer well under a minute.
MAX_SELECTED = 50
MAX_KEY = 254  # a userPrincipalName's length limit, as for "Sync one user"
Search = Annotated[str, Query(max_length=200)]


@dataclass(frozen=True)
class AddResult:
    """What adding one selected user came to, for the answer of "Add selected"."""

    label: str  # the UPN, else the object id
    run_number: int | None  # the account's number of the run that added them
    user_id: int | None  # the portal user now linked to the directory user, if any
    message: str | None  # why the user was not added, or how (linked to an existing user)


def _path(slug: str) -> str:
    return f"/accounts/{slug}/users/from-directory"


def _page(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    error: FormError | None = None,
    results: list[AddResult] | None = None,
    q: str = "",
) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "users")
        account = context["account"]
        registration = find_registration(session, account)
        if registration is None:
            return not_connected(slug)
        policy = policy_of(registration)
        offered = offers.list_offers(session, viewer.actor, account)
        context.update(
            here=_path(slug),
            policy=policy,
            automatic=policy.provisioning == "automatic",
            offers=offers.search(offered, q),
            offered_total=len(offered),
            q=q,
            error=error,
            added=[r for r in results or [] if r.user_id is not None],
            refused=[r for r in results or [] if r.user_id is None],
            max_selected=MAX_SELECTED,
        )
        return render(
            request,
            "account/users_from_directory.html",
            context,
            status_code=422 if error else 200,
        )


@router.get("/accounts/{slug}/users/from-directory")
def show_offers(request: Request, slug: str, viewer: CurrentViewer, q: Search = "") -> Response:
    return _page(request, viewer, slug, q=q.strip())


def _writable(c: Container, viewer: Viewer, slug: str) -> None:
    # Who may add comes before what the form says (a viewer gets 403, not 422).
    with c.unit_of_work() as session:
        get_account(session, viewer.actor, slug, write=True)


def _prepare(c: Container, viewer: Viewer, slug: str, key: str) -> PreparedRun:
    return SyncEngine(c, c.directory_factory()).prepare(
        viewer.actor, slug, kind="single", trigger="manual", key=key, provision=True
    )


@router.post("/accounts/{slug}/users/from-directory/add")
def add_one(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    c = container(request)
    _writable(c, viewer, slug)
    key = form.text("user")[:MAX_KEY]
    if not key:
        error = FormError("Choose the directory user to add", "user")
        return _page(request, viewer, slug, error=error)
    outcome = outside(lambda: _prepare(c, viewer, slug, key))
    if outcome is Outcome.NOT_CONNECTED:
        return not_connected(slug)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, error=outcome)
    assert isinstance(outcome, PreparedRun)
    c.jobs.submit(f"directory add of {key} to {slug} (run {outcome.run_id})", outcome.execute)
    return RedirectResponse(f"/accounts/{slug}/directory/runs/{outcome.number}", status_code=303)


def _selected(form: Form) -> list[str]:
    seen: dict[str, None] = {}
    for value in form.many("selected"):
        seen.setdefault(value[:MAX_KEY], None)
    return list(seen)


def _result(
    session: Session, viewer: Viewer, account: Account, key: str, label: str, number: int
) -> AddResult:
    """Read the finished run: is the directory user a portal user now, and if not, why not."""
    run = runs.get_run(session, viewer.actor, account, number)
    item = next(iter(runs.items(session, run, limit=1)), None)
    directory_id = (item.directory_id if item else None) or key
    user_id = synced_user_id(session, account.id, directory_id)
    label = (item.username if item else None) or label
    if user_id is not None:
        linked = item is not None and item.action == "link"
        how = "linked to the portal user with the same email" if linked else None
        return AddResult(label, number, user_id, how)
    if item is not None and item.error_code == "out_of_scope":
        message = (
            "has left the synced groups since the sync that offered them; add the user to a"
            " synced group in Entra ID, then add them again"
        )
    elif item is not None and item.message:
        message = item.message
    else:
        message = run.message or f"not added; the run ended {run.status}"
    return AddResult(label, number, None, message)


@router.post("/accounts/{slug}/users/from-directory/add-selected")
def add_selected(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    c = container(request)
    _writable(c, viewer, slug)
    q = form.text("q")[:200].strip()
    with c.unit_of_work() as session:
        account = get_account(session, viewer.actor, slug, write=True)
        offered = offers.list_offers(session, viewer.actor, account)
    names = {o.directory_id: o.name or o.username for o in offered}
    every = form.text("all") == "matching"
    keys = [o.directory_id for o in offers.search(offered, q)] if every else _selected(form)
    if not keys:
        message = "No offered user matches the search" if every else "Tick at least one user to add"
        return _page(request, viewer, slug, error=FormError(message, "selected"), q=q)
    if len(keys) > MAX_SELECTED:
        chosen = "match the search" if every else "were ticked"
        error = FormError(
            f"At most {MAX_SELECTED} users at a time; {len(keys)} {chosen}. Narrow the search"
            " (by office, for example) and add them in parts.",
            "selected",
        )
        return _page(request, viewer, slug, error=error, q=q)

    done: list[tuple[str, str, int | None, str | None]] = []  # key, label, run number, refusal

    def run(key: str) -> RunSummary:
        return _prepare(c, viewer, slug, key).execute()

    for key in keys:
        label = names.get(key) or key
        # Graph calls and the runs' own transactions: outside any unit of work of this request.
        outcome = outside(partial(run, key))
        if outcome is Outcome.NOT_CONNECTED:
            return not_connected(slug)
        if isinstance(outcome, FormError):
            done.append((key, label, None, outcome.message))
        else:
            assert isinstance(outcome, RunSummary)
            done.append((key, label, outcome.number, None))

    with c.unit_of_work() as session:
        account = get_account(session, viewer.actor, slug)
        results = [
            _result(session, viewer, account, key, label, number)
            if number is not None
            else AddResult(label, None, None, refusal)
            for key, label, number, refusal in done
        ]
    # Rendered, not redirected: who was added and why anyone was not is shown once, here.
    return _page(request, viewer, slug, results=results)
