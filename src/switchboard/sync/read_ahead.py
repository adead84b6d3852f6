"""Read an iterator ahead in a thread, so a run plans and writes while the directory read
waits on the network."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def read_ahead(source: Iterable[T], *, batch: int = 500, depth: int = 8) -> Iterator[T]:
    """Yield ``source``'s items, produced by a worker thread at most ``depth`` batches ahead.

    An error in the source is raised here, in the consumer, after the items before it. If the
    consumer stops early (an error of its own, or ``close``), the worker stops at its next item
    and closes the source, which releases whatever the source holds (connections, threads).
    """
    inbox: queue.Queue[list[T] | BaseException | object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: list[T] | BaseException | object) -> bool:
        while not stop.is_set():
            try:
                inbox.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        iterator = iter(source)
        chunk: list[T] = []
        try:
            for item in iterator:
                if stop.is_set():
                    return
                chunk.append(item)
                if len(chunk) >= batch:
                    if not put(chunk):
                        return
                    chunk = []
            if chunk and not put(chunk):
                return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer after the items before it
            if not chunk or put(chunk):
                put(exc)
        finally:
            close = getattr(iterator, "close", None)
            if callable(close):
                close()

    worker = threading.Thread(target=work, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            got = inbox.get()
            if got is _DONE:
                return
            if isinstance(got, BaseException):
                raise got
            assert isinstance(got, list)
            yield from got
    finally:
        stop.set()
        worker.join()
