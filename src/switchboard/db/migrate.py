"""Run Alembic migrations programmatically, so no alembic.ini is needed at run time."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Migrations rebuild SQLite tables (copy, drop, rename); with foreign keys enforced
            # the drop would delete or null the rows that reference the table. The pragma only
            # takes effect outside a transaction, so it is set before the first statement.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left dangling references: {broken[:5]}")
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")


@lru_cache(maxsize=1)
def _heads() -> frozenset[str]:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


def is_current(engine: Engine) -> bool:
    """Whether every migration of this version has been applied to the database."""
    with engine.connect() as connection:
        applied, expected = revisions(connection)
    return applied == expected


def revisions(connection: Connection) -> tuple[frozenset[str], frozenset[str]]:
    """(applied, expected): the database's revisions and the heads of this version's migrations."""
    applied = MigrationContext.configure(connection).get_current_heads()
    return frozenset(applied), _heads()
