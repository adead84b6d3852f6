"""The account's SCIM write lock, held until the transaction ends.

PostgreSQL: a transaction-scoped advisory lock, shared by every process on the database.
SQLite (the embedded, single-process store, one writer at a time anyway): one lock of this
process for every SCIM write, released when the session's transaction ends. SQLite runs reads
outside the write transaction, so without it two changes of one user could both read the same
version and one be lost. A SCIM write takes it before its first statement (``web.scim``), so
no transaction ever holds SQLite's write lock while it waits for this one.
"""

from __future__ import annotations

import threading

from sqlalchemy import event, text
from sqlalchemy.orm import Session, SessionTransaction

LOCK_SPACE = 7_301
ANY = 0  # SQLite's one lock, taken before the account is known
_HELD = "scim_write_lock"
_registry = threading.Lock()
_locks: dict[int, threading.Lock] = {}


def lock(session: Session, account_id: int) -> None:
    """Until the transaction ends, no other SCIM write of the account runs (idempotent)."""
    if session.info.get(_HELD) in (account_id, ANY):
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :account)"),
            {"space": LOCK_SPACE, "account": account_id},
        )
        session.info[_HELD] = account_id
        event.listen(session, "after_transaction_end", _forget)
        return
    if session.info.get(_HELD) is not None:
        return  # SQLite: the one lock is held already
    # Begin the transaction now: its end (commit, rollback or close) is what releases the
    # lock, also for a request refused before its first statement.
    session.connection()
    with _registry:
        held = _locks.setdefault(id(session.get_bind()), threading.Lock())
    held.acquire()
    session.info[_HELD] = account_id
    released = False

    def release(ended: Session, transaction: SessionTransaction) -> None:
        nonlocal released
        # The whole transaction, not a savepoint; once (a listener stays until the session
        # goes: removing it while the event runs is not allowed).
        if transaction.parent is None and not released:
            released = True
            ended.info.pop(_HELD, None)
            held.release()

    event.listen(session, "after_transaction_end", release)


def _forget(ended: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        ended.info.pop(_HELD, None)


def lock_before_writing(session: Session) -> None:
    """SQLite: take the write lock before the request's first statement (see above)."""
    if session.get_bind().dialect.name == "sqlite":
        lock(session, ANY)
