"""The Entra ID connect / sync settings form: form text <-> the registration and its SyncPolicy.

Lists are typed one per line ("value = location" for location rules); the service validates the
result as a whole, and its field paths (settings.write_back.extension_to) are mapped back to the
input that shows the error.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from switchboard.connection.registration import policy_of
from switchboard.db.models import DirectoryRegistration
from switchboard.directory.clouds import CLOUD_NAMES
from switchboard.portal.errors import PortalError, ValidationFailed
from switchboard.portal.validation import from_pydantic
from switchboard.web.ui.session import Submitted

CLOUD_CHOICES = (
    ("global", "Global (login.microsoftonline.com)"),
    ("usgov", "US Government (login.microsoftonline.us)"),
    ("china", "China (21Vianet)"),
    ("custom", "Custom hosts"),
)
assert tuple(c for c, _ in CLOUD_CHOICES) == CLOUD_NAMES
DIRECTION_CHOICES = (
    ("one_way", "One-way: Entra ID to Switchboard"),
    ("two_way", "Two-way: also write extensions and numbers back to Entra ID"),
)
PROVISIONING_CHOICES = (
    ("automatic", "Automatic: create users found in the synced groups"),
    ("manual", "Manual: offer them under Add users > From directory"),
)
MODE_CHOICES = (
    ("on_demand", "On demand (the Reconcile button, API or CLI)"),
    ("batched", "Batched (on a schedule)"),
    ("jit", "Just in time (change notifications)"),
)
EXTENSION_CHOICES = (
    ("", "Do not write the extension"),
    *((f"extensionAttribute{n}", f"extensionAttribute{n}") for n in range(1, 16)),
)
# Inputs whose errors the service reports under another name.
_INPUTS = {"write_back": "extension_to"}
_SPLIT = re.compile(r"[\s,;]+")


def registration_values(registration: DirectoryRegistration) -> dict[str, str]:
    """The form filled from what is stored."""
    policy = policy_of(registration)
    return {
        "tenant_id": registration.tenant_id,
        "client_id": registration.client_id,
        "cloud": registration.cloud,
        "authority_url": registration.authority_url if registration.cloud == "custom" else "",
        "graph_url": registration.graph_url if registration.cloud == "custom" else "",
        "ca_bundle_pem": registration.ca_bundle_pem or "",
        "groups": "\n".join(policy.groups),
        "all_users": "yes" if policy.all_users else "",
        "location_rules": "\n".join(f"{k} = {v}" for k, v in policy.location_rules.items()),
        "default_location": policy.default_location or "",
        "direction": policy.direction,
        "extension_to": policy.write_back.extension_to or "",
        "provisioning": policy.provisioning,
        "mode": policy.mode,
        "schedule_minutes": str(policy.schedule_minutes or ""),
        "schedule_cron": policy.schedule_cron or "",
    }


def typed_values(form: Submitted) -> dict[str, str]:
    """What the admin typed, multi-line fields kept as typed, to fill the form after an error."""
    values = form.values()
    for name in ("location_rules", "ca_bundle_pem"):
        values[name] = form.raw(name).strip()
    # One textarea when connecting, one checkbox per chosen group on the settings page.
    values["groups"] = "\n".join(form.many("groups"))
    return values


def location_rules(text: str) -> dict[str, str]:
    rules: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        value, sep, location = line.partition("=")
        if not sep or not value.strip() or not location.strip():
            raise ValidationFailed(
                f"location_rules: line {number} ('{line.strip()[:80]}') is not"
                " 'directory value = location name', like 'Chicago = HQ'",
                field="location_rules",
            )
        rules[value.strip()] = location.strip()
    return rules


def settings_from(form: Submitted) -> dict[str, Any]:
    """The sync settings the form describes (keys the form leaves out keep their defaults)."""
    mode = form.text("mode") or "on_demand"
    direction = form.text("direction") or "one_way"
    batched = mode == "batched"
    return {
        "groups": [g for text in form.many("groups") for g in _SPLIT.split(text) if g],
        "all_users": form.text("all_users") == "yes",
        "location_rules": location_rules(form.raw("location_rules")),
        "default_location": form.optional("default_location"),
        "direction": direction,
        "write_back": {
            "extension_to": form.optional("extension_to") if direction == "two_way" else None
        },
        "provisioning": form.text("provisioning") or "automatic",
        "mode": mode,
        "schedule_minutes": form.optional("schedule_minutes") if batched else None,
        "schedule_cron": form.optional("schedule_cron") if batched else None,
    }


def settings_patch(registration: DirectoryRegistration, form: Submitted) -> dict[str, Any]:
    """A merge patch replacing the form's settings: rules no longer listed are removed."""
    wanted = settings_from(form)
    removed = dict.fromkeys(policy_of(registration).location_rules)
    removed.update({k.strip().casefold(): v for k, v in wanted["location_rules"].items()})
    wanted["location_rules"] = removed
    return wanted


def connect_body(form: Submitted) -> dict[str, Any]:
    custom = form.text("cloud") == "custom"
    return {
        "tenant_id": form.text("tenant_id"),
        "client_id": form.text("client_id"),
        "cloud": form.text("cloud") or "global",
        "authority_url": form.optional("authority_url") if custom else None,
        "graph_url": form.optional("graph_url") if custom else None,
        "ca_bundle_pem": (form.raw("ca_bundle_pem").strip() or None) if custom else None,
        "settings": settings_from(form),
    }


def for_form(exc: ValidationError | PortalError) -> PortalError:
    """The error with its field renamed to the input that shows it (settings.x.y -> x)."""
    error = from_pydantic(exc) if isinstance(exc, ValidationError) else exc
    if error.field:
        path = error.field.removeprefix("settings.")
        head, _, rest = path.partition(".")
        if head == "groups" and rest.isdigit():
            path = f"groups, line {int(rest) + 1}"  # the textarea has one group per line
        if error.message.startswith(error.field):
            error.message = path + error.message[len(error.field) :]
        error.field = _INPUTS.get(head, head)
    return error
