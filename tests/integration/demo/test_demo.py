"""`switchboard demo --exit-after-sync --json`: emulator tenant, connection, first reconcile, on a
fresh embedded database; and again, without connecting twice or creating anything new."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from switchboard.cli.main import app
from switchboard.db.models import DirectoryRegistration, Location, User

Run = Callable[..., tuple[int, str, str]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'switchboard.db'}"


@pytest.fixture
def run(tmp_path: Path, db_url: str) -> Run:
    env = {
        "SWITCHBOARD_DATABASE_URL": db_url,
        "SWITCHBOARD_DATA_DIR": str(tmp_path / "var"),
        "SWITCHBOARD_SECRET_KEY": None,  # generated into the data folder, as on a fresh clone
    }
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["demo", *args], env=env)
        return result.exit_code, result.stdout, result.stderr

    return invoke


@pytest.fixture
def session(db_url: str) -> Iterator[Callable[[], Session]]:
    engine = create_engine(db_url)
    yield lambda: Session(engine)
    engine.dispose()


def demo_json(run: Run, port: int) -> dict[str, Any]:
    code, out, err = run("--exit-after-sync", "--json", "--emulator-port", str(port))
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def test_demo_syncs_the_sample_tenant_and_runs_again(
    run: Run, session: Callable[[], Session], tmp_path: Path
) -> None:
    port = free_port()
    first = demo_json(run, port)
    assert first["account"] == "acme"
    assert first["kind"] == "full"
    assert first["status"] in ("succeeded", "partial")
    assert first["synced_groups"] == ["Sales", "Support"]
    created = first["counts"].get("create", 0)
    assert created > 0
    # The seeded tenant always has users the demo's locations cannot place: reported, not hidden.
    assert first["counts"].get("error", 0) > 0
    assert first["users"]["from_directory"] == created
    assert first["login"]["email"] == "admin@acme.example"
    assert first["operator_login"]["email"] == "operator@provider.example"
    assert first["operator_login"]["password"]

    with session() as s:
        synced = s.execute(
            select(User.directory_id, Location.name)
            .join(Location, User.location_id == Location.id)
            .where(User.source == "directory")
        ).all()
        assert len(synced) == created
        assert all(directory_id for directory_id, _ in synced)
        assert {name for _, name in synced} == {"HQ", "Branch"}

    second = demo_json(run, port)
    assert second["number"] > first["number"]
    assert second["status"] in ("succeeded", "partial")
    assert second["counts"].get("create", 0) == 0
    assert second["counts"].get("skip") == created
    assert second["reconnected"] is False
    assert second["client_id"] == first["client_id"]
    assert second["tenant_id"] == first["tenant_id"]
    assert second["login"]["password"] != first["login"]["password"]
    assert second["operator_login"]["password"] != first["operator_login"]["password"]
    with session() as s:
        assert s.scalar(select(func.count()).select_from(DirectoryRegistration)) == 1
        assert s.scalar(select(func.count()).where(User.source == "directory")) == created
    # The emulator was stopped (its server file goes with it) and kept its state for next time.
    state = tmp_path / "var" / "demo-emulator"
    assert not (state / "server.json").exists()
    assert (state / "apps" / f"{first['client_id']}.json").exists()


def test_demo_json_needs_exit_after_sync(run: Run) -> None:
    code, _out, err = run("--json")
    assert code == 2
    assert "--exit-after-sync" in err


@pytest.fixture
def listening() -> Iterator[int]:
    """A port another program listens on, for the length of a test."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        yield int(busy.getsockname()[1])


def test_demo_names_a_taken_emulator_port_before_setting_anything_up(
    run: Run, listening: int, tmp_path: Path
) -> None:
    code, out, err = run("--exit-after-sync", "--emulator-port", str(listening))
    assert code == 1
    said = " ".join(err.split())
    assert f"Port {listening} is already in use (another program listens on it)." in said
    assert "Choose another with make demo EMULATOR_PORT=" in said
    assert "Switchboard demo" not in out
    assert not (tmp_path / "var").exists()  # no database, no emulator state, no secret key


def test_demo_names_a_taken_portal_port_before_setting_anything_up(
    run: Run, listening: int, tmp_path: Path
) -> None:
    code, _out, err = run("--port", str(listening), "--emulator-port", str(free_port()))
    assert code == 1
    said = " ".join(err.split())
    assert f"Port {listening} is already in use (another program listens on it)." in said
    assert "Choose another with make demo PORT=" in said
    assert not (tmp_path / "var").exists()


def test_demo_suggests_a_port_that_is_free(listening: int) -> None:
    from switchboard.demo import port_check

    assert not port_check.is_free("127.0.0.1", listening)
    suggested = port_check.next_free("127.0.0.1", listening)
    assert suggested != listening
    assert port_check.is_free("127.0.0.1", suggested)
