"""Response bodies of the media API (voicemails and call recordings)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from switchboard.db.models import Account, Media
from switchboard.portal import media as media_service


class MediaOut(BaseModel):
    id: int
    kind: str
    user_id: int | None
    owner_name: str
    caller: str | None
    recorded_at: datetime
    duration_seconds: int
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime
    # When the account's retention plan lets a purge remove it.
    expires_at: datetime

    @classmethod
    def of(cls, m: Media, account: Account) -> MediaOut:
        return cls(
            id=m.id,
            kind=m.kind,
            user_id=m.user_id,
            owner_name=m.owner_name,
            caller=m.caller,
            recorded_at=m.recorded_at,
            duration_seconds=m.duration_seconds,
            content_type=m.content_type,
            size_bytes=m.size_bytes,
            sha256=m.sha256,
            created_at=m.created_at,
            expires_at=media_service.expires_at(m, account),
        )


class MediaPageOut(BaseModel):
    items: list[MediaOut]
    total: int
    limit: int
    offset: int
