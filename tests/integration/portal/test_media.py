"""Voicemails and call recordings through the API and the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.models import AuditEvent, Media
from switchboard.portal import accounts, media, users
from switchboard.portal.actors import Role
from switchboard.portal.errors import ValidationFailed
from switchboard.portal.schemas import AccountPatch, UserIn
from tests import factories
from tests.conftest import START

OP = factories.OPERATOR
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 40


@dataclass
class Setup:
    user_id: int
    admin: dict[str, str]
    viewer: dict[str, str]


def _setup(container: Container, slug: str = "acme", plan: str = "6m", area: str = "312") -> Setup:
    with container.unit_of_work() as s:
        t = factories.tenant(s, slug, area)
        if plan != "6m":
            accounts.update_account(s, OP, slug, AccountPatch(retention_plan=plan))
        user = users.create_user(
            s,
            OP,
            t.account,
            UserIn(
                first_name="Ada", last_name="Lovelace", email="ada@example.com", location_id=t.hq.id
            ),
        )
        user_id = user.id
    admin = factories.bearer(
        factories.token_for(container, f"pbx@{slug}.example", Role.ACCOUNT_ADMIN, slug)
    )
    viewer = factories.bearer(
        factories.token_for(container, f"viewer@{slug}.example", Role.ACCOUNT_VIEWER, slug)
    )
    return Setup(user_id, admin, viewer)


def _upload(
    client: TestClient,
    headers: dict[str, str],
    user_id: int,
    *,
    slug: str = "acme",
    recorded_at: datetime | str = START - timedelta(hours=1),
    content: bytes = WAV,
    content_type: str = "audio/wav",
    **fields: str,
) -> dict[str, object]:
    form = {
        "kind": "voicemail",
        "user_id": str(user_id),
        "recorded_at": recorded_at if isinstance(recorded_at, str) else recorded_at.isoformat(),
        "duration_seconds": "42",
        "caller": "+14155550123",
    }
    form.update(fields)
    response = client.post(
        f"/api/v1/accounts/{slug}/media",
        headers=headers,
        data=form,
        files={"file": ("vm.wav", content, content_type)},
    )
    body: dict[str, object] = response.json()
    body["_status"] = response.status_code
    return body


def _stored_keys(container: Container) -> list[str]:
    return sorted(container.media_store.keys())


def test_ingest_list_get_and_download(container: Container, app_client: TestClient) -> None:
    st = _setup(container)
    created = _upload(app_client, st.admin, st.user_id)
    assert created.pop("_status") == 201
    media_id = created["id"]
    assert created == {
        "id": media_id,
        "kind": "voicemail",
        "user_id": st.user_id,
        "owner_name": "Ada Lovelace",
        "caller": "+14155550123",
        "recorded_at": "2026-01-15T08:00:00Z",
        "duration_seconds": 42,
        "content_type": "audio/wav",
        "size_bytes": len(WAV),
        "sha256": hashlib.sha256(WAV).hexdigest(),
        "created_at": "2026-01-15T09:00:00Z",
        "expires_at": "2026-07-15T08:00:00Z",
    }
    recording = _upload(
        app_client,
        st.admin,
        st.user_id,
        kind="recording",
        recorded_at="2026-01-15T03:50:00-05:00",
        content=b"ID3" + b"\x00" * 500,
        content_type="audio/mpeg",
    )
    assert recording["_status"] == 201
    # Stored and reported in UTC whatever offset the platform sends.
    assert recording["recorded_at"] == "2026-01-15T08:50:00Z"
    assert recording["expires_at"] == "2026-07-15T08:50:00Z"

    listed = app_client.get("/api/v1/accounts/acme/media", headers=st.viewer).json()
    assert listed["total"] == 2
    assert [m["id"] for m in listed["items"]] == [recording["id"], media_id]  # newest first
    only_vm = app_client.get(
        "/api/v1/accounts/acme/media", params={"kind": "voicemail"}, headers=st.viewer
    ).json()
    assert [m["id"] for m in only_vm["items"]] == [media_id]
    page = app_client.get(
        "/api/v1/accounts/acme/media", params={"limit": 1, "offset": 1}, headers=st.viewer
    ).json()
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    assert [m["id"] for m in page["items"]] == [media_id]
    ranged = app_client.get(
        "/api/v1/accounts/acme/media",
        params={"recorded_from": "2026-01-15T08:30:00+00:00"},
        headers=st.viewer,
    ).json()
    assert [m["id"] for m in ranged["items"]] == [recording["id"]]

    one = app_client.get(f"/api/v1/accounts/acme/media/{media_id}", headers=st.viewer)
    assert one.status_code == 200 and one.json()["sha256"] == created["sha256"]

    download = app_client.get(f"/api/v1/accounts/acme/media/{media_id}/content", headers=st.viewer)
    assert download.status_code == 200
    assert download.content == WAV
    assert download.headers["content-type"] == "audio/wav"
    assert download.headers["content-disposition"] == (
        f'attachment; filename="voicemail-{media_id}-20260115T080000Z.wav"'
    )
    mp3 = app_client.get(
        f"/api/v1/accounts/acme/media/{recording['id']}/content", headers=st.viewer
    )
    assert mp3.headers["content-type"] == "audio/mpeg"
    assert mp3.content == b"ID3" + b"\x00" * 500

    with container.unit_of_work() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "media.ingested")).all()
        assert {e.object_id for e in events} == {str(media_id), str(recording["id"])}
        assert {e.actor for e in events} == {"principal:pbx@acme.example"}


def test_deleted_user_media_stays_with_owner_name(
    container: Container, app_client: TestClient
) -> None:
    st = _setup(container)
    created = _upload(app_client, st.admin, st.user_id)
    deleted = app_client.delete(f"/api/v1/accounts/acme/users/{st.user_id}", headers=st.admin)
    assert deleted.status_code == 204

    listed = app_client.get("/api/v1/accounts/acme/media", headers=st.viewer).json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert item["id"] == created["id"]
    assert item["user_id"] is None
    assert item["owner_name"] == "Ada Lovelace"
    former = app_client.get(
        "/api/v1/accounts/acme/media", params={"former_users": "true"}, headers=st.viewer
    ).json()
    assert [m["id"] for m in former["items"]] == [created["id"]]
    download = app_client.get(
        f"/api/v1/accounts/acme/media/{created['id']}/content", headers=st.viewer
    )
    assert download.status_code == 200 and download.content == WAV


def _ingest_at(container: Container, slug: str, user_id: int, recorded_at: datetime) -> int:
    with container.unit_of_work() as s:
        account = accounts.get_account(s, OP, slug)
        data = media.MediaIn(
            kind="recording", user_id=user_id, recorded_at=recorded_at, duration_seconds=5
        )
        return media.ingest(s, OP, account, data, io.BytesIO(WAV), "audio/ogg").id


def _media_ids(container: Container) -> set[int]:
    with container.unit_of_work() as s:
        return set(s.scalars(select(Media.id)))


def _crash_after(container: Container, action: Callable[[Session], object]) -> None:
    """Run ``action`` in a transaction that then fails before it commits."""
    with container.unit_of_work() as s:
        action(s)
        raise RuntimeError("crash before commit")


def _months_ago(months: int) -> datetime:
    year, month = divmod(START.year * 12 + START.month - 1 - months, 12)
    return START.replace(year=year, month=month + 1)


def test_purge_follows_each_accounts_plan(container: Container) -> None:
    six = _setup(container, "six", "6m", "312")
    three = _setup(container, "three", "3y", "415")
    keep_5m = _ingest_at(container, "six", six.user_id, _months_ago(5))
    drop_7m = _ingest_at(container, "six", six.user_id, _months_ago(7))
    keep_2y = _ingest_at(container, "three", three.user_id, _months_ago(24))
    keep_35m = _ingest_at(container, "three", three.user_id, _months_ago(35))
    drop_37m = _ingest_at(container, "three", three.user_id, _months_ago(37))
    all_ids = {keep_5m, drop_7m, keep_2y, keep_35m, drop_37m}
    assert len(_stored_keys(container)) == 5

    with container.unit_of_work() as s:
        dry = media.purge(s, OP, dry_run=True)
    by_slug = {r.slug: r for r in dry}
    assert (by_slug["six"].media_count, by_slug["six"].bytes) == (1, len(WAV))
    assert by_slug["six"].cutoff == _months_ago(6)
    assert (by_slug["three"].media_count, by_slug["three"].cutoff) == (1, _months_ago(36))
    assert _media_ids(container) == all_ids
    assert len(_stored_keys(container)) == 5

    with container.unit_of_work() as s:
        key_7m = s.get_one(Media, drop_7m).storage_key
        key_37m = s.get_one(Media, drop_37m).storage_key
        done = media.purge(s, OP, dry_run=False)
    assert sum(r.media_count for r in done) == 2
    assert _media_ids(container) == {keep_5m, keep_2y, keep_35m}
    keys = _stored_keys(container)
    assert len(keys) == 3 and key_7m not in keys and key_37m not in keys

    with container.unit_of_work() as s:
        again = media.purge(s, OP, dry_run=False)
        purged_events = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "media.purged")
        ).all()
    assert sum(r.media_count for r in again) == 0
    assert _media_ids(container) == {keep_5m, keep_2y, keep_35m}
    assert sorted(e.fields[1] for e in purged_events) == ["count=1", "count=1"]


def test_purge_of_one_account_leaves_the_others(container: Container) -> None:
    one = _setup(container, "one", "6m", "312")
    two = _setup(container, "two", "6m", "415")
    _ingest_at(container, "one", one.user_id, _months_ago(8))
    other = _ingest_at(container, "two", two.user_id, _months_ago(8))
    with container.unit_of_work() as s:
        reports = media.purge(s, OP, dry_run=False, account=accounts.get_account(s, OP, "one"))
    assert [(r.slug, r.media_count) for r in reports] == [("one", 1)]
    assert _media_ids(container) == {other}


def test_purge_tolerates_a_missing_file_and_rolls_back_cleanly(container: Container) -> None:
    st = _setup(container)
    gone = _ingest_at(container, "acme", st.user_id, _months_ago(9))
    kept_file = _ingest_at(container, "acme", st.user_id, _months_ago(10))
    with container.unit_of_work() as s:
        container.media_store.delete(s.get_one(Media, gone).storage_key)
    # A purge whose transaction fails deletes neither rows nor files.
    with pytest.raises(RuntimeError, match="crash before commit"):
        _crash_after(container, lambda s: media.purge(s, OP, dry_run=False))
    assert _media_ids(container) == {gone, kept_file}
    assert len(_stored_keys(container)) == 1

    with container.unit_of_work() as s:
        (report,) = media.purge(s, OP, dry_run=False)
    assert (report.media_count, report.files_missing) == (2, 1)
    assert _media_ids(container) == set()
    assert _stored_keys(container) == []


def test_terminated_account_media_is_purged_by_retention(
    container: Container, app_client: TestClient, clock: FixedClock
) -> None:
    st = _setup(container)
    created = _upload(app_client, st.admin, st.user_id)
    operator = factories.bearer(
        factories.token_for(container, "ops@provider.example", Role.PROVIDER_ADMIN)
    )
    assert app_client.post("/api/v1/accounts/acme/terminate", headers=operator).status_code == 200
    listed = app_client.get("/api/v1/accounts/acme/media", headers=operator).json()
    assert [(m["id"], m["user_id"], m["owner_name"]) for m in listed["items"]] == [
        (created["id"], None, "Ada Lovelace")
    ]

    with container.unit_of_work() as s:
        assert sum(r.media_count for r in media.purge(s, OP, dry_run=False)) == 0
    clock.advance(timedelta(days=183))  # past 2026-07-15 08:00, the reported expires_at
    assert clock.now() > datetime.fromisoformat(str(created["expires_at"]))
    with container.unit_of_work() as s:
        assert sum(r.media_count for r in media.purge(s, OP, dry_run=False)) == 1
    assert _media_ids(container) == set()
    assert _stored_keys(container) == []


@pytest.mark.parametrize(
    ("overrides", "status", "field", "code"),
    [
        ({"kind": "fax"}, 422, "kind", "validation_failed"),
        ({"content_type": "text/html"}, 422, "file", "unsupported_media_type"),
        ({"content_type": "application/octet-stream"}, 422, "file", "unsupported_media_type"),
        ({"caller": "12345"}, 422, "caller", "validation_failed"),
        ({"duration_seconds": "-1"}, 422, "duration_seconds", "validation_failed"),
        ({"recorded_at": "2026-01-15T08:00:00"}, 422, "recorded_at", "validation_failed"),
        ({"recorded_at": "2026-01-15T10:00:00+00:00"}, 422, "recorded_at", "validation_failed"),
        ({"user_id": "999999"}, 404, "user_id", "user_not_found"),
        ({"content": b""}, 422, "file", "validation_failed"),
    ],
)
def test_ingest_validation_names_the_field(
    container: Container,
    app_client: TestClient,
    overrides: dict[str, Any],
    status: int,
    field: str,
    code: str,
) -> None:
    st = _setup(container)
    fields = dict(overrides)
    user_id = int(str(fields.pop("user_id", st.user_id)))
    body = _upload(app_client, st.admin, user_id, **fields)
    assert body["_status"] == status, body
    error = body["error"]
    assert isinstance(error, dict)
    assert (error["field"], error["code"]) == (field, code)
    assert str(error["message"]).startswith(f"{field}:")
    assert _stored_keys(container) == []


def test_user_of_another_account_and_missing_file(
    container: Container, app_client: TestClient
) -> None:
    st = _setup(container)
    other = _setup(container, "globex", area="415")
    foreign = _upload(app_client, st.admin, other.user_id)
    assert foreign["_status"] == 404
    assert foreign["error"] == {
        "code": "user_not_found",
        "field": "user_id",
        "message": f"user_id: {other.user_id} is not a user of account 'acme'; send the id of"
        " one of its users",
    }
    no_file = app_client.post(
        "/api/v1/accounts/acme/media",
        headers=st.admin,
        data={
            "kind": "voicemail",
            "user_id": str(st.user_id),
            "recorded_at": START.isoformat(),
            "duration_seconds": "1",
        },
    )
    assert no_file.status_code == 422
    assert no_file.json()["error"]["field"] == "file"
    assert _stored_keys(container) == []


def test_roles_and_tenant_isolation(container: Container, app_client: TestClient) -> None:
    st = _setup(container)
    other = _setup(container, "globex", area="415")
    created = _upload(app_client, st.admin, st.user_id)

    as_viewer = _upload(app_client, st.viewer, st.user_id)
    assert as_viewer["_status"] == 403
    refused = as_viewer["error"]
    assert isinstance(refused, dict) and refused["code"] == "forbidden"
    acme_id = _account_id(container, "acme")
    assert [k.split("/")[0] for k in _stored_keys(container)] == [str(acme_id)]

    base = "/api/v1/accounts/acme/media"
    for path in (base, f"{base}/{created['id']}", f"{base}/{created['id']}/content"):
        response = app_client.get(path, headers=other.admin)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "account_not_found"
    # The id of acme's media does not resolve under globex either.
    cross = app_client.get(
        f"/api/v1/accounts/globex/media/{created['id']}/content", headers=other.admin
    )
    assert cross.status_code == 404
    assert cross.json()["error"]["code"] == "media_not_found"
    assert app_client.get(base).status_code == 401


def _account_id(container: Container, slug: str) -> int:
    with container.unit_of_work() as s:
        return accounts.get_account(s, OP, slug).id


def test_size_limit_and_failed_transaction_leave_no_file(container: Container) -> None:
    st = _setup(container)
    with container.unit_of_work() as s:
        account = accounts.get_account(s, OP, "acme")
        data = media.MediaIn(
            kind="voicemail", user_id=st.user_id, recorded_at=START, duration_seconds=1
        )
        with pytest.raises(media.MediaTooLarge) as exc:
            media.ingest(s, OP, account, data, io.BytesIO(WAV), "audio/wav", max_bytes=1000)
        assert exc.value.status == 413 and exc.value.field == "file"
        assert "1000 bytes" in exc.value.message
    assert _stored_keys(container) == []

    # The file is written before the row; if the row never commits, the file goes too.
    def ingest_then_check(s: Session) -> None:
        account = accounts.get_account(s, OP, "acme")
        media.ingest(s, OP, account, data, io.BytesIO(WAV), "audio/wav")
        assert len(_stored_keys(container)) == 1

    with pytest.raises(RuntimeError, match="crash before commit"):
        _crash_after(container, ingest_then_check)
    assert _stored_keys(container) == []
    with container.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 0


def test_content_type_parameters_are_accepted(container: Container) -> None:
    st = _setup(container)
    with container.unit_of_work() as s:
        account = accounts.get_account(s, OP, "acme")
        data = media.MediaIn(
            kind="voicemail", user_id=st.user_id, recorded_at=START, duration_seconds=1
        )
        item = media.ingest(s, OP, account, data, io.BytesIO(WAV), "Audio/Ogg; codecs=opus")
        assert item.content_type == "audio/ogg"
        with pytest.raises(ValidationFailed) as exc:
            media.ingest(s, OP, account, data, io.BytesIO(WAV), None)
        assert exc.value.field == "file"
