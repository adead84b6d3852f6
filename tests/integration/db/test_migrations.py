"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from switchboard.db.engine import make_engine
from switchboard.db.migrate import upgrade
from switchboard.db.models import Base
from tests.conftest import START, _postgres_database


def test_migrated_schema_matches_models(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(migrated_engine: Engine) -> None:
    upgrade(migrated_engine)
    with migrated_engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is not None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def blank_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'blank.db'}")
        yield engine
        engine.dispose()
        return
    databases = _postgres_database()
    engine = make_engine(next(databases))
    yield engine
    engine.dispose()
    databases.close()


def _account(engine: Engine, slug: str) -> int:
    """An account row written with SQL: the models describe the newest schema, not an old one."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into accounts (slug, name, retention_plan, extension_length, status,"
                " created_at) values (:slug, :slug, '6m', 4, 'active', :at)"
            ),
            {"slug": slug, "at": START},
        )
        found = conn.execute(text("select id from accounts where slug = :slug"), {"slug": slug})
        return int(found.scalar_one())


def test_runs_left_running_before_leases_are_abandoned_by_the_upgrade(
    blank_engine: Engine,
) -> None:
    upgrade(blank_engine, "0004")
    account_id = _account(blank_engine, "acme")
    insert = text(
        "insert into sync_runs (account_id, trigger, kind, status, dry_run, counts, started_at)"
        " values (:account, 'schedule', 'full', :status, false, '{}', :at)"
    )
    with blank_engine.begin() as conn:
        for status in ("running", "running", "succeeded"):
            conn.execute(insert, {"account": account_id, "status": status, "at": START})
    upgrade(blank_engine)
    with blank_engine.connect() as conn:
        rows = conn.execute(text("select status, finished_at from sync_runs order by id")).all()
    assert [r[0] for r in rows] == ["abandoned", "abandoned", "succeeded"]
    assert rows[0][1] is not None


def test_runs_are_numbered_per_account_in_the_order_they_started(blank_engine: Engine) -> None:
    upgrade(blank_engine, "0008")
    acme, globex = _account(blank_engine, "acme"), _account(blank_engine, "globex")
    insert = text(
        "insert into sync_runs (account_id, trigger, kind, status, dry_run, counts, started_at)"
        " values (:account, 'schedule', 'delta', 'succeeded', false, '{}', :at)"
    )
    with blank_engine.begin() as conn:
        for account in (acme, globex, acme, acme, globex):
            conn.execute(insert, {"account": account, "at": START})
    upgrade(blank_engine)
    with blank_engine.connect() as conn:
        rows = conn.execute(text("select account_id, number from sync_runs order by id")).all()
    assert [tuple(r) for r in rows] == [(acme, 1), (globex, 1), (acme, 2), (acme, 3), (globex, 2)]
    duplicate = text(
        "insert into sync_runs (account_id, number, trigger, kind, status, dry_run, counts,"
        " started_at) values (:account, 3, 'schedule', 'delta', 'succeeded', false, '{}', :at)"
    )
    with pytest.raises(IntegrityError), blank_engine.begin() as conn:
        conn.execute(duplicate, {"account": acme, "at": START})


def test_audit_entries_of_runs_name_the_accounts_run_number(blank_engine: Engine) -> None:
    upgrade(blank_engine, "0010")
    acme, globex = _account(blank_engine, "acme"), _account(blank_engine, "globex")
    insert = text(
        "insert into sync_runs (account_id, number, trigger, kind, status, dry_run, counts,"
        " started_at) values (:account, :number, 'schedule', 'full', 'succeeded', false, '{}',"
        " :at)"
    )
    audit = text(
        "insert into audit_events (account_id, actor, action, object_type, object_id, fields,"
        " created_at) values (:account, 'ops', :action, :type, :object, '[]', :at)"
    )
    with blank_engine.begin() as conn:
        for account, number in ((acme, 1), (globex, 1), (globex, 2), (acme, 2)):
            conn.execute(insert, {"account": account, "number": number, "at": START})
        ids = {
            (account, number): run_id
            for run_id, account, number in conn.execute(
                text("select id, account_id, number from sync_runs")
            )
        }
        entries = [
            (acme, "sync.deletions_approved", "sync_run", str(ids[(acme, 2)])),
            (globex, "sync.deletions_rejected", "sync_run", str(ids[(globex, 2)])),
            (acme, "sync.deletions_approved", "sync_run", "999"),  # a run since pruned
            (acme, "user.created", "user", str(ids[(acme, 2)])),  # not a run
        ]
        for account, action, kind, object_id in entries:
            conn.execute(
                audit,
                {
                    "account": account,
                    "action": action,
                    "type": kind,
                    "object": object_id,
                    "at": START,
                },
            )
    upgrade(blank_engine)
    with blank_engine.connect() as conn:
        found = conn.execute(
            text("select object_id from audit_events where actor = 'ops' order by id")
        ).scalars()
        assert list(found) == ["2", "2", "999", str(ids[(acme, 2)])]


def test_scim_users_written_before_get_their_case_folded_keys(blank_engine: Engine) -> None:
    upgrade(blank_engine, "0014")
    account_id = _account(blank_engine, "acme")
    with blank_engine.begin() as conn:
        conn.execute(
            text(
                "insert into scim_users (id, account_id, user_name, user_name_key, given_name,"
                " display_name, department, locality, active, created_at, updated_at, version)"
                " values ('u1', :account, 'a', 'a', 'ÉMILE', 'Straße', 'ЖДЁМ', null, true,"
                " :at, :at, 1)"
            ),
            {"account": account_id, "at": START},
        )
    upgrade(blank_engine)
    with blank_engine.connect() as conn:
        row = conn.execute(
            text(
                "select given_name_key, display_name_key, department_key, locality_key"
                " from scim_users"
            )
        ).one()
    assert tuple(row) == ("émile", "strasse", "ждём", None)
