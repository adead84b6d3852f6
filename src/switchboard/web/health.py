"""/healthz (the process answers) and /readyz (it can do its work).

/readyz checks, in one short transaction: the database answers, its schema is at this
version's migration head, and background work is alive (the embedded scheduler on SQLite, at
least one queue worker on PostgreSQL, by their heartbeat rows). The checks run in a thread
with a deadline, so a database that does not answer costs the probe PROBE_TIMEOUT seconds,
not the TCP timeout; while such a check is still waiting, later probes fail at once instead
of piling up threads and connections. Neither endpoint needs credentials, so the answers say
what failed in words and nothing more (no addresses, no exception text).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from typing import Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.db.migrate import revisions
from switchboard.jobs.heartbeat import STALE_AFTER, Role, alive

log = logging.getLogger("switchboard.web.health")

PROBE_TIMEOUT = 3.0
# The name of the background-work check in /readyz's body.
BACKGROUND_CHECK = "background"
CHECKS = ("database", "migrations", BACKGROUND_CHECK)

Outcome = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Outcome
    detail: str


def _skipped(names: tuple[str, ...], why: str) -> list[Check]:
    return [Check(name, "skipped", why) for name in names]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def background_check(session: Session, *, sqlite: bool) -> Check:
    """Whether the process that runs schedules is alive: the embedded scheduler on SQLite,
    procrastinate workers on PostgreSQL."""
    role: Role = "scheduler" if sqlite else "worker"
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
        " runs; start one with `switchboard worker`",
    )


def run_checks(container: Container) -> list[Check]:
    """The checks in one transaction; a later check is skipped when an earlier one fails."""
    sqlite = container.is_sqlite()
    try:
        with container.unit_of_work() as session:
            if not sqlite:
                # A locked table must not hold the probe past its deadline either.
                timeout_ms = int(PROBE_TIMEOUT * 1000)
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
                    *_skipped((BACKGROUND_CHECK,), "not checked: the schema is not up to date"),
                ]
            background = background_check(session, sqlite=sqlite)
    except Exception as exc:  # any failure to reach or read the database
        log.warning("readiness: the database check failed: %s", type(exc).__name__)
        return [
            Check("database", "fail", "the database could not be reached or did not answer"),
            *_skipped(CHECKS[1:], "not checked: the database did not answer"),
        ]
    return [
        Check("database", "pass", "the database answered"),
        Check("migrations", "pass", "the schema is at this version's migration head"),
        background,
    ]


class Readiness:
    """Runs the checks with a deadline, one check at a time."""

    def __init__(self, container: Container, *, timeout: float = PROBE_TIMEOUT) -> None:
        self.container = container
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pending: threading.Thread | None = None

    def check(self) -> list[Check]:
        late = [
            Check(
                "database",
                "fail",
                f"the database did not answer within {self.timeout:g} seconds",
            ),
            *_skipped(CHECKS[1:], "not checked: the database did not answer"),
        ]
        result: list[list[Check]] = []
        with self._lock:
            if self._pending is not None and self._pending.is_alive():
                return late  # the previous check still waits for the database
            thread = threading.Thread(
                target=lambda: result.append(run_checks(self.container)),
                name="switchboard-readyz",
                daemon=True,
            )
            self._pending = thread
            thread.start()
        thread.join(self.timeout)
        return result[0] if result else late

    def wait(self, timeout: float) -> bool:
        """Wait for a check still running (tests, shutdown); True when none is left."""
        with self._lock:
            pending = self._pending
        if pending is not None:
            pending.join(timeout)
            return not pending.is_alive()
        return True


def _body(checks: list[Check]) -> tuple[int, dict[str, object]]:
    failing = [c.name for c in checks if c.status == "fail"]
    return (503 if failing else 200), {
        "status": "not ready" if failing else "ready",
        "failing": failing,
        "checks": [asdict(c) for c in checks],
    }


router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive and answers HTTP; nothing else is checked."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    readiness: Readiness = request.app.state.readiness
    status, body = _body(readiness.check())
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def install(app: FastAPI, container: Container) -> None:
    app.state.readiness = Readiness(container)
    app.include_router(router)
