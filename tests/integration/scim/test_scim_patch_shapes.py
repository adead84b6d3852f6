"""The PATCH shapes Entra and Okta send, as ../shared/reference/entra-scim.md lists them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.db.models import User
from tests.scim_support import ScimClient, entra_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def make(scim: ScimClient, name: str = "ada@example.com") -> dict[str, Any]:
    created = scim.post("/Users", entra_user(name))
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def names(container: Container, email: str) -> tuple[str, str, str]:
    with container.unit_of_work() as session:
        user = session.scalar(select(User).where(User.email_key == email.casefold()))
        assert user is not None
        return user.first_name, user.last_name, user.email


def test_capitalised_ops_and_add_on_single_valued_attributes(
    scim: ScimClient, container: Container
) -> None:
    user = make(scim)
    done = scim.patch(
        f"/Users/{user['id']}",
        {"op": "Add", "path": "name.givenName", "value": "Augusta"},
        {"op": "Replace", "path": "name.familyName", "value": "King"},
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "augusta@example.com"},
    )
    assert done.status_code == 200, done.text
    assert done.json()["name"]["givenName"] == "Augusta"
    assert done.json()["emails"][0]["value"] == "augusta@example.com"
    assert names(container, "augusta@example.com") == ("Augusta", "King", "augusta@example.com")


def test_no_path_replace_with_dotted_and_urn_keys(scim: ScimClient, container: Container) -> None:
    """aadOptscim062020: lower-case ops, real booleans, one replace with no path."""
    user = make(scim)
    done = scim.patch(
        f"/Users/{user['id']}",
        {
            "op": "replace",
            "value": {
                "name.givenName": "Grace",
                "name.familyName": "Hopper",
                f"{ENTERPRISE}:department": "Branch",
                "active": True,
                "displayName": "Grace Hopper",
            },
        },
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["name"]["givenName"] == "Grace"
    assert body[ENTERPRISE]["department"] == "Branch"
    assert names(container, "ada@example.com")[:2] == ("Grace", "Hopper")


def test_active_re_sent_changes_nothing(scim: ScimClient) -> None:
    user = make(scim)
    again = scim.patch(f"/Users/{user['id']}", {"op": "Replace", "path": "active", "value": "True"})
    assert again.status_code == 200
    assert again.json()["meta"]["version"] == user["meta"]["version"]
    assert again.json()["meta"]["lastModified"] == user["meta"]["lastModified"]


def test_manager_in_both_shapes_is_accepted(scim: ScimClient) -> None:
    user = make(scim)
    other = make(scim, "bob@example.com")
    for op in (
        {"op": "Add", "path": "manager", "value": [{"value": other["id"]}]},
        {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": other["id"]},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": {"value": other["id"]}},
    ):
        assert scim.patch(f"/Users/{user['id']}", op).status_code == 200


def test_attributes_the_portal_does_not_keep_are_accepted(scim: ScimClient) -> None:
    user = make(scim)
    done = scim.patch(
        f"/Users/{user['id']}",
        {"op": "Add", "path": "title", "value": "Engineer"},
        {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0100"},
        {"op": "Replace", "path": "preferredLanguage", "value": "en-US"},
        {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Chicago"},
    )
    assert done.status_code == 200, done.text
    assert "title" not in done.json()
    assert done.json()["addresses"][0]["locality"] == "Chicago"


def test_okta_deactivates_with_put(scim: ScimClient, container: Container) -> None:
    user = make(scim)
    body = entra_user("ada@example.com")
    body["active"] = False
    done = scim.put(f"/Users/{user['id']}", body)
    assert done.status_code == 200, done.text
    with container.unit_of_work() as session:
        found = session.scalar(select(User.status).where(User.directory_id == user["id"]))
    assert found == "disabled_in_directory"


def test_remove_and_etags(scim: ScimClient) -> None:
    user = make(scim)
    stale = user["meta"]["version"]
    first = scim.patch(
        f"/Users/{user['id']}",
        {"op": "Add", "path": "displayName", "value": "Ada L."},
        **{"If-Match": stale},
    )
    assert first.status_code == 200, first.text
    assert first.headers["ETag"] == first.json()["meta"]["version"] != stale
    refused = scim.patch(
        f"/Users/{user['id']}",
        {"op": "Remove", "path": "displayName"},
        **{"If-Match": stale},
    )
    assert refused.status_code == 412
    assert refused.json()["status"] == "412"
    current = scim.get(f"/Users/{user['id']}").json()
    assert current["displayName"] == "Ada L."
    removed = scim.patch(
        f"/Users/{user['id']}",
        {"op": "Remove", "path": "displayName"},
        **{"If-Match": current["meta"]["version"]},
    )
    assert removed.status_code == 200 and "displayName" not in removed.json()
