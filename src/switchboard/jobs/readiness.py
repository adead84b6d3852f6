"""Whether this deployment can do its work: the checks behind /readyz and the readiness
gauge of /metrics, so the two always agree.

The database answers, its schema is at this version's migration head, and background work is
alive: the embedded scheduler on SQLite, at least one queue worker on PostgreSQL, by their
heartbeat rows. Each check says in words what failed and what to do, and nothing more (no
addresses, no exception text): the probes need no credentials.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from switchboard.db.migrate import revisions
from switchboard.jobs.heartbeat import STALE_AFTER, alive, background_role
from switchboard.sync.ports import Transactions

log = logging.getLogger("switchboard.readiness")

# The name of the background-work check in /readyz's body.
BACKGROUND_CHECK = "background"
CHECKS = ("database", "migrations", BACKGROUND_CHECK)

Outcome = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Outcome
    detail: str


def skipped(names: tuple[str, ...], why: str) -> list[Check]:
    return [Check(name, "skipped", why) for name in names]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def background_check(session: Session) -> Check:
    """Whether the process that runs schedules is alive: the embedded scheduler on SQLite,
    procrastinate workers on PostgreSQL (heartbeat.background_role decides which)."""
    role = background_role(session)
    sqlite = role == "scheduler"
    live = alive(session, role)
    window = int(STALE_AFTER.total_seconds())
    if live:
        what = "scheduler" if sqlite else "queue worker"
        return Check(BACKGROUND_CHECK, "pass", f"{_plural(len(live), what)} alive")
    if sqlite:
        return Check(
            BACKGROUND_CHECK,
            "fail",
            f"no scheduler has sent a heartbeat in the last {window} seconds, so no schedule"
            " runs; `switchboard serve` runs one unless started with --no-scheduler",
        )
    return Check(
        BACKGROUND_CHECK,
        "fail",
        f"no queue worker has sent a heartbeat in the last {window} seconds, so no schedule"
        " runs; start one with `switchboard worker` (or `switchboard serve --worker`)",
    )


def run_checks(tx: Transactions, *, timeout: float) -> list[Check]:
    """The checks in one transaction; a later check is skipped when an earlier one fails.
    ``timeout``: the most a statement may take (PostgreSQL)."""
    sqlite = tx.is_sqlite()
    try:
        with tx.unit_of_work() as session:
            if not sqlite:
                # A locked table must not hold the check past its deadline either.
                timeout_ms = int(timeout * 1000)
                session.execute(text(f"SET LOCAL statement_timeout = {timeout_ms}"))
            session.execute(text("SELECT 1"))
            applied, expected = revisions(session.connection())
            if applied != expected:
                words = (
                    "the database has no schema"
                    if not applied
                    else f"the database is at migration {', '.join(sorted(applied))}, this"
                    f" version needs {', '.join(sorted(expected))}"
                )
                return [
                    Check("database", "pass", "the database answered"),
                    Check("migrations", "fail", f"{words}; run `switchboard db upgrade`"),
                    *skipped((BACKGROUND_CHECK,), "not checked: the schema is not up to date"),
                ]
            background = background_check(session)
    except Exception as exc:  # any failure to reach or read the database
        log.warning("readiness: the database check failed: %s", type(exc).__name__)
        return [
            Check("database", "fail", "the database could not be reached or did not answer"),
            *skipped(CHECKS[1:], "not checked: the database did not answer"),
        ]
    return [
        Check("database", "pass", "the database answered"),
        Check("migrations", "pass", "the schema is at this version's migration head"),
        background,
    ]
