"""Rows of one account matched by several keys, each key through its own index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute, Session

# Values per IN list: well within every driver's limit on bound parameters.
LOOKUP_CHUNK = 500


def rows_matching_any(
    session: Session,
    columns: Sequence[InstrumentedAttribute[Any]],
    account_id: int,
    keys: Sequence[tuple[InstrumentedAttribute[Any], Iterable[Any]]],
) -> list[tuple[Any, ...]]:
    """Rows of the account (of the columns' table) whose column equals one of its values, for
    any (column, values) pair.

    A UNION of one lookup per column, not an OR of IN lists: databases answer the OR with a
    scan of the whole table, which for a 100,000-user account costs more than the work it
    serves. The statement is written here and handed to the driver: SQLAlchemy renders an IN
    list value by value on every call, which for a run's batches of 2,000 users cost more than
    the lookups themselves.
    """
    lists = [(column, sorted(set(values))) for column, values in keys]
    longest = max((len(values) for _c, values in lists), default=0)
    if not longest:
        return []
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    table = columns[0].property.parent.local_table.name  # type: ignore[attr-defined]
    names = ", ".join(column.key for column in columns)
    rows: list[tuple[Any, ...]] = []
    for start in range(0, longest, LOOKUP_CHUNK):
        part = slice(start, start + LOOKUP_CHUNK)
        lookups: list[str] = []
        params: list[Any] = []
        for column, values in lists:
            chosen = values[part]
            if chosen:
                lookups.append(
                    f"SELECT {names} FROM {table} WHERE account_id = {mark}"  # noqa: S608 - our names
                    f" AND {column.key} IN ({', '.join([mark] * len(chosen))})"
                )
                params += [account_id, *chosen]
        found = connection.exec_driver_sql(" UNION ".join(lookups), tuple(params))
        rows += (tuple(row) for row in found)
    return rows
