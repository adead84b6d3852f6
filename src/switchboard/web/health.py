"""/healthz (the process answers) and /readyz (it can do its work: ``jobs.readiness``).

The checks run in a thread with a deadline, so a database that does not answer costs the
probe PROBE_TIMEOUT seconds, not the TCP timeout; while such a check is still waiting, later
probes fail at once instead of piling up threads and connections.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from switchboard.bootstrap import Container
from switchboard.jobs.deadline import Deadline
from switchboard.jobs.readiness import CHECKS, Check, run_checks, skipped

PROBE_TIMEOUT = 3.0


class Readiness:
    """Runs the checks with a deadline, one check at a time."""

    def __init__(self, container: Container, *, timeout: float = PROBE_TIMEOUT) -> None:
        self.container = container
        self.timeout = timeout
        self._deadline: Deadline[list[Check]] = Deadline(timeout, name="switchboard-readyz")

    def check(self) -> list[Check]:
        checks = self._deadline.run(lambda: run_checks(self.container, timeout=self.timeout))
        if checks is not None:
            return checks
        late = f"the database did not answer within {self.timeout:g} seconds"
        return [
            Check("database", "fail", late),
            *skipped(CHECKS[1:], "not checked: the database did not answer"),
        ]

    def wait(self, timeout: float) -> bool:
        """Wait for a check still running (tests, shutdown); True when none is left."""
        return self._deadline.wait(timeout)


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
