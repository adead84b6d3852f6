"""Directory > Groups: choose the synced groups by name (the group picker).

Without script the page is a search form (GET) and a pick form: tick groups among the matches,
"Add to the chosen groups" keeps them in the address while searching on, "Save groups" stores
them. With script (static/js/group-picker.js) matches update as you type from a JSON route of
the same UI session. Saving changes the settings' groups through the settings service; a new
scope starts a full reconcile, as a change on the settings page does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.orm import Session

from switchboard.connection import group_picker
from switchboard.connection import registration as service
from switchboard.directory.models import DirectoryGroup, GroupMatches
from switchboard.portal.accounts import get_account
from switchboard.portal.errors import NotFound, PortalError
from switchboard.sync import rescope
from switchboard.sync.policy import GUID_RE, SyncPolicy
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.directory.page_actions import Outcome, inside, not_connected, outside
from switchboard.web.ui.forms import FormError
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)


def _path(slug: str) -> str:
    return f"/accounts/{slug}/directory/groups"


def _ids(values: list[str]) -> list[str]:
    """Group object ids from the address or a form; anything else is dropped (the page only
    ever puts ids there)."""
    return list(dict.fromkeys(v.strip().lower() for v in values if GUID_RE.match(v.strip())))


def group_json(g: DirectoryGroup) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "members": g.members,
        "nested_groups": g.nested_groups,
    }


def _page(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    search: str | None,
    picked: list[str] | None,
    error: FormError | None = None,
) -> Response:
    """``search``: None shows no matches (nothing searched yet); ``picked``: the groups being
    chosen, None for the saved ones."""
    c = container(request)
    matches: GroupMatches | None = None
    search_error: FormError | None = None
    if search is not None:
        found = outside(lambda: group_picker.search_groups(c, viewer.actor, slug, search))
        if found is Outcome.NOT_CONNECTED:
            return not_connected(slug)
        if isinstance(found, FormError):
            search_error = FormError(found.message, "search", {"search": found.message})
        else:
            assert isinstance(found, GroupMatches)
            matches = found
    try:
        chosen = group_picker.chosen_groups(c, viewer.actor, slug, picked)
    except NotFound as exc:
        if exc.code in ("directory_not_connected", "not_connected"):
            return not_connected(slug)
        raise
    with c.unit_of_work() as session:
        context = account_page(session, viewer, slug, "directory")
        registration = service.find_registration(session, context["account"])
        if registration is None:
            return not_connected(slug)
        policy = service.policy_of(registration)
        chosen_ids = [g.id for g in chosen.groups]
        context.update(
            here=_path(slug),
            search=search or "",
            searched=search is not None,
            matches=matches,
            chosen=chosen,
            chosen_ids=chosen_ids,
            unsaved=chosen_ids != list(policy.groups),
            all_users=policy.all_users,
            error=error or search_error,
            values={"search": search or ""},
        )
        return render(
            request,
            "account/directory_groups.html",
            context,
            status_code=422 if error or search_error else 200,
        )


@router.get("/accounts/{slug}/directory/groups")
def show_groups(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    q = request.query_params
    picked = _ids(q.getlist("pick")) if q.get("picking") else None
    search = q.get("search")
    return _page(request, viewer, slug, search=search, picked=picked)


@router.get("/accounts/{slug}/directory/groups/search.json")
def search_json(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    """The matches for the page's script (the UI session's cookie, not an API token)."""
    c = container(request)
    try:
        found = group_picker.search_groups(
            c, viewer.actor, slug, request.query_params.get("search", "")
        )
    except PortalError as exc:
        if exc.status in (403, 404) and exc.field is None:
            raise
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    return JSONResponse(
        {"groups": [group_json(g) for g in found.groups], "total": found.total},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/accounts/{slug}/directory/groups")
def save_groups(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    picked = _ids(form.many("groups"))
    search = form.raw("search")
    if form.text("action") == "pick":
        # Keep the picks in the address and search on; nothing is stored yet.
        query = urlencode(
            [("picking", "1"), ("search", search), *(("pick", i) for i in picked)], doseq=True
        )
        return RedirectResponse(f"{_path(slug)}?{query}", status_code=303)

    def change(session: Session) -> tuple[int, SyncPolicy, SyncPolicy, bool]:
        account = get_account(session, viewer.actor, slug, write=True)
        registration = service.get_registration(session, viewer.actor, account)
        before = service.policy_of(registration)
        never_synced = not rescope.has_synced(session, account.id)
        saved = service.update_settings(session, viewer.actor, account, {"groups": picked})
        return account.id, before, service.policy_of(saved), never_synced

    c = container(request)
    outcome = inside(c, change)
    if outcome is Outcome.NOT_CONNECTED:
        return not_connected(slug)
    if isinstance(outcome, FormError):
        error = FormError(outcome.message, "groups", {"groups": outcome.message})
        return _page(request, viewer, slug, search=search or None, picked=picked, error=error)
    assert not isinstance(outcome, Outcome)
    account_id, before, after, never_synced = outcome
    started = rescope.after_settings_change(
        c, c.jobs, viewer.actor, slug, account_id, before, after, trigger="manual"
    )
    if started is not None and started.run_number is not None:
        # The new scope is being reconciled: show that run, as the settings page does.
        return RedirectResponse(
            f"/accounts/{slug}/directory/runs/{started.run_number}?done=directory-rescoped",
            status_code=303,
        )
    if never_synced and after.groups:
        # Setting up: what these groups' users would become is the next thing to check.
        return RedirectResponse(
            f"/accounts/{slug}/directory/mapping?preview=1&done=directory-groups-saved",
            status_code=303,
        )
    return RedirectResponse(f"{_path(slug)}?done=directory-groups-saved", status_code=303)
