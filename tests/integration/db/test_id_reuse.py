"""Ids of deleted users (and locations, licenses, numbers, media) are never handed out again,
so an id in the audit log names one object for good. Migration 0006 keeps existing data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.engine import make_engine
from switchboard.db.migrate import upgrade
from switchboard.db.models import Account, AuditEvent, PhoneNumber, User
from switchboard.portal import locations, users
from switchboard.portal.schemas import LocationIn, UserIn
from tests import factories
from tests.conftest import START, _postgres_database
from tests.factories import OPERATOR
from tests.wiring import ContainerBuilder


def _user(session: Session, account: Account, n: int, location_id: int, **kw: Any) -> User:
    body = UserIn(
        first_name=f"User{n}",
        last_name="Test",
        email=f"user{n}@acme.example.com",
        location_id=location_id,
        **kw,
    )
    return users.create_user(session, OPERATOR, account, body)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'ids.db'}")
        yield engine
        engine.dispose()
    else:
        for url in _postgres_database():
            engine = make_engine(url)
            yield engine
            engine.dispose()


def _container(engine: Engine, tmp_path: Path) -> Container:
    return ContainerBuilder(engine, tmp_path / "data", FixedClock(START))()


def test_a_deleted_users_id_is_not_reused(container: Container) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s)
        first = _user(s, t.account, 1, t.hq.id).id
        last = _user(s, t.account, 2, t.hq.id).id
        users.delete_user(s, OPERATOR, t.account, last)
        spare = locations.create_location(
            s,
            OPERATOR,
            t.account,
            LocationIn(name="Spare", address=factories.address(), time_zone="UTC"),
        ).id
        locations.delete_location(s, OPERATOR, t.account, spare)
    with container.unit_of_work() as s:
        acct = s.scalar(select(Account).where(Account.slug == "acme"))
        assert acct is not None
        again = _user(s, acct, 3, t.hq.id).id
        place = locations.create_location(
            s,
            OPERATOR,
            acct,
            LocationIn(name="Other", address=factories.address(), time_zone="UTC"),
        ).id
        deleted = s.scalars(
            select(AuditEvent.object_id).where(AuditEvent.action == "user.deleted")
        ).all()
    assert first < last < again
    assert deleted == [str(last)]
    assert place > spare


_AUDIT_SINCE_0012 = ("object_name VARCHAR(200)", "run_number INTEGER")


def test_migration_0006_keeps_rows_references_and_known_ids(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    upgrade(fresh_engine, "0004")
    c = _container(fresh_engine, tmp_path)
    # The services write audit entries as the newest schema has them (migration 0012): the
    # columns are there while the data is made, then dropped, leaving the 0004 schema.
    with fresh_engine.begin() as conn:
        for column in _AUDIT_SINCE_0012:
            conn.execute(text(f"ALTER TABLE audit_events ADD COLUMN {column}"))
    with c.unit_of_work() as s:
        t = factories.tenant(s)
        ids = [
            _user(s, t.account, 1, t.hq.id).id,
            _user(s, t.account, 2, t.hq.id, phone_numbers=["+13125550101"]).id,
            _user(s, t.account, 3, t.hq.id).id,
        ]
        users.delete_user(s, OPERATOR, t.account, ids[2])  # the highest id, known to the audit
    with fresh_engine.begin() as conn:
        for column in _AUDIT_SINCE_0012:
            conn.execute(text(f"ALTER TABLE audit_events DROP COLUMN {column.split()[0]}"))
    upgrade(fresh_engine)

    with c.unit_of_work() as s:
        acct = s.scalar(select(Account).where(Account.slug == "acme"))
        assert acct is not None
        kept = {u.id: (u.first_name, [n.e164 for n in u.numbers]) for u in s.scalars(select(User))}
        number = s.scalar(select(PhoneNumber).where(PhoneNumber.e164 == "+13125550101"))
        assert number is not None and number.user_id == ids[1]
        new = _user(s, acct, 4, t.hq.id).id
    assert kept == {ids[0]: ("User1", []), ids[1]: ("User2", ["+13125550101"])}
    assert new > ids[2]
    with fresh_engine.connect() as conn:
        if fresh_engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA foreign_key_check")).fetchall() == []
            sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'users'")).scalar()
            assert "AUTOINCREMENT" in str(sql)
