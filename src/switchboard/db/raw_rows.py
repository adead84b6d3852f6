"""Bulk inserts of plain tuples through the driver's own ``executemany``.

A run of 100,000 users writes 300,000 rows (users, audit events, run items); SQLAlchemy's
per-row parameter processing (type adapters, dict keys) costs more than the database's own
work for them, so the hot writes build tuples in column order and hand them to the driver.
Values must already be what the driver stores: naive UTC datetimes (``naive_utc``), JSON as
text (``json_text``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session


def naive_utc(stamp: datetime) -> datetime:
    """What ``types.UTCDateTime`` stores for an aware datetime."""
    return stamp.astimezone(UTC).replace(tzinfo=None)


def json_text(value: object) -> str | None:
    """A JSON column's stored text, as SQLAlchemy's JSON type writes it (None stays NULL)."""
    return None if value is None else json.dumps(value)


def insert_rows(
    session: Session, table: str, columns: Sequence[str], rows: Sequence[tuple[object, ...]]
) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order) in one executemany of the session's
    transaction."""
    if not rows:
        return
    session.flush()  # rows the new ones refer to (an account, a run) may still be pending
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - names are ours, not input
        f"VALUES ({', '.join([mark] * len(columns))})"
    )
    connection.exec_driver_sql(statement, list(rows))
