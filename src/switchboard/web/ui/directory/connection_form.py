"""The sync settings form: form text <-> the registration's SyncPolicy.

Lists are typed one per line; location rules, the default location and the attribute mapping
are the Mapping page's (``mapping_form``). The service validates the result as a whole, and its
field paths (settings.write_back.extension_to) are mapped back to the input that shows the error.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from switchboard.connection.registration import policy_of
from switchboard.db.models import DirectoryRegistration
from switchboard.portal.errors import PortalError
from switchboard.portal.validation import from_pydantic
from switchboard.web.ui.session import Submitted

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
    values["ca_bundle_pem"] = form.raw("ca_bundle_pem").strip()
    # One checkbox per chosen group on the settings page.
    values["groups"] = "\n".join(form.many("groups"))
    return values


def settings_from(form: Submitted) -> dict[str, Any]:
    """The sync settings the form describes (keys the form leaves out keep their defaults)."""
    mode = form.text("mode") or "on_demand"
    direction = form.text("direction") or "one_way"
    batched = mode == "batched"
    return {
        "groups": [g for text in form.many("groups") for g in _SPLIT.split(text) if g],
        "all_users": form.text("all_users") == "yes",
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
    """A merge patch replacing the form's settings (the Mapping page keeps its own)."""
    return settings_from(form)


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
