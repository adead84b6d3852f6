"""The REST API end to end: the error envelope, validation messages, and the user lifecycle.

Runs on SQLite and PostgreSQL through the ``app_client`` fixture.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.portal import accounts, users
from switchboard.portal.actors import Actor, Role
from switchboard.portal.schemas import UserIn
from tests import factories

BASE = "/api/v1/accounts/acme"
DIRECTORY = Actor(label="directory:test", role=Role.PROVIDER_ADMIN, directory=True)


@dataclass
class Api:
    client: TestClient
    headers: dict[str, str]
    provider: dict[str, str]
    hq_id: int
    branch_id: int

    def user(self, **overrides: Any) -> Any:
        body = {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@acme.example.com",
            "location_id": self.hq_id,
        }
        body.update(overrides)
        return self.client.post(f"{BASE}/users", headers=self.headers, json=body)


@pytest.fixture
def api(container: Container, app_client: TestClient) -> Api:
    with container.unit_of_work() as s:
        t = factories.tenant(s, "acme", "312")
        hq, branch = t.hq.id, t.branch.id
    admin = factories.token_for(container, "it@acme.example.com", Role.ACCOUNT_ADMIN, "acme")
    provider = factories.token_for(container, "ops@provider.example.com", Role.PROVIDER_ADMIN)
    return Api(app_client, factories.bearer(admin), factories.bearer(provider), hq, branch)


def error_of(response: Any, status: int, code: str, field: str | None = None) -> str:
    """Check the envelope's exact shape, status, code and field; return the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code, body
    assert body["error"]["field"] == field, body
    message = body["error"]["message"]
    assert isinstance(message, str) and message
    return message


# --- 401 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Bearer "}, "missing_token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing_token"),
        ({"Authorization": "Bearer not-a-token"}, "invalid_token"),
        ({"Authorization": "Bearer sbt_000000000000_wrongsecret"}, "invalid_token"),
    ],
)
def test_missing_or_malformed_token_is_401(api: Api, headers: dict[str, str], code: str) -> None:
    message = error_of(api.client.get(f"{BASE}/users", headers=headers), 401, code)
    assert "Bearer" in message or "not recognised" in message


def test_right_prefix_wrong_secret_is_401(api: Api) -> None:
    token = api.headers["Authorization"].removeprefix("Bearer ")
    forged = token[: token.rindex("_") + 1] + "x" * 43
    response = api.client.get(f"{BASE}/users", headers=factories.bearer(forged))
    error_of(response, 401, "invalid_token")


def test_revoked_token_is_401(api: Api) -> None:
    issued = api.client.post("/api/v1/tokens", headers=api.headers, json={"name": "ci"})
    assert issued.status_code == 201, issued.text
    second = factories.bearer(issued.json()["token"])
    assert api.client.get(f"{BASE}/users", headers=second).status_code == 200
    revoked = api.client.delete(f"/api/v1/tokens/{issued.json()['id']}", headers=api.headers)
    assert revoked.status_code == 204
    message = error_of(api.client.get(f"{BASE}/users", headers=second), 401, "token_revoked")
    assert "create a new one" in message
    # The token that revoked it still works.
    assert api.client.get(f"{BASE}/users", headers=api.headers).status_code == 200


def test_expired_token_is_401(api: Api, clock: FixedClock) -> None:
    issued = api.client.post(
        "/api/v1/tokens", headers=api.headers, json={"name": "short", "expires_in_days": 1}
    )
    short = factories.bearer(issued.json()["token"])
    clock.advance(timedelta(hours=23))
    assert api.client.get(f"{BASE}/users", headers=short).status_code == 200
    clock.advance(timedelta(hours=1))
    error_of(api.client.get(f"{BASE}/users", headers=short), 401, "token_expired")
    clock.advance(timedelta(days=90))  # the default lifetime of 90 days is over too
    error_of(api.client.get(f"{BASE}/users", headers=api.headers), 401, "token_expired")


# --- 404 / 405 ----------------------------------------------------------------------------------


def test_not_found_envelopes(api: Api) -> None:
    message = error_of(
        api.client.get("/api/v1/accounts/nope/users", headers=api.headers),
        404,
        "account_not_found",
    )
    assert "nope" in message
    message = error_of(
        api.client.get(f"{BASE}/users/4242", headers=api.headers), 404, "user_not_found"
    )
    assert "4242" in message
    error_of(api.client.get(f"{BASE}/licenses/4242", headers=api.headers), 404, "license_not_found")
    error_of(api.client.get(f"{BASE}/numbers/4242", headers=api.headers), 404, "number_not_found")
    error_of(
        api.client.get(f"{BASE}/locations/4242", headers=api.headers),
        404,
        "location_not_found",
        "location_id",
    )
    error_of(api.client.get("/api/v1/nothing-here", headers=api.headers), 404, "not_found")
    error_of(
        api.client.put(f"{BASE}/users", headers=api.headers, json={}), 405, "method_not_allowed"
    )


