"""Background work inside a process that does something else (`serve`): the embedded
scheduler on a thread (SQLite), or a procrastinate worker on a thread with its own event loop
(PostgreSQL, `serve --worker`). Each keeps its heartbeat row while it runs and removes it on
stop, so the UI and /readyz can say whether syncs will run by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, Protocol

from sqlalchemy import Engine

from switchboard.jobs.embedded import TICK_SECONDS, EmbeddedScheduler
from switchboard.jobs.heartbeat import BEAT_SECONDS, Heartbeat
from switchboard.jobs.runner import ThreadJobRunner
from switchboard.sync.ports import SyncServices

log = logging.getLogger("switchboard.worker")
Work = Literal["scheduler", "worker"]
# Accounts the in-process scheduler syncs at the same time (as `switchboard worker`'s default).
CONCURRENCY = 2


class BackgroundChoiceError(ValueError):
    """The flags of `serve` ask for something the database cannot do; the message says why."""


def choose(*, embedded: bool, scheduler: bool, worker: bool) -> Work | None:
    """What `serve` runs beside the web server, from its flags and the database.

    SQLite: the embedded scheduler unless --no-scheduler. PostgreSQL: nothing (dedicated
    `switchboard worker` processes do the work) unless --worker.
    """
    if worker and not scheduler:
        raise BackgroundChoiceError(
            "--worker and --no-scheduler contradict each other: --worker runs background work"
            " in this process, --no-scheduler leaves it to other processes; give one of them"
        )
    if embedded:
        if worker:
            raise BackgroundChoiceError(
                "--worker needs PostgreSQL (a procrastinate job queue); on SQLite `serve` runs"
                " the scheduler itself, so leave --worker out"
            )
        return "scheduler" if scheduler else None
    return "worker" if worker else None


class ProcessServices(SyncServices, Protocol):
    """The sync services and the engine (the queue worker creates its schema with it)."""

    @property
    def engine(self) -> Engine: ...


class Service(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def is_alive(self) -> bool: ...


class SchedulerThread:
    """The embedded scheduler ticking on a thread, with its own job pool and heartbeat."""

    def __init__(
        self,
        services: SyncServices,
        *,
        concurrency: int = CONCURRENCY,
        interval: float = TICK_SECONDS,
        beat_every: float = BEAT_SECONDS,
    ) -> None:
        self.runner = ThreadJobRunner(workers=concurrency)
        self.scheduler = EmbeddedScheduler(services, self.runner)
        self.heartbeat = Heartbeat(services, "scheduler", interval=beat_every)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self.scheduler.run_forever,
            args=(self._stop, interval),
            name="switchboard-scheduler",
            daemon=True,
        )

    def start(self) -> None:
        self.heartbeat.start()
        self._thread.start()
        log.info("scheduler: in-process, tick every %.0f s", self.interval)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop ticking, let started syncs finish (each ends its run properly), then go."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.runner.shutdown()
        self.heartbeat.stop()


class QueueWorkerThread:
    """A procrastinate worker on a thread with its own event loop (PostgreSQL only)."""

    def __init__(
        self,
        services: ProcessServices,
        *,
        concurrency: int = CONCURRENCY,
        beat_every: float = BEAT_SECONDS,
    ) -> None:
        from switchboard.jobs import queue

        self.services = services
        self.app = queue.make_app(services)
        self.concurrency = concurrency
        self.heartbeat = Heartbeat(services, "worker", interval=beat_every)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[object] | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="switchboard-worker", daemon=True)
        self.failure: BaseException | None = None

    def start(self) -> None:
        from switchboard.jobs import queue

        queue.ensure_queue_schema(self.services.engine)
        self.heartbeat.start()
        self._thread.start()
        self._started.wait(10)
        log.info("worker: procrastinate in-process, concurrency %d", self.concurrency)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            self._started.set()
            async with self.app.open_async():
                await self.app.run_worker_async(
                    concurrency=self.concurrency, install_signal_handlers=False
                )

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass  # stop() cancelled it: the worker finished its jobs first
        except BaseException as exc:  # logged here; the thread has nobody else to tell
            self.failure = exc
            log.exception("the in-process queue worker stopped")
            self.heartbeat.stop()  # no row for a worker that is gone
        finally:
            self._started.set()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(task.cancel)
        if self._thread.is_alive():
            self._thread.join()
        self.heartbeat.stop()


@contextmanager
def running(services: ProcessServices, work: Work | None) -> Iterator[Service | None]:
    """Run ``work`` in this process for the length of the block; stopped and joined after."""
    if work is None:
        yield None
        return
    service: Service = (
        SchedulerThread(services) if work == "scheduler" else QueueWorkerThread(services)
    )
    service.start()
    try:
        yield service
    finally:
        service.stop()
