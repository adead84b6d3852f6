"""Bad input gets a SCIM error naming what is wrong, never a 500, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scim_support import PATCH_OP, ScimClient, entra_user

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def refused(answer: Any, status: int, scim_type: str | None, *words: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["schemas"] == [SCIM_ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    for word in words:
        assert word in body["detail"], body["detail"]
    assert "Traceback" not in body["detail"] and "Error(" not in body["detail"]


def test_malformed_json(scim: ScimClient) -> None:
    answer = scim.http.post("/scim/v2/acme/Users", content=b'{"userName": ', headers=scim.headers())
    refused(answer, 400, "invalidSyntax", "not valid JSON")
    refused(
        scim.http.post("/scim/v2/acme/Users", content=b"", headers=scim.headers()),
        400,
        "invalidSyntax",
        "needs a JSON body",
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"schemas": ["urn:example:Thing"]}, ("urn:example:Thing",)),
        ({"userName": 42.5}, ("userName",)),
        ({"userName": ""}, ("userName",)),
        ({"userName": None}, ("userName", "required")),
        ({"userName": "x" * 300 + "@example.com"}, ("userName", "254")),
        ({"active": "maybe"}, ("active", "true or false")),
        ({"name": "Ada"}, ("name", "object")),
        ({"emails": "ada@example.com"}, ("emails", "list")),
        ({"name": {"givenName": "A" * 101}}, ("name.givenName", "100")),
        ({"emails": [{"value": "not an email", "primary": True}]}, ("email",)),
        ({"userName": "two words"}, ("userName",)),
    ],
)
def test_bad_user_attributes(scim: ScimClient, change: dict[str, Any], words: tuple[str]) -> None:
    body = entra_user("ada@example.com")
    body.update(change)
    refused(scim.post("/Users", body), 400, "invalidValue", *words)
    listing = scim.http.get("/scim/v2/acme/Users/does-not-exist", headers=scim.headers())
    assert listing.status_code == 404


def test_not_an_object(scim: ScimClient) -> None:
    refused(scim.post("/Users", ["userName"]), 400, "invalidValue", "JSON object")


def test_duplicate_user_name_ignoring_case(scim: ScimClient) -> None:
    assert scim.post("/Users", entra_user("ada@example.com")).status_code == 201
    refused(scim.post("/Users", entra_user("ADA@example.com")), 409, "uniqueness", "userName")


@pytest.mark.parametrize(
    ("body", "scim_type", "words"),
    [
        (
            {"Operations": [{"op": "add", "path": "title", "value": "x"}]},
            "invalidValue",
            ("schemas",),
        ),
        ({"schemas": [PATCH_OP], "Operations": []}, "invalidValue", ("Operations",)),
        (
            {"schemas": [PATCH_OP], "Operations": [{"op": "move", "path": "a"}]},
            "invalidValue",
            ("move",),
        ),
        ({"schemas": [PATCH_OP], "Operations": [{"op": "remove"}]}, "noTarget", ("path",)),
        (
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "add", "path": "emails[type eq", "value": 1}],
            },
            "invalidPath",
            ("emails[type eq",),
        ),
        (
            {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": "x"}]},
            "invalidValue",
            ("object",),
        ),
        (
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "userName", "value": ""}],
            },
            "invalidValue",
            ("userName",),
        ),
        (
            {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "userName"}]},
            "invalidValue",
            ("userName",),
        ),
    ],
)
def test_bad_patches(
    scim: ScimClient, body: dict[str, Any], scim_type: str, words: tuple[str]
) -> None:
    user = scim.post("/Users", entra_user("ada@example.com")).json()
    answer = scim.http.patch(f"/scim/v2/acme/Users/{user['id']}", json=body, headers=scim.headers())
    refused(answer, 400, scim_type, *words)
    assert scim.get(f"/Users/{user['id']}").json() == user  # nothing changed


def test_an_unmapped_location_names_what_to_do(scim: ScimClient) -> None:
    from sqlalchemy import update

    from switchboard.db.models import ScimSource

    session_factory = scim.http.app.state.container.unit_of_work  # type: ignore[attr-defined]
    with session_factory() as session:
        session.execute(update(ScimSource).values(default_location=None))
    body = entra_user(
        "ada@example.com",
        extra={
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Mars"}
        },
    )
    refused(scim.post("/Users", body), 400, "invalidValue", "department", "Mars", "location rule")
    assert scim.get("/Users/x").status_code == 404


def test_unknown_routes_and_methods(scim: ScimClient) -> None:
    refused(scim.get("/Nothing"), 404, None, "no SCIM resource")
    answer = scim.http.request("PATCH", "/scim/v2/acme/Users", headers=scim.headers())
    refused(answer, 405, None, "PATCH is not allowed")
