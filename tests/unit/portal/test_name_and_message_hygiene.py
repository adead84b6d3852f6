"""Names refuse invisible formatting characters; messages quote at most 64 characters."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from switchboard.portal import validation as v
from switchboard.portal.errors import ValidationFailed
from switchboard.portal.schemas import LocationIn, UserIn
from switchboard.sync.cron import parse_cron
from tests.factories import address

REFUSED = [
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
    "\u200e", "\u200f", "\u061c",  # marks
    "\u200b", "\ufeff", "\u2060",  # zero-width space, BOM, word joiner
]  # fmt: skip


@pytest.mark.parametrize("char", REFUSED)
def test_bidi_controls_and_zero_width_spaces_are_refused_in_names(char: str) -> None:
    for value in (f"Ada{char}", f"{char}Ada", f"A{char}da"):
        with pytest.raises(ValueError, match=f"U\\+{ord(char):04X}"):
            v.text(value)
        assert re.fullmatch(v.NAME_PATTERN, value) is None  # the documented pattern agrees


@pytest.mark.parametrize(
    "name",
    [
        "\u0915\u094d\u200d\u0937",  # Devanagari conjunct with ZWJ
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian with ZWNJ
        "\u05d3\u05d5\u05d3",  # Hebrew, right to left without any control
        "Zoë O'Brien-Smith",
        "  Ada  ",
    ],
)
def test_real_names_and_joiners_stay_allowed(name: str) -> None:
    assert v.text(name) == name.strip()
    assert re.fullmatch(v.NAME_PATTERN, name) is not None


def test_the_api_models_refuse_them_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="first_name") as raised:
        UserIn(first_name="\u202eecarG", last_name="Hopper", email="g@x.example", location_id=1)
    assert "invisible formatting characters (U+202E" in str(raised.value)
    with pytest.raises(ValidationError, match="name"):
        LocationIn(name="HQ\u200b", address=address(), time_zone="UTC")


def test_quote_keeps_the_first_64_characters() -> None:
    assert v.quote("short") == "'short'"
    assert v.quote("x" * 64) == "'" + "x" * 64 + "'"
    assert v.quote("y" * 10_000) == "'" + "y" * 64 + "...'"


@pytest.mark.parametrize(
    "check",
    [v.e164, v.time_zone, v.country, lambda value: v.extension(value, 4), parse_cron],
)
def test_messages_about_a_huge_value_quote_only_its_start(check: Callable[[str], object]) -> None:
    huge = "+1" + "9" * 10_000 + " * * * *"
    with pytest.raises((ValueError, ValidationFailed)) as raised:
        check(huge)
    message = str(raised.value)
    assert huge[:64] in message
    assert huge[:65] not in message
    assert len(message) < 400
