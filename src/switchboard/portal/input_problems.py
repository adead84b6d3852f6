"""Every problem of an input, in words a person can act on.

pydantic reports each problem as a type code, a location (``address.postal_code``,
``phone_numbers.0``) and an English text written for developers ("List should have at least 1
item after validation, not 0"). Here each becomes a sentence that names the field as a form
labels it ("Phone number 1 is not a valid phone number ...", "Emergency address: postal code is
required"). Forms pass their own labels; anything not labelled is humanised from its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from switchboard.portal.errors import ValidationFailed

Labels = Mapping[str, str]

# Locations that are not fields: where in the request the value was read.
_NOT_FIELDS = frozenset({"body", "query", "path", "header", "form"})
# A message that starts with one of these words reads after the label: "Email is not valid".
_VERBS = frozenset(
    {"must", "is", "are", "needs", "need", "should", "can", "cannot", "has", "have", "names"}
)
# Plural field names whose items are numbered: "phone_numbers.0" -> "phone number 1".
_IRREGULAR_SINGULAR = {"addresses": "address", "entries": "entry"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (the field path) and what, without the field
    ("is required"); ``message`` puts the two together with the form's labels."""

    field: str | None
    rule: str
    whole: bool = False  # ``rule`` is already a whole sentence: shown as it is

    def message(self, labels: Labels | None = None) -> str:
        if self.whole:
            return self.rule[:1].upper() + self.rule[1:]
        return sentence(label(self.field, labels), self.rule)


class InvalidInput(ValidationFailed):
    """Several problems of one submit. ``message`` and ``field`` describe the first (as every
    ValidationFailed does, for the API and the CLI); ``problems`` holds them all, in words."""

    def __init__(
        self, message: str, *, field: str | None, problems: Iterable[Problem] = ()
    ) -> None:
        super().__init__(message, field=field)
        self.problems = tuple(problems)


def singular(word: str) -> str:
    if word in _IRREGULAR_SINGULAR:
        return _IRREGULAR_SINGULAR[word]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def humanize(name: str) -> str:
    """A field name in words: ``location_id`` -> "location", ``postal_code`` -> "postal code"."""
    name = name.removesuffix("_id").removesuffix("_ids")
    return name.replace("_", " ").replace(".", " ").strip()


# Names whose words are not their spelling ("ca_bundle_pem" is "the CA bundle"), for every form
# that does not label them itself.
COMMON_LABELS: Labels = {
    "tenant_id": "directory (tenant) ID",
    "client_id": "application (client) ID",
    "authority_url": "sign-in authority URL",
    "graph_url": "Graph URL",
    "ca_bundle_pem": "CA bundle",
    "extension_to": "two-way extension attribute",
    "schedule_minutes": "schedule (every N minutes)",
    "schedule_cron": "cron expression",
    "all_users": "sync all users",
}


def label(path: str | None, labels: Labels | None = None) -> str:
    """The field at ``path`` as a person names it, lower case: "phone number 1",
    "emergency address: postal code". ``labels`` maps a path (or its first part) to words."""
    if not path:
        return ""
    labels = {**COMMON_LABELS, **(labels or {})}
    if path in labels:
        return labels[path]
    parts = path.split(".")
    words: list[str] = []
    for index, part in enumerate(parts):
        so_far = ".".join(parts[: index + 1])
        if part.isdigit() and words:
            # An item of a list: "phone numbers" + "0" -> "phone number 1".
            words[-1] = f"{singular(words[-1])} {int(part) + 1}"
        elif so_far in labels:
            words = [labels[so_far]]
        else:
            words.append(labels.get(part, humanize(part)))
    return ": ".join(words)