def test_malformed_slug_is_not_found(api: Api) -> None:
    for slug in ("Bad_Slug", "a%00b", "-x-"):
        response = api.client.get(f"/api/v1/accounts/{slug}/users", headers=api.headers)
        error_of(response, 404, "account_not_found")


# --- 409 ----------------------------------------------------------------------------------------


def test_duplicate_email_extension_and_number_are_409(api: Api) -> None:
    assert api.user(extension="1234").status_code == 201
    message = error_of(
        api.user(email="ADA@acme.example.com", username="ada2"), 409, "conflict", "email"
    )
    assert "email" in message
    error_of(api.user(email="b@acme.example.com", extension="1234"), 409, "conflict", "extension")
    error_of(
        api.client.post(
            f"{BASE}/numbers",
            headers=api.headers,
            json={"numbers": ["+13125550100"], "location_id": api.hq_id},
        ),
        409,
        "number_exists",
        "numbers",
    )
    error_of(
        api.client.post(
            f"{BASE}/locations",
            headers=api.headers,
            json={
                "name": "hq",
                "address": factories.address().model_dump(),
                "time_zone": "UTC",
            },
        ),
        409,
        "conflict",
        "name",
    )


def test_seats_exhausted_is_409(api: Api) -> None:
    for n in range(3):
        created = api.user(email=f"u{n}@acme.example.com", license="Business Voice")
        assert created.status_code == 201, created.text
    message = error_of(
        api.user(email="u4@acme.example.com", license="Business Voice"),
        409,
        "license_seats_exhausted",
        "license",
    )
    assert "3 seats" in message and "buy more seats" in message
    licenses = api.client.get(f"{BASE}/licenses", headers=api.headers).json()
    assert [(lt["seats"], lt["seats_used"]) for lt in licenses] == [(3, 3)]


