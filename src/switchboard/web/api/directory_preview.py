"""/api/v1/accounts/{account}/directory/preview: what the sync settings would make of the users
in scope, read from Entra ID without writing anything."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from switchboard.connection.settings_preview import preview_settings
from switchboard.schemas.preview_out import PreviewOut
from switchboard.web.deps import DB, Caller, WriteAccount, container

router = APIRouter(prefix="/accounts/{account}/directory", tags=["directory"])


@router.post("/preview")
def preview(
    request: Request,
    account: WriteAccount,
    session: DB,
    actor: Caller,
    body: Annotated[
        dict[str, Any] | None,
        Body(
            description="Optional: a JSON merge patch of the sync settings to preview before"
            " saving it (as PATCH /settings takes); nothing is saved",
            examples=[{"location_rules": {"Remote": "HQ"}, "default_location": "HQ"}],
        ),
    ] = None,
) -> PreviewOut:
    """Read the users in scope as a full reconcile would and count how many land in each
    location, which directory values map to no location, who misses a required attribute,
    and what the reconcile would do. 409 when the account is not connected or Entra ID cannot
    be read; 422 when the changes are not valid settings."""
    session.commit()  # Entra ID is read outside the request's transaction
    return PreviewOut.of(preview_settings(container(request), actor, account.slug, body))
