"""Planner statistics are refreshed after bulk writes on PostgreSQL; SQLite is left as it is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, text

from switchboard.bootstrap import Container
from switchboard.db import statistics
from tests import factories


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent to ``engine`` inside the block."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_refresh_analyzes_the_sync_tables_on_postgresql_only(container: Container) -> None:
    with container.unit_of_work() as s:
        factories.tenant(s)
        s.flush()
        with statements(container.engine) as sent:
            statistics.refresh(s)
        if s.get_bind().dialect.name == "postgresql":
            assert sent == [f"ANALYZE {table}" for table in statistics.SYNC_TABLES]
            # reltuples is -1 until a table is first analyzed.
            counted = s.execute(
                text("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:names)"),
                {"names": list(statistics.SYNC_TABLES)},
            ).all()
            assert {name for name, _ in counted} == set(statistics.SYNC_TABLES)
            assert all(tuples >= 0 for _name, tuples in counted)
        else:
            # SQLite: nothing is sent, and no statistics table appears, so its planner keeps
            # the estimates it uses for lookups on unique indexes.
            assert sent == []
            stat_tables = s.scalars(
                text("SELECT name FROM sqlite_master WHERE name LIKE 'sqlite_stat%'")
            ).all()
            assert stat_tables == []
