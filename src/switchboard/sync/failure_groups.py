"""A run's failed users grouped by cause, each cause in words with the fix next to it.

"12 users: office 'Remote' matches no location. Fix: add a location rule for 'Remote' on the
Mapping page." The items keep their own message (``sync_run_items.message``); this module reads
the error code and, where a cause carries a value (the office, the empty attribute), the value
from that message, which ``sync.mapping`` writes in a fixed form. Pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from switchboard.portal.input_problems import label

# Portal and directory field names as people say them.
FIELD_WORDS = {
    "first_name": "first name",
    "last_name": "last name",
    "email": "email",
    "username": "username",
    "location_id": "location",
    "location": "location",
    "extension": "extension",
    "phone_numbers": "phone numbers",
    "status": "status",
    "license_id": "license",
    "display_name": "display name",
    # Entra ID properties a mapping reads the location from.
    "officeLocation": "office",
    "city": "city",
    "department": "department",
    "country": "country",
    "state": "state or province",
    "usageLocation": "usage location",
    "companyName": "company",
    "postalCode": "postal code",
    "userPrincipalName": "username (UPN)",
    "mail": "email",
    "givenName": "first name",
    "surname": "last name",
}
# Run counts whose key is not a field or an action: in words too.
COUNT_WORDS = {
    "write_back": "write-backs queued",
    "written_back": "written back",
    "write_back_failed": "write-backs refused",
    "write_back_blocked": "write-backs blocked",
    "back_in_scope": "back in scope",
    "not_created": "not created",
    "failed": "failed",
    "pending": "held for approval",
    "error": "errors",
    "skip": "skipped",
}

_UNMAPPED = re.compile(r"^(?P<attr>\S+) is (?:'(?P<value>.*)'|(?P<empty>empty)) and matches no")
_MISSING = re.compile(r"^(?P<attr>\S+) \((?P<label>[a-z ]+)\) is empty")
_FIELD_PREFIX = re.compile(r"^(?P<field>[a-z_]+(?:\.\d+)?): ")


def field_words(name: str) -> str:
    """``location_id`` -> "location"; an unknown name with its underscores as spaces."""
    base = name.split(".", 1)[0]
    return FIELD_WORDS.get(base) or label(base)


def count_words(key: str) -> str:
    return COUNT_WORDS.get(key) or field_words(key)


def in_words(message: str) -> str:
    """A message that starts with an internal field name ("location_id: ...") in words."""
    found = _FIELD_PREFIX.match(message)
    if found is None:
        return message
    return f"{field_words(found['field'])}: {message[found.end() :]}"


@dataclass(frozen=True)
class Fix:
    """What to do, and the page to do it on (mapping, locations, users or none)."""

    text: str
    page: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class Cause:
    key: tuple[str, str]
    text: str
    fixes: tuple[Fix, ...]


@dataclass
class Group:
    cause: Cause
    count: int = 0
    # Some of the users, to show under the cause (``UserRef``s).
    users: list[UserRef] = field(default_factory=list)


@dataclass(frozen=True)
class UserRef:
    username: str | None
    directory_id: str | None
    user_id: int | None
    message: str | None


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "\u2019") + "'"


def cause_of(code: str | None, message: str | None) -> Cause:
    """The cause of one failed item, from its error code and message."""
    code, text = code or "", message or ""
    if code == "unmapped_location":
        found = _UNMAPPED.match(text)
        attr = field_words(found["attr"]) if found else "the location attribute"
        value = found["value"] if found and found["value"] is not None else None
        if value:
            return Cause(
                (code, value.casefold()),
                f"{attr} {_quoted(value)} matches no location",
                (
                    Fix(f"Add a location rule for {_quoted(value)}", "mapping", "Mapping page"),
                    Fix(
                        f"or create a location named {_quoted(value)}",
                        "locations",
                        "Locations page",
                    ),
                ),
            )
        return Cause(
            (code, ""),
            f"{attr} is empty and there is no default location",
            (
                Fix(f"Fill in the user's {attr} in Entra ID"),
                Fix("or set a default location", "mapping", "Mapping page"),
            ),
        )
    if code == "missing_attribute":
        found = _MISSING.match(text)
        label = found["label"] if found else "username (UPN)"
        fixes = [Fix(f"Fill in the user's {label} in Entra ID")]
        if found:
            fixes.append(Fix(f"or map the {label} to another property", "mapping", "Mapping page"))
        return Cause((code, label), f"{label} is empty in Entra ID", tuple(fixes))
    simple = _SIMPLE.get(code)
    if simple is not None:
        return Cause((code, ""), simple[0], simple[1])
    shown = in_words(text) if text else "failed without a message"
    return Cause(("other", shown), shown, (Fix("See the message; run again once it is fixed"),))


_SIMPLE: dict[str, tuple[str, tuple[Fix, ...]]] = {
    "invalid_attribute": (
        "a name or username from Entra ID is not valid in the portal",
        (Fix("Correct it in Entra ID; each user's message says what is wrong"),),
    ),
    "invalid_email": (
        "the email from Entra ID is not a valid address",
        (Fix("Correct the user's email in Entra ID"),),
    ),
    "duplicate_email": (
        "another user has the same email",
        (Fix("Give each user their own email in Entra ID"),),
    ),
    "duplicate_username": (
        "another user has the same username",
        (Fix("Give each user their own username (UPN) in Entra ID"),),
    ),
    "ambiguous_match": (
        "the name matches several portal users",
        (
            Fix(
                "Give the right portal user the directory user's email, or delete the others",
                "users",
                "Users page",
            ),
        ),
    ),
    "conflict": (
        "a change made at the same time conflicted",
        (Fix("Nothing to do: the next run tries again"),),
    ),
    "writeback_blocked": (
        "synced from on-premises Active Directory, so the extension and number cannot be"
        " written back",
        (Fix("Set the extension and number in on-premises Active Directory"),),
    ),
    "not_found": (
        "not found in Entra ID",
        (Fix("Check the username or object id"),),
    ),
    "extensions_exhausted": (
        "no free extension is left",
        (Fix("Widen the account's extension range", "settings", "Settings page"),),
    ),
    "not_applied": (
        "could not be carried out",
        (Fix("Run again"),),
    ),
}


def group_failures(
    counted: Iterable[tuple[str | None, str | None, int]],
    examples: Iterable[tuple[str | None, UserRef]] = (),
    *,
    per_group: int = 50,
) -> list[Group]:
    """Groups from ``(error_code, message, count)`` rows, largest first; ``examples`` are
    ``(error_code, user)`` pairs whose users are listed under their group (``per_group``
    at most each)."""
    groups: dict[tuple[str, str], Group] = {}
    for code, message, count in counted:
        cause = cause_of(code, message)
        groups.setdefault(cause.key, Group(cause)).count += count
    for code, user in examples:
        found = groups.get(cause_of(code, user.message).key)
        if found is not None and len(found.users) < per_group:
            found.users.append(user)
    return sorted(groups.values(), key=lambda g: (-g.count, g.cause.text))
