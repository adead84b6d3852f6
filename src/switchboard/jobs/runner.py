"""Job runners. The embedded one runs work on a small thread pool inside the process."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

log = logging.getLogger("switchboard.jobs")


class JobRunner(Protocol):
    def submit(self, name: str, work: Callable[[], object]) -> None:
        """Run ``work`` later; failures are logged (the work records its own outcome)."""

    def shutdown(self) -> None: ...


class ThreadJobRunner:
    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="switchboard-job")

    def submit(self, name: str, work: Callable[[], object]) -> None:
        future = self._pool.submit(work)
        future.add_done_callback(lambda f: _report(name, f))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


class InlineJobRunner:
    """Runs work at once, in the caller's thread: for tests and one-shot commands."""

    def submit(self, name: str, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:
            log.exception("job %s failed", name)

    def shutdown(self) -> None:
        return None


def _report(name: str, future: Future[object]) -> None:
    error = future.exception()
    if error is not None:
        log.error("job %s failed: %s", name, error, exc_info=error)
