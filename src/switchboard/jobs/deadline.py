"""Wait for a database read at most so long, and never for two at once.

A database that does not answer (a host gone from the network, a full connection queue)
keeps a connection attempt waiting for the TCP timeout, minutes. The probes and the metrics
scrape must answer within seconds whatever the database does, and must not pile up threads
and connection attempts while it is away: the call runs in a thread of its own, the caller
waits ``timeout`` seconds for it, and while a call that outlived its wait still runs, the
next one is refused at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Deadline(Generic[T]):
    def __init__(self, timeout: float, *, name: str) -> None:
        self.timeout = timeout
        self.name = name
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None

    def run(self, work: Callable[[], T]) -> T | None:
        """``work()``'s result, or None when it did not end within the timeout (or an
        earlier call is still running); its exception is raised here."""
        results: list[T] = []
        errors: list[BaseException] = []

        def call() -> None:
            try:
                results.append(work())
            except BaseException as exc:  # handed to the waiting caller
                errors.append(exc)

        with self._lock:
            if self._running is not None and self._running.is_alive():
                return None
            thread = threading.Thread(target=call, name=self.name, daemon=True)
            self._running = thread
            thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            return None
        if errors:
            raise errors[0]
        return results[0]

    def wait(self, timeout: float) -> bool:
        """Wait for a call still running (tests, shutdown); True when none is left."""
        with self._lock:
            running = self._running
        if running is not None:
            running.join(timeout)
            return not running.is_alive()
        return True
