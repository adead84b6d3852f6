"""The provider's operators (provider_admins): who they are, adding and disabling them, and the
signed-in operator's own API tokens. Only operators see this page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.db.models import ApiToken, Principal
from switchboard.portal import api_tokens, principals
from switchboard.portal.clock_context import now
from switchboard.web.deps import container
from switchboard.web.ui.admins import EXPIRY_CHOICES, Issued, add_admin, issue_own_token, listing
from switchboard.web.ui.forms import FormError, attempt
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)


def _page(
    request: Request,
    viewer: Viewer,
    *,
    form_name: str = "",
    values: dict[str, str] | None = None,
    error: FormError | None = None,
) -> Response:
    with container(request).unit_of_work() as session:
        admins, tokens = listing(session, viewer, None)
        context: dict[str, Any] = {
            "admins": admins,
            "tokens": tokens,
            "form_name": form_name,
            "values": values or {"expires_in_days": "90"},
            "error": error,
            "expiry_choices": EXPIRY_CHOICES,
            "now": now(session),
        }
        return render(request, "operators.html", context, status_code=422 if error else 200)


@router.get("/operators")
def list_operators(request: Request, viewer: CurrentViewer) -> Response:
    return _page(request, viewer)


@router.post("/operators")
def create_operator(request: Request, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> Principal:
        return add_admin(session, viewer, form, account=None, allowed_roles=("provider_admin",))

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, form_name="admin", values=form.values(), error=outcome)
    return RedirectResponse("/operators?done=admin-added", status_code=303)


def _set_disabled(request: Request, admin_id: int, viewer: Viewer, disabled: bool) -> Response:
    def change(session: Session) -> Principal:
        return principals.set_disabled(session, viewer.actor, None, admin_id, disabled)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, form_name="list", error=outcome)
    done = "admin-disabled" if disabled else "admin-enabled"
    return RedirectResponse(f"/operators?done={done}", status_code=303)


@router.post("/operators/{admin_id}/disable")
def disable_operator(request: Request, admin_id: int, viewer: PostingViewer) -> Response:
    return _set_disabled(request, admin_id, viewer, True)


@router.post("/operators/{admin_id}/enable")
def enable_operator(request: Request, admin_id: int, viewer: PostingViewer) -> Response:
    return _set_disabled(request, admin_id, viewer, False)


@router.post("/operators/tokens")
def issue_token(request: Request, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> Issued:
        viewer.actor.require_provider()
        return issue_own_token(session, viewer, form)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, form_name="token", values=form.values(), error=outcome)
    return render(request, "token_issued.html", {"issued": outcome, "back": "/operators"})


@router.post("/operators/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, viewer: PostingViewer) -> Response:
    def change(session: Session) -> ApiToken:
        return api_tokens.revoke_scoped_token(session, viewer.actor, None, token_id)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, form_name="list", error=outcome)
    return RedirectResponse("/operators?done=token-revoked", status_code=303)
