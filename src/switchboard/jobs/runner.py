"""Job runners (``sync.ports.JobRunner``). The embedded one runs work on a small thread pool
inside the process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

log = logging.getLogger("switchboard.jobs")


class ThreadJobRunner:
    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="switchboard-job")
        self._lock = threading.Lock()
        self._busy: dict[str, Future[object]] = {}
        self._pending: set[Future[object]] = set()

    def submit(self, name: str, work: Callable[[], object], *, key: str | None = None) -> bool:
        with self._lock:
            if key is not None and key in self._busy:
                return False
            future = self._pool.submit(work)
            self._pending.add(future)
            if key is not None:
                self._busy[key] = future
        future.add_done_callback(lambda f: self._done(name, key, f))
        return True

    def _done(self, name: str, key: str | None, future: Future[object]) -> None:
        with self._lock:
            self._pending.discard(future)
            if key is not None and self._busy.get(key) is future:
                del self._busy[key]
        _report(name, future)

    def busy(self, key: str) -> bool:
        with self._lock:
            return key in self._busy

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for all submitted work to finish; False if the timeout came first."""
        with self._lock:
            pending = set(self._pending)
        _done, not_done = wait(pending, timeout=timeout)
        return not not_done

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


class InlineJobRunner:
    """Runs work at once, in the caller's thread: for tests and one-shot commands."""

    def __init__(self) -> None:
        self._busy: set[str] = set()

    def submit(self, name: str, work: Callable[[], object], *, key: str | None = None) -> bool:
        if key is not None and key in self._busy:
            return False
        if key is not None:
            self._busy.add(key)
        try:
            work()
        except Exception:
            log.exception("job %s failed", name)
        finally:
            if key is not None:
                self._busy.discard(key)
        return True

    def shutdown(self) -> None:
        return None


def _report(name: str, future: Future[object]) -> None:
    error = future.exception()
    if error is not None:
        log.error("job %s failed: %s", name, error, exc_info=error)
