"""Edit connection: the cloud, custom hosts and CA bundle of a connected account, without a new
certificate. The tenant and the app are shown, fixed (another one is a new connection)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.connection import connection_edit
from switchboard.connection import registration as service
from switchboard.portal.accounts import get_account
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.directory.connect_wizard import CLOUDS, in_words
from switchboard.web.ui.directory.page_actions import Outcome, inside, not_connected
from switchboard.web.ui.forms import FormError
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Submitted, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)


def _page(
    request: Request,
    viewer: Viewer,
    slug: str,
    values: dict[str, str] | None = None,
    error: FormError | None = None,
) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "directory")
        registration = service.find_registration(session, context["account"])
        if registration is None:
            return not_connected(slug)
        custom = registration.cloud == "custom"
        shown = values or {
            "cloud": registration.cloud,
            "authority_url": registration.authority_url if custom else "",
            "graph_url": registration.graph_url if custom else "",
            "ca_bundle_pem": registration.ca_bundle_pem or "",
        }
        context.update(registration=registration, values=shown, error=error, clouds=CLOUDS)
        return render(
            request, "account/directory_connection.html", context, status_code=422 if error else 200
        )


def _edit(form: Submitted) -> connection_edit.ConnectionEdit:
    custom = form.text("cloud") == "custom"
    return connection_edit.ConnectionEdit(
        cloud=form.text("cloud") or None,
        authority_url=form.text("authority_url") if custom else None,
        graph_url=form.text("graph_url") if custom else None,
        # The form always says the whole bundle: empty removes it.
        ca_bundle_pem=form.raw("ca_bundle_pem").strip() if custom else None,
    )


@router.get("/accounts/{slug}/directory/connection")
def show_connection(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    return _page(request, viewer, slug)


@router.post("/accounts/{slug}/directory/connection")
def save_connection(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    c = container(request)

    def change(session: Session) -> connection_edit.EditedConnection:
        account = get_account(session, viewer.actor, slug, write=True)
        return connection_edit.update_connection(session, viewer.actor, account, _edit(form))

    outcome = inside(c, change)
    if outcome is Outcome.NOT_CONNECTED:
        return not_connected(slug)
    if isinstance(outcome, FormError):
        values = form.values()
        values["ca_bundle_pem"] = form.raw("ca_bundle_pem").strip()
        return _page(request, viewer, slug, values, in_words(outcome))
    assert isinstance(outcome, connection_edit.EditedConnection)
    connection_edit.retire_old_connections(c.graph_connections, outcome)
    done = "directory-connection-saved" if outcome.changed else "directory-connection-unchanged"
    return RedirectResponse(f"/accounts/{slug}/directory?done={done}#finish-setup", status_code=303)
