"""Planner statistics are refreshed after bulk writes (PostgreSQL), a no-op on SQLite."""

from __future__ import annotations

from sqlalchemy import text

from switchboard.bootstrap import Container
from switchboard.db import statistics
from tests import factories


def test_refresh_analyzes_the_sync_tables(container: Container) -> None:
    with container.unit_of_work() as s:
        factories.tenant(s)
        statistics.refresh(s)
        if s.get_bind().dialect.name != "postgresql":
            return
        # reltuples is -1 until a table is first analyzed.
        counted = s.execute(
            text("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:names)"),
            {"names": list(statistics.SYNC_TABLES)},
        ).all()
        assert {name for name, _ in counted} == set(statistics.SYNC_TABLES)
        assert all(tuples >= 0 for _name, tuples in counted)
