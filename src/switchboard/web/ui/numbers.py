"""An account's number inventory: status list, adding numbers at a location, completing ports,
moving and removing unassigned numbers."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.db.models import PhoneNumber
from switchboard.portal import locations, numbers
from switchboard.portal.accounts import get_account
from switchboard.portal.schemas import NumberPatch, NumbersIn
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.forms import FormError, attempt
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)

StatusFilter = Literal["", "available", "assigned", "porting"]
_SEPARATORS = re.compile(r"[\s,;]+")


def _page(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    status: str = "",
    values: dict[str, str] | None = None,
    error: FormError | None = None,
    failed_id: int | None = None,
) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "numbers")
        account = context["account"]
        context.update(
            numbers=numbers.list_numbers(session, viewer.actor, account, status=status or None),
            locations=locations.list_locations(session, viewer.actor, account),
            status=status,
            values=values or {"status": "available"},
            error=error,
            failed_id=failed_id,
        )
        return render(request, "account/numbers.html", context, status_code=422 if error else 200)


@router.get("/accounts/{slug}/numbers")
def list_numbers(
    request: Request,
    slug: str,
    viewer: CurrentViewer,
    status: Annotated[StatusFilter, Query()] = "",
) -> Response:
    return _page(request, viewer, slug, status=status)


@router.post("/accounts/{slug}/numbers")
def add_numbers(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> list[PhoneNumber]:
        account = get_account(session, viewer.actor, slug, write=True)
        data = NumbersIn.model_validate(
            {
                "numbers": [n for n in _SEPARATORS.split(form.text("numbers")) if n],
                "location_id": form.text("location_id"),
                "status": form.text("status") or "available",
            }
        )
        return numbers.add_numbers(session, viewer.actor, account, data)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, values=form.values(), error=outcome)
    return RedirectResponse(f"/accounts/{slug}/numbers?done=numbers-added", status_code=303)


@router.post("/accounts/{slug}/numbers/{number_id}/available")
def mark_available(request: Request, slug: str, number_id: int, viewer: PostingViewer) -> Response:
    def change(session: Session) -> PhoneNumber:
        account = get_account(session, viewer.actor, slug, write=True)
        patch = NumberPatch(status="available")
        return numbers.update_number(session, viewer.actor, account, number_id, patch)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, error=outcome)
    return RedirectResponse(f"/accounts/{slug}/numbers?done=number-available", status_code=303)


@router.post("/accounts/{slug}/numbers/{number_id}/location")
def move_number(
    request: Request, slug: str, number_id: int, viewer: PostingViewer, form: Form
) -> Response:
    def change(session: Session) -> PhoneNumber:
        account = get_account(session, viewer.actor, slug, write=True)
        patch = NumberPatch.model_validate({"location_id": form.text("location_id")})
        return numbers.update_number(session, viewer.actor, account, number_id, patch)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, error=outcome, failed_id=number_id)
    return RedirectResponse(f"/accounts/{slug}/numbers?done=number-moved", status_code=303)


@router.post("/accounts/{slug}/numbers/{number_id}/remove")
def remove_number(request: Request, slug: str, number_id: int, viewer: PostingViewer) -> Response:
    def change(session: Session) -> None:
        account = get_account(session, viewer.actor, slug, write=True)
        numbers.remove_number(session, viewer.actor, account, number_id)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, error=outcome, failed_id=number_id)
    return RedirectResponse(f"/accounts/{slug}/numbers?done=number-removed", status_code=303)
