"""Chunks written by a thread of their own while the run goes on planning.

A full run's time goes to two things that need not wait for each other: planning pages (Python,
holding the interpreter) and writing chunks (most of it inside the database driver, which lets
the interpreter go). With the writes in a thread, the database works on one core while the
run plans on the other. Chunks are written one at a time, in the order handed over; one chunk
at most waits, so memory stays that of two chunks.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_STOP = object()


class WriteBehind(Generic[T]):
    """``write`` each chunk in a thread, in order; the first failure is raised to the caller
    (at its next ``put``, or at ``join``) and the chunks after it are dropped."""

    def __init__(self, write: Callable[[T], None], *, name: str = "write-behind") -> None:
        self._write = write
        self._inbox: queue.Queue[T | object] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            chunk = self._inbox.get()
            if chunk is _STOP:
                return
            if self._error is not None:
                continue  # a chunk after a failure: not written
            try:
                self._write(chunk)  # type: ignore[arg-type]  # anything but _STOP is a T
            except BaseException as exc:  # handed to the run's own thread
                self._error = exc

    def put(self, chunk: T) -> None:
        """Hand a chunk over; waits while another chunk waits."""
        if self._error is not None:
            raise self._error
        self._inbox.put(chunk)

    def join(self, *, quiet: bool = False) -> None:
        """Wait until every chunk handed over is written; raise the first failure unless
        ``quiet`` (the caller is already failing for a reason of its own)."""
        self._inbox.put(_STOP)
        self._thread.join()
        if self._error is not None and not quiet:
            raise self._error
