"""Faults injected where the product meets the database, whichever module does the writing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, FromClause, Insert, Update, event


@contextmanager
def on_write(
    engine: Engine, table: FromClause, fault: Callable[[Connection], None]
) -> Iterator[None]:
    """Runs ``fault`` as an INSERT or UPDATE of ``table`` is about to reach the database, from
    the ORM or Core alike. What ``fault`` raises fails that statement, so its transaction rolls
    back, as a crash or a database error at that moment would."""

    def hook(
        connection: Connection, _cursor: Any, _sql: str, _params: Any, context: Any, _many: bool
    ) -> None:
        statement = getattr(context.compiled, "statement", None)
        if isinstance(statement, Insert | Update) and statement.table is table:
            fault(connection)

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", hook)
