"""Voicemails and call recordings: metadata rows in the database, files in the media store.

A file and its row must live and die together. Ingest writes the file first, then the row, and
removes the file if the row never commits. The purge deletes rows first and removes their files
only once that deletion has committed, so a failed transaction never leaves a row without a file.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, BinaryIO, Literal, cast

from pydantic import AfterValidator, Field
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, Media, User
from switchboard.portal import audit, retention
from switchboard.portal import validation as v
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import NotFound, PortalError, ValidationFailed
from switchboard.portal.media_store import MediaStore
from switchboard.portal.schemas import IsoDateTime, RowId, Strict

log = logging.getLogger(__name__)

MAX_MEDIA_BYTES = 100 * 1024 * 1024
# Telephony platforms stamp recordings with their own clock; allow it to run a little ahead.
CLOCK_SKEW = timedelta(minutes=5)
# Audio only: the portal serves these files back to browsers, so nothing that could render.
CONTENT_TYPES = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/mp4": "m4a",
    "audio/webm": "webm",
    "audio/flac": "flac",
}
MediaKind = Literal["voicemail", "recording"]
_PURGE_BATCH = 500


class MediaTooLarge(PortalError):
    status = 413
    code = "file_too_large"


MAX_DURATION = 7 * 24 * 3600


class MediaIn(Strict):
    """The metadata the telephony platform sends with each file."""

    kind: MediaKind
    user_id: RowId
    recorded_at: IsoDateTime
    duration_seconds: int = Field(ge=0, le=MAX_DURATION)
    caller: Annotated[str, AfterValidator(v.e164)] | None = None


@dataclass(frozen=True)
class MediaPage:
    items: list[Media]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class AccountPurge:
    account_id: int
    slug: str
    retention_plan: str
    cutoff: datetime
    media_count: int
    bytes: int
    files_missing: int


def store_of(session: Session) -> MediaStore:
    store = session.info.get("media_store")
    if store is None:
        raise RuntimeError("no media store attached to the session (see bootstrap.Container)")
    return cast(MediaStore, store)


def content_type_of(raw: str | None) -> str:
    """The bare, lower-cased media type, if it is one of the accepted audio types."""
    base = (raw or "").split(";", 1)[0].strip().lower()
    if base not in CONTENT_TYPES:
        given = v.quote(base) if base else "no content type"
        raise ValidationFailed(
            f"file: {given} is not an accepted audio type; send the file with one of"
            f" {', '.join(sorted(CONTENT_TYPES))}",
            field="file",
            code="unsupported_media_type",
        )
    return base


def _size_text(size: int) -> str:
    mb = 1024 * 1024
    return f"{size // mb} MB" if size >= mb and size % mb == 0 else f"{size} bytes"


class _HashingReader:
    """Hands the stream to the store while hashing, counting and enforcing the size limit."""

    def __init__(self, source: BinaryIO, limit: int) -> None:
        self._source = source
        self._limit = limit
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        chunk = self._source.read(n)
        self.size += len(chunk)
        if self.size > self._limit:
            raise MediaTooLarge(
                f"file: larger than the limit of {_size_text(self._limit)}; split or compress"
                " the recording",
                field="file",
            )
        self.digest.update(chunk)
        return chunk


def _after(session: Session, outcome: Literal["commit", "rollback"]) -> list[str]:
    """Storage keys to delete once the session's transaction commits, or once it rolls back."""
    if "media_after" not in session.info:
        pending: dict[str, list[str]] = {"commit": [], "rollback": []}
        session.info["media_after"] = pending
        store = store_of(session)

        def settle(done: str) -> Callable[[Session], None]:
            def handler(_session: Session) -> None:
                keys, pending[done] = pending[done], []
                pending["rollback" if done == "commit" else "commit"] = []
                for key in keys:
                    try:
                        store.delete(key)
                    except OSError:
                        # The row is gone; an orphan file is harmless and shows up in the log.
                        log.exception("could not remove media file %s", key)

            return handler

        event.listen(session, "after_commit", settle("commit"))
        event.listen(session, "after_rollback", settle("rollback"))
    keys: list[str] = session.info["media_after"][outcome]
    return keys


def _owner(session: Session, account: Account, user_id: int) -> User:
    user = session.scalar(select(User).where(User.account_id == account.id, User.id == user_id))
    if user is None:
        # Like any other id in a body that names nothing (location_id of a user): 404.
        raise NotFound(
            f"user_id: {user_id} is not a user of account '{account.slug}'; send the id of one"
            " of its users",
            field="user_id",
            code="user_not_found",
        )
    return user


