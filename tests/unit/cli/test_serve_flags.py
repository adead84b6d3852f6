"""`switchboard serve` refuses flags the database cannot honour before it starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli.main import app as cli


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--worker"], "--worker needs PostgreSQL (a procrastinate job queue)"),
        (["--worker", "--no-scheduler"], "--worker and --no-scheduler contradict each other"),
    ],
)
def test_serve_refuses_flags_that_do_not_fit(tmp_path: Path, args: list[str], words: str) -> None:
    database = tmp_path / "switchboard.db"
    result = CliRunner().invoke(
        cli,
        ["serve", *args],
        env={"SWITCHBOARD_DATABASE_URL": f"sqlite:///{database}"},
    )
    assert result.exit_code == 2
    assert words in " ".join(result.stderr.split())
    assert not database.exists()  # refused before anything was opened
