"""The Directory tab's Mapping page: attribute sources, location rules, the default location and
the guards, with a preview of what they make of the users in scope (before any sync, or before
saving a change), and a rule added in one click for a value that maps to nothing.

Saving goes through the settings service like every other settings change (its audit entry, and
a full reconcile when the mapping of an account that has synced changes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.connection import registration as service
from switchboard.connection.settings_preview import preview_settings
from switchboard.portal import locations
from switchboard.portal.accounts import get_account
from switchboard.portal.errors import Forbidden, NotFound, PortalError, ValidationFailed
from switchboard.portal.validation import from_pydantic
from switchboard.sync import rescope
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.preview import ScopePreview
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.directory import mapping_form as forms
from switchboard.web.ui.directory.page_actions import NOT_CONNECTED_CODES, not_connected
from switchboard.web.ui.forms import FormError
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)
T = TypeVar("T")


def _location_names(session: Session, viewer: Viewer, slug: str) -> list[str]:
    account = get_account(session, viewer.actor, slug)
    return [loc.name for loc in locations.list_locations(session, viewer.actor, account)]


def _attempt(work: Callable[[], T]) -> T | PortalError:
    """``work``, or the fixable error it raised; access errors reach the error page."""
    try:
        return work()
    except ValidationError as exc:
        return from_pydantic(exc)
    except PortalError as exc:
        if exc.code in NOT_CONNECTED_CODES:
            return exc  # the caller sends the admin to the connect form
        if isinstance(exc, Forbidden | NotFound) and exc.field is None:
            raise
        return exc


def _mapping_page(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    values: dict[str, str] | None = None,
    rows: list[dict[str, str]] | None = None,
    error: FormError | None = None,
    preview: ScopePreview | None = None,
    preview_error: str | None = None,
    unsaved: bool = False,
) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "directory")
        registration = service.find_registration(session, context["account"])
        if registration is None:
            return not_connected(slug)
        stored, stored_rows = forms.stored_values(service.policy_of(registration))
        context.update(
            values=values if values is not None else stored,
            rows=rows if rows is not None else stored_rows,
            location_names=_location_names(session, viewer, slug),
            source_choices=forms.SOURCE_CHOICES,
            fallback_choices=forms.FALLBACK_CHOICES,
            error=error,
            preview=preview,
            preview_error=preview_error,
            unsaved=unsaved,
        )
        return render(
            request, "account/directory_mapping.html", context, status_code=422 if error else 200
        )


def _run_preview(
    request: Request, viewer: Viewer, slug: str, changes: dict[str, Any] | None
) -> ScopePreview | PortalError:
    return _attempt(lambda: preview_settings(container(request), viewer.actor, slug, changes))


@router.get("/accounts/{slug}/directory/mapping")
def show_mapping(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    """The form; with ``?preview=1`` (the redirect after a rule was added) the preview of the
    saved settings too, for those who may change them (it reads Entra ID with the account's
    credentials)."""
    preview: ScopePreview | None = None
    problem: str | None = None
    if request.query_params.get("preview") == "1":
        with container(request).unit_of_work() as session:
            account = get_account(session, viewer.actor, slug)
            allowed = viewer.can_write(account)
        if allowed:
            found = _run_preview(request, viewer, slug, None)
            if isinstance(found, PortalError):
                if found.code in NOT_CONNECTED_CODES:
                    return not_connected(slug)
                problem = found.message
            else:
                preview = found
    return _mapping_page(request, viewer, slug, preview=preview, preview_error=problem)


def _patch(c: Container, viewer: Viewer, slug: str, form: Form) -> dict[str, Any] | FormError:
    """The form's merge patch against the stored settings, or what the form got wrong."""

    def read() -> tuple[SyncPolicy, list[str]]:
        with c.unit_of_work() as session:
            account = get_account(session, viewer.actor, slug, write=True)
            registration = service.get_registration(session, viewer.actor, account)
            return service.policy_of(registration), _location_names(session, viewer, slug)

    policy, names = read()
    return forms.mapping_patch(form, policy, names)


