"""A run's progress: written at each new phase and at most every interval between."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from switchboard.sync.progress import Phase, ProgressRecorder, phase_words


class Writes:
    """Stands in for the unit of work: keeps the values of each UPDATE of the run's row."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.fail = False

    @contextmanager
    def unit_of_work(self) -> Iterator[Writes]:
        yield self

    def execute(self, statement: Any) -> None:
        if self.fail:
            raise RuntimeError("database gone")
        values = statement.compile().params
        self.rows.append({"phase": values["phase"], "progress": dict(values["progress"])})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def recorder(writes: Writes, clock: Clock) -> ProgressRecorder:
    return ProgressRecorder(writes, 7, interval=0.5, clock=clock)  # type: ignore[arg-type]


def test_each_phase_is_written_at_once_and_counts_at_most_every_interval() -> None:
    writes, clock = Writes(), Clock()
    progress = recorder(writes, clock)
    progress.enter(Phase.READING)
    assert writes.rows == [
        {"phase": "reading", "progress": {"read": 0, "planned": 0, "applied": 0, "errors": 0}}
    ]
    for n in range(1, 100):  # a fast read: one write for the lot until the interval passes
        progress.note(read=n)
    assert len(writes.rows) == 1
    clock.now = 0.6
    progress.note(read=100, planned=40)
    assert writes.rows[-1]["progress"] == {"read": 100, "planned": 40, "applied": 0, "errors": 0}
    progress.enter(Phase.READING)  # the same phase again: nothing new
    assert len(writes.rows) == 2
    progress.set(applied=3)  # inside a transaction: kept, not written
    assert len(writes.rows) == 2 and progress.counts["applied"] == 3
    progress.enter(Phase.APPLYING)
    assert writes.rows[-1] == {
        "phase": "applying",
        "progress": {"read": 100, "planned": 40, "applied": 3, "errors": 0},
    }


def test_counted_notes_the_items_as_they_pass() -> None:
    writes, clock = Writes(), Clock()
    progress = recorder(writes, clock)
    assert list(progress.counted(iter("abc"))) == ["a", "b", "c"]
    assert progress.counts["read"] == 3


def test_a_failed_write_does_not_stop_the_run() -> None:
    writes, clock = Writes(), Clock()
    writes.fail = True
    progress = recorder(writes, clock)
    progress.enter(Phase.PLANNING)  # logged, not raised
    assert progress.phase is Phase.PLANNING


def test_phases_in_words() -> None:
    assert phase_words("reading") == "Reading the directory"
    assert phase_words("applying") == "Applying the changes"
    assert phase_words(None) == "Starting"
    assert phase_words("something new") == "Starting"
