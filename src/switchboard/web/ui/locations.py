"""An account's locations: the list, a form for a new one with its E911 address, edit, delete."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.db.models import Location
from switchboard.portal import locations
from switchboard.portal.accounts import get_account
from switchboard.portal.schemas import LocationIn, LocationPatch
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.forms import FormError, attempt
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Submitted, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)

ADDRESS_FIELDS = ("street", "city", "region", "postal_code", "country")
# The form's inputs top to bottom, as its labels name them.
LABELS = {
    "name": "name",
    "address": "emergency address",
    "street": "street",
    "city": "city",
    "region": "state or region",
    "postal_code": "postal code",
    "country": "country",
    "time_zone": "time zone",
}


@lru_cache(maxsize=1)
def time_zones() -> list[str]:
    # Region/City names only: the list admins pick from, not legacy aliases like "EST".
    zones = zoneinfo.available_timezones()
    return sorted(z for z in zones if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def _page(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    values: dict[str, str] | None = None,
    error: FormError | None = None,
) -> Response:
    with container(request).unit_of_work() as session:
        page = account_page(session, viewer, slug, "locations")
        page.update(
            locations=locations.list_locations(session, viewer.actor, page["account"]),
            values=values or {"country": "US"},
            error=error,
            time_zones=time_zones(),
        )
        return render(request, "account/locations.html", page, status_code=422 if error else 200)


@router.get("/accounts/{slug}/locations")
def list_locations(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    return _page(request, viewer, slug)


@router.post("/accounts/{slug}/locations")
def create_location(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> Location:
        account = get_account(session, viewer.actor, slug, write=True)
        data = LocationIn.model_validate(_location_input(form))
        return locations.create_location(session, viewer.actor, account, data)

    outcome = attempt(container(request), change, LABELS)
    if isinstance(outcome, FormError):
        return _page(request, viewer, slug, values=form.values(), error=outcome)
    return RedirectResponse(f"/accounts/{slug}/locations?done=location-created", status_code=303)


def _location_input(form: Submitted) -> dict[str, object]:
    return {
        "name": form.text("name"),
        "time_zone": form.text("time_zone"),
        "address": {field: form.text(field) for field in ADDRESS_FIELDS},
    }


def _edit_page(
    request: Request,
    viewer: Viewer,
    slug: str,
    location_id: int,
    *,
    values: dict[str, str] | None = None,
    error: FormError | None = None,
) -> Response:
    with container(request).unit_of_work() as session:
        page = account_page(session, viewer, slug, "locations")
        location = locations.get_location(session, viewer.actor, page["account"], location_id)
        shown = {"name": location.name, "time_zone": location.time_zone}
        shown.update({field: getattr(location, field) for field in ADDRESS_FIELDS})
        shown.update(values or {})
        page.update(location=location, values=shown, error=error, time_zones=time_zones())
        return render(
            request, "account/location_form.html", page, status_code=422 if error else 200
        )


@router.get("/accounts/{slug}/locations/{location_id}")
def edit_location(request: Request, slug: str, location_id: int, viewer: CurrentViewer) -> Response:
    return _edit_page(request, viewer, slug, location_id)


@router.post("/accounts/{slug}/locations/{location_id}")
def update_location(
    request: Request, slug: str, location_id: int, viewer: PostingViewer, form: Form
) -> Response:
    def change(session: Session) -> Location:
        account = get_account(session, viewer.actor, slug, write=True)
        patch = LocationPatch.model_validate(_location_input(form))
        return locations.update_location(session, viewer.actor, account, location_id, patch)

    outcome = attempt(container(request), change, LABELS)
    if isinstance(outcome, FormError):
        return _edit_page(request, viewer, slug, location_id, values=form.values(), error=outcome)
    return RedirectResponse(
        f"/accounts/{slug}/locations/{location_id}?done=location-saved", status_code=303
    )


@router.post("/accounts/{slug}/locations/{location_id}/delete")
def delete_location(
    request: Request, slug: str, location_id: int, viewer: PostingViewer
) -> Response:
    def change(session: Session) -> None:
        account = get_account(session, viewer.actor, slug, write=True)
        locations.delete_location(session, viewer.actor, account, location_id)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _edit_page(request, viewer, slug, location_id, error=outcome)
    return RedirectResponse(f"/accounts/{slug}/locations?done=location-deleted", status_code=303)