def sentence(field_label: str, rule: str) -> str:
    """``field_label`` and what is wrong with it as one sentence starting with a capital."""
    rule = rule.strip()
    if not field_label:
        text = rule
    elif rule.split(" ", 1)[0] in _VERBS:
        text = f"{field_label} {rule}"
    else:
        text = f"{field_label}: {rule}"
    return text[:1].upper() + text[1:]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _rule(error: Mapping[str, Any]) -> str:
    """What an error's type says, in words (without the field)."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    value = error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        rule = str(error.get("msg", "")).removeprefix("Value error, ")
        return "is required" if rule == "must not be empty" else rule
    if kind == "string_too_short":
        least = int(ctx.get("min_length", 1))
        return "is required" if least <= 1 else f"must be at least {least} characters"
    if kind == "too_short":
        least = int(ctx.get("min_length", 1))
        return "add at least one" if least <= 1 else f"add at least {least}"
    if kind == "string_too_long":
        return f"must be at most {_count(int(ctx.get('max_length', 0)), 'character')}"
    if kind == "too_long":
        return f"can have at most {_count(int(ctx.get('max_length', 0)), 'entry')}".replace(
            "entrys", "entries"
        )
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type", "decimal_parsing"):
        return "must be a number"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()), "")
        words = {
            "greater_than_equal": "at least",
            "greater_than": "more than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }
        return f"must be {words[kind]} {bound}"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", ""))
        # Choices that are internal codes (account_admin) are not shown: the form lists them.
        if not expected or "_" in expected:
            return "must be one of the choices offered"
        return f"must be one of {expected}"
    if kind in ("bool_parsing", "bool_type"):
        return "must be yes or no"
    if kind in ("string_type", "str_type"):
        return "must be text"
    if kind in ("list_type", "tuple_type", "set_type"):
        return "must be a list"
    if kind == "string_pattern_mismatch":
        shown = f"'{value}' " if isinstance(value, str) and len(value) <= 64 else ""
        return f"{shown}has characters or a form that is not allowed here".lstrip()
    if kind.startswith(("datetime", "date", "timezone")):
        return "must be a date and time with an offset, e.g. 2026-01-15T09:00:00Z"
    if kind.startswith("url"):
        return "must be a web address, e.g. https://login.example.com"
    if kind == "extra_forbidden":
        return "is not a field this form accepts"
    return "is not valid"


def _path(loc: Iterable[object]) -> str | None:
    return ".".join(str(part) for part in loc if part not in _NOT_FIELDS) or None


def problems_of(exc: ValidationError) -> list[Problem]:
    """Every problem pydantic found, each in words."""
    return [Problem(_path(error["loc"]), _rule(error)) for error in exc.errors()]


def developer_message(exc: ValidationError) -> tuple[str | None, str]:
    """The first problem as the API and the CLI word it: ``field: rule``."""
    first = exc.errors()[0]
    path = _path(first["loc"])
    rule = str(first["msg"]).removeprefix("Value error, ")
    return path, f"{path}: {rule}" if path else rule


def invalid_input(exc: ValidationError) -> InvalidInput:
    field, message = developer_message(exc)
    return InvalidInput(message, field=field, problems=problems_of(exc))


_PREFIX_RE = re.compile(r"^([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*): (.*)$", re.DOTALL)
_INSTRUCTIONS = frozenset({"choose", "tick", "use", "enter", "pick", "send", "drop", "add"})


def problems_in(error: Exception) -> list[Problem]:
    """The problems of any service error: an InvalidInput's own list, or its one message with a
    leading ``field_name:`` (the API's wording) split off as the field. A caller that moved an
    InvalidInput to another input (renamed its field) gets its one message."""
    if (
        isinstance(error, InvalidInput)
        and error.problems
        and error.problems[0].field == error.field
    ):
        return list(error.problems)
    message = str(getattr(error, "message", error))
    field = getattr(error, "field", None)
    found = _PREFIX_RE.match(message)
    if found is None:
        return [Problem(field, message, whole=True)]
    prefix, rest = found.groups()
    # An instruction ("choose one of ...") implies its field and reads best on its own.
    instruction = rest.split(" ", 1)[0] in _INSTRUCTIONS
    return [Problem(field or prefix, rest, whole=instruction)]


def reword(message: str, field: str | None, labels: Labels | None = None) -> str:
    """A message written for the API ("extension: '12' must be ...") as a sentence for a person
    ("Extension: '12' must be ..."); a message without a field prefix is kept."""
    return problems_in(ValidationFailed(message, field=field))[0].message(labels)