def ingest(
    session: Session,
    actor: Actor,
    account: Account,
    data: MediaIn,
    stream: BinaryIO,
    content_type: str | None,
    *,
    max_bytes: int = MAX_MEDIA_BYTES,
) -> Media:
    """Store one uploaded voicemail or recording for a user of ``account``."""
    actor.require_write(account.id)
    stamp = now(session)
    if data.recorded_at > stamp + CLOCK_SKEW:
        raise ValidationFailed(
            "recorded_at: is in the future; send the time the call was recorded, with its offset",
            field="recorded_at",
        )
    user = _owner(session, account, data.user_id)
    media_type = content_type_of(content_type)
    store = store_of(session)
    key = f"{account.id}/{uuid.uuid4().hex}"
    reader = _HashingReader(stream, max_bytes)
    store.put(key, cast(BinaryIO, reader))
    try:
        if reader.size == 0:
            raise ValidationFailed("file: is empty; send the audio content", field="file")
        media = Media(
            account_id=account.id,
            user_id=user.id,
            owner_name=f"{user.first_name} {user.last_name}",
            kind=data.kind,
            caller=data.caller,
            recorded_at=data.recorded_at.astimezone(UTC),
            duration_seconds=data.duration_seconds,
            content_type=media_type,
            size_bytes=reader.size,
            sha256=reader.digest.hexdigest(),
            storage_key=key,
            created_at=stamp,
        )
        session.add(media)
        session.flush()
        audit.record(
            session,
            actor,
            "media.ingested",
            account_id=account.id,
            object_type="media",
            object_id=media.id,
            fields=["kind", "user_id", "recorded_at", "duration_seconds", "content_type"]
            + (["caller"] if data.caller else []),
        )
    except BaseException:
        store.delete(key)
        raise
    # The row is not durable until the caller's transaction commits; drop the file if it never does.
    _after(session, "rollback").append(key)
    return media


def get_media(session: Session, actor: Actor, account: Account, media_id: int) -> Media:
    actor.require_read(account.id)
    media = session.scalar(
        select(Media).where(Media.account_id == account.id, Media.id == media_id)
    )
    if media is None:
        raise NotFound(
            f"media {media_id} not found in account '{account.slug}'", code="media_not_found"
        )
    return media


def list_media(
    session: Session,
    actor: Actor,
    account: Account,
    *,
    kind: MediaKind | None = None,
    user_id: int | None = None,
    former_users: bool = False,
    recorded_from: datetime | None = None,
    recorded_to: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> MediaPage:
    """Newest first. ``former_users`` keeps only media whose user has been deleted."""
    actor.require_read(account.id)
    query = select(Media).where(Media.account_id == account.id)
    if kind is not None:
        query = query.where(Media.kind == kind)
    if user_id is not None:
        query = query.where(Media.user_id == user_id)
    if former_users:
        query = query.where(Media.user_id.is_(None))
    if recorded_from is not None:
        query = query.where(Media.recorded_at >= recorded_from)
    if recorded_to is not None:
        query = query.where(Media.recorded_at < recorded_to)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(Media.recorded_at.desc(), Media.id.desc()).limit(limit).offset(offset)
    )
    return MediaPage(items=list(items), total=total, limit=limit, offset=offset)


def open_content(session: Session, actor: Actor, account: Account, media_id: int) -> BinaryIO:
    """The file of one media item, open for reading; the caller closes it."""
    media = get_media(session, actor, account, media_id)
    try:
        return store_of(session).open(media.storage_key)
    except FileNotFoundError:
        raise NotFound(
            f"the file of media {media_id} is missing from the media store; restore it from"
            " backup or let retention remove the row",
            code="media_file_missing",
        ) from None


def expires_at(media: Media, account: Account) -> datetime:
    return retention.expires_at(media.recorded_at, retention.months_of(account.retention_plan))


def filename(media: Media) -> str:
    extension = CONTENT_TYPES.get(media.content_type, "bin")
    return f"{media.kind}-{media.id}-{media.recorded_at:%Y%m%dT%H%M%SZ}.{extension}"


def purge(
    session: Session, actor: Actor, *, dry_run: bool, account: Account | None = None
) -> list[AccountPurge]:
    """Delete media older than each account's retention plan, rows and files together.

    Terminated accounts are included: their media stays only as long as the plan says. Safe to
    re-run: what is gone is not counted twice, and a file already missing is not an error.
    """
    actor.require_provider()
    store = store_of(session)
    stamp = now(session)
    accounts = (
        [account]
        if account is not None
        else list(session.scalars(select(Account).order_by(Account.slug)))
    )
    reports = []
    for acct in accounts:
        limit = retention.cutoff(stamp, retention.months_of(acct.retention_plan))
        expired = session.execute(
            select(Media.id, Media.storage_key, Media.size_bytes)
            .where(Media.account_id == acct.id, Media.recorded_at < limit)
            .order_by(Media.id)
        ).all()
        missing = sum(1 for row in expired if not store.exists(row.storage_key))
        report = AccountPurge(
            account_id=acct.id,
            slug=acct.slug,
            retention_plan=acct.retention_plan,
            cutoff=limit,
            media_count=len(expired),
            bytes=sum(row.size_bytes for row in expired),
            files_missing=missing,
        )
        reports.append(report)
        if dry_run or not expired:
            continue
        for start in range(0, len(expired), _PURGE_BATCH):
            ids = [row.id for row in expired[start : start + _PURGE_BATCH]]
            session.execute(
                delete(Media)
                .where(Media.account_id == acct.id, Media.id.in_(ids))
                .execution_options(synchronize_session="fetch")
            )
        session.flush()
        _after(session, "commit").extend(row.storage_key for row in expired)
        audit.record(
            session,
            actor,
            "media.purged",
            account_id=acct.id,
            object_type="media",
            object_id="retention",
            fields=[
                f"count={report.media_count}",
                f"bytes={report.bytes}",
                f"cutoff={limit.isoformat()}",
            ],
        )
    return reports
