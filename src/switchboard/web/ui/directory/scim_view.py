"""The Directory tab of an account that takes its users over SCIM: the Tenant URL, the secret
token (shown once), the client's step-by-step instructions, the settings form, the tokens and
Disconnect. Also the settings form's text <-> ``ScimSettings``.

Rendering only; the routes are ``scim_pages`` (and ``connection_pages`` for the tab itself).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from sqlalchemy.orm import Session

from switchboard.portal import locations
from switchboard.portal.errors import ValidationFailed
from switchboard.portal.input_problems import InvalidInput, Problem
from switchboard.scim import source as scim_source
from switchboard.scim import tokens as scim_tokens
from switchboard.scim.source import Client, ScimSettings, ScimSetup
from switchboard.scim.tokens import IssuedScimToken
from switchboard.web.deps import public_base
from switchboard.web.ui.forms import FormError
from switchboard.web.ui.session import Submitted, Viewer
from switchboard.web.ui.templating import render

CLIENT_NAMES = {"entra": "Entra provisioning (SCIM)", "okta": "Okta (SCIM)"}
CLIENT_CHOICES = tuple(CLIENT_NAMES.items())
DEPROVISION_CHOICES = (
    ("disable", "Keep the user, flagged “disabled in directory”, with its license"),
    ("delete", "Delete the user from the portal"),
)
LOCATION_CHOICES = (
    ("department", "Department (enterprise extension)"),
    ("locality", "Work address: locality (city)"),
    ("switchboard", "Switchboard extension: location"),
)
# The settings form's inputs top to bottom, as error messages name them.
LABELS = {
    "client": "Client",
    "deprovision": "What a deactivation means",
    "location_attribute": "Location comes from",
    "default_location": "Default location",
    "location_rules": "Location rules",
    "rate_limit": "Rate limit",
    "overlap_hours": "Old token keeps working for",
}


def setup_values(setup: ScimSetup) -> dict[str, str]:
    """The settings form filled from what is stored."""
    found = setup.source
    if found is None:
        return {}
    rules = "\n".join(f"{value} = {name}" for value, name in found.location_rules.items())
    return {
        "client": found.client,
        "deprovision": found.deprovision,
        "location_attribute": found.location_attribute,
        "default_location": found.default_location or "",
        "location_rules": rules,
        "rate_limit": str(found.rate_limit),
        "overlap_hours": "24",
    }


def typed_values(form: Submitted) -> dict[str, str]:
    values = form.values()
    values["location_rules"] = form.raw("location_rules").strip()
    return values


def chosen_client(text: str) -> Client | None:
    return next((c for c in scim_source.CLIENTS if c == text), None)


def settings_from(form: Submitted) -> tuple[Client, ScimSettings]:
    """The client and settings the form describes; every problem of the typing at once."""
    problems: list[Problem] = []
    client = chosen_client(form.text("client"))
    if client is None:
        problems.append(Problem("client", "choose Entra provisioning or Okta"))
    deprovision = next((d for d in scim_source.DEPROVISION if d == form.text("deprovision")), None)
    if deprovision is None:
        problems.append(Problem("deprovision", "choose keep (flagged) or delete"))
    attribute = next(
        (a for a in scim_source.LOCATION_ATTRIBUTES if a == form.text("location_attribute")), None
    )
    if attribute is None:
        problems.append(Problem("location_attribute", "must be one of the choices offered"))
    rules: dict[str, str] = {}
    for number, line in enumerate(form.raw("location_rules").splitlines(), start=1):
        if not line.strip():
            continue
        value, sep, name = line.rpartition("=")
        if not sep or not value.strip() or not name.strip():
            problems.append(
                Problem(
                    "location_rules",
                    f"line {number} must read: directory value = location name",
                )
            )
            break
        rules[value.strip()] = name.strip()
    low, high = scim_source.RATE_LIMIT_RANGE
    rate = form.text("rate_limit")
    if not rate.isdigit() or not low <= int(rate) <= high:
        problems.append(
            Problem("rate_limit", f"must be a whole number from {low} to {high} per second")
        )
    if problems or client is None:
        raise InvalidInput(problems[0].message(LABELS), field=problems[0].field, problems=problems)
    settings = ScimSettings(
        deprovision=deprovision,
        location_attribute=attribute,
        location_rules=rules,
        default_location=form.text("default_location"),
        rate_limit=int(rate),
    )
    return client, settings


def overlap_from(form: Submitted) -> int:
    text = form.text("overlap_hours") or "0"
    if not text.isdigit() or int(text) > scim_tokens.MAX_OVERLAP_HOURS:
        raise ValidationFailed(
            f"overlap_hours: must be a whole number of hours from 0 to"
            f" {scim_tokens.MAX_OVERLAP_HOURS} (a week)",
            field="overlap_hours",
        )
    return int(text)


def scim_page(
    request: Request,
    session: Session,
    viewer: Viewer,
    context: dict[str, Any],
    setup: ScimSetup,
    *,
    form_name: str = "",
    values: dict[str, str] | None = None,
    error: FormError | None = None,
    issued: IssuedScimToken | None = None,
) -> Response:
    """The Directory tab while SCIM is the source. ``form_name`` says which form ``error``
    belongs to ("settings", "token"); any other error is a refusal shown at the top."""
    account = context["account"]
    shown = setup_values(setup)
    if values is not None:
        shown.update(values)
    names = [loc.name for loc in locations.list_locations(session, viewer.actor, account)]
    working = [t for t in setup.tokens if scim_tokens.state(t, setup.at) in ("active", "expiring")]
    context.update(
        setup=setup,
        source=setup.source,
        client_name=CLIENT_NAMES.get(setup.source.client if setup.source else "", "SCIM"),
        scim_url=scim_source.endpoint_url(public_base(request), account),
        token_rows=[(t, scim_tokens.state(t, setup.at)) for t in setup.tokens],
        working_tokens=len(working),
        issued=issued,
        values=shown,
        error=error,
        form_name=form_name,
        client_choices=CLIENT_CHOICES,
        deprovision_choices=DEPROVISION_CHOICES,
        location_choices=LOCATION_CHOICES,
        location_options=[("", "None: refuse users without a location")] + [(n, n) for n in names],
        max_overlap=scim_tokens.MAX_OVERLAP_HOURS,
        rate_range=scim_source.RATE_LIMIT_RANGE,
    )
    return render(
        request, "account/directory_scim.html", context, status_code=422 if error else 200
    )
