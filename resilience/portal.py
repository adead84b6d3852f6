"""The portal under test: a fresh database, an account connected to the emulator, and the
``switchboard`` CLI started as separate processes (the way an operator or a cron job runs it).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url

from resilience.emulator import Emulator
from switchboard.bootstrap import build
from switchboard.config import Settings
from switchboard.connection import registration
from switchboard.db.engine import normalise_url
from switchboard.db.migrate import upgrade
from switchboard.portal import accounts, locations
from switchboard.portal.actors import system_actor
from switchboard.portal.schemas import AccountIn, AddressIn, LocationIn
from switchboard.sync.policy import SyncPolicy

SLUG = "resilience"
SECRET = "resilience-suite-throwaway-key"  # noqa: S105 - a throwaway database
READ_ROLES = ["User.Read.All", "GroupMember.Read.All"]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
# A killed run's lease should expire fast, so kill scenarios do not wait a minute each.
LEASE_SECONDS = "3"
TRACEBACK = "Traceback (most recent call last)"
# How a refused start reads ("run 7 is still in progress", "already running", ...).
REFUSED = re.compile(r"in progress|already running|is running", re.IGNORECASE)
OP = system_actor("resilience")


def postgres_url() -> str:
    return os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL", DEFAULT_PG)


def postgres_unreachable() -> str | None:
    """None when PostgreSQL answers, else why not (in words)."""
    engine = create_engine(normalise_url(postgres_url()))
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # any failure to connect means: skip PostgreSQL, say why
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL at {make_url(postgres_url()).host} is unreachable ({first[:160]})"
    finally:
        engine.dispose()
    return None


@contextmanager
def fresh_database(kind: str, workdir: Path) -> Iterator[str]:
    """A new, empty database of that kind; dropped afterwards."""
    if kind == "sqlite":
        path = workdir / f"resilience-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        return
    admin = create_engine(normalise_url(postgres_url()), isolation_level="AUTOCOMMIT")
    name = f"switchboard_resilience_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(normalise_url(postgres_url())).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def as_datetime(value: object) -> datetime:
    # SQLite hands back the stored text; PostgreSQL a datetime.
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass
class Outcome:
    """One finished CLI process."""

    args: list[str]
    code: int
    output: str
    seconds: float
    killed: bool = False
    mid_run: bool = False  # killed while its run was going (the run row says 'running')
    started_run: bool = True  # a run row appeared (False: killed or refused before that)

    @property
    def traceback(self) -> bool:
        return TRACEBACK in self.output

    @property
    def refused(self) -> bool:
        return self.code == 1 and bool(REFUSED.search(self.output))


@dataclass
class Portal:
    """One database with the account ``resilience`` connected to the emulator's tenant."""

    database_url: str
    workdir: Path
    emulator: Emulator
    groups: list[str]
    outcomes: list[Outcome] = field(default_factory=list)
    # Directory id -> portal user id when the scenario started (to see wrong deletions).
    baseline: dict[str, int] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # Seconds from starting a CLI process to its run row (imports, connecting): measured.
    startup_seconds: float = 2.0
    _engine: Engine | None = None

    @property
    def kind(self) -> str:
        return "sqlite" if self.database_url.startswith("sqlite") else "postgresql"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env.update(
            SWITCHBOARD_DATABASE_URL=self.database_url,
            SWITCHBOARD_SECRET_KEY=SECRET,
            SWITCHBOARD_DATA_DIR=str(self.workdir / "data"),
            SWITCHBOARD_RUN_LEASE_SECONDS=LEASE_SECONDS,
            PYTHONUNBUFFERED="1",
            COLUMNS="160",
        )
        env.update(self.extra_env)
        return env

    def connect(self) -> None:
        """Migrate, create the account with two locations and connect it (in this process)."""
        settings = Settings(
            database_url=self.database_url, data_dir=self.workdir / "data", secret_key=SECRET
        )
        c = build(settings)
        try:
            upgrade(c.engine)
            address = AddressIn(
                street="1 Main St",
                city="Springfield",
                region="IL",
                postal_code="62701",
                country="US",
            )
            with c.unit_of_work() as s:
                account = accounts.create_account(
                    s, OP, AccountIn(slug=SLUG, name="Resilience", extension_length=6)
                )
                for name in ("HQ", "Branch"):
                    locations.create_location(
                        s,
                        OP,
                        account,
                        LocationIn(name=name, time_zone="America/Chicago", address=address),
                    )
                emu = self.emulator
                reg = registration.connect(
                    s,
                    OP,
                    account,
                    registration.RegistrationIn(
                        tenant_id=emu.tenant_id,
                        client_id=str(uuid.uuid4()),
                        cloud="custom",
                        authority_url=emu.url,
                        graph_url=emu.url,
                        ca_bundle_pem=(emu.folder / "ca.pem").read_text(),
                        settings=SyncPolicy(groups=self.groups, default_location="HQ"),
                    ),
                )
                client_id, certificate = reg.client_id, reg.certificate_pem
        finally:
            c.close()
            c.engine.dispose()
        self.emulator.register_app(client_id, certificate, READ_ROLES)

    # ------------------------------------------------------------------ CLI processes
    def command(self, *args: str) -> list[str]:
        return [str(Path(sys.executable).with_name("switchboard")), *args]

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            self.command(*args),
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def finish(
        self, proc: subprocess.Popen[str], args: list[str], started: float, *, killed: bool = False
    ) -> Outcome:
        output, _ = proc.communicate()
        out = Outcome(args, proc.returncode, output or "", time.monotonic() - started, killed)
        self.outcomes.append(out)
        return out

    def run(self, *args: str, timeout: float = 600) -> Outcome:
        started = time.monotonic()
        proc = self.start(*args)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return self.finish(proc, list(args), started, killed=True)
        return self.finish(proc, list(args), started)

    def kill_in_run(self, fraction: float, run_seconds: float, *args: str) -> Outcome:
        """Start the command, wait for the run it starts, SIGKILL it ``fraction`` of the way
        through a run of ``run_seconds`` (a negative fraction: at a random point before)."""
        before = self.max_run_id()
        started = time.monotonic()
        proc = self.start(*args)
        if fraction < 0:
            out = self._kill_at(proc, list(args), started, -fraction * self.startup_seconds)
            out.started_run = self.max_run_id() > before
            return out
        while proc.poll() is None and self.max_run_id() == before:
            time.sleep(0.05)
        out = self._kill_at(proc, list(args), started, fraction * run_seconds)
        rows = self.sql("select status from sync_runs where id > :i", i=before)
        out.started_run = bool(rows)
        out.mid_run = out.killed and any(r[0] == "running" for r in rows)
        return out

    def _kill_at(
        self, proc: subprocess.Popen[str], args: list[str], started: float, delay: float
    ) -> Outcome:
        try:
            proc.wait(timeout=max(delay, 0.001))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return self.finish(proc, args, started, killed=True)
        return self.finish(proc, args, started)

    def max_run_id(self) -> int:
        return int(str(self.sql("select coalesce(max(id), 0) from sync_runs")[0][0]))

    def run_seconds(self, run_id: int) -> float:
        """How long a finished run took, by its own clock."""
        rows = self.sql("select started_at, finished_at from sync_runs where id = :i", i=run_id)
        if not rows or rows[0][1] is None:
            return 1.0
        start, end = (as_datetime(v) for v in rows[0])
        return max((end - start).total_seconds(), 0.05)

    def sql(self, query: str, **params: object) -> list[tuple[object, ...]]:
        if self._engine is None:
            self._engine = create_engine(normalise_url(self.database_url))
        with self._engine.begin() as conn:
            result = conn.execute(text(query), params)
            return [tuple(r) for r in result] if result.returns_rows else []

    @contextmanager
    def writes_held(self, waiters: int, seconds: float) -> Iterator[None]:
        """Hold off every write to the run table until ``waiters`` sessions wait for it (on
        PostgreSQL) or ``seconds`` have passed (SQLite cannot tell who waits). Reads go on, so
        two starts both pass their check for a running run and meet at the write."""
        engine = create_engine(normalise_url(self.database_url))
        try:
            with engine.connect() as conn:
                if self.kind == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    conn.execute(text("LOCK TABLE sync_runs IN EXCLUSIVE MODE"))
                yield
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    if self.kind != "sqlite" and self._lock_waiters(conn) >= waiters:
                        break
                    time.sleep(0.1)
                conn.rollback()
        finally:
            engine.dispose()

    @staticmethod
    def _lock_waiters(conn: Connection) -> int:
        query = (
            "select count(*) from pg_stat_activity where datname = current_database()"
            " and wait_event_type = 'Lock'"
        )
        return int(str(conn.execute(text(query)).scalar()))

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def latest_run(self) -> tuple[int, str] | None:
        rows = self.sql("select id, status from sync_runs where dry_run = false order by id desc")
        return (int(str(rows[0][0])), str(rows[0][1])) if rows else None

    def set_groups(self, groups: list[str]) -> Outcome:
        return self.run("directory", "settings", SLUG, "--groups", ",".join(groups))

    @property
    def tracebacks(self) -> int:
        return sum(1 for o in self.outcomes if o.traceback)
