"""Field rules (portal/validation.py) and the input schemas built on them (portal/schemas.py)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from switchboard.portal import validation as v
from switchboard.portal.errors import ValidationFailed
from switchboard.portal.schemas import (
    AccountIn,
    AccountPatch,
    LocationIn,
    NumbersIn,
    UserIn,
    UserPatch,
)

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
ZONES = sorted(zoneinfo.available_timezones())
ADDRESS = {
    "street": "1 Main St",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "US",
}
USER = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "location_id": 1}


def _examples(region: str) -> list[phonenumbers.PhoneNumber]:
    kinds = (
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.TOLL_FREE,
    )
    found = [phonenumbers.example_number_for_type(region, kind) for kind in kinds]
    return [n for n in found if n is not None and phonenumbers.is_valid_number(n)]


# --- E.164 --------------------------------------------------------------------------------------


@settings(deadline=None)
@given(st.sampled_from(REGIONS), st.integers(0, 2))
def test_every_valid_number_round_trips_in_e164(region: str, pick: int) -> None:
    examples = _examples(region)
    if not examples:
        return
    number = examples[pick % len(examples)]
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    assert v.e164(e164) == e164
    # Written the international way, with spaces and dashes, it comes back in E.164 too.
    spaced = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    assert v.e164(spaced) == e164
    assert v.e164(f"  {e164} ") == e164


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("4155550123", "not in E.164 form"),
        ("(415) 555-0123", "not in E.164 form"),
        ("+", "not a phone number"),
        ("+abc", "not a phone number"),
        ("+1555", "not a valid phone number for its country code"),
        ("+999123456789", "not a phone number"),  # no such country code
        ("+1415555012345678", "not a"),
    ],
)
def test_e164_refusals_say_how_to_write_a_number(raw: str, says: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. \+14155550123") as exc:
        v.e164(raw)
    assert says in str(exc.value)


# --- the other rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada.King@Example.COM ", "Ada.King@example.com"),
        ("ada+voice@sub.example.co.uk", "ada+voice@sub.example.co.uk"),
    ],
)
def test_email_normalises_the_domain(raw: str, expected: str) -> None:
    assert v.email(raw) == expected


@pytest.mark.parametrize("raw", ["", "ada", "ada@", "@example.com", "a@@example.com", "a b@x.com"])
def test_email_refusals_name_the_rule(raw: str) -> None:
    with pytest.raises(ValueError, match="is not a valid email address"):
        v.email(raw)


@pytest.mark.parametrize("raw", ["a", "acme", "acme-corp", "a1", "x" * 63, "0-0"])
def test_valid_slugs(raw: str) -> None:
    assert v.slug(raw) == raw


@pytest.mark.parametrize("raw", ["", "-acme", "acme-", "Acme", "acme_corp", "x" * 64, "ac me", "é"])
def test_invalid_slugs(raw: str) -> None:
    with pytest.raises(ValueError, match="lower-case letters, digits or hyphens"):
        v.slug(raw)


@given(st.from_regex(v.SLUG_RE, fullmatch=True))
def test_every_slug_the_pattern_allows_is_accepted_unchanged(raw: str) -> None:
    assert v.slug(raw) == raw


def test_time_zones() -> None:
    assert v.time_zone(" Europe/Paris ") == "Europe/Paris"
    for bad in ("europe/paris", "CET+1", "Mars/Olympus", ""):
        with pytest.raises(ValueError, match="is not an IANA time zone"):
            v.time_zone(bad)


@given(st.sampled_from(ZONES))
def test_every_known_time_zone_is_accepted(zone: str) -> None:
    assert v.time_zone(zone) == zone


def test_countries() -> None:
    assert v.country("us") == "US"
    assert v.country(" fr ") == "FR"
    for bad in ("USA", "U", "ZZ", "", "1A"):
        with pytest.raises(ValueError, match="ISO 3166-1 alpha-2"):
            v.country(bad)


def test_text_rules() -> None:
    assert v.text("  Ada  ") == "Ada"
    assert v.text("x" * 100) == "x" * 100
    with pytest.raises(ValueError, match="must not be empty"):
        v.text(" \t ")
    with pytest.raises(ValueError, match="at most 100 characters"):
        v.text("x" * 101)
    assert v.text("x" * 200, max_len=200) == "x" * 200
    for bad in ("A\x00B", "A\nB", "A\x1b[31mB", "A\x7fB"):
        with pytest.raises(ValueError, match="control characters"):
            v.text(bad)


def test_extension_rule_follows_the_dial_plan() -> None:
    assert v.extension("1234", 4) == "1234"
    assert v.extension("0042", 4) == "0042"
    for bad, length in (("123", 4), ("12345", 4), ("12a4", 4), ("١٢٣٤", 4), ("", 2), ("+123", 4)):
        with pytest.raises(ValidationFailed) as exc:
            v.extension(bad, length)
        assert exc.value.field == "extension"
        assert f"exactly {length} digits" in exc.value.message


@given(st.text())
def test_text_output_is_always_clean(raw: str) -> None:
    try:
        out = v.text(raw)
    except ValueError:
        return
    assert out == raw.strip() and 0 < len(out) <= 100
    assert not v.has_control(out)


VALIDATORS: dict[str, Callable[[str], str]] = {
    "e164": v.e164,
    "email": v.email,
    "slug": v.slug,
    "time_zone": v.time_zone,
    "country": v.country,
    "text": v.text,
    "plain": v.plain,
}


@settings(deadline=None, max_examples=300)
@given(st.sampled_from(sorted(VALIDATORS)), st.text())
def test_validators_never_crash_on_any_text(name: str, raw: str) -> None:
    """Any string either passes (a string comes back) or fails with ValueError."""
    try:
        out: str | None = VALIDATORS[name](raw)
        problem = ""
    except ValueError as exc:
        out, problem = None, str(exc)
    assert isinstance(out, str) or problem  # a refusal always says why


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40).map(lambda s: "+" + s))
def test_e164_never_crashes_on_plus_prefixed_text(raw: str) -> None:
    try:
        out = v.e164(raw)
    except ValueError:
        return
    assert out.startswith("+") and out[1:].isdigit()
    assert v.e164(out) == out  # idempotent


# --- schemas ------------------------------------------------------------------------------------


def _problem(model: type[Any], data: dict[str, Any]) -> ValidationFailed:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    return v.from_pydantic(exc.value)


def test_user_in_normalises_input() -> None:
    user = UserIn.model_validate(
        {
            **USER,
            "first_name": "  Ada ",
            "email": " Ada@Example.COM",
            "phone_numbers": ["+1 415-555-0123"],
        }
    )
    assert (user.first_name, user.email) == ("Ada", "Ada@example.com")
    assert user.phone_numbers == ["+14155550123"]
    assert user.username is None and user.extension is None and user.license is None


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"email": "nope"}, "email", "is not a valid email address"),
        ({"phone_numbers": ["+1 415"]}, "phone_numbers.0", "not a valid phone number"),
        ({"phone_numbers": ["+14155550123", "+1415\x00"]}, "phone_numbers", "control characters"),
        ({"username": "ada lovelace"}, "username", "without spaces"),
        ({"username": "ada\x00"}, "username", "control characters"),
        ({"license": "Voice\x07"}, "license", "control characters"),
        ({"nickname": "A"}, "nickname", "Extra inputs are not permitted"),
        ({"location_id": 0}, "location_id", "greater than or equal to 1"),
        ({"location_id": v.MAX_ID + 1}, "location_id", "less than or equal to 2147483647"),
        ({"first_name": ""}, "first_name", "must not be empty"),
        ({"phone_numbers": ["+14155550123"] * 21}, "phone_numbers", "at most 20"),
    ],
)
def test_user_in_refusals_name_field_and_rule(
    change: dict[str, Any], field: str, says: str
) -> None:
    problem = _problem(UserIn, {**USER, **change})
    assert problem.field == field
    assert problem.message.startswith(f"{field}: ")
    assert says in problem.message


def test_patches_know_what_was_sent() -> None:
    patch = UserPatch.model_validate({"last_name": "King", "license": None})
    assert patch.model_fields_set == {"last_name", "license"}
    assert UserPatch.model_validate({}).model_fields_set == set()
    assert AccountPatch.model_validate({"retention_plan": "2y"}).retention_plan == "2y"
    assert _problem(AccountPatch, {"retention_plan": "5y"}).field == "retention_plan"


def test_account_and_location_schemas() -> None:
    account = AccountIn.model_validate({"slug": "acme", "name": "Acme Inc"})
    assert (account.retention_plan, account.extension_length) == ("6m", 4)
    assert _problem(AccountIn, {"slug": "Acme", "name": "A"}).field == "slug"
    assert _problem(AccountIn, {"slug": "a", "name": "A", "extension_length": 7}).field == (
        "extension_length"
    )
    location = LocationIn.model_validate(
        {"name": "HQ", "address": {**ADDRESS, "country": "us"}, "time_zone": "America/Chicago"}
    )
    assert location.address.country == "US"
    nested = _problem(
        LocationIn, {"name": "HQ", "address": {**ADDRESS, "country": "XZ"}, "time_zone": "UTC"}
    )
    assert nested.field == "address.country"
    assert _problem(NumbersIn, {"numbers": [], "location_id": 1}).field == "numbers"


SCHEMA_FIELDS = [*USER, "username", "extension", "phone_numbers", "license", "x"]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.lists(st.text(max_size=20), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(SCHEMA_FIELDS), VALUES))
def test_any_json_object_is_either_a_user_or_one_clear_problem(data: dict[str, Any]) -> None:
    for model in (UserIn, UserPatch):
        try:
            model.model_validate(data)
        except ValidationError as exc:
            problem = v.from_pydantic(exc)
            assert problem.status == 422 and problem.message
            assert problem.field is None or problem.field.split(".")[0] in SCHEMA_FIELDS


def test_control_characters_are_exactly_unicode_category_cc() -> None:
    import unicodedata

    from switchboard.portal.validation import has_control

    wrong = [
        cp
        for cp in range(0x110000)
        if has_control(chr(cp)) != (unicodedata.category(chr(cp)) == "Cc")
    ]
    assert wrong == []


# The fast path for plain addresses must agree with the full validator on every input.
_LOCAL_CHARS = "abcXYZ019._+-'!#$%&*/=?^`{|}~@\"<> \u00e9"
_DOMAIN_CHARS = "abcXYZ019.-_@[] \u00e9\u00df\u0131"


@given(
    local=st.text(alphabet=_LOCAL_CHARS, max_size=70),
    domain=st.one_of(
        st.sampled_from(
            [
                "example.com",
                "Example.COM",
                "münchen.de",
                "localhost",
                "test",
                "a.invalid",
                "x.local",
                "1.2.3.4",
                "[1.2.3.4]",
                "co.uk",
                "a-.com",
                "xn--mnchen-3ya.de",
                "a" * 64 + ".com",
                ("b" * 60 + ".") * 4 + "com",
            ]
        ),
        st.text(alphabet=_DOMAIN_CHARS, max_size=20),
    ),
)
def test_email_fast_path_agrees_with_the_validator(local: str, domain: str) -> None:
    raw = f"{local}@{domain}".strip()  # email() strips before it validates
    try:
        expected: str | None = validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    fast = v._plain_email(raw)
    if fast is not None:
        assert fast == expected
    if expected is None:
        with pytest.raises(ValueError, match="is not a valid email address"):
            v.email(raw)
    else:
        assert v.email(raw) == expected


@pytest.mark.parametrize("local", ["Postmaster", "ABUSE", "info"])
def test_role_mailboxes_are_lower_cased_as_the_validator_does(local: str) -> None:
    assert v.email(f"{local}@Example.com") == f"{local.lower()}@example.com"
