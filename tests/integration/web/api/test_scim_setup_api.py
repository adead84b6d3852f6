"""Choosing SCIM as an account's directory source through the REST API: settings, the endpoint
URL, tokens shown once, rotated with an overlap and revoked; the other source refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.portal.actors import Role
from switchboard.scim import tokens
from switchboard.scim.errors import ScimError
from tests import factories
from tests.conftest import START
from tests.wiring import ContainerBuilder

BASE = "/api/v1/accounts/acme/directory/scim"
TENANT = "6f1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9"
CLIENT = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def headers(container: Container) -> dict[str, str]:
    with container.unit_of_work() as s:
        factories.tenant(s, "acme")
    token = factories.token_for(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    return factories.bearer(token)


def opens(container: Container, token: str) -> bool:
    """Whether the SCIM endpoint would let ``token`` in."""
    try:
        with container.unit_of_work() as s:
            tokens.authenticate(s, "acme", f"Bearer {token}")
    except ScimError:
        return False
    return True


def error(response: Any) -> dict[str, Any]:
    found: dict[str, Any] = response.json()["error"]
    return found


def test_not_connected_reads_as_such_and_has_no_tokens(
    app_client: TestClient, headers: dict[str, str]
) -> None:
    found = app_client.get(BASE, headers=headers)
    assert found.status_code == 200, found.text
    assert found.json() == {
        "connected": False,
        "url": "http://testserver/scim/v2/acme",
        "graph_connected": False,
        "client": None,
        "deprovision": None,
        "location_attribute": None,
        "location_rules": None,
        "default_location": None,
        "rate_limit": None,
        "tokens": [],
    }
    issued = app_client.post(f"{BASE}/tokens", headers=headers, json={})
    assert issued.status_code == 404
    assert error(issued)["code"] == "scim_not_connected"
    assert "Entra provisioning (SCIM) or Okta (SCIM)" in error(issued)["message"]
    gone = app_client.delete(BASE, headers=headers)
    assert gone.status_code == 404
    assert error(gone)["code"] == "scim_not_connected"


def test_connect_change_settings_issue_rotate_and_revoke(
    app_client: TestClient, container: Container, headers: dict[str, str]
) -> None:
    connected = app_client.put(BASE, headers=headers, json={"client": "entra"})
    assert connected.status_code == 200, connected.text
    body = connected.json()
    assert body["connected"] is True
    assert body["client"] == "entra"
    assert body["deprovision"] == "disable"
    assert body["location_attribute"] == "department"
    assert body["default_location"] == "HQ"  # the first location: minimal clients land there
    assert body["rate_limit"] == 100
    assert body["location_rules"] == {}

    changed = app_client.put(
        BASE,
        headers=headers,
        json={
            "client": "okta",
            "deprovision": "delete",
            "location_attribute": "locality",
            "location_rules": {" Chicago ": "branch"},
            "default_location": "branch",
            "rate_limit": 50,
        },
    ).json()
    assert changed["client"] == "okta"
    assert changed["deprovision"] == "delete"
    assert changed["location_attribute"] == "locality"
    # Rules are keyed by the case-folded value and name the location as it is spelled.
    assert changed["location_rules"] == {"chicago": "Branch"}
    assert changed["default_location"] == "Branch"
    assert changed["rate_limit"] == 50
    # Left out: kept.
    kept = app_client.put(BASE, headers=headers, json={"client": "okta"}).json()
    assert kept["deprovision"] == "delete" and kept["rate_limit"] == 50

    first = app_client.post(f"{BASE}/tokens", headers=headers)
    assert first.status_code == 201, first.text
    one = first.json()
    assert one["token"].startswith(f"sbscim_{one['prefix']}_")
    assert one["url"] == "http://testserver/scim/v2/acme"
    assert opens(container, one["token"])

    listed = app_client.get(BASE, headers=headers)
    assert one["token"] not in listed.text
    assert one["token"].rsplit("_", 1)[1] not in listed.text
    assert [(t["id"], t["prefix"], t["state"]) for t in listed.json()["tokens"]] == [
        (one["id"], one["prefix"], "active")
    ]

    second = app_client.post(f"{BASE}/tokens", headers=headers, json={"overlap_hours": 2}).json()
    assert opens(container, second["token"]) and opens(container, one["token"])
    states = {t["id"]: t for t in app_client.get(BASE, headers=headers).json()["tokens"]}
    assert states[one["id"]]["state"] == "expiring"
    assert states[one["id"]]["expires_at"].startswith(
        (START + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    )
    assert states[second["id"]]["state"] == "active"

    third = app_client.post(f"{BASE}/tokens", headers=headers, json={"overlap_hours": 0}).json()
    assert not opens(container, one["token"]) and not opens(container, second["token"])
    assert opens(container, third["token"])

    revoked = app_client.delete(f"{BASE}/tokens/{third['id']}", headers=headers)
    assert revoked.status_code == 204
    assert not opens(container, third["token"])
    again = app_client.delete(f"{BASE}/tokens/{third['id']}", headers=headers)
    assert again.status_code == 204  # revoking twice changes nothing
    listed_states = [t["state"] for t in app_client.get(BASE, headers=headers).json()["tokens"]]
    assert listed_states == ["revoked", "revoked", "revoked"]
    missing = app_client.delete(f"{BASE}/tokens/999999", headers=headers)
    assert missing.status_code == 404
    assert error(missing)["code"] == "scim_token_not_found"


def test_disconnect_revokes_every_token(
    app_client: TestClient, container: Container, headers: dict[str, str]
) -> None:
    app_client.put(BASE, headers=headers, json={"client": "okta"})
    token = app_client.post(f"{BASE}/tokens", headers=headers).json()["token"]
    assert app_client.delete(BASE, headers=headers).status_code == 204
    assert not opens(container, token)
    after = app_client.get(BASE, headers=headers).json()
    assert after["connected"] is False
    assert [t["state"] for t in after["tokens"]] == ["revoked"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"client": "azure"}, "client", "'entra' or 'okta'"),
        ({}, "client", "required"),
        ({"client": "entra", "deprovision": "archive"}, "deprovision", "'disable' or 'delete'"),
        ({"client": "entra", "location_attribute": "city"}, "location_attribute", "locality"),
        ({"client": "entra", "rate_limit": 5}, "rate_limit", "25"),
        ({"client": "entra", "rate_limit": 20000}, "rate_limit", "10000"),
        ({"client": "entra", "location_rules": {"Sales": "Nowhere"}}, "location_rules", "names no"),
        ({"client": "entra", "location_rules": {"": "HQ"}}, "location_rules", "at least 1"),
        ({"client": "entra", "default_location": "Nowhere"}, "default_location", "'Nowhere'"),
        ({"client": "entra", "tenant": "x"}, "tenant", "not a known field"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    app_client: TestClient,
    headers: dict[str, str],
    body: dict[str, Any],
    field: str,
    words: str,
) -> None:
    response = app_client.put(BASE, headers=headers, json=body)
    assert response.status_code == 422, response.text
    assert error(response)["field"] is not None
    assert error(response)["field"].startswith(field)
    assert words in error(response)["message"]
    assert app_client.get(BASE, headers=headers).json()["connected"] is False


@pytest.mark.parametrize("overlap", [-1, 169, "a day"])
def test_the_overlap_is_zero_to_a_week(
    app_client: TestClient, headers: dict[str, str], overlap: object
) -> None:
    app_client.put(BASE, headers=headers, json={"client": "entra"})
    response = app_client.post(f"{BASE}/tokens", headers=headers, json={"overlap_hours": overlap})
    assert response.status_code == 422
    assert error(response)["field"] == "overlap_hours"
    assert app_client.get(BASE, headers=headers).json()["tokens"] == []


def test_one_source_at_a_time_with_what_to_disconnect_first(
    app_client: TestClient, headers: dict[str, str]
) -> None:
    app_client.put(BASE, headers=headers, json={"client": "entra"})
    graph = app_client.put(
        "/api/v1/accounts/acme/directory/registration",
        headers=headers,
        json={"tenant_id": TENANT, "client_id": CLIENT},
    )
    assert graph.status_code == 409, graph.text
    assert error(graph)["code"] == "other_source_connected"
    assert "disconnect SCIM" in error(graph)["message"]

    assert app_client.delete(BASE, headers=headers).status_code == 204
    graph = app_client.put(
        "/api/v1/accounts/acme/directory/registration",
        headers=headers,
        json={"tenant_id": TENANT, "client_id": CLIENT, "settings": {"all_users": True}},
    )
    assert graph.status_code == 201, graph.text
    scim = app_client.put(BASE, headers=headers, json={"client": "okta"})
    assert scim.status_code == 409
    assert error(scim)["code"] == "other_source_connected"
    assert "Microsoft Graph" in error(scim)["message"]
    assert app_client.get(BASE, headers=headers).json()["graph_connected"] is True


def test_viewers_read_and_change_nothing(
    app_client: TestClient, container: Container, headers: dict[str, str]
) -> None:
    app_client.put(BASE, headers=headers, json={"client": "entra"})
    viewer = factories.bearer(
        factories.token_for(container, "viewer@acme.example", Role.ACCOUNT_VIEWER, "acme")
    )
    assert app_client.get(BASE, headers=viewer).json()["connected"] is True
    for method, path in (("PUT", BASE), ("DELETE", BASE), ("POST", f"{BASE}/tokens")):
        response = app_client.request(method, path, headers=viewer, json={"client": "okta"})
        assert response.status_code == 403, (method, path)
    assert app_client.get(BASE, headers=headers).json()["client"] == "entra"


@pytest.fixture
def public_client(build_container: ContainerBuilder) -> Iterator[tuple[TestClient, Container]]:
    from switchboard.web.app import create_app

    c = build_container(settings=build_container.settings(public_url="https://voice.example.com"))
    with TestClient(create_app(c)) as client:
        yield client, c


def test_the_url_uses_the_public_address_when_set(
    public_client: tuple[TestClient, Container],
) -> None:
    client, c = public_client
    with c.unit_of_work() as s:
        factories.tenant(s, "acme")
    headers = factories.bearer(
        factories.token_for(c, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    )
    assert client.put(BASE, headers=headers, json={"client": "okta"}).status_code == 200
    assert client.get(BASE, headers=headers).json()["url"] == (
        "https://voice.example.com/scim/v2/acme"
    )
    issued = client.post(f"{BASE}/tokens", headers=headers).json()
    assert issued["url"] == "https://voice.example.com/scim/v2/acme"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("", {"client": "entra", "rate_limit": True}, "rate_limit"),
        ("", {"client": "entra", "default_location": "H\x00Q"}, "default_location"),
        ("", {"client": "entra", "location_rules": {"Sa\x07les": "HQ"}}, "location_rules"),
        ("/tokens", {"overlap_hours": False}, "overlap_hours"),
    ],
)
def test_booleans_and_control_characters_are_refused(
    app_client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any], field: str
) -> None:
    if path:
        app_client.put(BASE, headers=headers, json={"client": "okta"})
    response = app_client.request(
        "POST" if path else "PUT", BASE + path, headers=headers, json=body
    )
    assert response.status_code == 422, response.text
    assert error(response)["field"].startswith(field)
