"""The work floor's database side: bare DB-API writes into a copy of the product's schema.

The copy is its own database (an SQLite file or a PostgreSQL database) migrated by the
project's migrations, so it has every index and constraint the product's tables have, and the
engine's data stays as the engine left it. The statements name the columns the engine writes:
``users`` (portal.users.rules.new_row), ``audit_events`` (portal.audit._row) and
``sync_run_items`` (sync.runs.add_items).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sync_child import container, make_account

from switchboard.db.migrate import upgrade
from switchboard.db.models import Account, Location, SyncRun

FLOOR_SLUG = "floor"
USER_COLUMNS = (
    "account_id, username, username_key, first_name, last_name, email, email_key, location_id,"
    " extension, license_id, status, source, directory_id, created_at, updated_at"
)
AUDIT_COLUMNS = (
    "account_id, actor, action, object_type, object_id, fields, created_at, object_name, run_number"
)
ITEM_COLUMNS = (
    "run_id, directory_id, username, user_id, action, fields, error_code, message, state, details"
)


class FloorDb:
    """One connection of the driver the engine uses, and the statements of the work floor."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        self.conn: Any
        if self.sqlite:
            self.conn = sqlite3.connect(str(parsed.database), timeout=30)
            # The product's connection settings (db.engine._sqlite_pragmas).
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA busy_timeout=30000")
        else:
            conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self.conn = psycopg.connect(conninfo)
        self.cur = self.conn.cursor()
        json = "?" if self.sqlite else "CAST(? AS json)"
        # S608: the statements are built from this module's constants, never from input.
        self.insert_user = self._sql(
            f"INSERT INTO users ({USER_COLUMNS}) VALUES ({_marks(15)})"  # noqa: S608
        )
        self.update_user = self._sql(
            "UPDATE users SET first_name = ?, last_name = ?, status = ?, updated_at = ?"
            " WHERE id = ?"
        )
        self.delete_user = self._sql("DELETE FROM users WHERE id = ?")
        self.insert_audit = self._sql(
            f"INSERT INTO audit_events ({AUDIT_COLUMNS})"  # noqa: S608
            f" VALUES (?, ?, ?, ?, ?, {json}, ?, ?, ?)"
        )
        self.insert_item = self._sql(
            f"INSERT INTO sync_run_items ({ITEM_COLUMNS})"  # noqa: S608
            f" VALUES (?, ?, ?, ?, ?, {json}, ?, ?, ?, ?)"
        )

    def _sql(self, statement: str) -> str:
        return statement if self.sqlite else statement.replace("?", "%s")

    def stamp(self) -> object:
        """Now, as the column types store it: naive UTC (SQLAlchemy's text form on SQLite)."""
        moment = datetime.now(UTC).replace(tzinfo=None)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else moment

    def create_users(self, rows: Sequence[tuple[object, ...]]) -> list[int]:
        """Insert the users, and their new ids in order (the audit events name them)."""
        if not rows:
            return []
        if self.sqlite:
            self.cur.executemany(self.insert_user, rows)
            # One writer, AUTOINCREMENT: the batch's ids are the run ending at the last one.
            last = int(self.conn.execute("SELECT last_insert_rowid()").fetchone()[0])
            return list(range(last - len(rows) + 1, last + 1))
        self.cur.executemany(self.insert_user + " RETURNING id", rows, returning=True)
        ids = []
        while True:
            ids.append(int(self.cur.fetchone()[0]))
            if not self.cur.nextset():
                return ids

    def many(self, statement: str, rows: Sequence[tuple[object, ...]]) -> None:
        if rows:
            self.cur.executemany(statement, rows)

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()

    def scalar(self, statement: str, *params: object) -> Any:
        self.cur.execute(self._sql(statement), params)
        row = self.cur.fetchone()
        return row[0] if row else None

    def column(self, statement: str, *params: object) -> list[Any]:
        self.cur.execute(self._sql(statement), params)
        return [row[0] for row in self.cur.fetchall()]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def prepare(setup: dict[str, Any], url: str, kind: str) -> tuple[int, int, int, int]:
    """Migrate the floor's database, make its account on first use and a run for this floor
    (its items need one): the account's id, HQ's id, the run's id and number. Not timed."""
    c = container(setup, url)
    try:
        upgrade(c.engine)
        with c.unit_of_work() as s:
            account = s.scalar(select(Account).where(Account.slug == FLOOR_SLUG))
            if account is None:
                account, hq = make_account(s, FLOOR_SLUG)
            else:
                found = s.scalar(
                    select(Location).where(Location.account_id == account.id, Location.name == "HQ")
                )
                assert found is not None
                hq = found
            last = s.scalar(
                select(func.max(SyncRun.number)).where(SyncRun.account_id == account.id)
            )
            run = SyncRun(
                account_id=account.id,
                number=(last or 0) + 1,
                trigger="api",
                kind=kind,
                # Not "running": the schema allows one running run per account.
                status="succeeded",
                dry_run=False,
                counts={},
                started_at=datetime.now(UTC),
            )
            s.add(run)
            s.flush()
            return account.id, hq.id, run.id, run.number
    finally:
        c.engine.dispose()
