"""The audit log names who acted and on what, and links the sync run an entry came from."""

from __future__ import annotations

import html
import re

from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.db.models import AuditEvent
from switchboard.portal import audit, users
from switchboard.portal.actors import Role
from switchboard.portal.clock_context import now
from switchboard.portal.schemas import UserIn
from switchboard.portal.users import sync_actor
from tests import factories
from tests.ui_support import csrf, make_admin, sign_in


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in body.split("</tr>")[:-1]
    ]


def test_entries_name_actor_and_object_even_after_a_deletion(
    app_client: TestClient, container: Container
) -> None:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
    make_admin(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, "admin@acme.example")
    token = csrf(app_client, "/accounts/acme")
    app_client.post(
        "/accounts/acme/users",
        data={
            "csrf_token": token,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@acme.example",
            "location_id": str(tenant.hq.id),
        },
    )
    with container.unit_of_work() as session:
        ada = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.created")).one()
        user_id = ada.object_id
    page = app_client.get("/accounts/acme/audit", params={"type": "user"}).text
    assert f'<a href="/accounts/acme/users/{user_id}">Ada Lovelace</a>' in page
    assert _rows(page)[0].split(" user.created ")[0].endswith("admin@acme.example")

    app_client.post(f"/accounts/acme/users/{user_id}/delete", data={"csrf_token": token})
    page = app_client.get("/accounts/acme/audit", params={"type": "user"}).text
    rows = _rows(page)
    assert "user.deleted user Ada Lovelace" in rows[0]  # named from when it was written
    assert f"/accounts/acme/users/{user_id}" not in page  # no link to a user that is gone
    assert "user.created user Ada Lovelace" in rows[1]


def test_older_entries_fall_back_to_current_names_then_ids(
    app_client: TestClient, container: Container
) -> None:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
        stamp = now(session)
        for object_type, object_id in (("location", tenant.branch.id), ("user", 99999)):
            # Written before migration 0012: no name stored.
            session.add(
                AuditEvent(
                    account_id=tenant.account.id,
                    actor="cli:root",
                    action=f"{object_type}.updated",
                    object_type=object_type,
                    object_id=str(object_id),
                    fields=["name"],
                    created_at=stamp,
                )
            )
    make_admin(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, "admin@acme.example")
    rows = _rows(app_client.get("/accounts/acme/audit", params={"action": "user.updated"}).text)
    assert rows[0].endswith("Command line (root) user.updated user 99999 name")
    page = app_client.get("/accounts/acme/audit", params={"action": "location.updated"}).text
    assert f'<a href="/accounts/acme/locations/{tenant.branch.id}">Branch</a>' in page


def test_changes_made_by_a_sync_run_link_the_run(
    app_client: TestClient, container: Container
) -> None:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
        robot = sync_actor(tenant.account, run_number=7)
        users.create_user(
            session,
            robot,
            tenant.account,
            UserIn(
                first_name="Grace",
                last_name="Hopper",
                email="grace@acme.example",
                location_id=tenant.hq.id,
            ),
        )
        audit.record(
            session,
            robot,
            "sync.deletions_approved",
            account_id=tenant.account.id,
            object_type="sync_run",
            object_id=8,
        )
    with container.unit_of_work() as session:
        created = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.created"))
        assert created.one().run_number == 7
    make_admin(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, "admin@acme.example")
    page = app_client.get("/accounts/acme/audit").text
    assert 'Directory sync · <a href="/accounts/acme/directory/runs/7">run 7</a>' in page
    assert 'sync run <a href="/accounts/acme/directory/runs/8">8</a>' in " ".join(page.split())
