"""`switchboard worker --once` and `schedule show` end to end: CLI -> scheduler (threads on
SQLite, procrastinate on PostgreSQL) -> Graph client -> the Entra ID emulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from switchboard.cli.main import app as cli
from switchboard.db.models import SyncRun, User
from switchboard.jobs.queue import QUEUE_SCHEMA
from tests import factories

# The emulator and an account connected to it, shared with the emulator sync tests.
from tests.integration.sync.test_emulator_sync import (  # noqa: F401 - fixtures pytest finds here
    Connected,
    adapters,
    connected,
    emulator,
)

# Runs the CLI with the given arguments: (exit code, stdout, stderr).
Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture
def invoke(connected: Connected) -> Iterator[Invoke]:  # noqa: F811 - the imported fixture
    settings = connected.container.settings
    env = {
        "SWITCHBOARD_DATABASE_URL": settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": "test-secret-key-not-for-production",
    }
    runner = CliRunner()

    def call(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, list(args), env=env)
        return result.exit_code, result.stdout, result.stderr

    yield call
    if not connected.container.is_sqlite():
        with connected.container.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{QUEUE_SCHEMA}" CASCADE'))


def test_worker_once_runs_what_is_due_and_schedule_show_says_why(
    connected: Connected,  # noqa: F811 - the imported fixture
    invoke: Invoke,
) -> None:
    code, out, err = invoke("schedule", "show", "acme", "--json")
    assert code == 0, err
    before = json.loads(out)
    assert (before["due"], before["reason"]) == ("full", "safety net: no delta chain yet")

    code, out, err = invoke("worker", "--once")
    assert code == 0, err
    assert "acme: full run started (safety net: no delta chain yet)" in out
    assert "1 run(s) started" in out
    with connected.container.unit_of_work() as s:
        [run] = s.scalars(select(SyncRun)).all()
        assert (run.trigger, run.kind, run.status) == ("schedule", "full", "partial")
        assert s.scalars(select(User).where(User.directory_id.is_not(None))).first() is not None

    code, out, err = invoke("schedule", "show", "acme", "--json")
    after = json.loads(out)
    assert after["due"] == "none"
    assert after["reason"].startswith("next: delta at ")
    assert "one at least daily" in after["reason"]

    code, out, err = invoke("worker", "--once")
    assert code == 0, err
    assert "0 run(s) started, 1 account(s) not due" in out


def test_schedule_show_names_what_is_wrong(
    connected: Connected,  # noqa: F811 - the imported fixture
    invoke: Invoke,
) -> None:
    code, _out, err = invoke("schedule", "show", "nosuch")
    assert code != 0
    assert "nosuch" in err
    with connected.container.unit_of_work() as s:
        factories.tenant(s, "beta", area="415")
    code, _out, err = invoke("schedule", "show", "beta")
    assert code == 1
    assert "account 'beta' is not connected to Entra ID; nothing is scheduled" in " ".join(
        err.split()
    )
