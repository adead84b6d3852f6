"""Chunks handed to the writer land in order; its first failure reaches the run's thread."""

from __future__ import annotations

import threading

import pytest

from switchboard.sync.write_behind import WriteBehind


def test_chunks_are_written_in_order_by_another_thread() -> None:
    written: list[tuple[int, str]] = []
    writer: WriteBehind[int] = WriteBehind(
        lambda n: written.append((n, threading.current_thread().name))
    )
    for n in range(50):
        writer.put(n)
    writer.join()
    assert [n for n, _t in written] == list(range(50))
    assert {t for _n, t in written} == {"write-behind"}


def test_the_first_failure_is_raised_and_later_chunks_are_dropped() -> None:
    written: list[int] = []
    failed = threading.Event()

    def write(n: int) -> None:
        if n == 2:
            failed.set()
            raise RuntimeError("the database went away")
        written.append(n)

    writer = WriteBehind(write)
    for n in range(3):
        writer.put(n)
    failed.wait(5)

    def hand_more() -> None:
        for n in range(3, 10):
            writer.put(n)

    with pytest.raises(RuntimeError, match="went away"):
        hand_more()
    with pytest.raises(RuntimeError, match="went away"):
        writer.join()
    assert written == [0, 1]


def test_a_quiet_join_waits_for_the_chunks_and_keeps_the_callers_own_error() -> None:
    written: list[int] = []
    writer = WriteBehind(written.append)
    writer.put(1)
    writer.put(2)
    writer.join(quiet=True)
    assert written == [1, 2]