def _typed_page(
    request: Request, viewer: Viewer, slug: str, form: Form, error: FormError, **extra: Any
) -> Response:
    return _mapping_page(
        request,
        viewer,
        slug,
        values=form.values(),
        rows=forms.shown_rows(form),
        error=error,
        **extra,
    )


@router.post("/accounts/{slug}/directory/mapping/preview")
def preview_mapping(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    """The preview of the settings as typed, before they are saved."""
    patch = _attempt(lambda: _patch(container(request), viewer, slug, form))
    if isinstance(patch, PortalError):
        if patch.code in NOT_CONNECTED_CODES:
            return not_connected(slug)
        return _typed_page(request, viewer, slug, form, forms.for_form(patch))
    if isinstance(patch, FormError):
        return _typed_page(request, viewer, slug, form, patch)
    found = _run_preview(request, viewer, slug, patch)
    preview, problem = (None, found.message) if isinstance(found, PortalError) else (found, None)
    if isinstance(found, ValidationFailed):
        return _typed_page(request, viewer, slug, form, forms.for_form(found))
    if isinstance(found, PortalError) and found.code in NOT_CONNECTED_CODES:
        return not_connected(slug)
    return _mapping_page(
        request,
        viewer,
        slug,
        values=form.values(),
        rows=forms.shown_rows(form),
        preview=preview,
        preview_error=problem,
        unsaved=True,
    )


def _save(
    request: Request, viewer: Viewer, slug: str, patch: dict[str, Any]
) -> rescope.Rescoped | PortalError | None:
    """Save the patch; a new mapping of an account that has synced starts a full reconcile."""
    c = container(request)

    def change() -> tuple[int, SyncPolicy, SyncPolicy]:
        with c.unit_of_work() as session:
            account = get_account(session, viewer.actor, slug, write=True)
            registration = service.get_registration(session, viewer.actor, account)
            before = service.policy_of(registration)
            saved = service.update_settings(session, viewer.actor, account, patch)
            return account.id, before, service.policy_of(saved)

    outcome = _attempt(change)
    if isinstance(outcome, PortalError):
        return outcome
    account_id, before, after = outcome
    return rescope.after_settings_change(
        c, c.jobs, viewer.actor, slug, account_id, before, after, trigger="manual"
    )


@router.post("/accounts/{slug}/directory/mapping")
def save_mapping(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    patch = _attempt(lambda: _patch(container(request), viewer, slug, form))
    if isinstance(patch, FormError):
        return _typed_page(request, viewer, slug, form, patch)
    saved: rescope.Rescoped | PortalError | None = (
        patch if isinstance(patch, PortalError) else _save(request, viewer, slug, patch)
    )
    if isinstance(saved, PortalError):
        if saved.code in NOT_CONNECTED_CODES:
            return not_connected(slug)
        return _typed_page(request, viewer, slug, form, forms.for_form(saved))
    if saved is not None and saved.run_number is not None:
        return RedirectResponse(
            f"/accounts/{slug}/directory/runs/{saved.run_number}?done=directory-rescoped",
            status_code=303,
        )
    return RedirectResponse(
        f"/accounts/{slug}/directory/mapping?done=mapping-saved", status_code=303
    )


@router.post("/accounts/{slug}/directory/mapping/rules")
def add_rule(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    """One rule from the preview (a value that maps to nothing -> the chosen location); back to
    the refreshed preview."""
    with container(request).unit_of_work() as session:
        get_account(session, viewer.actor, slug, write=True)  # a viewer is refused first
    value, location = form.text("value"), form.text("location")
    patch = {"location_rules": {value: location}} if value and location else None
    saved = (
        _save(request, viewer, slug, patch)
        if patch
        else ValidationFailed("Choose the location for the value, then add the rule")
    )
    if isinstance(saved, PortalError):
        if saved.code in NOT_CONNECTED_CODES:
            return not_connected(slug)
        return _mapping_page(request, viewer, slug, error=forms.for_form(saved))
    done = "mapping-rule-added-reconciling" if saved and saved.run_number else "mapping-rule-added"
    return RedirectResponse(
        f"/accounts/{slug}/directory/mapping?preview=1&done={done}#preview", status_code=303
    )