def test_directory_users_locked_fields_are_409(container: Container, api: Api) -> None:
    with container.unit_of_work() as s:
        account = accounts.get_account(s, factories.OPERATOR, "acme")
        synced = users.create_user(
            s,
            DIRECTORY,
            account,
            UserIn(
                first_name="Grace",
                last_name="Hopper",
                email="grace@acme.example.com",
                location_id=api.hq_id,
            ),
            directory_id="00000000-0000-0000-0000-000000000001",
        )
        user_id = synced.id
    url = f"{BASE}/users/{user_id}"
    for field, value in (
        ("first_name", "Amazing"),
        ("email", "g@acme.example.com"),
        ("location_id", api.branch_id),
    ):
        response = api.client.patch(url, headers=api.headers, json={field: value})
        message = error_of(response, 409, "managed_by_directory", field)
        assert "Entra ID" in message
    # The same value is not a change; the portal-owned fields stay editable.
    same = api.client.patch(url, headers=api.headers, json={"first_name": "Grace"})
    assert same.status_code == 200, same.text
    changed = api.client.patch(
        url, headers=api.headers, json={"extension": "4321", "phone_numbers": ["+13125550101"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["extension"] == "4321"
    assert changed.json()["source"] == "directory"


# --- 422 ----------------------------------------------------------------------------------------

ADDRESS = {
    "street": "1 Main St",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "US",
}


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "says"),
    [
        ("POST", "/users", {"email": "not-an-email"}, "email", "not a valid email address"),
        ("POST", "/users", {"email": "a@@b.com"}, "email", "not a valid email address"),
        ("POST", "/users", {"phone_numbers": ["5550100"]}, "phone_numbers.0", "E.164"),
        ("POST", "/users", {"nickname": "Ada"}, "nickname", "is not a known field"),
        ("POST", "/users", {"extension": "12"}, "extension", "exactly 4 digits"),
        ("POST", "/users", {"extension": "12a4"}, "extension", "exactly 4 digits"),
        ("POST", "/users", {"first_name": "   "}, "first_name", "must not be empty"),
        ("POST", "/users", {"first_name": "x" * 101}, "first_name", "at most 100"),
        ("POST", "/users", {"first_name": "A\x1bB"}, "first_name", "control characters"),
        ("POST", "/users", {"username": "a\x00b"}, "username", "control characters"),
        ("POST", "/users", {"license": "Voice\x00"}, "license", "control characters"),
        ("POST", "/users", {"license": "Nope"}, "license", "known: Business Voice"),
        ("POST", "/users", {"location_id": 0}, "location_id", "greater than or equal to 1"),
        ("POST", "/users", {"location_id": 2**70}, "location_id", "less than or equal"),
        ("POST", "/users", {"location_id": "hq"}, "location_id", "valid integer"),
        (
            "POST",
            "/numbers",
            {"numbers": ["+1 312 555 01"], "location_id": "HQ_ID"},
            "numbers.0",
            "not a valid phone number",
        ),
        (
            "POST",
            "/numbers",
            {"numbers": ["+13125570100", "+1 (312) 557-0100"], "location_id": "HQ_ID"},
            "numbers",
            "listed twice",
        ),
        ("POST", "/numbers", {"numbers": [], "location_id": "HQ_ID"}, "numbers", "at least 1"),
        (
            "POST",
            "/locations",
            {"name": "Annex", "address": ADDRESS, "time_zone": "Mars/Olympus"},
            "time_zone",
            "IANA time zone",
        ),
        (
            "POST",
            "/locations",
            {"name": "Annex", "address": {**ADDRESS, "country": "XZ"}, "time_zone": "UTC"},
            "address.country",
            "ISO 3166-1 alpha-2",
        ),
        (
            "POST",
            "/locations",
            {"name": "Annex", "address": {**ADDRESS, "postal_code": "6\x0070"}, "time_zone": "UTC"},
            "address.postal_code",
            "control characters",
        ),
        (
            "POST",
            "/locations",
            {"name": "Annex", "address": {"street": "1 Main St"}, "time_zone": "UTC"},
            "address.city",
            "is required",
        ),
        ("PATCH", "", {"retention_plan": "5y"}, "retention_plan", "'6m', '1y', '2y' or '3y'"),
        ("PATCH", "", {"extension_length": 9}, "extension_length", "less than or equal to 6"),
        ("POST", "/licenses", {"name": "Seats", "seats": -1}, "seats", "greater than or equal"),
    ],
)
def test_invalid_input_is_422_naming_field_and_rule(
    api: Api, method: str, path: str, body: dict[str, Any], field: str, says: str
) -> None:
    if path == "/users":
        body = {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@acme.example.com",
            "location_id": api.hq_id,
            **body,
        }
    body = {k: api.hq_id if v == "HQ_ID" else v for k, v in body.items()}
    response = api.client.request(method, f"{BASE}{path}", headers=api.headers, json=body)
    message = error_of(response, 422, "validation_failed", field)
    assert says in message, message


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("limit=0", "limit", "greater than or equal to 1"),
        ("limit=501", "limit", "less than or equal to 500"),
        ("limit=ten", "limit", "valid integer"),
        ("offset=-1", "offset", "greater than or equal to 0"),
        ("status=gone", "status", "'active' or 'disabled_in_directory'"),
        ("location_id=0", "location_id", "greater than or equal to 1"),
        ("search=" + "x" * 201, "search", "at most 200"),
        ("search=a%00b", "search", "control characters"),
    ],
)
def test_list_query_bounds_are_422(api: Api, query: str, field: str, says: str) -> None:
    response = api.client.get(f"{BASE}/users?{query}", headers=api.headers)
    message = error_of(response, 422, "validation_failed", field)
    assert says in message, message


def test_path_ids_out_of_range_are_422(api: Api) -> None:
    for path in (
        "/users/0",
        f"/users/{2**64}",
        f"/numbers/{2**40}",
        "/locations/x",
        f"/licenses/{2**64}",
        f"/media/{2**64}",
        f"/media/{2**64}/content",
    ):
        response = api.client.get(f"{BASE}{path}", headers=api.headers)
        error_of(response, 422, "validation_failed", path.split("/")[1].removesuffix("s") + "_id")
    response = api.client.get(f"{BASE}/media?user_id={2**64}", headers=api.headers)
    error_of(response, 422, "validation_failed", "user_id")
    upload = api.client.post(
        f"{BASE}/media",
        headers=api.headers,
        data={
            "kind": "voicemail",
            "user_id": str(2**64),
            "recorded_at": "2026-01-15T08:00:00Z",
            "duration_seconds": "3",
        },
        files={"file": ("vm.wav", b"RIFF", "audio/wav")},
    )
    error_of(upload, 422, "validation_failed", "user_id")
    response = api.client.get(f"{BASE}/audit?before_id={2**64}", headers=api.headers)
    error_of(response, 422, "validation_failed", "before_id")


