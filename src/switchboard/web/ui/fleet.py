"""The fleet page: every account's directory sync health, for the provider's operators.

Account admins and viewers reach it too and see their own account's row (the same rule as
``GET /api/v1/sync-status``); the navigation links it for operators only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from switchboard.db.models import Account
from switchboard.portal.actors import Actor
from switchboard.sync import fleet_health, fleet_status
from switchboard.web.deps import container
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)


def health(
    request: Request, session: Session, actor: Actor, account: Account | None = None
) -> list[fleet_health.AccountHealth]:
    """The fleet's rows (or ``account``'s one row), as the scheduler of this process sees them."""
    lease = timedelta(seconds=container(request).settings.run_lease_seconds)
    return fleet_status.fleet(session, actor, lease=lease, only=account)


@router.get("/fleet")
def fleet_page(
    request: Request,
    viewer: CurrentViewer,
    attention: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    only_attention = attention.strip() in ("1", "true", "yes")
    with container(request).unit_of_work() as session:
        rows = health(request, session, viewer.actor)
        shown = [r for r in rows if r.needs_attention] if only_attention else rows
        return render(
            request,
            "fleet.html",
            {
                "rows": shown,
                "total": len(rows),
                "needing": sum(1 for r in rows if r.needs_attention),
                "only_attention": only_attention,
            },
        )
