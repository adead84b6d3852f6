"""The signed-in admin's own sign-in: changing their password (the current one is required)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.db.models import Principal
from switchboard.portal import principals
from switchboard.web.deps import container
from switchboard.web.ui.forms import FormError, attempt
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)


def _page(request: Request, viewer: Viewer, error: FormError | None = None) -> Response:
    return render(request, "profile.html", {"error": error}, status_code=422 if error else 200)


@router.get("/me")
def profile(request: Request, viewer: CurrentViewer) -> Response:
    return _page(request, viewer)


@router.post("/me/password")
def change_password(request: Request, viewer: PostingViewer, form: Form) -> Response:
    # Any role may change its own password: it is their credential, not the account's data.
    def change(session: Session) -> Principal:
        return principals.change_own_password(
            session,
            viewer.actor,
            current=form.raw("current_password"),
            new=form.raw("new_password"),
            confirm=form.raw("confirm_password"),
            keep_session_id=viewer.record.id,
        )

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, outcome)
    if viewer.must_change_password:
        # The first sign-in's change done: on to what they came for, their account's overview.
        home = f"/accounts/{viewer.home_slug}" if viewer.home_slug else "/accounts"
        return RedirectResponse(f"{home}?done=password-changed", status_code=303)
    return RedirectResponse("/me?done=password-changed", status_code=303)
