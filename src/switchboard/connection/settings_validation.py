"""An account's sync settings, checked before they are stored: the policy's own rules (pydantic)
plus what only the account knows (its location names), the scope choice and the schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from switchboard.db.models import Account
from switchboard.portal.errors import ValidationFailed
from switchboard.portal.locations import find_location_by_name
from switchboard.portal.validation import from_pydantic, quote
from switchboard.sync.cron import MIN_GAP, CronError, parse_cron
from switchboard.sync.policy import SyncPolicy

_PATTERN_HINTS = {
    "write_back.extension_to": "must name an extension attribute, extensionAttribute1 to"
    " extensionAttribute15",
}


def _policy_error(exc: ValidationError) -> ValidationFailed:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    hint = _PATTERN_HINTS.get(field)
    if hint and first["type"] == "string_pattern_mismatch":
        return ValidationFailed(f"{field}: {quote(str(first['input']))} {hint}", field=field)
    return from_pydantic(exc)


def checked_policy(
    session: Session, account: Account, policy: SyncPolicy, prefix: str = ""
) -> SyncPolicy:
    """Location names must exist in this account; stored with the location's own spelling.

    ``prefix`` places the field names where the settings sit in the request ("settings.").
    """
    rules: dict[str, str] = {}
    for value, name in policy.location_rules.items():
        location = find_location_by_name(session, account, name)
        if location is None:
            raise ValidationFailed(
                f"{prefix}location_rules: the rule {quote(value)} -> {quote(name)} names no"
                f" location of account '{account.slug}'; create the location first or correct the"
                " rule",
                field=f"{prefix}location_rules",
            )
        rules[value] = location.name
    default = policy.default_location
    if default is not None:
        location = find_location_by_name(session, account, default)
        if location is None:
            raise ValidationFailed(
                f"{prefix}default_location: no location named {quote(default)} in account"
                f" '{account.slug}'; create it first or choose another",
                field=f"{prefix}default_location",
            )
        default = location.name
    if policy.mode == "batched" and not (policy.schedule_minutes or policy.schedule_cron):
        raise ValidationFailed(
            f"{prefix}schedule_minutes: batched mode needs a schedule; set schedule_minutes"
            " (every N minutes) or schedule_cron",
            field=f"{prefix}schedule_minutes",
        )
    if policy.schedule_cron is not None:
        _check_cron(policy.schedule_cron, prefix)
    _check_scope(policy, prefix)
    return policy.model_copy(update={"location_rules": rules, "default_location": default})


# The guards, and what they are called in words.
GUARDS = {"deletion_guard": "deletion guard", "creation_guard": "creation guard"}


def check_guards(policy: SyncPolicy, names: list[str], prefix: str = "") -> None:
    """A guard holds runs above a percentage from 1 to 100 and a count of at least 1 (0 would
    hold every run that deletes or creates anyone)."""
    for name in names:
        guard = policy.deletion_guard if name == "deletion_guard" else policy.creation_guard
        words = GUARDS[name]
        if not 1 <= guard.max_percent <= 100:
            field = f"{prefix}{name}.max_percent"
            raise ValidationFailed(
                f"{field}: the {words}'s percentage must be from 1 to 100, not"
                f" {guard.max_percent:g}",
                field=field,
            )
        if guard.max_count < 1:
            field = f"{prefix}{name}.max_count"
            raise ValidationFailed(
                f"{field}: the {words}'s number of users must be 1 or more, not {guard.max_count}",
                field=field,
            )


def _check_scope(policy: SyncPolicy, prefix: str) -> None:
    """The whole tenant is an explicit choice, never what an empty group list means."""
    if not policy.groups and not policy.all_users:
        raise ValidationFailed(
            f"{prefix}groups: choose at least one group, or sync all users explicitly",
            field=f"{prefix}groups",
        )
    if policy.groups and policy.all_users:
        raise ValidationFailed(
            f"{prefix}groups: sync either the chosen groups or all users, not both; remove"
            " the groups to sync all users",
            field=f"{prefix}groups",
        )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, null removes (back to the default)."""
    if not isinstance(patch, Mapping):
        return patch
    merged = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def explicit_scope(patch: dict[str, Any]) -> dict[str, Any]:
    """Choosing groups means not the whole tenant, and choosing the whole tenant means no
    groups: a patch that says one implies the other unless it says both."""
    if patch.get("all_users") is True and "groups" not in patch:
        patch["groups"] = None
    groups = patch.get("groups")
    if isinstance(groups, list) and groups and "all_users" not in patch:
        patch["all_users"] = None
    return patch


def validate_settings(session: Session, account: Account, data: Mapping[str, Any]) -> SyncPolicy:
    try:
        policy = SyncPolicy.model_validate(data)
    except ValidationError as exc:
        raise _policy_error(exc) from None
    return checked_policy(session, account, policy)


def _check_cron(expression: str, prefix: str) -> None:
    field = f"{prefix}schedule_cron"
    try:
        schedule = parse_cron(expression)
    except CronError as exc:
        raise ValidationFailed(f"{field}: {exc}", field=field) from exc
    gap = schedule.shortest_gap()
    if gap < MIN_GAP:
        raise ValidationFailed(
            f"{field}: {quote(expression)} fires {int(gap.total_seconds() // 60)} minute(s) apart;"
            " scheduled runs need at least 5 minutes between them, e.g. '*/5 * * * *'",
            field=field,
        )
