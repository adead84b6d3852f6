"""Choosing SCIM as an account's directory source on the Directory tab, and what follows: the
secret token, its rotation and revocation, the settings, and disconnecting.

Account admins and provider admins change it; viewers see the SCIM page without forms. The
page itself is the Directory tab (``connection_pages.directory_page`` renders it while SCIM is
the source); these routes are its forms and the disconnect confirmation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.portal.accounts import get_account
from switchboard.portal.errors import NotFound, ValidationFailed
from switchboard.scim import source as scim_source
from switchboard.scim import tokens as scim_tokens
from switchboard.scim.tokens import IssuedScimToken
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.directory import scim_view
from switchboard.web.ui.directory.connection_pages import directory_page
from switchboard.web.ui.forms import FormError, attempt
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)
T = TypeVar("T")


def _tab(slug: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/accounts/{slug}/directory?done={done}", status_code=303)


def _run(request: Request, change: Callable[[Session], T]) -> T | FormError | None:
    """``change`` in its own unit of work: its result, the form's error, or None when the
    account does not take users over SCIM (any more)."""
    try:
        return attempt(container(request), change, scim_view.LABELS)
    except NotFound as exc:
        if exc.code == "scim_not_connected":
            return None
        raise


def _page(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    form_name: str = "",
    values: dict[str, str] | None = None,
    error: FormError | None = None,
    issued: IssuedScimToken | None = None,
) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "directory")
        setup = scim_source.read_setup(session, viewer.actor, context["account"])
        if setup.source is None:
            return _tab(slug, "scim-not-connected")
        return scim_view.scim_page(
            request,
            session,
            viewer,
            context,
            setup,
            form_name=form_name,
            values=values,
            error=error,
            issued=issued,
        )


@router.post("/accounts/{slug}/directory/scim/connect")
def connect(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    """One of the SCIM sources offered on the Directory tab of an account with none."""

    def change(session: Session) -> None:
        account = get_account(session, viewer.actor, slug, write=True)
        client = scim_view.chosen_client(form.text("client"))
        if client is None:
            raise ValidationFailed("choose Entra provisioning (SCIM) or Okta (SCIM)")
        if scim_source.get_source(session, account) is None:
            scim_source.connect(session, viewer.actor, account, client)

    outcome = attempt(container(request), change, scim_view.LABELS)
    if isinstance(outcome, FormError):
        return directory_page(request, viewer, slug, form_name="sources", error=outcome)
    return _tab(slug, "scim-connected")


@router.post("/accounts/{slug}/directory/scim/token")
def issue_token(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    """A new secret token, shown on this answer only; the working ones keep working for the
    overlap chosen."""

    def change(session: Session) -> IssuedScimToken:
        account = get_account(session, viewer.actor, slug, write=True)
        scim_source.require_source(session, account)
        hours = scim_view.overlap_from(form)
        return scim_tokens.issue(session, viewer.actor, account, overlap=timedelta(hours=hours))

    outcome = _run(request, change)
    if outcome is None:
        return _tab(slug, "scim-not-connected")
    if isinstance(outcome, FormError):
        values = {"overlap_hours": form.text("overlap_hours")}
        return _page(request, viewer, slug, form_name="token", values=values, error=outcome)
    return _page(request, viewer, slug, issued=outcome)


@router.post("/accounts/{slug}/directory/scim/revoke")
def revoke_token(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> int:
        account = get_account(session, viewer.actor, slug, write=True)
        scim_source.require_source(session, account)
        token_id = form.text("token_id")
        if not token_id.isdigit():
            raise ValidationFailed("choose the token to revoke in the list of tokens")
        return scim_tokens.revoke(session, viewer.actor, account, int(token_id))

    outcome = _run(request, change)
    if outcome is None:
        return _tab(slug, "scim-not-connected")
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, form_name="tokens", error=outcome)
    return RedirectResponse(
        f"/accounts/{slug}/directory?done=scim-token-revoked#scim-tokens", status_code=303
    )


@router.post("/accounts/{slug}/directory/scim/settings")
def save_settings(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> bool:
        account = get_account(session, viewer.actor, slug, write=True)
        scim_source.require_source(session, account)
        client, settings = scim_view.settings_from(form)
        scim_source.connect(session, viewer.actor, account, client, settings)
        return True

    outcome = _run(request, change)
    if outcome is None:
        return _tab(slug, "scim-not-connected")
    if isinstance(outcome, FormError):
        values = scim_view.typed_values(form)
        return _page(request, viewer, slug, form_name="settings", values=values, error=outcome)
    return RedirectResponse(
        f"/accounts/{slug}/directory?done=scim-settings-saved#scim-settings", status_code=303
    )


@router.get("/accounts/{slug}/directory/scim/disconnect")
def confirm_disconnect(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "directory")
        setup = scim_source.read_setup(session, viewer.actor, context["account"])
        if setup.source is None:
            return _tab(slug, "scim-not-connected")
        context.update(
            client_name=scim_view.CLIENT_NAMES.get(setup.source.client, "SCIM"),
            scim_users=scim_source.linked_users(session, context["account"]),
        )
        return render(request, "account/directory_scim_disconnect.html", context)


@router.post("/accounts/{slug}/directory/scim/disconnect")
def disconnect(request: Request, slug: str, viewer: PostingViewer) -> Response:
    def change(session: Session) -> bool:
        account = get_account(session, viewer.actor, slug, write=True)
        scim_source.disconnect(session, viewer.actor, account)
        return True

    outcome = _run(request, change)
    if outcome is None:
        return _tab(slug, "scim-not-connected")
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, error=outcome)
    return _tab(slug, "scim-disconnected")
