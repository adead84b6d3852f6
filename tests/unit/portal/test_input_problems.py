"""pydantic's problems in words: every one of a submit, each naming its field as a form does."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, ValidationError

from switchboard.portal.errors import ValidationFailed
from switchboard.portal.input_problems import (
    InvalidInput,
    Problem,
    label,
    problems_in,
    reword,
)
from switchboard.portal.schemas import LocationIn, NumbersIn, UserIn
from switchboard.portal.validation import from_pydantic

USER = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "location_id": 1}
INTERNAL = ("Input should", "List should", "Value error", "validation", "pydantic")


def _all(model: type[BaseModel], data: dict[str, Any], labels: Any = None) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    found = from_pydantic(exc.value)
    return [p.message(labels) for p in found.problems]


def test_every_problem_of_a_submit_is_reported_in_words() -> None:
    messages = _all(
        UserIn,
        {"first_name": "", "email": "nope", "location_id": "x", "phone_numbers": ["+1 415"]},
    )
    assert messages[:2] == ["First name is required", "Last name is required"]
    assert messages[2].startswith("Email is not a valid email address")
    assert "Location id" not in " ".join(messages)
    assert "Location must be a whole number" in messages
    assert any(m.startswith("Phone number 1: '+1 415' is not") for m in messages)
    for message in messages:
        assert not any(words in message for words in INTERNAL), message


@pytest.mark.parametrize(
    ("model", "data", "expected"),
    [
        (NumbersIn, {"numbers": [], "location_id": 1}, "Numbers: add at least one"),
        (NumbersIn, {"numbers": ["+14155550123"], "location_id": 0}, "Location must be at least 1"),
        (
            NumbersIn,
            {"numbers": ["+14155550123"], "location_id": 1, "status": "gone"},
            "Status must be one of 'available' or 'porting'",
        ),
        (UserIn, {**USER, "first_name": "A" * 101}, "First name must be at most 100 characters"),
        (
            UserIn,
            {**USER, "phone_numbers": ["+14155550123"] * 21},
            "Phone numbers can have at most 20 entries",
        ),
    ],
)
def test_error_types_become_words(
    model: type[BaseModel], data: dict[str, Any], expected: str
) -> None:
    assert expected in _all(model, data)


class Admin(BaseModel):
    role: Literal["account_admin", "account_viewer"]


def test_internal_choice_codes_are_not_listed() -> None:
    assert _all(Admin, {"role": "boss"}) == ["Role must be one of the choices offered"]


def test_labels_name_fields_as_the_form_does() -> None:
    labels = {"address": "emergency address", "postal_code": "postal code"}
    assert label("address.postal_code", labels) == "emergency address: postal code"
    assert label("phone_numbers.0") == "phone number 1"
    assert label("numbers.2") == "number 3"
    assert label("location_id") == "location"
    assert label("first_name") == "first name"
    messages = _all(
        LocationIn,
        {"name": "HQ", "address": {"street": "1 Main", "country": "US"}, "time_zone": "UTC"},
        labels,
    )
    assert "Emergency address: city is required" in messages


def test_api_messages_keep_their_field_prefix() -> None:
    with pytest.raises(ValidationError) as exc:
        UserIn.model_validate({**USER, "email": "nope"})
    found = from_pydantic(exc.value)
    assert isinstance(found, InvalidInput) and found.field == "email"
    assert found.message.startswith("email: ")


@pytest.mark.parametrize(
    ("message", "field", "worded"),
    [
        ("extension: '12' must be exactly 4 digits", "extension", "Extension: '12' must be"),
        ("role: choose one of the roles listed", "role", "Choose one of the roles listed"),
        ("search: must not contain control characters", "search", "Search must not contain"),
        ("current password is wrong", "current_password", "Current password is wrong"),
        ("a location named 'HQ' already exists", "name", "A location named 'HQ' already"),
    ],
)
def test_service_messages_lose_their_internal_prefix(message: str, field: str, worded: str) -> None:
    assert reword(message, field).startswith(worded)


def test_a_renamed_invalid_input_keeps_its_single_message() -> None:
    error = InvalidInput("x: is bad", field="x", problems=[Problem("x", "is bad")])
    error.field = "y"  # moved to another input by its caller
    assert problems_in(error) == [Problem("y", "is bad")]
    plain = ValidationFailed("something went wrong")
    assert problems_in(plain)[0].message() == "Something went wrong"