def test_bodies_that_are_not_json_objects_are_422(api: Api) -> None:
    missing = api.client.post(f"{BASE}/users", headers=api.headers)
    assert "needs a JSON body" in error_of(missing, 422, "validation_failed")
    broken = api.client.post(
        f"{BASE}/users",
        headers={**api.headers, "Content-Type": "application/json"},
        content=b'{"first_name": ',
    )
    assert "not valid JSON" in error_of(broken, 422, "validation_failed")
    listed = api.client.post(f"{BASE}/users", headers=api.headers, json=["Ada"])
    assert "must be a JSON object" in error_of(listed, 422, "validation_failed")


def test_token_names_are_validated(api: Api) -> None:
    response = api.client.post("/api/v1/tokens", headers=api.headers, json={"name": "ci\x00"})
    assert "control characters" in error_of(response, 422, "validation_failed", "name")


# --- OpenAPI ------------------------------------------------------------------------------------


def test_openapi_documents_the_api(app_client: TestClient) -> None:
    response = app_client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path, methods in {
        "/api/v1/accounts": {"get", "post"},
        "/api/v1/accounts/{account}": {"get", "patch"},
        "/api/v1/accounts/{account}/locations": {"get", "post"},
        "/api/v1/accounts/{account}/licenses": {"get", "post"},
        "/api/v1/accounts/{account}/numbers": {"get", "post"},
        "/api/v1/accounts/{account}/users": {"get", "post"},
        "/api/v1/accounts/{account}/users/{user_id}": {"get", "patch", "delete"},
        "/api/v1/accounts/{account}/audit": {"get"},
    }.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    schemas = response.json()["components"]["schemas"]
    assert {"UserIn", "UserPatch", "UserOut", "UserPageOut"} <= set(schemas)
    assert schemas["UserIn"]["additionalProperties"] is False


# --- users through the API ----------------------------------------------------------------------

