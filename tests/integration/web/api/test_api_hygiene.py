"""Huge integers, 405s, the OpenAPI document's errors and constraints, names and long values."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.portal.actors import Role
from tests import factories
from tests.integration.web.api.test_api import BASE, Api, error_of

HUGE = 9223372036854775808  # 2**63, one past SQLite's and PostgreSQL's largest integer


@pytest.fixture
def api(container: Container, app_client: TestClient) -> Api:
    with container.unit_of_work() as s:
        t = factories.tenant(s, "acme", "312")
        hq, branch = t.hq.id, t.branch.id
    admin = factories.token_for(container, "it@acme.example.com", Role.ACCOUNT_ADMIN, "acme")
    provider = factories.token_for(container, "ops@provider.example.com", Role.PROVIDER_ADMIN)
    return Api(app_client, factories.bearer(admin), factories.bearer(provider), hq, branch)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/users?offset={HUGE}", "offset"),
        (f"/users?limit={HUGE}", "limit"),
        (f"/users?location_id={HUGE}", "location_id"),
        (f"/media?offset={HUGE}", "offset"),
        (f"/directory/runs?offset={HUGE}", "offset"),
        (f"/directory/runs?limit={HUGE}", "limit"),
        (f"/directory/writebacks?limit={HUGE}", "limit"),
        (f"/audit?before_id={HUGE}", "before_id"),
        (f"/audit?limit={HUGE}", "limit"),
        (f"/users/{HUGE}", "user_id"),
        (f"/directory/runs/{HUGE}", "run_number"),
    ],
)
def test_huge_integers_in_the_query_and_path_are_422(api: Api, path: str, field: str) -> None:
    response = api.client.get(f"{BASE}{path}", headers=api.headers)
    message = error_of(response, 422, "validation_failed", field)
    assert message.startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/licenses", {"name": "Big", "seats": HUGE}, "seats"),
        ("PATCH", "", {"extension_length": HUGE}, "extension_length"),
        ("POST", "/numbers", {"numbers": ["+13125559999"], "location_id": HUGE}, "location_id"),
        ("PATCH", "/users/1", {"location_id": -HUGE}, "location_id"),
        ("POST", "/licenses", {"name": "Flag", "seats": True}, "seats"),
    ],
)
def test_huge_integers_and_booleans_in_bodies_are_422(
    api: Api, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    response = api.client.request(method, f"{BASE}{path}", headers=api.headers, json=body)
    error_of(response, 422, "validation_failed", field)


def test_token_expiry_in_days_is_bounded(api: Api) -> None:
    response = api.client.post(
        "/api/v1/tokens", headers=api.headers, json={"name": "ci", "expires_in_days": HUGE}
    )
    error_of(response, 422, "validation_failed", "expires_in_days")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", f"{BASE}/users", {"GET", "POST"}),
        ("POST", f"{BASE}/users/1", {"GET", "PATCH", "DELETE"}),
        ("DELETE", "/api/v1/me", {"GET"}),
        ("HEAD", "/api/v1/me", {"GET"}),
        ("TRACE", f"{BASE}/directory/registration", {"GET", "PUT", "DELETE"}),
        ("POST", "/openapi.json", {"GET", "HEAD"}),
    ],
)
def test_405_names_every_allowed_method(
    api: Api, method: str, path: str, allowed: set[str]
) -> None:
    response = api.client.request(method, path, headers=api.headers)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed
    if method != "HEAD":  # a HEAD answer has no body
        assert method in error_of(response, 405, "method_not_allowed")


def test_openapi_lists_error_statuses_with_the_envelope(app_client: TestClient) -> None:
    doc = app_client.get("/openapi.json").json()
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    paths = doc["paths"]

    def statuses(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    assert statuses("/api/v1/accounts/{account}/users/{user_id}", "patch") >= {
        "200", "400", "401", "403", "404", "409", "422"
    }  # fmt: skip
    assert statuses("/api/v1/accounts/{account}/users", "get") >= {"200", "401", "403", "404"}
    assert statuses("/api/v1/me", "get") >= {"200", "401", "403"}
    for path, item in paths.items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            for status in ("401", "403", "422"):
                response = operation["responses"][status]
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


def test_openapi_carries_the_constraints_the_server_enforces(app_client: TestClient) -> None:
    schemas = app_client.get("/openapi.json").json()["components"]["schemas"]
    user = schemas["UserIn"]["properties"]
    assert user["first_name"]["minLength"] == 1
    assert user["first_name"]["maxLength"] == 100
    pattern = user["first_name"]["pattern"]
    assert re.search(pattern, "Ada") and not re.search(pattern, "Ada\u202e")
    assert user["email"]["format"] == "email"
    assert user["location_id"]["maximum"] == 2**31 - 1
    location = schemas["LocationIn"]["properties"]
    assert "Europe/Paris" in location["time_zone"]["enum"]
    assert schemas["AddressIn"]["properties"]["postal_code"]["maxLength"] == 20
    assert schemas["AccountIn"]["properties"]["slug"]["pattern"]


def test_a_name_with_a_bidi_override_is_refused_by_the_api(api: Api) -> None:
    response = api.user(first_name="\u202eecarG")
    message = error_of(response, 422, "validation_failed", "first_name")
    assert "U+202E" in message
    assert api.user(first_name="\u0915\u094d\u200d\u0937").status_code == 201


def test_a_huge_bad_value_is_quoted_by_its_first_64_characters(api: Api) -> None:
    huge = "Mars/" + "x" * 10_000
    response = api.client.post(
        f"{BASE}/locations",
        headers=api.headers,
        json={"name": "Annex", "address": factories.address().model_dump(), "time_zone": huge},
    )
    message = error_of(response, 422, "validation_failed", "time_zone")
    assert huge[:64] in message and huge[:65] not in message


def test_unknown_user_of_a_media_upload_is_404(container: Container, api: Api) -> None:
    token = factories.token_for(container, "pbx@acme.example.com", Role.ACCOUNT_ADMIN, "acme")
    response = api.client.post(
        f"{BASE}/media",
        headers=factories.bearer(token),
        data={"kind": "voicemail", "user_id": "4242", "recorded_at": "2026-01-15T08:00:00Z",
              "duration_seconds": "3"},
        files={"file": ("vm.wav", b"RIFF", "audio/wav")},
    )  # fmt: skip
    error_of(response, 404, "user_not_found", "user_id")
