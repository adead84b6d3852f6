"""An account's license types: seats used of purchased, new licenses, seat changes, deletion."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.db.models import LicenseType
from switchboard.portal import licenses
from switchboard.portal.accounts import get_account
from switchboard.portal.schemas import LicenseIn, LicensePatch
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
    failed_id: int | None = None,
) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "licenses")
        account = context["account"]
        used = licenses.usage(session, account)
        context.update(
            rows=[
                (lt, used.get(lt.id, 0))
                for lt in licenses.list_licenses(session, viewer.actor, account)
            ],
            values=values or {},
            error=error,
            failed_id=failed_id,
        )
        return render(request, "account/licenses.html", context, status_code=422 if error else 200)


@router.get("/accounts/{slug}/licenses")
def list_licenses(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    return _page(request, viewer, slug)


@router.post("/accounts/{slug}/licenses")
def create_license(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> LicenseType:
        account = get_account(session, viewer.actor, slug, write=True)
        data = LicenseIn.model_validate({"name": form.text("name"), "seats": form.text("seats")})
        return licenses.create_license(session, viewer.actor, account, data)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, values=form.values(), error=outcome)
    return RedirectResponse(f"/accounts/{slug}/licenses?done=license-created", status_code=303)


@router.post("/accounts/{slug}/licenses/{license_id}")
def change_seats(
    request: Request, slug: str, license_id: int, viewer: PostingViewer, form: Form
) -> Response:
    def change(session: Session) -> LicenseType:
        account = get_account(session, viewer.actor, slug, write=True)
        patch = LicensePatch.model_validate({"seats": form.text("seats")})
        return licenses.update_license(session, viewer.actor, account, license_id, patch)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, error=outcome, failed_id=license_id)
    return RedirectResponse(f"/accounts/{slug}/licenses?done=license-saved", status_code=303)


@router.post("/accounts/{slug}/licenses/{license_id}/delete")
def delete_license(request: Request, slug: str, license_id: int, viewer: PostingViewer) -> Response:
    def change(session: Session) -> None:
        account = get_account(session, viewer.actor, slug, write=True)
        licenses.delete_license(session, viewer.actor, account, license_id)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, error=outcome, failed_id=license_id)
    return RedirectResponse(f"/accounts/{slug}/licenses?done=license-deleted", status_code=303)
