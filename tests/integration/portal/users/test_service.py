"""User rules through the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.db.models import AuditEvent, PhoneNumber
from switchboard.portal import users
from switchboard.portal.actors import Actor, Role
from switchboard.portal.errors import Conflict, ValidationFailed
from switchboard.portal.schemas import UserIn, UserPatch
from tests import factories

OP = factories.OPERATOR


def _user(t: factories.Tenant, **kw: object) -> UserIn:
    base: dict[str, object] = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "location_id": t.hq.id,
    }
    base.update(kw)
    return UserIn.model_validate(base)


def test_create_assigns_extension_numbers_and_license(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        u = users.create_user(
            s, OP, t.account, _user(t, phone_numbers=["+13125550100"], license="business voice")
        )
        assert u.extension == "1000"
        assert u.username == "ada@example.com"
        assert [n.e164 for n in u.numbers] == ["+13125550100"]
        assert u.license is not None and u.license.name == "Business Voice"
        number = s.scalar(select(PhoneNumber).where(PhoneNumber.e164 == "+13125550100"))
        assert number is not None and number.status == "assigned"
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "user.created")).one()
        assert event.actor == OP.label and "extension" in event.fields


def test_uniqueness_of_email_ignoring_case_and_extension(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        users.create_user(s, OP, t.account, _user(t, extension="1234"))
        with pytest.raises(Conflict) as exc:
            users.create_user(s, OP, t.account, _user(t, email="ADA@example.com", username="x"))
        assert exc.value.field == "email"
        with pytest.raises(Conflict) as exc:
            users.create_user(s, OP, t.account, _user(t, email="b@example.com", extension="1234"))
        assert exc.value.field == "extension"


def test_extension_must_match_dial_plan(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        with pytest.raises(ValidationFailed, match="exactly 4 digits"):
            users.create_user(s, OP, t.account, _user(t, extension="12a4"))


def test_numbers_must_be_at_the_users_location_and_not_porting(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        with pytest.raises(ValidationFailed, match="location 'Branch'"):
            users.create_user(s, OP, t.account, _user(t, phone_numbers=["+13125560100"]))
        with pytest.raises(ValidationFailed, match="inventory"):
            users.create_user(s, OP, t.account, _user(t, phone_numbers=["+13125559999"]))


def test_license_seats_are_enforced(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        for i in range(3):
            users.create_user(
                s, OP, t.account, _user(t, email=f"u{i}@example.com", license="Business Voice")
            )
        with pytest.raises(Conflict) as exc:
            users.create_user(
                s, OP, t.account, _user(t, email="u9@example.com", license="Business Voice")
            )
        assert exc.value.code == "license_seats_exhausted"
        assert "all 3 seats" in exc.value.message


def test_delete_releases_numbers_and_seat(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        u = users.create_user(
            s, OP, t.account, _user(t, phone_numbers=["+13125550100"], license="Business Voice")
        )
        users.delete_user(s, OP, t.account, u.id)
        number = s.scalar(select(PhoneNumber).where(PhoneNumber.e164 == "+13125550100"))
        assert number is not None and number.status == "available" and number.user_id is None
        from switchboard.portal.licenses import usage

        assert usage(s, t.account) == {}


def test_directory_owned_fields_are_read_only_outside_the_sync(container: Container) -> None:
    sync = Actor(label="sync:directory", role=Role.PROVIDER_ADMIN, directory=True)
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        u = users.create_user(
            s, sync, t.account, _user(t, username="ada@contoso.com"), directory_id="0f7c-1"
        )
        assert u.source == "directory"
        for field, value in [
            ("first_name", "Augusta"),
            ("email", "a@example.com"),
            ("location_id", t.branch.id),
            ("last_name", "King"),
        ]:
            with pytest.raises(Conflict) as exc:
                users.update_user(s, OP, t.account, u.id, UserPatch.model_validate({field: value}))
            assert exc.value.code == "managed_by_directory"
            assert exc.value.field == field
            assert "Entra ID" in exc.value.message
        # The portal owns extensions and numbers, so those still change.
        u = users.update_user(s, OP, t.account, u.id, UserPatch(extension="2000"))
        assert u.extension == "2000"
        # Sending the unchanged value of a locked field is not an attempt to change it.
        users.update_user(s, OP, t.account, u.id, UserPatch(first_name="Ada"))
        users.update_user(s, sync, t.account, u.id, UserPatch(first_name="Augusta"))


def test_moving_location_requires_new_numbers(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        u = users.create_user(s, OP, t.account, _user(t, phone_numbers=["+13125550100"]))
        with pytest.raises(ValidationFailed, match="new location"):
            users.update_user(s, OP, t.account, u.id, UserPatch(location_id=t.branch.id))
        u = users.update_user(
            s,
            OP,
            t.account,
            u.id,
            UserPatch(location_id=t.branch.id, phone_numbers=["+13125560100"]),
        )
        assert [n.e164 for n in u.numbers] == ["+13125560100"]


def test_search_and_pagination(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        for i, (first, last) in enumerate(
            [("Ada", "Lovelace"), ("Alan", "Turing"), ("Grace", "Hopper"), ("Zoë", "Ångström")]
        ):
            users.create_user(
                s,
                OP,
                t.account,
                _user(t, first_name=first, last_name=last, email=f"p{i}@example.com"),
            )
        page = users.list_users(s, OP, t.account, search="tur")
        assert [u.last_name for u in page.items] == ["Turing"]
        page = users.list_users(s, OP, t.account, limit=2, offset=2)
        assert page.total == 4 and len(page.items) == 2
        assert users.list_users(s, OP, t.account, search="alan turing").total == 1


def test_extension_picking_fills_gaps_and_reports_exhaustion(container: Container) -> None:
    with container.unit_of_work() as s:
        acct = factories.account(s, "tiny", extension_length=2)
        hq = factories.location(s, acct)

        def add(i: int, ext: str | None = None) -> str:
            data = UserIn(
                first_name="U",
                last_name=str(i),
                email=f"u{i}@example.com",
                location_id=hq.id,
                extension=ext,
            )
            return users.create_user(s, OP, acct, data).extension

        assert add(0) == "10"
        assert add(1) == "11"
        assert add(2, "99") == "99"
        assert add(3) == "12"  # the successor of 99 is outside the plan: lowest free instead
        for i in range(4, 90):
            add(i)
        with pytest.raises(Conflict) as exc:
            add(90)
        assert exc.value.code == "extensions_exhausted"
