"""An account's Entra ID connection: connect, status, certificate, test, settings, disconnect.

Account admins and provider admins change it; viewers see the same pages without forms.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.connection import app_certificates, certificate_rotation, group_picker
from switchboard.connection import registration as service
from switchboard.connection.group_picker import ChosenGroups
from switchboard.connection.tenant_sharing import tenant_sharing
from switchboard.connection.verification import verify_connection
from switchboard.db.models import (
    DirectoryRegistration,
    DirectorySubscription,
    User,
    WriteBackTask,
)
from switchboard.directory.stored_credentials import Which
from switchboard.jobs import heartbeat
from switchboard.portal import locations
from switchboard.portal.accounts import get_account
from switchboard.portal.clock_context import now
from switchboard.portal.errors import PortalError
from switchboard.scim import source as scim_source
from switchboard.sync import jit_switch, rescope, runs, subscription_upkeep
from switchboard.sync.policy import SyncPolicy
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.directory import connect_wizard as wizard
from switchboard.web.ui.directory import connection_form as forms
from switchboard.web.ui.directory.page_actions import (
    Outcome,
    duration,
    inside,
    not_connected,
    outside,
)
from switchboard.web.ui.directory.scim_view import scim_page
from switchboard.web.ui.forms import FormError
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)

RECENT_RUNS = 5
PEM = "application/x-pem-file"


def _choices(session: Session, viewer: Viewer, context: dict[str, Any]) -> dict[str, Any]:
    names = [
        loc.name for loc in locations.list_locations(session, viewer.actor, context["account"])
    ]
    return {
        "location_names": names,
        "direction_choices": forms.DIRECTION_CHOICES,
        "provisioning_choices": forms.PROVISIONING_CHOICES,
        "mode_choices": forms.MODE_CHOICES,
        "extension_choices": forms.EXTENSION_CHOICES,
    }


def _idle_background(session: Session, policy: SyncPolicy) -> str | None:
    """For a scheduled or just-in-time account with nobody to run its syncs: the role of the
    missing process ("scheduler" on SQLite, "worker" on PostgreSQL); otherwise None."""
    if policy.mode not in ("jit", "batched") or heartbeat.background_alive(session):
        return None
    return heartbeat.background_role(session)


def _status(session: Session, registration: DirectoryRegistration) -> dict[str, Any]:
    """What the status card shows: certificates as Entra shows them, the last test, counts."""
    account_id = registration.account_id
    return {
        "missing_background": _idle_background(session, service.policy_of(registration)),
        "certificate": app_certificates.info(registration.certificate_pem),
        "next_certificate": (
            app_certificates.info(registration.next_certificate_pem)
            if registration.next_certificate_pem
            else None
        ),
        "policy": service.policy_of(registration),
        "permissions": service.required_permissions(service.policy_of(registration)),
        "last_test": registration.last_test,
        "directory_users": session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.account_id == account_id, User.source == "directory")
        )
        or 0,
        # Just-in-time sync: the Graph change-notification subscriptions and their state.
        "subscriptions": [
            subscription_upkeep.describe(row, now(session))
            for row in session.scalars(
                select(DirectorySubscription)
                .where(DirectorySubscription.account_id == account_id)
                .order_by(DirectorySubscription.resource)
            )
        ],
        "writebacks": dict(
            session.execute(
                select(WriteBackTask.status, func.count())
                .where(WriteBackTask.account_id == account_id)
                .group_by(WriteBackTask.status)
            ).all()
        ),
    }


def _chosen_groups(request: Request, viewer: Viewer, slug: str) -> ChosenGroups | None:
    """The synced groups by name, read from Entra ID before the page's transaction; None when
    the account is not connected (or not the viewer's: the page says so)."""
    try:
        return group_picker.chosen_groups(container(request), viewer.actor, slug)
    except PortalError:
        return None


def directory_page(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    form_name: str = "",
    values: dict[str, str] | None = None,
    error: FormError | None = None,
    notice: str | None = None,
    wizard_step: str = "cloud",
) -> Response:
    """The Directory tab: the sources to choose from with the connect wizard, the SCIM page
    while SCIM is the source, or the connection's status and the sync buttons.
    ``notice``: words to show that no fixed notice code carries (a reason from Entra ID)."""
    chosen = _chosen_groups(request, viewer, slug)
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "directory")
        account = context["account"]
        registration = service.find_registration(session, account)
        if registration is None:
            setup = scim_source.read_setup(session, viewer.actor, account)
            if setup.source is not None:
                # A wizard's refusal ("disconnect SCIM first") is shown above the SCIM page.
                return scim_page(request, session, viewer, context, setup, error=error)
        context.update(
            registration=registration,
            form_name=form_name,
            error=error,
            now=now(session),
        )
        if notice:
            context["notice"] = notice
        if registration is None:
            shown = values or {"cloud": "global"}
            context.update(wizard.wizard_context(session, viewer, context, shown, wizard_step))
        else:
            context.update(_status(session, registration), chosen_groups=chosen)
            context["sharing"] = tenant_sharing(
                session, viewer.actor, account, registration.tenant_id
            )
            context["scope_chosen"] = service.scope_chosen(service.policy_of(registration))
            context["values"] = values or {}
            recent, total = runs.list_runs(session, viewer.actor, account, limit=RECENT_RUNS)
            context.update(recent_rows=[(r, duration(r)) for r in recent], run_total=total)
        return render(request, "account/directory.html", context, status_code=422 if error else 200)


