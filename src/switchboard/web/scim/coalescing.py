"""Group commit: requests that arrive while a write of the same kind is in flight are written
together in the next one, and each waits until the transaction holding its item committed.

Whichever request finds no write of its key in flight takes every queued item (up to
``max_batch``) and writes them; requests arriving meanwhile queue for the next write. No
thread of our own: the requests' own threads do the writing, in turn.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Job(Generic[Item, Result]):
    item: Item
    done: bool = False
    result: Result | None = None
    error: BaseException | None = None


class Coalescer(Generic[Item, Result]):
    def __init__(
        self,
        write: Callable[[Hashable, Sequence[Item]], Sequence[Result | BaseException]],
        *,
        max_batch: int,
    ) -> None:
        """``write(key, items)`` writes a batch in one transaction and returns one result (or
        the exception to raise) per item, in order; it raises when nothing was written."""
        self._write = write
        self.max_batch = max_batch
        self._ready = threading.Condition()
        self._pending: dict[Hashable, list[_Job[Item, Result]]] = {}
        self._writing: set[Hashable] = set()

    def submit(self, key: Hashable, item: Item) -> Result:
        """The item's result once its batch committed; its exception is raised here."""
        job: _Job[Item, Result] = _Job(item)
        with self._ready:
            self._pending.setdefault(key, []).append(job)
        while True:
            with self._ready:
                while not job.done and key in self._writing:
                    self._ready.wait()
                if job.done:
                    break
                queued = self._pending.pop(key, [])
                batch, rest = queued[: self.max_batch], queued[self.max_batch :]
                if rest:
                    self._pending[key] = rest
                self._writing.add(key)
            try:
                self._run(key, batch)
            finally:
                with self._ready:
                    self._writing.discard(key)
                    self._ready.notify_all()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _run(self, key: Hashable, batch: list[_Job[Item, Result]]) -> None:
        try:
            results = self._write(key, [job.item for job in batch])
        except BaseException as exc:  # nothing of the batch was written
            for job in batch:
                job.error, job.done = exc, True
            return
        for job, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                job.error = result
            else:
                job.result = result
            job.done = True
