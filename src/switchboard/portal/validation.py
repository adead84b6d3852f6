"""Field rules shared by the API, the CLI and the UI, with messages that say how to fix input."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, DOT_ATOM_TEXT
from pydantic import ValidationError

from switchboard.portal.errors import ValidationFailed
from switchboard.portal.input_problems import InvalidInput, invalid_input

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
RETENTION_PLANS = ("6m", "1y", "2y", "3y")
RETENTION_MONTHS = {"6m": 6, "1y": 12, "2y": 24, "3y": 36}
# Row ids are 32-bit integers on PostgreSQL; a larger id cannot exist (and overflows SQLite's
# parameter binding past 64 bits), so it is refused as input rather than looked up.
MAX_ID = 2**31 - 1


# Unicode category Cc is exactly C0, DEL and C1 (a test checks every code point).
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"


# Bidirectional controls (U+202E shows "gpj.exe" as "exe.jpg") and zero-width characters make a
# name display as something else, or two different names look the same. Joiners (ZWJ U+200D,
# ZWNJ U+200C) are not here: Indic, Persian and emoji sequences need them.
INVISIBLE = r"\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")
# What str.strip() removes besides control characters, and line separators.
_SPACES = r" \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_EDGE_SPACE = r"\t\n\r" + _SPACES
_FIRST_LAST = rf"[^\x00-\x1f\x7f-\x9f{INVISIBLE}{_SPACES}]"
_INNER = rf"[^\x00-\x1f\x7f-\x9f{INVISIBLE}\u2028\u2029]"
# A one-line name, as the API documents it (OpenAPI ``pattern``) and enforces it: visible text,
# optionally surrounded by spaces (removed), with no control or invisible formatting character.
NAME_PATTERN = rf"^[{_EDGE_SPACE}]*{_FIRST_LAST}(?:{_INNER}*{_FIRST_LAST})?[{_EDGE_SPACE}]*$"
_NAME_RE = re.compile(NAME_PATTERN.removeprefix("^").removesuffix("$"))
# A username or other identifier: visible characters only, no spaces.
TOKEN_PATTERN = rf"^[^\x00-\x20\x7f-\x9f{INVISIBLE}{_SPACES}]+$"


def quote(value: str, limit: int = 64) -> str:
    """A bad value as messages show it: quoted, at most its first ``limit`` characters."""
    shown = value if len(value) <= limit else value[:limit] + "..."
    return f"'{shown}'"


def has_control(value: str) -> bool:
    """Control characters (NUL, escape, ...) are never part of a name, address or identifier;
    PostgreSQL also refuses NUL in text."""
    return CONTROL_RE.search(value) is not None


def plain(value: str) -> str:
    """Any free-form single-line input: no control characters inside it."""
    if has_control(value.strip()):
        raise ValueError("must not contain control characters")
    return value


def slug(value: str) -> str:
    if not SLUG_RE.match(value):
        raise ValueError(
            "must be 1-63 lower-case letters, digits or hyphens, not starting or ending with a"
            " hyphen (e.g. acme-corp)"
        )
    return value


def text(value: str, *, max_len: int = 100) -> str:
    """A name: the rules NAME_PATTERN documents, checked on the value as sent, then stripped."""
    if len(value) > max_len:
        raise ValueError(f"must be at most {max_len} characters")
    if _NAME_RE.fullmatch(value) is not None:
        return value.strip()
    if not value.strip():
        raise ValueError("must not be empty")
    found = INVISIBLE_RE.search(value)
    if found is not None:
        raise ValueError(
            f"must not contain invisible formatting characters (U+{ord(found.group()):04X}, a"
            " bidirectional control or zero-width space); retype the name"
        )
    raise ValueError("must not contain control characters or line breaks")


# RFC 5321 limits, as the validator applies them to the normalised address.
EMAIL_MAX = 254
_MAILBOX_NAMES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str | None:
    """The normalised domain, or None when it is refused. A tenant has few domains, and the
    domain (IDNA, UTS 46) is most of the validator's work per address."""
    try:
        return validate_email("x@" + domain, check_deliverability=False).domain
    except EmailNotValidError:
        return None


def _plain_email(value: str) -> str | None:
    """The common address (ASCII dot-atom local part, one @) normalised exactly as the full
    validator would, or None to let the full validator decide and word any refusal."""
    local, at, domain = value.partition("@")
    if not at or not DOT_ATOM_TEXT.match(local) or local.casefold() in _MAILBOX_NAMES:
        return None
    normal_domain = _email_domain(domain)
    if normal_domain is None:
        return None
    normalized = local + "@" + normal_domain
    return normalized if len(normalized) <= EMAIL_MAX and len(local) <= 64 else None


def email(value: str) -> str:
    value = value.strip()
    fast = _plain_email(value)
    if fast is not None:
        return fast
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address ({exc})") from exc


def e164(value: str) -> str:
    raw = value.strip()
    hint = "write it as + then the country code and number, e.g. +14155550123"
    if not raw.startswith("+"):
        raise ValueError(f"{quote(raw)} is not in E.164 form: {hint}")
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{quote(raw)} is not a phone number: {hint}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{quote(raw)} is not a valid phone number for its country code: {hint}")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zones() -> list[str]:
    return sorted(_time_zones())


def countries() -> list[str]:
    return sorted(phonenumbers.SUPPORTED_REGIONS)


def time_zone(value: str) -> str:
    value = value.strip()
    if value not in _time_zones():
        raise ValueError(
            f"{quote(value)} is not an IANA time zone (e.g. America/New_York, Europe/Paris)"
        )
    return value


def country(value: str) -> str:
    value = value.strip().upper()
    if len(value) != 2 or value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"{quote(value)} is not an ISO 3166-1 alpha-2 country code (e.g. US, FR, DE)"
        )
    return value


def extension(value: str, length: int) -> str:
    if not (value.isascii() and value.isdigit()) or len(value) != length:
        raise ValidationFailed(
            f"extension: {quote(value)} must be exactly {length} digits (the account's dial plan)",
            field="extension",
        )
    return value


# An ISO 8601 date and time; pydantic alone would also take a bare number as a Unix time.
_ISO_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def iso_datetime(value: object) -> object:
    """Before a datetime field: only an ISO 8601 text (or a datetime) is a date and time."""
    if isinstance(value, str | bytes | int | float) and not (
        isinstance(value, str) and _ISO_DATETIME_RE.match(value)
    ):
        raise ValueError(
            "must be an ISO 8601 date and time with an offset, e.g. 2026-01-15T09:00:00Z"
        )
    return value


def from_pydantic(exc: ValidationError) -> InvalidInput:
    """Every problem of a pydantic error. ``message`` and ``field`` are the first, as the API and
    the CLI report it (``field: rule``); ``problems`` holds them all in words, for forms."""
    return invalid_input(exc)
