"""``switchboard media`` end to end: a SQLite database and a media folder under tmp_path."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.bootstrap import Container, build
from switchboard.cli.main import app
from switchboard.config import Settings
from switchboard.portal import media, users
from switchboard.portal.schemas import UserIn
from tests import factories

OP = factories.OPERATOR


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'switchboard.db'}",
        "SWITCHBOARD_DATA_DIR": str(tmp_path / "data"),
        "SWITCHBOARD_SECRET_KEY": "test-secret-key-not-for-production",
    }


@pytest.fixture
def seeded(env: dict[str, str]) -> Iterator[tuple[Container, int, int]]:
    """An account on the 6m plan with one media item past retention and one recent."""
    settings = Settings(
        database_url=env["SWITCHBOARD_DATABASE_URL"], data_dir=Path(env["SWITCHBOARD_DATA_DIR"])
    )
    # The CLI runs on the system clock, so the recordings are dated from it too.
    container = build(settings, migrate=True)
    now = datetime.now(UTC)
    with container.unit_of_work() as s:
        t = factories.tenant(s, "acme")
        user = users.create_user(
            s,
            OP,
            t.account,
            UserIn(
                first_name="Grace", last_name="Hopper", email="g@acme.example", location_id=t.hq.id
            ),
        )
        ids = []
        for age in (timedelta(days=8 * 31), timedelta(days=1)):
            data = media.MediaIn(
                kind="voicemail", user_id=user.id, recorded_at=now - age, duration_seconds=3
            )
            ids.append(media.ingest(s, OP, t.account, data, io.BytesIO(b"abc"), "audio/wav").id)
    yield container, ids[0], ids[1]
    container.engine.dispose()


def test_list_and_purge(env: dict[str, str], seeded: tuple[Container, int, int]) -> None:
    container, old, recent = seeded
    runner = CliRunner()

    listed = runner.invoke(app, ["media", "list", "acme", "--json"], env=env)
    assert listed.exit_code == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == [recent, old]
    assert {r["owner_name"] for r in rows} == {"Grace Hopper"}

    dry = runner.invoke(app, ["media", "purge", "--dry-run", "--json"], env=env)
    assert dry.exit_code == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True and (report["media"], report["bytes"]) == (1, 3)
    assert [a["account"] for a in report["accounts"]] == ["acme"]
    assert len(list(container.media_store.keys())) == 2

    done = runner.invoke(app, ["media", "purge", "--account", "acme"], env=env)
    assert done.exit_code == 0, done.stderr
    assert "acme" in done.stdout and "6m" in done.stdout
    assert "deleted 1 media, 3 bytes" in done.stdout
    assert len(list(container.media_store.keys())) == 1

    again = runner.invoke(app, ["media", "purge", "--json"], env=env)
    assert json.loads(again.stdout)["media"] == 0
    after = runner.invoke(app, ["media", "list", "acme", "--json"], env=env)
    assert [r["id"] for r in json.loads(after.stdout)] == [recent]


def test_unknown_account_is_a_clear_error(
    env: dict[str, str], seeded: tuple[Container, int, int]
) -> None:
    result = CliRunner().invoke(app, ["media", "purge", "--account", "nope"], env=env)
    assert result.exit_code == 1
    assert "account 'nope' not found" in result.stderr
    listed = CliRunner().invoke(app, ["media", "list", "acme", "--kind", "fax"], env=env)
    assert listed.exit_code == 2
    assert "voicemail or recording" in listed.stderr
