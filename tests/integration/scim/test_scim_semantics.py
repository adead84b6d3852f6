"""The seed's rules through SCIM: the same mapping, location rules, locked fields and write
path as the Graph sync."""

from __future__ import annotations

from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.db.models import User
from switchboard.portal import users
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Role
from switchboard.portal.schemas import UserIn, UserPatch
from switchboard.scim.source import ScimSettings
from tests import factories
from tests.scim_support import ScimClient, entra_user, scim_account

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SWITCHBOARD = "urn:ietf:params:scim:schemas:extension:switchboard:2.0:User"


def placed(container: Container, directory_id: str) -> User:
    found = portal(container, directory_id)
    assert found is not None
    return found


def portal(container: Container, directory_id: str) -> User | None:
    with container.unit_of_work() as session:
        user = session.scalar(select(User).where(User.directory_id == directory_id))
        if user is not None:
            session.expunge(user)
        return user


def test_location_from_department_else_the_default(scim: ScimClient, container: Container) -> None:
    branch = scim.post(
        "/Users", entra_user("bo@example.com", extra={ENTERPRISE: {"department": "branch"}})
    )
    nowhere = scim.post("/Users", entra_user("cy@example.com"))
    unknown = scim.post(
        "/Users", entra_user("di@example.com", extra={ENTERPRISE: {"department": "Mars"}})
    )
    assert branch.status_code == nowhere.status_code == unknown.status_code == 201
    assert placed(container, branch.json()["id"]).location.name == "Branch"
    assert placed(container, nowhere.json()["id"]).location.name == "HQ"
    assert placed(container, unknown.json()["id"]).location.name == "HQ"


def test_a_department_change_relocates_keeping_the_extension(
    scim: ScimClient, container: Container
) -> None:
    created = scim.post("/Users", entra_user("ed@example.com")).json()
    before = portal(container, created["id"])
    moved = scim.patch(
        f"/Users/{created['id']}",
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Branch"},
    )
    assert moved.status_code == 200, moved.text
    after = portal(container, created["id"])
    assert before is not None and after is not None
    assert after.id != before.id  # deleted and created again at the new location
    assert after.extension == before.extension
    assert after.location.name == "Branch"
    assert moved.json()["id"] == created["id"]  # the SCIM id stays


def test_deactivation_disables_and_keeps_the_license(
    scim: ScimClient, container: Container
) -> None:
    created = scim.post("/Users", entra_user("fa@example.com")).json()
    with container.unit_of_work() as session:
        account = get_account(session, factories.OPERATOR, "acme")
        user_id = portal(container, created["id"]).id  # type: ignore[union-attr]
        users.update_user(
            session, factories.OPERATOR, account, user_id, UserPatch(license="Business Voice")
        )
    off = scim.patch(
        f"/Users/{created['id']}", {"op": "Replace", "path": "active", "value": "False"}
    )
    assert off.status_code == 200 and off.json()["active"] is False
    user = portal(container, created["id"])
    assert user is not None and user.status == "disabled_in_directory"
    assert user.license_id is not None
    on = scim.patch(f"/Users/{created['id']}", {"op": "Replace", "path": "active", "value": "True"})
    assert on.status_code == 200
    assert portal(container, created["id"]).status == "active"  # type: ignore[union-attr]


def test_deprovision_delete_removes_and_reactivation_recreates(
    container: Container, app_client: object
) -> None:
    from fastapi.testclient import TestClient

    assert isinstance(app_client, TestClient)
    token = scim_account(container, "globex", settings=ScimSettings(deprovision="delete"))
    scim = ScimClient(app_client, "globex", token)
    created = scim.post("/Users", entra_user("gu@example.com")).json()
    assert portal(container, created["id"]) is not None
    off = scim.patch(f"/Users/{created['id']}", {"op": "replace", "path": "active", "value": False})
    assert off.status_code == 200
    assert portal(container, created["id"]) is None
    # The client still finds the user it deactivated (Entra looks users up before it acts).
    assert scim.get(f"/Users/{created['id']}").json()["active"] is False
    scim.patch(f"/Users/{created['id']}", {"op": "replace", "path": "active", "value": True})
    assert portal(container, created["id"]) is not None