@router.get("/accounts/{slug}/directory")
def show_directory(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    return directory_page(request, viewer, slug)


@router.post("/accounts/{slug}/directory/wizard")
def connect_wizard_step(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    def show(step: str, values: dict[str, str], error: FormError | None) -> Response:
        return directory_page(request, viewer, slug, values=values, error=error, wizard_step=step)

    def one_source(session: Session) -> None:
        account = get_account(session, viewer.actor, slug, write=True)
        service.refuse_while_scim(session, account)

    refused = inside(container(request), one_source)
    if isinstance(refused, FormError):
        # Another admin chose SCIM since this wizard was opened: say what to disconnect first.
        return directory_page(request, viewer, slug, error=refused)
    return wizard.handle_step(request, slug, viewer, form, show)


def _settings_page(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    values: dict[str, str] | None = None,
    error: FormError | None = None,
) -> Response:
    chosen = _chosen_groups(request, viewer, slug)
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "directory")
        registration = service.find_registration(session, context["account"])
        if registration is None:
            return not_connected(slug)
        context["chosen_groups"] = chosen
        shown = forms.registration_values(registration)
        if values is not None:
            # The connection (tenant, app, cloud) is edited on its own page; the rest as typed.
            fixed = ("tenant_id", "client_id", "cloud", "authority_url", "graph_url")
            shown.update({k: v for k, v in values.items() if k not in fixed})
        context.update(_choices(session, viewer, context))
        context.update(registration=registration, values=shown, error=error)
        return render(
            request, "account/directory_settings.html", context, status_code=422 if error else 200
        )


@router.get("/accounts/{slug}/directory/settings")
def show_settings(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    return _settings_page(request, viewer, slug)


@router.post("/accounts/{slug}/directory/settings")
def save_settings(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> tuple[int, SyncPolicy, SyncPolicy]:
        account = get_account(session, viewer.actor, slug, write=True)
        registration = service.get_registration(session, viewer.actor, account)
        before = service.policy_of(registration)
        patch = forms.settings_patch(registration, form)
        saved = service.update_settings(session, viewer.actor, account, patch)
        return account.id, before, service.policy_of(saved)

    c = container(request)
    outcome = inside(c, change)
    if outcome is Outcome.NOT_CONNECTED:
        return not_connected(slug)
    if isinstance(outcome, FormError):
        return _settings_page(request, viewer, slug, values=forms.typed_values(form), error=outcome)
    assert not isinstance(outcome, Outcome)
    account_id, before, after = outcome
    started = rescope.after_settings_change(
        c, c.jobs, viewer.actor, slug, account_id, before, after, trigger="manual"
    )
    switched = jit_switch.after_mode_change(c, account_id, before, after)
    if switched is not None and switched.outcome == "failed":
        # Entra ID's reason is free text: shown on this answer, never echoed from a URL.
        return directory_page(request, viewer, slug, notice=switched.note(slug))
    if started is not None and started.run_number is not None:
        # The new scope is being reconciled: show that run.
        return RedirectResponse(
            f"/accounts/{slug}/directory/runs/{started.run_number}?done=directory-rescoped",
            status_code=303,
        )
    if switched is not None:
        return RedirectResponse(
            f"/accounts/{slug}/directory?done=directory-jit-{switched.outcome.replace('_', '-')}",
            status_code=303,
        )
    return RedirectResponse(
        f"/accounts/{slug}/directory?done=directory-settings-saved", status_code=303
    )


@router.get("/accounts/{slug}/directory/certificate")
def download_certificate(
    request: Request,
    slug: str,
    viewer: CurrentViewer,
    which: Annotated[Which, Query()] = "current",
) -> Response:
    """The public certificate (never the key), to upload to the app registration."""
    with container(request).unit_of_work() as session:
        account = get_account(session, viewer.actor, slug)
        registration = service.get_registration(session, viewer.actor, account)
        pem = certificate_rotation.certificate_pem(registration, which)
        name = certificate_rotation.certificate_filename(account, registration, which)
    return Response(
        content=pem,
        media_type=PEM,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/accounts/{slug}/directory/test")
def test_connection(request: Request, slug: str, viewer: PostingViewer) -> Response:
    # Graph calls: outside any transaction of this request; the service records the result.
    outcome = outside(lambda: verify_connection(container(request), viewer.actor, slug))
    if outcome is Outcome.NOT_CONNECTED:
        return not_connected(slug)
    if isinstance(outcome, FormError):
        return directory_page(request, viewer, slug, form_name="status", error=outcome)
    return RedirectResponse(
        f"/accounts/{slug}/directory?done=directory-tested#connection-test", status_code=303
    )


def _certificate_step(request: Request, slug: str, viewer: Viewer, step: str) -> Response:
    steps = {
        "rotate": (certificate_rotation.rotate_certificate, "certificate-rotated"),
        "promote": (certificate_rotation.promote_next, "certificate-promoted"),
        "discard": (certificate_rotation.discard_next, "certificate-discarded"),
    }
    act, done = steps[step]

    def change(session: Session) -> DirectoryRegistration:
        account = get_account(session, viewer.actor, slug, write=True)
        return act(session, viewer.actor, account)

    outcome = inside(container(request), change)
    if outcome is Outcome.NOT_CONNECTED:
        return not_connected(slug)
    if isinstance(outcome, FormError):
        return directory_page(request, viewer, slug, form_name="status", error=outcome)
    return RedirectResponse(f"/accounts/{slug}/directory?done={done}", status_code=303)


@router.post("/accounts/{slug}/directory/certificate/rotate")
def rotate_certificate(request: Request, slug: str, viewer: PostingViewer) -> Response:
    return _certificate_step(request, slug, viewer, "rotate")


@router.post("/accounts/{slug}/directory/certificate/promote")
def promote_certificate(request: Request, slug: str, viewer: PostingViewer) -> Response:
    return _certificate_step(request, slug, viewer, "promote")


@router.post("/accounts/{slug}/directory/certificate/discard")
def discard_certificate(request: Request, slug: str, viewer: PostingViewer) -> Response:
    return _certificate_step(request, slug, viewer, "discard")


@router.get("/accounts/{slug}/directory/disconnect")
def confirm_disconnect(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "directory")
        registration = service.find_registration(session, context["account"])
        if registration is None:
            return not_connected(slug)
        context.update(registration=registration, **_status(session, registration))
        return render(request, "account/directory_disconnect.html", context)


@router.post("/accounts/{slug}/directory/disconnect")
def disconnect(request: Request, slug: str, viewer: PostingViewer) -> Response:
    def change(session: Session) -> service.DisconnectSummary:
        account = get_account(session, viewer.actor, slug, write=True)
        return service.disconnect(session, viewer.actor, account)

    outcome = inside(container(request), change)
    if outcome is Outcome.NOT_CONNECTED:
        return not_connected(slug)
    if isinstance(outcome, FormError):
        return directory_page(request, viewer, slug, form_name="status", error=outcome)
    return RedirectResponse(
        f"/accounts/{slug}/directory?done=directory-disconnected", status_code=303
    )
