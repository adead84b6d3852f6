"""Accounts: the provider's list (and creation), and one account's overview."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.db.models import Account
from switchboard.portal import accounts, licenses, locations, numbers, users
from switchboard.portal.schemas import AccountIn
from switchboard.portal.validation import RETENTION_PLANS
from switchboard.web.deps import container
from switchboard.web.ui import fleet
from switchboard.web.ui.context import account_page
from switchboard.web.ui.forms import FormError, attempt
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)


def _list_page(
    request: Request,
    viewer: Viewer,
    *,
    values: dict[str, str] | None = None,
    error: FormError | None = None,
) -> Response:
    with container(request).unit_of_work() as session:
        found = accounts.list_accounts(session, viewer.actor)
        rows = [(a, users.count_users(session, a)) for a in found]
        return render(
            request,
            "accounts.html",
            {
                "rows": rows,
                "values": values or {"retention_plan": "6m", "extension_length": "4"},
                "error": error,
                "retention_plans": RETENTION_PLANS,
            },
            status_code=422 if error else 200,
        )


@router.get("/accounts")
def list_accounts(request: Request, viewer: CurrentViewer) -> Response:
    return _list_page(request, viewer)


@router.post("/accounts")
def create_account(request: Request, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> Account:
        data = AccountIn.model_validate(
            {
                "slug": form.text("slug"),
                "name": form.text("name"),
                "retention_plan": form.text("retention_plan") or "6m",
                "extension_length": form.text("extension_length") or "4",
            }
        )
        return accounts.create_account(session, viewer.actor, data)

    outcome = attempt(container(request), change)
    if isinstance(outcome, FormError):
        return _list_page(request, viewer, values=form.values(), error=outcome)
    return RedirectResponse(f"/accounts/{outcome.slug}?done=account-created", status_code=303)


@router.get("/accounts/{slug}")
def overview(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    with container(request).unit_of_work() as session:
        page: dict[str, Any] = account_page(session, viewer, slug, "overview")
        account = page["account"]
        inventory = numbers.list_numbers(session, viewer.actor, account)
        used = licenses.usage(session, account)
        page.update(
            user_count=users.count_users(session, account),
            location_count=len(locations.list_locations(session, viewer.actor, account)),
            number_counts={
                status: sum(1 for n in inventory if n.status == status)
                for status in ("available", "assigned", "porting")
            },
            license_rows=[
                (lt, used.get(lt.id, 0))
                for lt in licenses.list_licenses(session, viewer.actor, account)
            ],
        )
        rows = fleet.health(request, session, viewer.actor, account)
        page["health"] = rows[0] if rows else None
        return render(request, "account/overview.html", page)
