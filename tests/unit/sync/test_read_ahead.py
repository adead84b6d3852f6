"""read_ahead: order, errors after the items before them, early stop closes the source."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator

import pytest

from switchboard.sync.read_ahead import read_ahead


def test_every_item_in_order_across_batches() -> None:
    assert list(read_ahead(range(1_234), batch=100, depth=2)) == list(range(1_234))


def test_an_error_comes_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield from range(7)
        raise RuntimeError("page 2 failed")

    reader = read_ahead(source(), batch=5)
    assert [next(reader) for _ in range(7)] == list(range(7))
    with pytest.raises(RuntimeError, match="page 2 failed"):
        next(reader)


def test_stopping_early_stops_the_worker_and_closes_the_source() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    reader = read_ahead(endless(), batch=10, depth=2)
    assert [next(reader) for _ in range(25)] == list(range(25))
    assert isinstance(reader, Generator)  # closable, as the engine relies on
    reader.close()
    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]
