"""What a failed run stores and logs, and what a name with invisible characters becomes."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError

from switchboard.db.models import DirectorySyncState, SyncRun, SyncRunItem, User
from tests import factories
from tests.faults import on_write
from tests.integration.sync_world import SALES, World

OP = factories.OPERATOR
EMAIL = "ada.lovelace@contoso.example"


def test_an_unexpected_database_error_is_stored_and_logged_without_sql_or_personal_data(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    d = world.directory
    d.add_user("u1", mail=EMAIL)
    d.add_member(SALES, "u1")

    def broken_statement(connection: Connection) -> None:
        # A real database error whose text holds the statement and a user's email.
        connection.execute(
            text("SELECT id FROM users WHERE email = :email AND no_such_column = 1"),
            {"email": EMAIL},
        )

    caplog.set_level(logging.INFO)
    # The run's last step, saving the delta links, meets the error.
    with (
        on_write(world.container.engine, DirectorySyncState.__table__, broken_statement),
        pytest.raises(DBAPIError) as raised,
    ):
        world.engine.reconcile(OP, "acme")
    assert "no_such_column" in str(raised.value)  # the raw text that must not be stored

    with world.container.unit_of_work() as s:
        run = s.scalars(select(SyncRun)).one()
    assert run.status == "failed"
    message = run.message or ""
    assert message.startswith("The run stopped on an unexpected error (a database error)")
    for leak in ("SELECT", "no_such_column", EMAIL, "ada.lovelace", "[SQL:"):
        assert leak not in message
        assert leak not in caplog.text
    reference = message.split("Reference ")[1].split()[0]
    logged = [r.getMessage() for r in caplog.records if reference in r.getMessage()]
    assert len(logged) == 1
    assert "DBAPIError" in logged[0] or "Error" in logged[0]


def test_a_name_with_a_bidi_override_or_zero_width_space_is_a_per_user_error(
    world: World,
) -> None:
    d = world.directory
    d.add_user("good", givenName="Grace")
    d.add_user("joiner", givenName="\u0915\u094d\u200d\u0937")  # ZWJ: an Indic conjunct
    d.add_user("rlo", givenName="\u202eecarG")
    d.add_user("zwsp", surname="Hop\u200bper")
    for uid in ("good", "joiner", "rlo", "zwsp"):
        d.add_member(SALES, uid)

    summary = world.engine.reconcile(OP, "acme")

    with world.container.unit_of_work() as s:
        created = set(s.scalars(select(User.directory_id)))
        failed = {
            i.directory_id: i.message
            for i in s.scalars(select(SyncRunItem).where(SyncRunItem.state == "failed"))
        }
    assert created == {"good", "joiner"}
    assert set(failed) == {"rlo", "zwsp"}
    assert "U+202E" in (failed["rlo"] or "") and "first name" in (failed["rlo"] or "")
    assert "U+200B" in (failed["zwsp"] or "") and "last name" in (failed["zwsp"] or "")
    assert summary.status != "failed"
