"""Read an iterator ahead in a thread, so a run plans and writes while the directory read
waits on the network."""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
# How long a thread may hold the interpreter while another waits (Python's default is 5 ms).
# The reader needs it for each 64 KB of a page it receives; at the default a run planning on
# the main thread kept it waiting up to 5 ms each time, so a 1 MB page took 80 ms longer to
# arrive than Graph took to send it, and the read, not the run, set the pace.
SWITCH_INTERVAL = 0.0005


def read_ahead(source: Iterable[T], *, batch: int = 500, depth: int = 8) -> Iterator[T]:
    """Yield ``source``'s items, produced by a worker thread at most ``depth`` batches ahead.

    An error in the source is raised here, in the consumer, after the items before it. If the
    consumer stops early (an error of its own, or ``close``), the worker stops at its next item
    and closes the source, which releases whatever the source holds (connections, threads).
    """
    inbox: queue.Queue[list[T] | BaseException | object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    if sys.getswitchinterval() > SWITCH_INTERVAL:  # process-wide; other threads gain as well
        sys.setswitchinterval(SWITCH_INTERVAL)

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
