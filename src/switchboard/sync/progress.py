"""A running run's phase and counts, written to its row as it goes so people can watch it.

The run page and the API read ``sync_runs.phase`` and ``sync_runs.progress`` while the run
works. Writes are cheap: one short UPDATE of the run's row in a transaction of its own, at
most every ``interval`` seconds (and at each change of phase), only while the run is running.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import update

from switchboard.db.models import SyncRun
from switchboard.sync.ports import Transactions
from switchboard.sync.runs import RunStatus

log = logging.getLogger(__name__)

T = TypeVar("T")
# The counts a run reports while it works, in the order people read them.
COUNTS = ("read", "planned", "applied", "errors")
# Seconds between two writes of the same phase: the page polls about twice a second.
WRITE_EVERY = 0.5


class Phase(StrEnum):
    READING = "reading"
    PLANNING = "planning"
    APPLYING = "applying"
    WRITING_BACK = "writing_back"
    FINISHED = "finished"


PHASE_WORDS = {
    Phase.READING: "Reading the directory",
    Phase.PLANNING: "Planning the changes",
    Phase.APPLYING: "Applying the changes",
    Phase.WRITING_BACK: "Writing back to Entra ID",
    Phase.FINISHED: "Finished",
}


def phase_words(phase: str | None) -> str:
    """The phase as a person reads it ("Reading the directory"); unknown or none: "Starting"."""
    try:
        return PHASE_WORDS[Phase(phase)] if phase else "Starting"
    except ValueError:
        return "Starting"


class ProgressRecorder:
    """Counts of one run; ``note`` and ``enter`` update them and write them when due."""

    def __init__(
        self,
        services: Transactions,
        run_id: int,
        *,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.services = services
        self.run_id = run_id
        self.interval = WRITE_EVERY if interval is None else interval
        self.clock = clock
        self.phase: Phase | None = None
        self.counts = dict.fromkeys(COUNTS, 0)
        self._written_at: float | None = None

    def enter(self, phase: Phase) -> None:
        """A new phase: written at once."""
        if phase is not self.phase:
            self.phase = phase
            self.write()

    def set(self, **counts: int) -> None:
        """New totals (``read=``, ``planned=``, ...), not written: for a caller inside a
        transaction, whose run's close saves them (``runs.finish``)."""
        for key, value in counts.items():
            if key not in self.counts:
                raise KeyError(key)
            self.counts[key] = value

    def note(self, **counts: int) -> None:
        """New totals, written when the last write is old. Call outside any transaction."""
        self.set(**counts)
        now = self.clock()
        if self._written_at is None or now - self._written_at >= self.interval:
            self.write()

    def counted(self, items: Iterable[T], key: str = "read") -> Iterator[T]:
        """``items``, noting how many have passed under ``key`` as they pass."""
        if key not in self.counts:
            raise KeyError(key)
        counts, clock, interval = self.counts, self.clock, self.interval
        for seen, item in enumerate(items, 1):
            counts[key] = seen  # ``note`` without its checks: this runs once per user
            if self._written_at is None or clock() - self._written_at >= interval:
                self.write()
            yield item

    def write(self) -> None:
        """Save the phase and counts on the run's row, if it is still running. A database
        hiccup is logged, not raised: progress is for people watching, not for the run."""
        self._written_at = self.clock()
        try:
            with self.services.unit_of_work() as session:
                session.execute(
                    update(SyncRun)
                    .where(SyncRun.id == self.run_id, SyncRun.status == RunStatus.RUNNING.value)
                    .values(
                        phase=self.phase.value if self.phase else None,
                        progress=dict(self.counts),
                    )
                )
        except Exception:
            log.warning("run %s: progress not recorded", self.run_id, exc_info=True)
