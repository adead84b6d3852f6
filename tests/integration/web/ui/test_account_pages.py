"""Admin UI: audit log, account settings and termination, location edit/delete, number
move/remove and license deletion, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.db.models import Account, AuditEvent, LicenseType, Location, PhoneNumber, User
from switchboard.portal import audit, licenses, users
from switchboard.portal.actors import Role
from switchboard.portal.schemas import LicenseIn, UserIn
from tests import factories
from tests.ui_support import csrf, make_admin, sign_in

OP = factories.OPERATOR


def _signed_in(
    app_client: TestClient, container: Container, role: Role = Role.ACCOUNT_ADMIN
) -> tuple[factories.Tenant, str]:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
    email = f"{role.value}@acme.example"
    make_admin(container, email, role, None if role is Role.PROVIDER_ADMIN else "acme")
    sign_in(app_client, email)
    return tenant, csrf(app_client, "/accounts/acme")


def _user(container: Container, tenant: factories.Tenant, number: str | None = None) -> int:
    with container.unit_of_work() as session:
        return users.create_user(
            session,
            OP,
            tenant.account,
            UserIn(
                first_name="Grace",
                last_name="Hopper",
                email="grace@acme.example",
                location_id=tenant.hq.id,
                phone_numbers=[number] if number else [],
                license="Business Voice",
            ),
        ).id


def _number(container: Container, e164: str) -> PhoneNumber:
    with container.unit_of_work() as session:
        return session.scalars(select(PhoneNumber).where(PhoneNumber.e164 == e164)).one()


# --- Audit log ---------------------------------------------------------------------------------


def test_audit_log_is_newest_first_filtered_and_paged(
    app_client: TestClient, container: Container
) -> None:
    tenant, _token = _signed_in(app_client, container)
    with container.unit_of_work() as session:
        for i in range(55):
            licenses.create_license(
                session, OP, tenant.account, LicenseIn(name=f"Extra {i:02d}", seats=1)
            )
    page = app_client.get("/accounts/acme/audit")
    assert page.status_code == 200
    rows = re.findall(r"<tr>\s*<td class=\"mono\"><time datetime=\"([^\"]+)\">", page.text)
    assert len(rows) == 50
    assert rows[0] == "2026-01-15T09:00:00+00:00"  # the fixed clock, in UTC with its offset
    # The 50 newest events are the licenses just created, the newest first.
    assert set(re.findall(r"<td><code>([a-z_.]+)</code></td>", page.text)) == {"license.created"}
    object_ids = re.findall(r'license <span class="mono">(\d+)</span>', page.text)
    assert [int(i) for i in object_ids] == sorted((int(i) for i in object_ids), reverse=True)
    assert "acme.example" in app_client.get("/accounts/acme/audit?type=principal").text
    older = re.search(r'href="(/accounts/acme/audit\?before_id=\d+)" rel="next"', page.text)
    assert older is not None
    second = app_client.get(older.group(1))
    assert "account.created" in second.text and 'rel="next"' not in second.text
    assert "session.opened" in second.text
    assert "Newest" in second.text

    licenses_only = app_client.get("/accounts/acme/audit", params={"action": "license."})
    actions = set(re.findall(r"<td><code>([a-z_.]+)</code></td>", licenses_only.text))
    assert actions == {"license.created"}
    locations = app_client.get("/accounts/acme/audit", params={"type": "location"})
    assert set(re.findall(r"<td><code>([a-z_.]+)</code></td>", locations.text)) == {
        "location.created"
    }
    # The changed fields of an event are listed, e.g. the address of a location.
    assert "address, name, time zone" in locations.text
    # A % in the prefix is a literal character, not a wildcard.
    nothing = app_client.get("/accounts/acme/audit", params={"action": "%"})
    assert nothing.status_code == 422 and 'id="err-action"' in nothing.text
    assert 'value="%"' in nothing.text
    bad_type = app_client.get("/accounts/acme/audit", params={"type": "planet"})
    assert bad_type.status_code == 422 and 'id="err-type"' in bad_type.text


def test_audit_prefix_is_matched_literally(container: Container) -> None:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
        found = audit.list_events(session, OP, tenant.account.id, action_prefix="number_")
        assert found == []
        found = audit.list_events(session, OP, tenant.account.id, action_prefix="number.")
        assert {e.action for e in found} == {"number.added"}


def test_audit_log_of_another_tenant_is_not_found(
    app_client: TestClient, container: Container
) -> None:
    _signed_in(app_client, container)
    with container.unit_of_work() as session:
        factories.tenant(session, "bravo", "415")
    assert app_client.get("/accounts/bravo/audit").status_code == 404


# --- Settings and termination --------------------------------------------------------------------


def test_settings_are_saved_and_validation_keeps_typed_values(
    app_client: TestClient, container: Container
) -> None:
    tenant, token = _signed_in(app_client, container)
    bad = app_client.post(
        "/accounts/acme/settings",
        data={"csrf_token": token, "name": "", "retention_plan": "2y", "extension_length": "9"},
    )
    assert bad.status_code == 422 and 'id="err-name"' in bad.text
    assert '<option value="2y" selected>' in bad.text
    saved = app_client.post(
        "/accounts/acme/settings",
        data={
            "csrf_token": token,
            "name": "Acme Global",
            "retention_plan": "2y",
            "extension_length": "5",
        },
    )
    assert saved.status_code == 200 and "Settings saved." in saved.text
    with container.unit_of_work() as session:
        account = session.scalars(select(Account).where(Account.slug == "acme")).one()
        assert (account.name, account.retention_plan, account.extension_length) == (
            "Acme Global",
            "2y",
            5,
        )
    # Once the account has users the dial plan is fixed: the input is disabled, and a
    # crafted post is refused with the service's message under the field.
    _user(container, tenant)
    page = app_client.get("/accounts/acme/settings")
    assert re.search(r'name="extension_length"[^>]* disabled', page.text)
    refused = app_client.post(
        "/accounts/acme/settings",
        data={
            "csrf_token": token,
            "name": "Acme Global",
            "retention_plan": "2y",
            "extension_length": "4",
        },
    )
    assert refused.status_code == 422 and 'id="err-extension_length"' in refused.text
    assert "cannot change while the account has users" in refused.text
    # Only an operator is offered termination.
    assert "Terminate account" not in page.text
    assert "Only the provider" in app_client.get("/accounts/acme/terminate").text


def test_viewer_sees_settings_without_a_form(app_client: TestClient, container: Container) -> None:
    _tenant, token = _signed_in(app_client, container, Role.ACCOUNT_VIEWER)
    page = app_client.get("/accounts/acme/settings")
    assert page.status_code == 200 and "acme Inc" in page.text
    assert re.findall(r'<form method="post" action="([^"]+)"', page.text) == ["/logout"]
    refused = app_client.post(
        "/accounts/acme/settings",
        data={"csrf_token": token, "name": "Mine", "retention_plan": "6m"},
    )
    assert refused.status_code == 403


def test_operator_terminates_an_account_by_typing_its_slug(
    app_client: TestClient, container: Container
) -> None:
    tenant, token = _signed_in(app_client, container, Role.PROVIDER_ADMIN)
    _user(container, tenant, "+13125550100")
    assert "Terminate account…" in app_client.get("/accounts/acme/settings").text
    confirm = app_client.get("/accounts/acme/terminate")
    assert "All 1 user are deleted" in confirm.text
    wrong = app_client.post(
        "/accounts/acme/terminate", data={"csrf_token": token, "confirm_slug": "acm"}
    )
    assert wrong.status_code == 422 and 'id="err-confirm_slug"' in wrong.text
    assert 'value="acm"' in wrong.text
    with container.unit_of_work() as session:
        assert session.scalars(select(Account.status)).one() == "active"
    done = app_client.post(
        "/accounts/acme/terminate", data={"csrf_token": token, "confirm_slug": "acme"}
    )
    assert done.status_code == 200 and "Account terminated." in done.text
    with container.unit_of_work() as session:
        assert session.scalars(select(Account.status)).one() == "terminated"
        assert session.scalars(select(User)).all() == []
    # A terminated account is read-only everywhere.
    again = app_client.get("/accounts/acme/settings")
    assert "Read-only" in again.text and "Save settings" not in again.text


def test_account_admin_cannot_terminate_even_with_the_slug(
    app_client: TestClient, container: Container
) -> None:
    _signed_in(app_client, container)
    token = csrf(app_client, "/accounts/acme")
    refused = app_client.post(
        "/accounts/acme/terminate", data={"csrf_token": token, "confirm_slug": "acme"}
    )
    assert refused.status_code == 403 and "provider_admin" in refused.text
    with container.unit_of_work() as session:
        assert session.scalars(select(Account.status)).one() == "active"


# --- Locations --------------------------------------------------------------------------------


def test_location_is_edited_and_deleted_only_when_empty(
    app_client: TestClient, container: Container
) -> None:
    tenant, token = _signed_in(app_client, container)
    form = {
        "csrf_token": token,
        "name": "Headquarters",
        "street": "2 Side St",
        "city": "Chicago",
        "region": "IL",
        "postal_code": "60601",
        "country": "US",
        "time_zone": "Mars/Olympus",
    }
    page = app_client.get(f"/accounts/acme/locations/{tenant.hq.id}")
    assert page.status_code == 200 and 'value="America/Chicago"' in page.text
    bad = app_client.post(f"/accounts/acme/locations/{tenant.hq.id}", data=form)
    assert bad.status_code == 422 and 'id="err-time_zone"' in bad.text
    assert 'value="2 Side St"' in bad.text and 'value="Mars/Olympus"' in bad.text
    clash = app_client.post(
        f"/accounts/acme/locations/{tenant.hq.id}",
        data={**form, "name": "branch", "time_zone": "America/Chicago"},
    )
    assert clash.status_code == 422 and 'id="err-name"' in clash.text
    saved = app_client.post(
        f"/accounts/acme/locations/{tenant.hq.id}", data={**form, "time_zone": "America/Chicago"}
    )
    assert "Location saved." in saved.text
    with container.unit_of_work() as session:
        hq = session.get(Location, tenant.hq.id)
        assert hq is not None and (hq.name, hq.street) == ("Headquarters", "2 Side St")
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "location.updated")
        ).one()
        assert "address.street" in event.fields and "name" in event.fields

    # The branch still holds two numbers: refused with the service's message.
    refused = app_client.post(
        f"/accounts/acme/locations/{tenant.branch.id}/delete", data={"csrf_token": token}
    )
    assert refused.status_code == 422
    assert "still has 0 user(s) and 2 number(s)" in refused.text
    for e164 in ("+13125560100", "+13125560101"):
        number = _number(container, e164)
        removed = app_client.post(
            f"/accounts/acme/numbers/{number.id}/remove", data={"csrf_token": token}
        )
        assert "Number removed from the inventory." in removed.text
    deleted = app_client.post(
        f"/accounts/acme/locations/{tenant.branch.id}/delete", data={"csrf_token": token}
    )
    assert "Location deleted." in deleted.text and "Branch" not in deleted.text


def test_viewer_sees_a_location_without_a_form(
    app_client: TestClient, container: Container
) -> None:
    tenant, token = _signed_in(app_client, container, Role.ACCOUNT_VIEWER)
    page = app_client.get(f"/accounts/acme/locations/{tenant.hq.id}")
    assert page.status_code == 200 and 'value="1 Main St"' in page.text
    assert re.findall(r'<form method="post" action="([^"]+)"', page.text) == ["/logout"]
    response = app_client.post(
        f"/accounts/acme/locations/{tenant.branch.id}/delete", data={"csrf_token": token}
    )
    assert response.status_code == 403


def test_a_location_of_another_tenant_is_not_found(
    app_client: TestClient, container: Container
) -> None:
    _tenant, token = _signed_in(app_client, container)
    with container.unit_of_work() as session:
        other = factories.tenant(session, "bravo", "415")
    assert app_client.get(f"/accounts/acme/locations/{other.hq.id}").status_code == 404
    response = app_client.post(
        f"/accounts/acme/locations/{other.branch.id}/delete", data={"csrf_token": token}
    )
    assert response.status_code == 404
    with container.unit_of_work() as session:
        assert session.get(Location, other.branch.id) is not None


# --- Numbers and licenses -------------------------------------------------------------------------


def test_unassigned_numbers_move_and_assigned_ones_stay(
    app_client: TestClient, container: Container
) -> None:
    tenant, token = _signed_in(app_client, container)
    _user(container, tenant, "+13125550100")
    assigned = _number(container, "+13125550100")
    free = _number(container, "+13125550101")
    page = app_client.get("/accounts/acme/numbers")
    assert f"/numbers/{free.id}/remove" in page.text
    assert f"/numbers/{assigned.id}/remove" not in page.text
    moved = app_client.post(
        f"/accounts/acme/numbers/{free.id}/location",
        data={"csrf_token": token, "location_id": str(tenant.branch.id)},
    )
    assert "Number moved." in moved.text
    assert _number(container, "+13125550101").location_id == tenant.branch.id
    refused = app_client.post(
        f"/accounts/acme/numbers/{assigned.id}/location",
        data={"csrf_token": token, "location_id": str(tenant.branch.id)},
    )
    assert refused.status_code == 422 and "unassign it before moving it" in refused.text
    not_removed = app_client.post(
        f"/accounts/acme/numbers/{assigned.id}/remove", data={"csrf_token": token}
    )
    assert not_removed.status_code == 422 and "assigned to a user" in not_removed.text
    assert _number(container, "+13125550100").location_id == tenant.hq.id


def test_only_an_unused_license_is_deleted(app_client: TestClient, container: Container) -> None:
    tenant, token = _signed_in(app_client, container)
    with container.unit_of_work() as session:
        spare = licenses.create_license(
            session, OP, tenant.account, LicenseIn(name="Spare", seats=5)
        ).id
        used = session.scalars(select(LicenseType.id).where(LicenseType.name == "Business Voice"))
        used_id = used.one()
    _user(container, tenant)
    page = app_client.get("/accounts/acme/licenses")
    assert (
        f"/licenses/{spare}/delete" in page.text and f"/licenses/{used_id}/delete" not in page.text
    )
    refused = app_client.post(
        f"/accounts/acme/licenses/{used_id}/delete", data={"csrf_token": token}
    )
    assert refused.status_code == 422
    assert "License &#39;Business Voice&#39; is assigned to 1 user(s)" in refused.text
    deleted = app_client.post(f"/accounts/acme/licenses/{spare}/delete", data={"csrf_token": token})
    assert "License deleted." in deleted.text
    with container.unit_of_work() as session:
        assert session.scalars(select(LicenseType.name)).all() == ["Business Voice"]
