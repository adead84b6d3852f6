"""/healthz and /readyz on SQLite and PostgreSQL: ready when the database answers, the schema
is at head and background work has a fresh heartbeat; 503 naming each failing check otherwise,
without hanging on a database that does not answer."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool
from starlette.testclient import TestClient

from switchboard.bootstrap import Container, build
from switchboard.clock import FixedClock
from switchboard.config import Settings
from switchboard.db.engine import make_engine
from switchboard.db.migrate import alembic_config
from switchboard.jobs.database_metrics import DatabaseCollector
from switchboard.jobs.heartbeat import STALE_AFTER, Role, beat
from switchboard.jobs.readiness import BACKGROUND_CHECK
from switchboard.web.app import create_app
from switchboard.web.client_cert import _gated
from switchboard.web.health import Readiness
from tests.wiring import TEST_SECRET_KEY, ContainerBuilder


def local_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, secret_key=TEST_SECRET_KEY)


def role_of(container: Container) -> Role:
    return "scheduler" if container.is_sqlite() else "worker"


def readyz(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/readyz")
    return response.status_code, response.json()


def checks(body: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in body["checks"]}


def detail(body: dict[str, Any], name: str) -> str:
    return str(next(c["detail"] for c in body["checks"] if c["name"] == name))


def test_healthz_answers_without_the_database(tmp_path: Path, clock: FixedClock) -> None:
    broken = create_engine(f"sqlite:///{tmp_path}")  # a directory: SQLite cannot open it
    container = build(local_settings(tmp_path), engine=broken, clock=clock)
    try:
        with TestClient(create_app(container)) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/readyz").status_code == 503
    finally:
        container.close()
        broken.dispose()


def test_ready_when_the_database_schema_and_background_work_are_fine(
    container: Container, app_client: TestClient
) -> None:
    beat(container, "host:1:bg", role_of(container))
    status, body = readyz(app_client)
    assert status == 200, body
    assert body["status"] == "ready"
    assert body["failing"] == []
    assert checks(body) == {"database": "pass", "migrations": "pass", BACKGROUND_CHECK: "pass"}
    expected = "1 scheduler alive" if container.is_sqlite() else "1 queue worker alive"
    assert detail(body, BACKGROUND_CHECK) == expected


def test_a_stale_heartbeat_is_no_background_work(
    container: Container, app_client: TestClient, clock: FixedClock
) -> None:
    beat(container, "host:1:bg", role_of(container))
    assert readyz(app_client)[0] == 200
    clock.advance(STALE_AFTER + timedelta(seconds=1))
    status, body = readyz(app_client)
    assert status == 503
    assert body["status"] == "not ready"
    assert body["failing"] == [BACKGROUND_CHECK]
    words = detail(body, BACKGROUND_CHECK)
    assert "heartbeat in the last 60 seconds" in words
    assert ("switchboard serve" if container.is_sqlite() else "switchboard worker") in words
    # The other role's heartbeat does not stand in for it.
    other: Role = "worker" if container.is_sqlite() else "scheduler"
    beat(container, "host:2:other", other)
    assert readyz(app_client)[1]["failing"] == [BACKGROUND_CHECK]


@pytest.fixture
def one_migration_behind(migrated_engine: Engine) -> Iterator[None]:
    """The database says it is one migration behind; the real version comes back after."""
    scripts = ScriptDirectory.from_config(alembic_config(str(migrated_engine.url)))
    head = scripts.get_current_head()
    assert head is not None
    previous = scripts.get_revision(head).down_revision
    assert isinstance(previous, str)
    with migrated_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": previous})
    try:
        yield
    finally:
        with migrated_engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})


def test_migrations_behind_are_named(
    container: Container, app_client: TestClient, one_migration_behind: None
) -> None:
    beat(container, "host:1:bg", role_of(container))
    status, body = readyz(app_client)
    assert status == 503
    assert body["failing"] == ["migrations"]
    assert checks(body) == {"database": "pass", "migrations": "fail", BACKGROUND_CHECK: "skipped"}
    assert "run `switchboard db upgrade`" in detail(body, "migrations")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def gone_engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine whose database is gone: a port nobody listens on (PostgreSQL), a file SQLite
    cannot open (SQLite)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path}")
    else:
        engine = make_engine(url.set(port=closed_port()).render_as_string(hide_password=False))
    yield engine
    engine.dispose()


def test_a_database_that_is_gone_is_named_without_revealing_where(
    gone_engine: Engine, build_container: ContainerBuilder, clock: FixedClock
) -> None:
    container = build(build_container.settings(), engine=gone_engine, clock=clock)
    try:
        with TestClient(create_app(container)) as client:
            status, body = readyz(client)
    finally:
        container.close()
    assert status == 503
    assert body["failing"] == ["database"]
    assert checks(body) == {
        "database": "fail",
        "migrations": "skipped",
        BACKGROUND_CHECK: "skipped",
    }
    text_of_body = str(body)
    for secret in ("127.0.0.1", "postgres", "sqlite", str(gone_engine.url.port or "")):
        if secret:
            assert secret not in text_of_body
    assert isinstance(gone_engine.pool, QueuePool)
    assert gone_engine.pool.checkedout() == 0  # nothing held after the failed check


def test_a_database_that_does_not_answer_fails_the_probe_after_its_deadline(
    clock: FixedClock, tmp_path: Path
) -> None:
    """A server that takes the connection and never speaks: the probe answers 503 after its
    timeout, and a probe made meanwhile fails at once instead of queueing another attempt. A
    metrics scrape is bounded the same way."""
    silent = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody answers
    port = silent.getsockname()[1]
    engine = make_engine(f"postgresql://nobody@127.0.0.1:{port}/switchboard")
    container = build(local_settings(tmp_path), engine=engine, clock=clock)
    app = create_app(container)
    readiness = Readiness(container, timeout=0.5)
    app.state.readiness = readiness
    collector = DatabaseCollector(container, timeout=0.5)
    accepted: list[socket.socket] = []
    try:
        with TestClient(app) as client:
            status, body = readyz(client)
            assert status == 503
            assert detail(body, "database") == "the database did not answer within 0.5 seconds"
            again = readyz(client)
            assert again[0] == 503 and again[1]["failing"] == ["database"]
        silent.settimeout(0.5)
        accepted.append(silent.accept()[0])  # the first probe's connection
        with pytest.raises(TimeoutError):  # ...and no second one
            silent.accept()
        scraped = {
            (s.name, s.labels.get("check")): s.value
            for family in collector.collect()
            for s in family.samples
        }
        assert scraped == {
            ("switchboard_metrics_database_up", None): 0,
            ("switchboard_readiness_check", "database"): 0,
        }
    finally:
        for conn in accepted:
            conn.close()
        silent.close()  # the waiting reads fail now and end
        assert readiness.wait(10)
        assert collector.wait(10)
        container.close()
        engine.dispose()


def test_the_probes_need_no_client_certificate() -> None:
    assert not any(_gated(path) for path in ("/healthz", "/readyz", "/metrics"))
