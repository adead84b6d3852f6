"""The Mapping page's form: attribute sources, location rules, the default location and the
guards <-> a merge patch of the sync settings.

Location rules are rows (a directory value, a location, a remove box) with a few empty rows
to add more, so the page needs no script. Everything the form can check on its own is checked
here at once, each message under its input; the settings service validates the whole again.
"""

from __future__ import annotations

from typing import Any

from switchboard.directory.models import USER_PROPERTIES
from switchboard.portal.errors import PortalError
from switchboard.portal.validation import quote
from switchboard.sync.policy import SyncPolicy
from switchboard.web.ui.forms import FormError
from switchboard.web.ui.session import Submitted

# Sources in words, with the Graph property in brackets for whoever checks in Entra ID.
SOURCE_LABELS = {
    "givenName": "First name (givenName)",
    "surname": "Last name (surname)",
    "displayName": "Display name (displayName)",
    "mail": "Email (mail)",
    "userPrincipalName": "User principal name (userPrincipalName)",
    "officeLocation": "Office (officeLocation)",
    "city": "City (city)",
    "state": "State or province (state)",
    "country": "Country or region (country)",
    "usageLocation": "Usage location (usageLocation)",
    "department": "Department (department)",
    "companyName": "Company name (companyName)",
    "jobTitle": "Job title (jobTitle)",
    "employeeId": "Employee ID (employeeId)",
    "mailNickname": "Mail nickname (mailNickname)",
    "streetAddress": "Street address (streetAddress)",
    "postalCode": "Postal code (postalCode)",
    **{
        f"onPremisesExtensionAttributes.extensionAttribute{n}": (
            f"Extension attribute {n} (onPremisesExtensionAttributes.extensionAttribute{n})"
        )
        for n in range(1, 16)
    },
}
assert tuple(SOURCE_LABELS) == USER_PROPERTIES
SOURCE_CHOICES = tuple(SOURCE_LABELS.items())
FALLBACK_CHOICES = (("", "No fallback: report the user"), *SOURCE_CHOICES)
# (input, words) of the attribute sources.
SOURCES = (
    ("first_name", "first name"),
    ("last_name", "last name"),
    ("email", "email"),
    ("email_fallback", "email fallback"),
    ("location", "location"),
)
GUARD_INPUTS = (
    ("deletion_percent", "deletion_guard", "max_percent"),
    ("deletion_count", "deletion_guard", "max_count"),
    ("creation_percent", "creation_guard", "max_percent"),
    ("creation_count", "creation_guard", "max_count"),
)
# Empty rows offered below the rules, to add new ones without a script.
EMPTY_ROWS = 3
ROWS_MAX = 500
# The service's field paths -> the input that shows their errors.
_INPUTS = {
    **{f"mapping.{name}": name for name, _ in SOURCES},
    **{f"{guard}.{key}": name for name, guard, key in GUARD_INPUTS},
    "default_location": "default_location",
}


