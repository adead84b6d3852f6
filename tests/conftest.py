"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from SWITCHBOARD_TEST_POSTGRES_URL (default: the local server). When it cannot
be reached, the PostgreSQL variants are skipped with the reason, never silently passed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.engine import make_engine, normalise_url
from switchboard.db.migrate import upgrade
from switchboard.db.models import Base
from switchboard.portal.actors import Actor, system_actor
from tests.wiring import Adapters, ContainerBuilder

# Fixtures shared by test folders that are not nested in one another (pytest reads this list
# only in the root conftest).
pytest_plugins = ["tests.integration.sync_world", "tests.integration.graph_emulator"]

# Property tests check behaviour, not speed: no per-example deadline on a shared 2-core machine.
settings.register_profile("switchboard", deadline=None)
settings.load_profile("switchboard")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: they are the slowest and hold a browser between tests."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid)


PG_ADMIN_URL = os.environ.get(
    "SWITCHBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
START = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def _postgres_database() -> Generator[str, None, None]:
    admin_url = normalise_url(PG_ADMIN_URL)
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # any failure to connect means: skip, with the reason
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}: {exc}")
    name = f"switchboard_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'switchboard.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
            # AUTOINCREMENT counters, like PostgreSQL's RESTART IDENTITY above.
            conn.execute(text("DELETE FROM sqlite_sequence"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def adapters() -> Adapters:
    """The adapters the ``container`` fixture is built with (production ones otherwise).

    A conftest.py or a test module overrides this fixture to wire its fakes.
    """
    return {}


@pytest.fixture
def build_container(
    migrated_engine: Engine, tmp_path: Path, clock: FixedClock
) -> Iterator[ContainerBuilder]:
    """Builds containers over the test database, for tests that need more than one."""
    builder = ContainerBuilder(migrated_engine, tmp_path / "data", clock)
    yield builder
    builder.close()
    _wipe(migrated_engine)


@pytest.fixture
def container(build_container: ContainerBuilder, adapters: Adapters) -> Container:
    return build_container(**adapters)


@pytest.fixture
def operator() -> Actor:
    return system_actor("test:operator")


@pytest.fixture
def app_client(container: Container) -> Iterator[TestClient]:
    from switchboard.web.app import create_app

    with TestClient(create_app(container)) as client:
        yield client
