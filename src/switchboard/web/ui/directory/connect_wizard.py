"""The connect wizard of the Directory tab: cloud, then ids, then what to do in Entra ID, then
connect. Each step is a server-rendered form carrying the earlier answers as hidden inputs, so
it works without JavaScript; Back and Next are buttons of the same form.

Connecting uses the default sync settings with no scope yet: the groups are chosen after the
connection works (nothing syncs before). Downloading the certificate and testing are the
connected Directory tab's "finish setting up" steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.connection import registration as service
from switchboard.connection.tenant_sharing import tenant_sharing
from switchboard.db.models import DirectoryRegistration
from switchboard.directory import clouds
from switchboard.portal.accounts import get_account
from switchboard.portal.errors import PortalError
from switchboard.web.deps import container
from switchboard.web.ui.directory.page_actions import Outcome, inside
from switchboard.web.ui.forms import FormError
from switchboard.web.ui.session import Submitted, Viewer

STEPS = ("cloud", "hosts", "ids", "permissions")
STEP_TITLES = {
    "cloud": "Choose the cloud",
    "hosts": "Custom hosts",
    "ids": "Enter the app registration's ids",
    "permissions": "Prepare the app registration and connect",
}
# (value, name, explanation): what an admin needs to pick the right one.
CLOUDS = (
    (
        "global",
        "Global",
        "Microsoft Entra ID as most organisations use it (sign-in at login.microsoftonline.com,"
        " Graph at graph.microsoft.com). Choose this unless you know otherwise.",
    ),
    (
        "usgov",
        "US Government",
        "Microsoft 365 GCC High and DoD tenants (login.microsoftonline.us, graph.microsoft.us)."
        " GCC (moderate) tenants use the global cloud.",
    ),
    (
        "china",
        "China (21Vianet)",
        "Tenants operated by 21Vianet in China (login.chinacloudapi.cn,"
        " microsoftgraph.chinacloudapi.cn).",
    ),
    (
        "custom",
        "Custom hosts",
        "Another sovereign or test cloud, or the built-in emulator: give the sign-in and Graph"
        " hosts, and the CA that issued their certificates if it is not a public one.",
    ),
)
HIDDEN = ("cloud", "authority_url", "graph_url", "ca_bundle_pem", "tenant_id", "client_id")


def _words(exc: PortalError) -> FormError:
    return in_words(FormError(message=exc.message, field=exc.field or None))


def in_words(error: FormError) -> FormError:
    """The error without the internal field name its message starts with ("tenant_id: ...")."""
    message, field = error.message, error.field
    if field and message.startswith(f"{field}: "):
        message = message[len(field) + 2 :]
        message = message[:1].upper() + message[1:]
    return FormError(message=message, field=field, fields={field: message} if field else {})


def _answers(form: Submitted) -> dict[str, str]:
    values = {name: form.text(name) for name in HIDDEN}
    values["ca_bundle_pem"] = form.raw("ca_bundle_pem").strip()
    values["cloud"] = values["cloud"] or "global"
    if values["cloud"] != "custom":
        values.update(authority_url="", graph_url="", ca_bundle_pem="")
    return values


def _check_cloud(values: dict[str, str]) -> None:
    clouds.resolve(
        values["cloud"],
        values["authority_url"] or None,
        values["graph_url"] or None,
        values["ca_bundle_pem"] or None,
    )


def _check_ids(values: dict[str, str]) -> None:
    values["tenant_id"] = clouds.guid(values["tenant_id"], "tenant_id", "Directory (tenant) ID")
    values["client_id"] = clouds.guid(values["client_id"], "client_id", "Application (client) ID")


def wizard_context(
    session: Session, viewer: Viewer, context: dict[str, Any], values: dict[str, str], step: str
) -> dict[str, Any]:
    """What the wizard's step needs besides the account page."""
    account = context["account"]
    sharing = None
    if step == "permissions" and values.get("tenant_id"):
        sharing = tenant_sharing(session, viewer.actor, account, values["tenant_id"])
    steps = _steps(values)
    step = step if step in steps else "cloud"
    return {
        "wizard_step": step,
        "wizard_number": steps.index(step) + 1,
        # The last two steps happen once connected: the certificate, then the test.
        "wizard_total": len(steps) + 2,
        "wizard_steps": [(s, STEP_TITLES[s]) for s in steps],
        "wizard_clouds": CLOUDS,
        "wizard_hidden": HIDDEN,
        "read_permissions": list(service.READ_PERMISSIONS),
        "write_permission": service.WRITE_PERMISSION,
        "sharing": sharing,
        "values": values,
    }


Show = Callable[[str, dict[str, str], FormError | None], Response]


def handle_step(
    request: Request, slug: str, viewer: Viewer, form: Submitted, show: Show
) -> Response:
    """One step of the wizard: Back shows the previous step, Next checks this one's answers.
    ``show(step, values, error)`` renders the Directory tab at a step."""
    with container(request).unit_of_work() as session:
        get_account(session, viewer.actor, slug, write=True)  # only those who may connect
    values = _answers(form)
    step = form.text("step") if form.text("step") in STEPS else "cloud"
    steps = _steps(values)
    at = steps.index(step) if step in steps else 0
    if form.text("go") == "back":
        return show(steps[max(at - 1, 0)], values, None)
    try:
        if step == "cloud":
            if values["cloud"] not in clouds.CLOUD_NAMES:
                return show("cloud", values, FormError("Choose one of the clouds.", "cloud"))
        elif step == "hosts":
            _check_cloud(values)
        elif step == "ids":
            _check_cloud(values)
            _check_ids(values)
    except PortalError as exc:
        return show(step, values, _words(exc))
    if step == "permissions":
        return _connect(request, slug, viewer, values, show)
    return show(steps[at + 1], values, None)


def _steps(values: dict[str, str]) -> tuple[str, ...]:
    """The custom hosts step only for custom hosts."""
    return STEPS if values.get("cloud") == "custom" else tuple(s for s in STEPS if s != "hosts")


def _connect(
    request: Request, slug: str, viewer: Viewer, values: dict[str, str], show: Show
) -> Response:
    def change(session: Session) -> DirectoryRegistration:
        account = get_account(session, viewer.actor, slug, write=True)
        data = service.RegistrationIn(
            tenant_id=values["tenant_id"],
            client_id=values["client_id"],
            cloud=values["cloud"],
            authority_url=values["authority_url"] or None,
            graph_url=values["graph_url"] or None,
            ca_bundle_pem=values["ca_bundle_pem"] or None,
        )
        return service.connect(session, viewer.actor, account, data, scope_later=True)

    outcome = inside(container(request), change)
    if isinstance(outcome, FormError | Outcome):
        # A cloud or id answer went wrong after all (or the account got connected meanwhile).
        error = in_words(outcome) if isinstance(outcome, FormError) else None
        step = "ids" if error and error.field in ("tenant_id", "client_id") else "hosts"
        if error and error.field is None:
            step = "permissions"
        if step == "hosts" and values["cloud"] != "custom":
            step = "cloud"
        return show(step, values, error)
    return RedirectResponse(
        f"/accounts/{slug}/directory?done=directory-connected#finish-setup", status_code=303
    )
