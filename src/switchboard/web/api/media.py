"""/api/v1/accounts/{account}/media: voicemails and call recordings.

The telephony platform uploads each file with an account_admin token; admins and viewers list
and download them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, BinaryIO

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from switchboard.portal import media as service
from switchboard.portal.schemas import IsoDateTime
from switchboard.portal.validation import MAX_ID, from_pydantic
from switchboard.schemas.media_out import MediaOut, MediaPageOut
from switchboard.web.deps import DB, Caller, Offset, PathId, QueryId, ReadAccount, WriteAccount

router = APIRouter(prefix="/accounts/{account}/media", tags=["media"])

_CHUNK = 256 * 1024


# The form's fields are read as text and checked by MediaIn (one message style for every
# field); the document says what each must hold.
_UPLOAD_DOC = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "encoding": {"file": {"contentType": ", ".join(service.CONTENT_TYPES)}}
            }
        }
    }
}


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=_UPLOAD_DOC)
def ingest_media(
    account: WriteAccount,
    session: DB,
    actor: Caller,
    file: Annotated[
        UploadFile,
        File(
            description="The audio, sent with its audio/* type", json_schema_extra={"minLength": 1}
        ),
    ],
    kind: Annotated[
        str,
        Form(
            description="voicemail or recording",
            json_schema_extra={"enum": ["voicemail", "recording"]},
        ),
    ],
    user_id: Annotated[
        str,
        Form(
            description="Id of the user the media belongs to",
            json_schema_extra={"type": "integer", "minimum": 1, "maximum": MAX_ID},
        ),
    ],
    recorded_at: Annotated[
        str,
        Form(
            description="ISO 8601 with offset, e.g. 2026-01-15T09:00Z",
            json_schema_extra={"format": "date-time"},
        ),
    ],
    duration_seconds: Annotated[
        str,
        Form(
            description="Length of the audio, whole seconds",
            json_schema_extra={"type": "integer", "minimum": 0, "maximum": service.MAX_DURATION},
        ),
    ],
    caller: Annotated[
        str,
        Form(description="Calling number in E.164, if known", json_schema_extra={"format": "e164"}),
    ] = "",
) -> MediaOut:
    """Upload a voicemail or call recording (multipart/form-data), limit 100 MB."""
    try:
        data = service.MediaIn.model_validate(
            {
                "kind": kind,
                "user_id": user_id,
                "recorded_at": recorded_at,
                "duration_seconds": duration_seconds,
                "caller": caller or None,
            }
        )
    except ValidationError as exc:
        raise from_pydantic(exc) from None
    media = service.ingest(session, actor, account, data, file.file, file.content_type)
    return MediaOut.of(media, account)


@router.get("")
def list_media(
    account: ReadAccount,
    session: DB,
    actor: Caller,
    kind: service.MediaKind | None = None,
    user_id: QueryId = None,
    former_users: Annotated[
        bool, Query(description="Only media of users who have been deleted")
    ] = False,
    recorded_from: Annotated[
        IsoDateTime | None, Query(description="Recorded at or after (ISO 8601 with offset)")
    ] = None,
    recorded_to: Annotated[
        IsoDateTime | None, Query(description="Recorded before (ISO 8601 with offset)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> MediaPageOut:
    """Newest recording first."""
    page = service.list_media(
        session,
        actor,
        account,
        kind=kind,
        user_id=user_id,
        former_users=former_users,
        recorded_from=recorded_from,
        recorded_to=recorded_to,
        limit=limit,
        offset=offset,
    )
    return MediaPageOut(
        items=[MediaOut.of(m, account) for m in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{media_id}")
def get_media(media_id: PathId, account: ReadAccount, session: DB, actor: Caller) -> MediaOut:
    return MediaOut.of(service.get_media(session, actor, account, media_id), account)


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


@router.get(
    "/{media_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"audio/*": {}}, "description": "The audio file"}},
)
def download_media(
    media_id: PathId, account: ReadAccount, session: DB, actor: Caller
) -> StreamingResponse:
    """The audio file, as uploaded."""
    media = service.get_media(session, actor, account, media_id)
    handle = service.open_content(session, actor, account, media_id)
    return StreamingResponse(
        _chunks(handle),
        media_type=media.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{service.filename(media)}"',
            "Content-Length": str(media.size_bytes),
            "ETag": f'"{media.sha256}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