PEOPLE = [
    ("Ada", "Lovelace"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
]


def _people(api: Api) -> dict[str, int]:
    ids = {}
    for first, last in PEOPLE:
        response = api.user(
            first_name=first, last_name=last, email=f"{first.lower()}@acme.example.com"
        )
        assert response.status_code == 201, response.text
        ids[first] = response.json()["id"]
    return ids


def test_users_search_and_pagination(api: Api) -> None:
    _people(api)

    def page(query: str) -> Any:
        response = api.client.get(f"{BASE}/users?{query}", headers=api.headers)
        assert response.status_code == 200, response.text
        return response.json()

    everyone = page("")
    assert everyone["total"] == 5
    # Ordered by last name, then first name.
    assert [u["last_name"] for u in everyone["items"]] == [
        "Dijkstra",
        "Hopper",
        "Liskov",
        "Lovelace",
        "Turing",
    ]
    second = page("limit=2&offset=2")
    assert (second["total"], second["limit"], second["offset"]) == (5, 2, 2)
    assert [u["last_name"] for u in second["items"]] == ["Liskov", "Lovelace"]
    assert page("limit=2&offset=4")["items"][0]["last_name"] == "Turing"
    assert page("offset=10")["items"] == []
    # Search matches names (either one, or both together), email and extension, ignoring case.
    assert [u["first_name"] for u in page("search=LOVE")["items"]] == ["Ada"]
    assert [u["first_name"] for u in page("search=grace%20hop")["items"]] == ["Grace"]
    assert {u["first_name"] for u in page("search=@acme.example")["items"]} == {
        p[0] for p in PEOPLE
    }
    found = page("search=RA&limit=1")  # baRbaRA, gRAce, dijkstRA
    assert found["total"] == 3
    assert [u["first_name"] for u in found["items"]] == ["Edsger"]
    assert page("search=1002")["items"][0]["first_name"] == "Alan"
    assert page("search=%20%20")["total"] == 5  # blank search is no filter
    assert page(f"location_id={api.branch_id}")["total"] == 0


def test_patch_changes_only_what_is_sent(api: Api) -> None:
    created = api.user(phone_numbers=["+13125550100"], license="Business Voice").json()
    url = f"{BASE}/users/{created['id']}"
    renamed = api.client.patch(url, headers=api.headers, json={"last_name": "King"})
    assert renamed.status_code == 200, renamed.text
    after = renamed.json()
    unchanged = {k: v for k, v in created.items() if k not in ("last_name", "updated_at")}
    assert {k: after[k] for k in unchanged} == unchanged
    assert after["last_name"] == "King"
    # An empty patch is accepted and changes nothing.
    assert api.client.patch(url, headers=api.headers, json={}).json() == after
    # null on a required field is refused, not applied.
    message = error_of(
        api.client.patch(url, headers=api.headers, json={"first_name": None}),
        422,
        "validation_failed",
        "first_name",
    )
    assert "cannot be empty" in message
    # null license and an empty number list clear them.
    cleared = api.client.patch(
        url, headers=api.headers, json={"license": None, "phone_numbers": []}
    ).json()
    assert (cleared["license"], cleared["phone_numbers"]) == (None, [])
    # Moving location needs the numbers of the new location in the same change.
    api.client.patch(url, headers=api.headers, json={"phone_numbers": ["+13125550101"]})
    moved = api.client.patch(url, headers=api.headers, json={"location_id": api.branch_id})
    error_of(moved, 422, "validation_failed", "phone_numbers")
    moved = api.client.patch(
        url,
        headers=api.headers,
        json={"location_id": api.branch_id, "phone_numbers": ["+13125560100"]},
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["location_id"], moved.json()["phone_numbers"]) == (
        api.branch_id,
        ["+13125560100"],
    )
    freed = api.client.get(f"{BASE}/numbers?status=available", headers=api.headers).json()
    assert "+13125550101" in {n["e164"] for n in freed}


def test_delete_user_releases_numbers_and_seat(api: Api) -> None:
    created = api.user(
        phone_numbers=["+13125550100", "+13125550101"], license="Business Voice"
    ).json()
    numbers = api.client.get(f"{BASE}/numbers?status=assigned", headers=api.headers).json()
    assert {(n["e164"], n["user_id"]) for n in numbers} == {
        ("+13125550100", created["id"]),
        ("+13125550101", created["id"]),
    }
    deleted = api.client.delete(f"{BASE}/users/{created['id']}", headers=api.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert api.client.get(f"{BASE}/numbers?status=assigned", headers=api.headers).json() == []
    for e164 in ("+13125550100", "+13125550101"):
        number = next(
            n
            for n in api.client.get(f"{BASE}/numbers", headers=api.headers).json()
            if n["e164"] == e164
        )
        assert (number["status"], number["user_id"]) == ("available", None)
    licenses = api.client.get(f"{BASE}/licenses", headers=api.headers).json()
    assert licenses[0]["seats_used"] == 0
    error_of(
        api.client.get(f"{BASE}/users/{created['id']}", headers=api.headers),
        404,
        "user_not_found",
    )
    # The numbers can go to someone else straight away.
    again = api.user(email="next@acme.example.com", phone_numbers=["+13125550100"])
    assert again.status_code == 201, again.text


def test_terminate_account_leaves_no_users(api: Api) -> None:
    _people(api)
    ended = api.client.post(f"{BASE}/terminate", headers=api.provider)
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "terminated"
    assert ended.json()["terminated_at"] is not None
    listed = api.client.get(f"{BASE}/users", headers=api.provider).json()
    assert (listed["total"], listed["items"]) == (0, [])
    numbers = api.client.get(f"{BASE}/numbers", headers=api.provider).json()
    assert {n["status"] for n in numbers} == {"available"}
    # A terminated account stays readable and refuses every change.
    error_of(api.user(email="late@acme.example.com"), 409, "account_terminated")
    error_of(api.client.post(f"{BASE}/terminate", headers=api.provider), 409, "account_terminated")
    audit = api.client.get(f"{BASE}/audit?limit=100", headers=api.provider).json()
    assert audit[0]["action"] == "account.terminated"
    assert sum(e["action"] == "user.deleted" for e in audit) == len(PEOPLE)


def test_audit_shows_actor_action_and_changed_fields(api: Api) -> None:
    created = api.user(phone_numbers=["+13125550100"]).json()
    api.client.patch(
        f"{BASE}/users/{created['id']}",
        headers=api.headers,
        json={"first_name": "Augusta", "last_name": "Lovelace", "extension": "1500"},
    )
    response = api.client.get(f"{BASE}/audit?limit=2", headers=api.headers)
    assert response.status_code == 200
    latest, before = response.json()
    assert latest["actor"] == "principal:it@acme.example.com"
    assert latest["action"] == "user.updated"
    assert (latest["object_type"], latest["object_id"]) == ("user", str(created["id"]))
    # Only what changed: last_name was sent with its current value.
    assert latest["fields"] == ["extension", "first_name"]
    assert before["action"] == "user.created"
    assert "phone_numbers" in before["fields"]
    older = api.client.get(f"{BASE}/audit?before_id={before['id']}", headers=api.headers).json()
    assert older and all(e["id"] < before["id"] for e in older)
