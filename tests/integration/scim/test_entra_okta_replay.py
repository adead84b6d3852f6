"""Replays of the request sequences Microsoft Entra's provisioning service and Okta send, as
../shared/reference/entra-scim.md describes them, checked against what the portal holds."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.db.models import User
from tests.scim_support import PATCH_OP, ScimClient, entra_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def held(container: Container, email: str) -> User | None:
    with container.unit_of_work() as session:
        user = session.scalar(select(User).where(User.email_key == email.casefold()))
        if user is not None:
            session.expunge(user)
        return user


def lookup(scim: ScimClient, attribute: str, value: str) -> dict[str, object]:
    answer = scim.get("/Users", filter=f'{attribute} eq "{value}"')
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    return body


def test_entra_sequence(scim: ScimClient, container: Container) -> None:
    # Test Connection: a random userName, expecting 200 and an empty list.
    probe = lookup(scim, "userName", str(uuid.uuid4()))
    assert probe["totalResults"] == 0 and probe["Resources"] == []
    # A cycle: look up, then create.
    assert lookup(scim, "userName", "ada@example.com")["totalResults"] == 0
    assert lookup(scim, "externalId", "ada")["totalResults"] == 0
    body = entra_user("ada@example.com", extra={ENTERPRISE: {"department": "HQ"}})
    created = scim.post("/Users", body)
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    found = lookup(scim, "userName", "ADA@example.com")
    assert found["totalResults"] == 1
    by_email = lookup(scim, 'emails[type eq "work"].value', "ada@example.com")
    assert by_email["totalResults"] == 1
    # Updates, the way Entra sends them.
    scim.patch(
        f"/Users/{user_id}",
        {"op": "Replace", "path": "name.familyName", "value": "Byron"},
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "ada.byron@example.com"},
    )
    portal = held(container, "ada.byron@example.com")
    assert portal is not None and portal.last_name == "Byron" and portal.status == "active"
    # The periodic re-send of active.
    again = scim.patch(f"/Users/{user_id}", {"op": "Replace", "path": "active", "value": "True"})
    assert again.status_code == 200
    # Out of scope: disabled (the account's default), found again on lookup.
    scim.patch(f"/Users/{user_id}", {"op": "Replace", "path": "active", "value": "False"})
    portal = held(container, "ada.byron@example.com")
    assert portal is not None and portal.status == "disabled_in_directory"
    found = lookup(scim, "userName", "ada@example.com")
    assert found["totalResults"] == 1
    # Back in scope.
    scim.patch(f"/Users/{user_id}", {"op": "Replace", "path": "active", "value": "True"})
    portal = held(container, "ada.byron@example.com")
    assert portal is not None and portal.status == "active"
    # Group: created empty, read without members, member added and removed.
    group = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "externalId": str(uuid.uuid4()),
            "displayName": "Sales",
        },
    )
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    read = scim.get(f"/Groups/{group_id}", excludedAttributes="members")
    assert read.status_code == 200 and "members" not in read.json()
    added = scim.patch(
        f"/Groups/{group_id}", {"op": "Add", "path": "members", "value": [{"value": user_id}]}
    )
    assert added.status_code in (200, 204), added.text
    members = scim.get(f"/Groups/{group_id}").json()["members"]
    assert [m["value"] for m in members] == [user_id]
    removed = scim.patch(
        f"/Groups/{group_id}", {"op": "Remove", "path": "members", "value": [{"value": user_id}]}
    )
    assert removed.status_code in (200, 204), removed.text
    assert not scim.get(f"/Groups/{group_id}").json().get("members")
    # Hard delete, 30 days later.
    assert scim.delete(f"/Users/{user_id}").status_code == 204
    assert held(container, "ada.byron@example.com") is None
    assert scim.delete(f"/Groups/{group_id}").status_code == 204
    assert lookup(scim, "userName", "ada@example.com")["totalResults"] == 0


def test_okta_sequence(scim: ScimClient, container: Container) -> None:
    # Okta checks the connection by listing with a page of one.
    first = scim.get("/Users", startIndex="1", count="1")
    assert first.status_code == 200 and first.json()["itemsPerPage"] == 0
    assert lookup(scim, "userName", "grace@example.com")["totalResults"] == 0
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "grace@example.com",
        "name": {"givenName": "Grace", "familyName": "Hopper"},
        "emails": [{"primary": True, "value": "grace@example.com", "type": "work"}],
        "displayName": "Grace Hopper",
        "locale": "en-US",
        "externalId": "00u1abcd",
        "groups": [],
        "password": "not-kept",
        "active": True,
    }
    created = scim.post("/Users", body)
    assert created.status_code == 201, created.text
    user = created.json()
    assert "password" not in user
    # Profile updates come as PUT of the whole user.
    body["name"] = {"givenName": "Grace", "familyName": "Murray"}
    body["id"] = user["id"]
    put = scim.put(f"/Users/{user['id']}", body)
    assert put.status_code == 200, put.text
    portal = held(container, "grace@example.com")
    assert portal is not None and portal.last_name == "Murray"
    # Deactivation: PATCH active false.
    off = scim.patch(f"/Users/{user['id']}", {"op": "replace", "value": {"active": False}})
    assert off.status_code == 200
    portal = held(container, "grace@example.com")
    assert portal is not None and portal.status == "disabled_in_directory"
    # Group push: create with members, rename and replace members with PATCH.
    group = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "members": [{"value": user["id"], "display": "grace@example.com"}],
        },
    )
    assert group.status_code == 201, group.text
    patched = scim.http.patch(
        f"{scim.base}/Groups/{group.json()['id']}",
        json={
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "replace", "value": {"id": group.json()["id"], "displayName": "Eng"}},
                {"op": "replace", "path": "members", "value": []},
            ],
        },
        headers=scim.headers(),
    )
    assert patched.status_code in (200, 204), patched.text
    after = scim.get(f"/Groups/{group.json()['id']}").json()
    assert after["displayName"] == "Eng" and not after.get("members")
