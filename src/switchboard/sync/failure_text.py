"""What a run records when it stops on an unexpected error: words and a reference, no details.

Exception texts are not fit for a run's message: a database error carries the SQL statement,
its parameters (names, emails) and the server's detail ("Key (email_key)=(ada@...) already
exists"). The run's message says in words what kind of failure it was, with a reference id; the
server log holds, under that reference, the exception classes, database error codes and where
in the code it happened, never the exception texts.
"""

from __future__ import annotations

import logging
import traceback
import uuid

from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

log = logging.getLogger("switchboard.sync.failures")


# SQLite's busy/locked errors, PostgreSQL's connection (08), shutdown (57P), serialization
# and deadlock (40001, 40P01) states: the database was there but could not serve the run.
_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED", "08", "57P", "40001", "40P01")


def _code(exc: DBAPIError) -> str | None:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    return str(code) if code else None


def _kind(exc: BaseException) -> str:
    if isinstance(exc, DBAPIError):
        code = _code(exc) or ""
        if exc.connection_invalidated or (code and code.startswith(_BUSY)):
            return "the database was unavailable or busy"
        if isinstance(exc, IntegrityError):
            return "a change conflicted with another change in the database"
        return "a database error"
    if isinstance(exc, SQLAlchemyError):
        return "a database error"
    if isinstance(exc, MemoryError):
        return "the server ran out of memory"
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return "the process was stopped"
    return "an internal error"


def _classes(exc: BaseException) -> str:
    """The exception classes of the chain, with database error codes, without their texts."""
    names: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(names) < 5:
        name = type(seen).__name__
        if isinstance(seen, DBAPIError) and seen.orig is not None:
            code = _code(seen)
            name += f" <- {type(seen.orig).__name__}" + (f" [{code}]" if code else "")
        names.append(name)
        seen = seen.__cause__ or seen.__context__
    return " / ".join(names)


def unexpected_failure(exc: BaseException, run_id: int) -> str:
    """Log ``exc`` without its text under a new reference; return the run's message."""
    reference = uuid.uuid4().hex[:12]
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/switchboard/" in f.filename] or frames
    where = "".join(traceback.format_list(ours[-8:]))
    log.error("run %s failed, reference %s: %s\n%s", run_id, reference, _classes(exc), where)
    return (
        f"The run stopped on an unexpected error ({_kind(exc)}). What it applied before that"
        f" stays; the next run takes it from there. Reference {reference} in the server log."
    )
