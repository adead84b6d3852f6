"""Admin UI forms through the service layer: locations, numbers, licenses, users."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.db.models import AuditEvent, LicenseType, Location, PhoneNumber, User
from switchboard.portal import users
from switchboard.portal.actors import Actor, Role
from switchboard.portal.schemas import UserIn
from tests import factories
from tests.ui_support import csrf, make_admin, sign_in

OP = factories.OPERATOR


def _signed_in(app_client: TestClient, container: Container) -> tuple[factories.Tenant, str]:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
    make_admin(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, "admin@acme.example")
    return tenant, csrf(app_client, "/accounts/acme")


def test_location_form_names_the_bad_field_then_creates(
    app_client: TestClient, container: Container
) -> None:
    _tenant, token = _signed_in(app_client, container)
    form = {
        "csrf_token": token,
        "name": "Paris office",
        "street": "5 Rue de Rivoli",
        "city": "Paris",
        "region": "IDF",
        "postal_code": "75001",
        "country": "FR",
        "time_zone": "Europe/Pariss",
    }
    bad = app_client.post("/accounts/acme/locations", data=form)
    assert bad.status_code == 422
    assert "Time zone: &#39;Europe/Pariss&#39; is not an IANA time zone" in bad.text
    assert 'id="err-time_zone"' in bad.text and 'value="5 Rue de Rivoli"' in bad.text
    good = app_client.post("/accounts/acme/locations", data={**form, "time_zone": "Europe/Paris"})
    assert good.status_code == 200 and "Location created." in good.text
    with container.unit_of_work() as session:
        paris = session.scalars(select(Location).where(Location.name == "Paris office")).one()
        assert (paris.country, paris.time_zone) == ("FR", "Europe/Paris")


def test_numbers_are_added_and_a_port_is_completed(
    app_client: TestClient, container: Container
) -> None:
    tenant, token = _signed_in(app_client, container)
    bad = app_client.post(
        "/accounts/acme/numbers",
        data={"csrf_token": token, "numbers": "+13125580100, 555", "location_id": tenant.hq.id},
    )
    assert bad.status_code == 422 and "not in E.164 form" in bad.text
    assert "+13125580100, 555" in bad.text
    added = app_client.post(
        "/accounts/acme/numbers",
        data={
            "csrf_token": token,
            "numbers": "+13125580100\n+13125580101",
            "location_id": str(tenant.hq.id),
            "status": "porting",
        },
    )
    assert "Numbers added to the inventory." in added.text
    porting = app_client.get("/accounts/acme/numbers?status=porting")
    assert porting.text.count("Mark available") == 2
    with container.unit_of_work() as session:
        number = session.scalars(
            select(PhoneNumber).where(PhoneNumber.e164 == "+13125580100")
        ).one()
    done = app_client.post(
        f"/accounts/acme/numbers/{number.id}/available", data={"csrf_token": token}
    )
    assert "Number marked available." in done.text
    again = app_client.post(
        f"/accounts/acme/numbers/{number.id}/available", data={"csrf_token": token}
    )
    assert again.status_code == 200  # already available: nothing to do, no error
    assert app_client.get("/accounts/acme/numbers?status=porting").text.count("Mark available") == 1


def test_license_seats_cannot_drop_below_use(app_client: TestClient, container: Container) -> None:
    tenant, token = _signed_in(app_client, container)
    with container.unit_of_work() as session:
        for i in range(2):
            users.create_user(
                session,
                OP,
                tenant.account,
                UserIn(
                    first_name="U",
                    last_name=str(i),
                    email=f"u{i}@acme.example",
                    location_id=tenant.hq.id,
                    license="Business Voice",
                ),
            )
        license_id = session.scalars(select(LicenseType.id)).one()
    page = app_client.get("/accounts/acme/licenses")
    assert "Business Voice" in page.text
    low = app_client.post(
        f"/accounts/acme/licenses/{license_id}", data={"csrf_token": token, "seats": "1"}
    )
    assert low.status_code == 422 and "2 seats of &#39;Business Voice&#39; are assigned" in low.text
    ok = app_client.post(
        f"/accounts/acme/licenses/{license_id}", data={"csrf_token": token, "seats": "10"}
    )
    assert "Seats updated." in ok.text
    created = app_client.post(
        "/accounts/acme/licenses", data={"csrf_token": token, "name": "Contact Center", "seats": ""}
    )
    assert created.status_code == 422 and "Seats must be a whole number" in created.text
    assert 'value="Contact Center"' in created.text


def test_directory_user_fields_posted_anyway_are_ignored(
    app_client: TestClient, container: Container
) -> None:
    tenant, token = _signed_in(app_client, container)
    sync = Actor(label="directory:test", role=Role.PROVIDER_ADMIN, directory=True)
    with container.unit_of_work() as session:
        grace = users.create_user(
            session,
            sync,
            tenant.account,
            UserIn(
                first_name="Grace",
                last_name="Hopper",
                email="grace@acme.example",
                location_id=tenant.hq.id,
            ),
            directory_id="dir-1",
        )
    response = app_client.post(
        f"/accounts/acme/users/{grace.id}",
        data={
            "csrf_token": token,
            "first_name": "Mallory",
            "email": "mallory@acme.example",
            "location_id": str(tenant.branch.id),
            "extension": "1500",
            "license": "",
        },
    )
    assert "User saved." in response.text
    with container.unit_of_work() as session:
        user = session.get(User, grace.id)
        assert user is not None
        assert (user.first_name, user.email, user.location_id, user.extension) == (
            "Grace",
            "grace@acme.example",
            tenant.hq.id,
            "1500",
        )


def test_users_are_paged_searched_edited_and_deleted(
    app_client: TestClient, container: Container
) -> None:
    tenant, token = _signed_in(app_client, container)
    with container.unit_of_work() as session:
        for i in range(30):
            users.create_user(
                session,
                OP,
                tenant.account,
                UserIn(
                    first_name="Person",
                    last_name=f"N{i:02d}",
                    email=f"p{i}@acme.example",
                    location_id=tenant.hq.id,
                ),
            )
    first = app_client.get("/accounts/acme/users")
    assert (
        "30 users · page 1 of 2" in first.text and "N24" in first.text and "N25" not in first.text
    )
    second = app_client.get("/accounts/acme/users?page=2")
    assert "N29" in second.text and "N00" not in second.text
    search = app_client.get("/accounts/acme/users?q=n07")
    assert "1 user" in search.text and "N07" in search.text

    with container.unit_of_work() as session:
        target = session.scalars(select(User).where(User.last_name == "N07")).one()
    edit = app_client.post(
        f"/accounts/acme/users/{target.id}",
        data={
            "csrf_token": token,
            "first_name": "Ada",
            "last_name": "N07",
            "email": "ada@acme.example",
            "username": "ada",
            "location_id": str(tenant.hq.id),
            "extension": "2000",
            "phone_numbers": "+13125550100",
            "license": "Business Voice",
        },
    )
    assert "User saved." in edit.text and 'value="ada@acme.example"' in edit.text
    confirm = app_client.get(f"/accounts/acme/users/{target.id}/delete")
    assert "+13125550100 returns to the inventory" in confirm.text
    gone = app_client.post(f"/accounts/acme/users/{target.id}/delete", data={"csrf_token": token})
    assert "User deleted." in gone.text
    with container.unit_of_work() as session:
        assert session.get(User, target.id) is None
        number = session.scalars(
            select(PhoneNumber).where(PhoneNumber.e164 == "+13125550100")
        ).one()
        assert number.status == "available"
        actions = set(session.scalars(select(AuditEvent.action)))
        assert {"user.updated", "user.deleted"} <= actions
