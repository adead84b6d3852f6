"""An account's admins and API tokens: who may sign in, with which role, and their tokens.

Only the account's admins and the operators see this page; an account_viewer gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.db.models import Account, ApiToken, Principal
from switchboard.portal import api_tokens, principals
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Role
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Forbidden, NotFound, ValidationFailed
from switchboard.portal.schemas import AdminIn, ApiTokenIn
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.forms import FormError, attempt, checked
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Submitted, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)

EXPIRY_CHOICES = (("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year"))
ACCOUNT_ROLES = (("account_admin", "Account admin (can change)"), ("account_viewer", "Viewer"))


@dataclass(frozen=True)
class Issued:
    """A new token as shown once on the result page."""

    token: str
    name: str
    expires_at: datetime | None


def add_admin(
    session: Session,
    viewer: Viewer,
    form: Submitted,
    *,
    account: Account | None,
    allowed_roles: tuple[str, ...],
) -> Principal:
    role, password = form.text("role"), form.raw("password")

    def role_allowed() -> None:
        if role not in allowed_roles:
            raise ValidationFailed("role: choose one of the roles listed", field="role")

    data = checked(
        AdminIn,
        {"email": form.text("email"), "role": role},
        role_allowed,
        lambda: principals.check_password(password, "password"),
    )
    # The password is the one the new admin is given: they choose their own at first sign-in.
    return principals.create_principal(
        session,
        viewer.actor,
        email=data.email,
        role=Role(data.role),
        account=account,
        password=password,
        initial_password=True,
    )


def issue_own_token(session: Session, viewer: Viewer, form: Submitted) -> Issued:
    data = ApiTokenIn.model_validate(
        {"name": form.text("name"), "expires_in_days": form.text("expires_in_days")}
    )
    me = session.get(Principal, viewer.actor.principal_id) if viewer.actor.principal_id else None
    if me is None:
        raise NotFound("only a signed-in admin can issue an API token")
    issued = api_tokens.issue_token(
        session, viewer.actor, me, name=data.name, expires_in=timedelta(days=data.expires_in_days)
    )
    return Issued(token=issued.token, name=issued.record.name, expires_at=issued.record.expires_at)


def listing(
    session: Session, viewer: Viewer, account: Account | None
) -> tuple[list[Principal], list[ApiToken]]:
    if account is None:
        admins = principals.list_operators(session, viewer.actor)
    else:
        admins = principals.list_account_admins(session, viewer.actor, account)
    return admins, api_tokens.list_scoped_tokens(session, viewer.actor, account)


def _page(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    form_name: str = "",
    values: dict[str, str] | None = None,
    error: FormError | None = None,
) -> Response:
    with container(request).unit_of_work() as session:
        context: dict[str, Any] = account_page(session, viewer, slug, "admins")
        account = context["account"]
        admins, tokens = listing(session, viewer, account)
        context.update(
            admins=admins,
            tokens=tokens,
            # A token is always the signed-in admin's own: operators issue theirs on /operators.
            can_issue=context["can_write"] and viewer.actor.account_id == account.id,
            form_name=form_name,
            values=values or {"role": "account_viewer", "expires_in_days": "90"},
            error=error,
            role_choices=ACCOUNT_ROLES,
            expiry_choices=EXPIRY_CHOICES,
            action_base=f"/accounts/{account.slug}",
            now=now(session),
        )
        return render(request, "account/admins.html", context, status_code=422 if error else 200)


@router.get("/accounts/{slug}/admins")
def list_admins(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    return _page(request, viewer, slug)


@router.post("/accounts/{slug}/admins")
def create_admin(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> Principal:
        account = get_account(session, viewer.actor, slug, write=True)
        allowed = tuple(value for value, _label in ACCOUNT_ROLES)
        return add_admin(session, viewer, form, account=account, allowed_roles=allowed)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, form_name="admin", values=form.values(), error=outcome)
    return RedirectResponse(f"/accounts/{slug}/admins?done=admin-added", status_code=303)


def _set_disabled(
    request: Request, slug: str, admin_id: int, viewer: Viewer, disabled: bool
) -> Response:
    def change(session: Session) -> Principal:
        account = get_account(session, viewer.actor, slug, write=True)
        return principals.set_disabled(session, viewer.actor, account, admin_id, disabled)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, form_name="list", error=outcome)
    done = "admin-disabled" if disabled else "admin-enabled"
    return RedirectResponse(f"/accounts/{slug}/admins?done={done}", status_code=303)


@router.post("/accounts/{slug}/admins/{admin_id}/disable")
def disable_admin(request: Request, slug: str, admin_id: int, viewer: PostingViewer) -> Response:
    return _set_disabled(request, slug, admin_id, viewer, True)


@router.post("/accounts/{slug}/admins/{admin_id}/enable")
def enable_admin(request: Request, slug: str, admin_id: int, viewer: PostingViewer) -> Response:
    return _set_disabled(request, slug, admin_id, viewer, False)


@router.post("/accounts/{slug}/tokens")
def issue_token(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> Issued:
        account = get_account(session, viewer.actor, slug, write=True)
        if viewer.actor.account_id != account.id:
            raise Forbidden("an operator's API tokens are issued on the Operators page")
        return issue_own_token(session, viewer, form)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, form_name="token", values=form.values(), error=outcome)
    # Rendered, not redirected: the token must never travel in a URL, and is shown only here.
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "admins")
    context.update(issued=outcome, back=f"/accounts/{slug}/admins")
    return render(request, "account/token_issued.html", context)


@router.post("/accounts/{slug}/tokens/{token_id}/revoke")
def revoke_token(request: Request, slug: str, token_id: int, viewer: PostingViewer) -> Response:
    def change(session: Session) -> ApiToken:
        account = get_account(session, viewer.actor, slug, write=True)
        return api_tokens.revoke_scoped_token(session, viewer.actor, account, token_id)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, form_name="list", error=outcome)
    return RedirectResponse(f"/accounts/{slug}/admins?done=token-revoked", status_code=303)
