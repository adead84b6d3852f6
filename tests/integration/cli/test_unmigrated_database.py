"""CLI commands on a database that `switchboard db upgrade` has not set up yet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from switchboard.cli.main import app
from switchboard.db.engine import make_engine
from switchboard.db.migrate import upgrade
from tests.conftest import _postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield from _postgres_database()


def _run(url: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {
        "SWITCHBOARD_DATABASE_URL": url,
        "SWITCHBOARD_DATA_DIR": str(tmp_path / "data"),
        "SWITCHBOARD_SECRET_KEY": "test-secret-key-not-for-production",
    }
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("accounts", "list"),
        ("admin", "create", "--email", "op@example.com", "--role", "provider_admin"),
        ("users", "list", "acme"),
        ("directory", "runs", "acme"),
        ("schedule", "show", "acme"),
    ],
)
def test_commands_on_an_unmigrated_database_say_to_upgrade(
    empty_database: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    code, out, err = _run(empty_database, tmp_path, *command)
    assert code == 1
    assert "run `switchboard db upgrade`" in " ".join(err.split())
    assert "Traceback" not in out + err


def test_an_older_schema_is_refused_too_and_upgrade_fixes_it(
    empty_database: str, tmp_path: Path
) -> None:
    engine = make_engine(empty_database)
    try:
        upgrade(engine, "0001")
        code, _, err = _run(empty_database, tmp_path, "accounts", "list")
        assert code == 1
        assert "switchboard db upgrade" in err

        assert _run(empty_database, tmp_path, "db", "upgrade")[0] == 0
        code, out, err = _run(empty_database, tmp_path, "accounts", "list", "--json")
        assert (code, out.strip(), err) == (0, "[]", "")
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from accounts")).scalar() == 0
    finally:
        engine.dispose()
