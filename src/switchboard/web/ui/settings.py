"""An account's settings (name, retention plan, dial plan) and its termination by an operator."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.db.models import Account
from switchboard.portal import accounts, users
from switchboard.portal.accounts import get_account
from switchboard.portal.errors import ValidationFailed
from switchboard.portal.schemas import AccountPatch
from switchboard.portal.validation import RETENTION_PLANS
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.forms import FormError, attempt
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)


def _page(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    values: dict[str, str] | None = None,
    error: FormError | None = None,
) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "settings")
        account = context["account"]
        shown = {
            "name": account.name,
            "retention_plan": account.retention_plan,
            "extension_length": str(account.extension_length),
        }
        shown.update(values or {})
        context.update(
            values=shown,
            error=error,
            retention_plans=RETENTION_PLANS,
            has_users=users.count_users(session, account) > 0,
        )
        return render(request, "account/settings.html", context, status_code=422 if error else 200)


@router.get("/accounts/{slug}/settings")
def show_settings(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    return _page(request, viewer, slug)


@router.post("/accounts/{slug}/settings")
def save_settings(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> Account:
        get_account(session, viewer.actor, slug, write=True)
        patch = AccountPatch.model_validate(
            {
                "name": form.text("name"),
                "retention_plan": form.text("retention_plan"),
                # A disabled input (the account has users) is not posted: no change asked.
                "extension_length": form.optional("extension_length"),
            }
        )
        return accounts.update_account(session, viewer.actor, slug, patch)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, values=form.values(), error=outcome)
    return RedirectResponse(f"/accounts/{slug}/settings?done=account-saved", status_code=303)


def _terminate_page(
    request: Request, viewer: Viewer, slug: str, *, typed: str = "", error: FormError | None = None
) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "settings")
        context.update(
            user_count=users.count_users(session, context["account"]),
            values={"confirm_slug": typed},
            error=error,
        )
        return render(request, "account/terminate.html", context, status_code=422 if error else 200)


@router.get("/accounts/{slug}/terminate")
def confirm_terminate(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    return _terminate_page(request, viewer, slug)


@router.post("/accounts/{slug}/terminate")
def terminate(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    typed = form.text("confirm_slug")

    def change(session: Session) -> Account:
        # The account first (404 for another tenant, 403 for a viewer), then the typed slug,
        # then the service's own check that only an operator terminates.
        get_account(session, viewer.actor, slug, write=True)
        if typed != slug:
            raise ValidationFailed(
                f"type the account's slug, {slug}, to confirm the termination",
                field="confirm_slug",
            )
        return accounts.terminate_account(session, viewer.actor, slug)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _terminate_page(request, viewer, slug, typed=typed, error=outcome)
    return RedirectResponse(f"/accounts/{slug}?done=account-terminated", status_code=303)