def test_delete_deletes_the_portal_user(scim: ScimClient, container: Container) -> None:
    created = scim.post("/Users", entra_user("ha@example.com")).json()
    assert scim.delete(f"/Users/{created['id']}").status_code == 204
    assert portal(container, created["id"]) is None
    with container.unit_of_work() as session:
        assert session.scalar(select(User).where(User.email == "ha@example.com")) is None


def test_an_existing_portal_user_is_linked_by_email(scim: ScimClient, container: Container) -> None:
    with container.unit_of_work() as session:
        account = get_account(session, factories.OPERATOR, "acme")
        hq = account_location(session, account.id, "HQ")
        local = users.create_user(
            session,
            factories.OPERATOR,
            account,
            UserIn(
                username="ivy",
                first_name="Ivy",
                last_name="Old",
                email="ivy@example.com",
                location_id=hq,
            ),
        )
        local_id = local.id
    created = scim.post("/Users", entra_user("ivy@example.com", given="Ivy", family="New"))
    assert created.status_code == 201, created.text
    linked = portal(container, created.json()["id"])
    assert linked is not None and linked.id == local_id
    assert (linked.source, linked.last_name, linked.username) == (
        "directory",
        "New",
        "ivy@example.com",
    )


def account_location(session: object, account_id: int, name: str) -> int:
    from sqlalchemy.orm import Session

    from switchboard.db.models import Location

    assert isinstance(session, Session)
    found = session.scalar(
        select(Location.id).where(Location.account_id == account_id, Location.name == name)
    )
    assert found is not None
    return found


def test_directory_fields_are_locked_in_the_portal(scim: ScimClient, container: Container) -> None:
    created = scim.post("/Users", entra_user("jo@example.com")).json()
    user = portal(container, created["id"])
    assert user is not None
    admin = factories.token_for(container, "admin@acme.example.com", Role.ACCOUNT_ADMIN, "acme")
    refused = scim.http.patch(
        f"/api/v1/accounts/acme/users/{user.id}",
        json={"first_name": "Changed"},
        headers=factories.bearer(admin),
    )
    assert refused.status_code == 409
    assert "Entra ID" in refused.json()["error"]["message"] or "directory" in refused.text


def test_switchboard_schema_sets_location_extension_and_number(
    container: Container, app_client: object
) -> None:
    from fastapi.testclient import TestClient

    assert isinstance(app_client, TestClient)
    token = scim_account(
        container, "initech", settings=ScimSettings(location_attribute="switchboard"), area="415"
    )
    scim = ScimClient(app_client, "initech", token)
    body = entra_user(
        "ka@example.com",
        extra={
            SWITCHBOARD: {"location": "Branch", "extension": "2001", "phoneNumber": "+14155560100"}
        },
    )
    body["schemas"].append(SWITCHBOARD)
    created = scim.post("/Users", body)
    assert created.status_code == 201, created.text
    assert created.json()[SWITCHBOARD] == {
        "location": "Branch",
        "extension": "2001",
        "phoneNumber": "+14155560100",
    }
    user = portal(container, created.json()["id"])
    assert user is not None
    assert (user.location.name, user.extension, [n.e164 for n in user.numbers]) == (
        "Branch",
        "2001",
        ["+14155560100"],
    )
    wrong = scim.patch(
        f"/Users/{created.json()['id']}",
        {"op": "replace", "path": f"{SWITCHBOARD}:phoneNumber", "value": "+19995550000"},
    )
    assert wrong.status_code == 400
    assert wrong.json()["scimType"] == "invalidValue"
    assert wrong.json()["detail"].startswith("phoneNumber")
