"""Forms explain themselves: every problem of a submit at once, in words, under its input, with a
summary that links to each and focus on the first; no internal name anywhere."""

from __future__ import annotations

import html
import re

import pytest
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.portal.actors import Role
from tests import factories
from tests.ui_support import csrf, make_admin, sign_in

# What a person should never read: field names, dotted paths, pydantic's or Python's words.
SNAKE = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")
DOTTED = re.compile(r"\b[a-z_]{2,}\.(?:[a-z_]{2,}|\d+)\b")
RAW = ("validation", "Value error", "Input should", "List should", "pydantic", "Traceback")
ALERT = re.compile(r'<div class="alert" role="alert" id="form-error">(.*?)</div>', re.DOTALL)
FIELD = re.compile(r'<p class="field-error" id="err-([^"]+)">(.*?)</p>', re.DOTALL)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def messages(page: str) -> dict[str, str]:
    """The messages a refused form shows: "summary" and one per input."""
    found = {name: _text(message) for name, message in FIELD.findall(page)}
    summary = ALERT.search(page)
    if summary:
        found["summary"] = _text(summary.group(1))
    return found


def assert_in_words(page: str) -> dict[str, str]:
    shown = messages(page)
    assert shown, "the page shows no error"
    for where, message in shown.items():
        plain = re.sub(r"\S+@\S+", "", message)  # an email typed back is not a field name
        assert not SNAKE.search(plain), f"{where}: {message}"
        assert not DOTTED.search(plain), f"{where}: {message}"
        assert not any(words in message for words in RAW), f"{where}: {message}"
    return shown


def _admin(app_client: TestClient, container: Container) -> tuple[factories.Tenant, str]:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
    make_admin(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, "admin@acme.example")
    return tenant, csrf(app_client, "/accounts/acme")


def test_a_user_form_reports_every_problem_at_once_with_focus_on_the_first(
    app_client: TestClient, container: Container
) -> None:
    tenant, token = _admin(app_client, container)
    page = app_client.post(
        "/accounts/acme/users",
        data={
            "csrf_token": token,
            "first_name": "",
            "last_name": "Lovelace",
            "email": "ada@",
            "username": "ada lovelace",
            "location_id": str(tenant.hq.id),
            "extension": "12",
        },
    )
    assert page.status_code == 422
    shown = assert_in_words(page.text)
    assert shown["first_name"] == "First name is required"
    assert shown["email"].startswith("Email is not a valid email address")
    assert shown["username"].startswith("Username must be")
    assert shown["extension"].startswith("Extension: '12' must be exactly 4 digits")
    assert shown["summary"].startswith("Not saved: 4 problems need fixing.")
    # The summary links each problem to its input, top to bottom.
    links = re.findall(r'<li><a href="#f-([a-z_]+)">', page.text)
    assert links == ["first_name", "email", "username", "extension"]
    # Focus goes to the first invalid input, without script: only it has autofocus.
    assert page.text.count("autofocus") == 1
    first = re.search(r'<input id="f-first_name"[^>]*>', page.text)
    assert first is not None and "autofocus" in first.group(0)
    assert 'value="Lovelace"' in page.text  # what was typed stays


