"""Rows of one account matched by several keys, each key through its own index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, select, union
from sqlalchemy.orm import InstrumentedAttribute, Session

# Values per IN list: well within every driver's limit on bound parameters.
LOOKUP_CHUNK = 500


def rows_matching_any(
    session: Session,
    columns: Sequence[InstrumentedAttribute[Any]],
    scope: ColumnElement[bool],
    keys: Sequence[tuple[InstrumentedAttribute[Any], Iterable[Any]]],
) -> list[tuple[Any, ...]]:
    """Rows in ``scope`` whose column equals one of its values, for any (column, values) pair.

    A UNION of one lookup per column, not an OR of IN lists: databases answer the OR with a
    scan of the whole table, which for a 100,000-user account costs more than the work it
    serves.
    """
    lists = [(column, sorted(set(values))) for column, values in keys]
    longest = max((len(values) for _c, values in lists), default=0)
    rows: list[tuple[Any, ...]] = []
    for start in range(0, longest, LOOKUP_CHUNK):
        part = slice(start, start + LOOKUP_CHUNK)
        lookups = [
            select(*columns).where(scope, column.in_(values[part]))
            for column, values in lists
            if values[part]
        ]
        rows += (tuple(row) for row in session.execute(union(*lookups)))
    return rows
