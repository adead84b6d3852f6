"""`switchboard serve` does the background work itself: on SQLite the scheduler runs beside the
web server (on PostgreSQL a queue worker, with --worker), syncs a batched account against the
Entra ID emulator with nobody asking, and keeps a heartbeat row that SIGTERM/SIGINT remove.
--no-scheduler leaves the account alone. Each test runs the real command in a process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from switchboard.db.models import DirectoryRegistration, ProcessHeartbeat, SyncRun
from switchboard.jobs.queue import QUEUE_SCHEMA

# The emulator and an account connected to it, shared with the emulator sync tests.
from tests.integration.sync.test_emulator_sync import (  # noqa: F401 - fixtures pytest finds here
    Connected,
    adapters,
    connected,
    emulator,
)
from tests.wiring import TEST_SECRET_KEY

START_SECONDS = 90  # a cold interpreter on a busy 2-core machine


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(connected: Connected, tmp_path: Path, *args: str) -> Iterator[Served]:  # noqa: F811
    """`switchboard serve ARGS` over the test database, until the block ends."""
    port = free_port()
    with running(connected, tmp_path, "serve", "--port", str(port), *args) as served:
        served.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_SECONDS
        with httpx.Client(timeout=2) as client:
            while True:
                assert served.process.poll() is None, f"serve stopped:\n{served.output()}"
                assert time.monotonic() < deadline, f"serve did not answer:\n{served.output()}"
                try:
                    if client.get(f"{served.url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        yield served


@contextmanager
def running(connected: Connected, tmp_path: Path, *args: str) -> Iterator[Served]:  # noqa: F811
    """`switchboard ARGS` over the test database, until the block ends."""
    settings = connected.container.settings
    env = {
        **os.environ,
        "SWITCHBOARD_DATABASE_URL": settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": TEST_SECRET_KEY,
    }
    log = tmp_path / f"{args[0]}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from switchboard.cli.main import main; main()", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = Served(process, "", log)
    try:
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if not connected.container.is_sqlite():
            with connected.container.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{QUEUE_SCHEMA}" CASCADE'))


def batched(connected: Connected) -> None:  # noqa: F811
    with connected.container.unit_of_work() as s:
        reg = s.scalars(select(DirectoryRegistration)).one()
        reg.policy = {**reg.policy, "mode": "batched", "schedule_minutes": 5}


def scheduled_runs(connected: Connected) -> list[tuple[str, str]]:  # noqa: F811
    with connected.container.unit_of_work() as s:
        return [(r.trigger, r.status) for r in s.scalars(select(SyncRun).order_by(SyncRun.id))]


def heartbeats(connected: Connected) -> list[tuple[str, int]]:  # noqa: F811
    with connected.container.unit_of_work() as s:
        return [(h.role, h.pid) for h in s.scalars(select(ProcessHeartbeat))]


def test_serve_syncs_a_batched_account_by_itself_and_stops_cleanly(
    connected: Connected,  # noqa: F811
    tmp_path: Path,
) -> None:
    batched(connected)
    embedded = connected.container.is_sqlite()
    args, role = ((), "scheduler") if embedded else (("--worker",), "worker")
    with serving(connected, tmp_path, *args) as served:
        deadline = time.monotonic() + 60
        while not any(
            status in ("succeeded", "partial") for _t, status in scheduled_runs(connected)
        ):
            assert time.monotonic() < deadline, f"no run by itself:\n{served.output()}"
            assert served.process.poll() is None, served.output()
            time.sleep(0.3)
        # The safety net's first full run, then nothing more: the next is five minutes away.
        assert [t for t, _s in scheduled_runs(connected)] == ["schedule"]
        assert heartbeats(connected) == [(role, served.process.pid)]
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(60) == 0, served.output()
    assert heartbeats(connected) == []  # removed on the way out
    assert "running" not in [status for _t, status in scheduled_runs(connected)]
    expected = "sync scheduler: in this process" if embedded else "queue worker: in this process"
    assert expected in served.output()


def test_serve_no_scheduler_leaves_the_work_to_workers(
    connected: Connected,  # noqa: F811
    tmp_path: Path,
) -> None:
    if not connected.container.is_sqlite():
        pytest.skip("on PostgreSQL serve runs no background work unless asked (--worker)")
    batched(connected)
    with serving(connected, tmp_path, "--no-scheduler") as served:
        # A scheduler ticks once as it starts, before the server answers; give it time over.
        time.sleep(3)
        assert heartbeats(connected) == []
        assert scheduled_runs(connected) == []
        served.process.send_signal(signal.SIGINT)
        assert served.process.wait(60) == 0, served.output()
    assert "left to `switchboard worker` processes" in served.output()


def test_worker_keeps_a_heartbeat_row_until_it_stops(
    connected: Connected,  # noqa: F811
    tmp_path: Path,
) -> None:
    role = "scheduler" if connected.container.is_sqlite() else "worker"
    with running(connected, tmp_path, "worker") as worker:
        deadline = time.monotonic() + START_SECONDS
        while heartbeats(connected) == []:
            assert worker.process.poll() is None, worker.output()
            assert time.monotonic() < deadline, f"no heartbeat:\n{worker.output()}"
            time.sleep(0.2)
        assert heartbeats(connected) == [(role, worker.process.pid)]
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(60) == 0, worker.output()
    assert heartbeats(connected) == []