def stored_values(policy: SyncPolicy) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The form filled from the stored settings: the inputs, and the rule rows."""
    m = policy.mapping
    values = {
        "first_name": m.first_name,
        "last_name": m.last_name,
        "email": m.email,
        "email_fallback": m.email_fallback or "",
        "location": m.location,
        "default_location": policy.default_location or "",
        "deletion_percent": f"{policy.deletion_guard.max_percent:g}",
        "deletion_count": str(policy.deletion_guard.max_count),
        "creation_percent": f"{policy.creation_guard.max_percent:g}",
        "creation_count": str(policy.creation_guard.max_count),
    }
    rows = [{"value": k, "location": v} for k, v in policy.location_rules.items()]
    return values, with_empty_rows(rows)


def with_empty_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [*rows, *({"value": "", "location": ""} for _ in range(EMPTY_ROWS))]


def typed_rows(form: Submitted) -> list[dict[str, str]]:
    """The rule rows as submitted (removed ones included, marked), to show them again."""
    try:
        count = min(int(form.text("rule_rows") or 0), ROWS_MAX)
    except ValueError:
        count = 0
    return [
        {
            "value": form.text(f"rule_value_{i}"),
            "location": form.text(f"rule_location_{i}"),
            "remove": "yes" if form.text(f"rule_remove_{i}") == "yes" else "",
        }
        for i in range(count)
    ]


def shown_rows(form: Submitted) -> list[dict[str, str]]:
    """The rows to show after a submit: as typed, with empty rows to add more."""
    kept = [r for r in typed_rows(form) if r["value"] or r["location"]]
    return with_empty_rows(kept)


def _number(text: str, *, whole: bool) -> float | None:
    try:
        return int(text) if whole else float(text)
    except ValueError:
        return None


def _guard_errors(form: Submitted, errors: dict[str, str]) -> dict[str, dict[str, float]]:
    guards: dict[str, dict[str, float]] = {}
    for name, guard, key in GUARD_INPUTS:
        whole = key == "max_count"
        value = _number(form.text(name), whole=whole)
        if whole and (value is None or value < 1):
            errors[name] = "Enter a whole number of users, 1 or more"
        elif not whole and (value is None or not 1 <= value <= 100):
            errors[name] = "Enter a percentage from 1 to 100"
        else:
            assert value is not None
            guards.setdefault(guard, {})[key] = value
    return guards


def _rules(form: Submitted, locations: list[str], errors: dict[str, str]) -> dict[str, str]:
    known = {name.casefold(): name for name in locations}
    rules: dict[str, str] = {}
    first_row: dict[str, int] = {}
    for i, row in enumerate(typed_rows(form)):
        value, location = row["value"], row["location"]
        if row["remove"] or not (value or location):
            continue
        if not value:
            errors[f"rule_value_{i}"] = "Enter the directory value this rule matches"
            continue
        if not location:
            errors[f"rule_location_{i}"] = f"Choose the location for {quote(value)}"
            continue
        if location.casefold() not in known:
            errors[f"rule_location_{i}"] = (
                f"No location named {quote(location)}; create it under Locations or choose another"
            )
            continue
        key = value.casefold()
        if key in first_row:
            errors[f"rule_value_{i}"] = (
                f"Another rule (row {first_row[key] + 1}) already matches {quote(value)};"
                " values are matched ignoring case, so keep one of them"
            )
            continue
        first_row[key] = i
        rules[key] = known[location.casefold()]
    return rules


def mapping_patch(
    form: Submitted, policy: SyncPolicy, locations: list[str]
) -> dict[str, Any] | FormError:
    """The merge patch the form describes (rules not kept are removed), or every error of the
    submit that the form can tell on its own."""
    errors: dict[str, str] = {}
    mapping: dict[str, str] = {}
    for name, words in SOURCES:
        source = form.text(name)
        if name == "email_fallback" and not source:
            mapping[name] = ""
        elif source not in SOURCE_LABELS:
            errors[name] = f"Choose the {words} source from the list"
        else:
            mapping[name] = source
    rules = _rules(form, locations, errors)
    default = form.text("default_location")
    if default and default.casefold() not in {n.casefold() for n in locations}:
        errors["default_location"] = (
            f"No location named {quote(default)}; create it under Locations or choose another"
        )
    guards = _guard_errors(form, errors)
    if errors:
        first = next(iter(errors))
        count = len(errors)
        message = (
            errors[first]
            if count == 1
            else f"{count} entries need a change; each says what to change below"
        )
        return FormError(message=message, field=first, fields=errors)
    return {
        "mapping": mapping,
        "location_rules": {**dict.fromkeys(policy.location_rules), **rules},
        "default_location": default or None,
        **guards,
    }


def for_form(exc: PortalError) -> FormError:
    """A service error of the settings (mapping.first_name: ...) under the input that shows it,
    in words without the field path; an error of no input of this page goes above the form."""
    field = exc.field or ""
    message = exc.message
    if field and message.startswith(field + ": "):
        message = message[len(field) + 2 :]
    message = message[:1].upper() + message[1:]
    name = _INPUTS.get(field)
    if name is None:
        return FormError(message=message, field=None)
    return FormError(message=message, field=name, fields={name: message})
