"""How the directory pages run a service call and turn its outcome into a page.

Graph calls and sync runs open transactions of their own, so they run outside any unit of work
of the request (on SQLite a request holding a read lock would stall the run's writes).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TypeVar

from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.db.models import SyncRun
from switchboard.portal.errors import Forbidden, NotFound, PortalError
from switchboard.web.ui.directory.connection_form import for_form
from switchboard.web.ui.forms import FormError

T = TypeVar("T")
# The codes the registration service and the engine use when the account has no registration.
NOT_CONNECTED_CODES = frozenset({"directory_not_connected", "not_connected"})


class Outcome(Enum):
    NOT_CONNECTED = "not connected"


def outside(work: Callable[[], T]) -> T | FormError | Outcome:
    """Run ``work``; a fixable error becomes a FormError, a missing registration NOT_CONNECTED.

    Access errors (another tenant's account: 404, a viewer: 403) still reach the error page;
    they are raised before the registration is looked at.
    """
    try:
        return work()
    except ValidationError as exc:
        return FormError.of(for_form(exc))
    except PortalError as exc:
        if exc.code in NOT_CONNECTED_CODES:
            return Outcome.NOT_CONNECTED
        if isinstance(exc, Forbidden | NotFound) and exc.field is None:
            raise
        error = for_form(exc)
        return FormError(message=error.message, field=error.field)


def inside(container: Container, change: Callable[[Session], T]) -> T | FormError | Outcome:
    """``outside`` for a change made in one unit of work, rolled back when it fails."""

    def work() -> T:
        with container.unit_of_work() as session:
            return change(session)

    return outside(work)


def not_connected(slug: str) -> RedirectResponse:
    return RedirectResponse(
        f"/accounts/{slug}/directory?done=directory-not-connected", status_code=303
    )


def duration(run: SyncRun) -> str | None:
    if run.finished_at is None:
        return None
    seconds = max(0, int((run.finished_at - run.started_at).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
