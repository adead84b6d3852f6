"""Heartbeat rows of live schedulers and queue workers (table ``process_heartbeats``).

A process that does background work (the embedded scheduler of `serve` or `worker`, a
procrastinate worker) renews its row every BEAT_SECONDS and removes it when it stops. /readyz
and the UI read them: a row older than STALE_AFTER belongs to a process that died without
saying so, and counts as absent.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from switchboard.db.models import ProcessHeartbeat
from switchboard.portal.clock_context import now
from switchboard.sync.ports import Transactions

log = logging.getLogger("switchboard.jobs")
Role = Literal["scheduler", "worker"]
BEAT_SECONDS = 10.0
STALE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Beat:
    id: str
    role: str
    host: str
    pid: int
    started_at: datetime
    beat_at: datetime


def beat(
    tx: Transactions, process_id: str, role: Role, *, started_at: datetime | None = None
) -> None:
    """Insert or renew the row of ``process_id``."""
    with tx.unit_of_work() as session:
        stamp = now(session)
        row = session.get(ProcessHeartbeat, process_id)
        if row is None:
            session.add(
                ProcessHeartbeat(
                    id=process_id,
                    role=role,
                    host=socket.gethostname()[:255],
                    pid=os.getpid(),
                    started_at=started_at or stamp,
                    beat_at=stamp,
                )
            )
        else:
            row.beat_at = stamp


def forget(tx: Transactions, process_id: str) -> None:
    with tx.unit_of_work() as session:
        session.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.id == process_id))


def alive(session: Session, role: Role, *, within: timedelta = STALE_AFTER) -> list[Beat]:
    """The processes of ``role`` whose last beat is fresher than ``within``."""
    since = now(session) - within
    rows = session.scalars(
        select(ProcessHeartbeat)
        .where(ProcessHeartbeat.role == role, ProcessHeartbeat.beat_at >= since)
        .order_by(ProcessHeartbeat.started_at)
    )
    return [Beat(r.id, r.role, r.host, r.pid, r.started_at, r.beat_at) for r in rows]


def background_role(session: Session) -> Role:
    """Who runs the scheduled work for this database: the embedded scheduler (SQLite, in
    `serve` or `worker`) or procrastinate workers (PostgreSQL)."""
    return "scheduler" if session.get_bind().dialect.name == "sqlite" else "worker"


def background_alive(session: Session) -> bool:
    """True while a scheduler (SQLite) or at least one queue worker (PostgreSQL) has a fresh
    heartbeat: scheduled syncs, subscription upkeep and write-back retries will happen."""
    return bool(alive(session, background_role(session)))


def process_id(role: Role) -> str:
    # The serial tells apart two heartbeats of one process (two in-process queue workers).
    return f"{socket.gethostname()[:150]}:{os.getpid()}:{role}:{next(_serials)}"


_serials = itertools.count(1)


class Heartbeat:
    """A thread renewing one process's row until ``stop()``; a failed beat is logged and the
    next one tries again (the database may be briefly away)."""

    def __init__(self, tx: Transactions, role: Role, *, interval: float = BEAT_SECONDS) -> None:
        self.tx = tx
        self.role = role
        self.id = process_id(role)
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._beat()  # the first row exists before start() returns
        self._thread = threading.Thread(
            target=self._loop, name=f"switchboard-heartbeat-{self.role}", daemon=True
        )
        self._thread.start()

    def _beat(self) -> None:
        try:
            beat(self.tx, self.id, self.role)
        except Exception as exc:  # any database failure: try again next beat
            log.warning("heartbeat of %s not written: %s", self.id, type(exc).__name__)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
        try:
            forget(self.tx, self.id)
        except Exception as exc:  # a stale row expires by itself
            log.warning("heartbeat of %s not removed: %s", self.id, type(exc).__name__)