def test_a_user_edit_form_names_numbers_in_words(
    app_client: TestClient, container: Container
) -> None:
    tenant, token = _admin(app_client, container)
    created = app_client.post(
        "/accounts/acme/users",
        data={
            "csrf_token": token,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@acme.example",
            "location_id": str(tenant.hq.id),
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    listing = app_client.get("/accounts/acme/users").text
    user_id = re.search(r'href="/accounts/acme/users/(\d+)"', listing)
    assert user_id is not None
    page = app_client.post(
        f"/accounts/acme/users/{user_id.group(1)}",
        data={
            "csrf_token": token,
            "first_name": "Ada",
            "last_name": "",
            "email": "ada@acme.example",
            "location_id": str(tenant.hq.id),
            "extension": "1000",
            "phone_numbers": ["+1 415"],
        },
    )
    assert page.status_code == 422
    shown = assert_in_words(page.text)
    assert shown["last_name"] == "Last name is required"
    assert shown["phone_numbers"].startswith("Phone number 1: '+1 415' is not")


def test_location_forms_report_the_address_by_its_country(
    app_client: TestClient, container: Container
) -> None:
    tenant, token = _admin(app_client, container)
    bad = {
        "csrf_token": token,
        "name": "",
        "street": "10 Downing St",
        "city": "London",
        "region": "",
        "postal_code": "ABC",
        "country": "GB",
        "time_zone": "Europe/Lodnon",
    }
    page = app_client.post("/accounts/acme/locations", data=bad)
    assert page.status_code == 422
    shown = assert_in_words(page.text)
    assert shown["name"] == "Name is required"
    assert shown["time_zone"].startswith("Time zone: 'Europe/Lodnon' is not an IANA time zone")
    # pydantic's problems come first; the address rules then speak on the next submit.
    fixed = {**bad, "name": "London", "time_zone": "Europe/London"}
    page = app_client.post("/accounts/acme/locations", data=fixed)
    shown = assert_in_words(page.text)
    assert shown["postal_code"].startswith(
        "Postal code 'ABC' is not valid for the United Kingdom, e.g."
    )
    assert "region" not in shown  # a UK address has no region
    done = app_client.post("/accounts/acme/locations", data={**fixed, "postal_code": "sw1a 2aa"})
    assert "Location created." in done.text and "SW1A 2AA" in done.text
    us = app_client.post(
        f"/accounts/acme/locations/{tenant.hq.id}",
        data={**fixed, "name": "HQ", "country": "US", "postal_code": "62701", "city": "X"},
    )
    shown = assert_in_words(us.text)
    assert shown["region"] == "State is required for an address in the United States"


def test_number_and_admin_forms_report_every_problem(
    app_client: TestClient, container: Container
) -> None:
    _tenant, token = _admin(app_client, container)
    numbers = app_client.post(
        "/accounts/acme/numbers", data={"csrf_token": token, "numbers": "", "location_id": "x"}
    )
    shown = assert_in_words(numbers.text)
    assert shown["numbers"] == "Numbers: add at least one"
    assert shown["location_id"] == "Location must be a whole number"
    admin = app_client.post(
        "/accounts/acme/admins",
        data={"csrf_token": token, "email": "x", "role": "boss", "password": "short"},
    )
    shown = assert_in_words(admin.text)
    assert shown["email"].startswith("Email is not a valid email address")
    assert shown["role"] == "Role must be one of the choices offered"
    assert shown["password"] == "Password must be at least 12 characters"


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/accounts/acme/licenses", {"name": "", "seats": "-1"}),
        ("/accounts/acme/licenses/{license}", {"seats": "many"}),
        ("/accounts/acme/tokens", {"name": "", "expires_in_days": "soon"}),
        (
            "/accounts/acme/settings",
            {"name": "", "retention_plan": "9y", "extension_length": "9"},
        ),
        ("/accounts/acme/numbers/{number}/location", {"location_id": "nowhere"}),
        (
            "/me/password",
            {"current_password": "wrong", "new_password": "x", "confirm_password": "y"},
        ),
    ],
)
def test_no_form_shows_an_internal_name(
    app_client: TestClient, container: Container, path: str, data: dict[str, str]
) -> None:
    _tenant, token = _admin(app_client, container)
    page = app_client.get("/accounts/acme/licenses").text
    license_id = re.search(r'action="/accounts/acme/licenses/(\d+)"', page)
    numbers = app_client.get("/accounts/acme/numbers").text
    number_id = re.search(r'action="/accounts/acme/numbers/(\d+)/location"', numbers)
    target = path.format(
        license=license_id.group(1) if license_id else "0",
        number=number_id.group(1) if number_id else "0",
    )
    response = app_client.post(target, data={"csrf_token": token, **data})
    assert response.status_code == 422, target
    assert_in_words(response.text)


def test_an_operators_forms_show_no_internal_name(
    app_client: TestClient, container: Container
) -> None:
    make_admin(container, "ops@provider.example", Role.PROVIDER_ADMIN)
    sign_in(app_client, "ops@provider.example")
    token = csrf(app_client, "/accounts")
    account = app_client.post(
        "/accounts",
        data={"csrf_token": token, "slug": "Bad Slug", "name": "", "extension_length": "x"},
    )
    shown = assert_in_words(account.text)
    assert len([k for k in shown if k != "summary"]) == 3
    operator = app_client.post(
        "/operators", data={"csrf_token": token, "email": "", "password": "x", "role": "x"}
    )
    assert_in_words(operator.text)
