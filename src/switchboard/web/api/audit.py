"""/api/v1/accounts/{account}/audit"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from switchboard.portal import audit as service
from switchboard.schemas.portal_out import AuditEventOut
from switchboard.web.deps import DB, Caller, ReadAccount

router = APIRouter(prefix="/accounts/{account}/audit", tags=["audit"])


@router.get("")
def list_audit(
    account: ReadAccount,
    session: DB,
    actor: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> list[AuditEventOut]:
    """Newest first; page with ``before_id`` set to the last id seen."""
    events = service.list_events(session, actor, account.id, limit=limit, before_id=before_id)
    return [AuditEventOut.of(e) for e in events]
