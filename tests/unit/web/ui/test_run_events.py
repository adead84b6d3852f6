"""The run page's event stream: one event per change, heartbeats, a final event, a bounded
life, and an end when the client leaves."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anyio
import pytest

from switchboard.web.ui.directory.run_events import Snapshot, event_stream, snapshot
from switchboard.web.ui.templating import TEMPLATES_DIR


class Script:
    """The run as successive polls see it, and a clock that moves one poll at a time."""

    def __init__(self, states: list[Snapshot | None], *, leave_after: int | None = None) -> None:
        self.states: Iterator[Snapshot | None] = iter(states)
        self.last: Snapshot | None = None
        self.polls = 0
        self.leave_after = leave_after
        self.now = 0.0

    async def poll(self) -> Snapshot | None:
        self.polls += 1
        self.last = next(self.states, self.last)
        return self.last

    async def gone(self) -> bool:
        return self.leave_after is not None and self.polls >= self.leave_after

    def clock(self) -> float:
        self.now += 1.0
        return self.now


def collect(script: Script, **limits: float) -> list[str]:
    async def main() -> list[str]:
        return [
            chunk
            async for chunk in event_stream(
                script.poll, script.gone, interval=0, clock=script.clock, **limits
            )
        ]

    return anyio.run(main)


def events(chunks: list[str]) -> list[tuple[str, dict[str, object]]]:
    found = []
    for chunk in chunks:
        if chunk.startswith("event: "):
            name, data = chunk.strip().split("\n")
            found.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return found


RUNNING = "running"


def test_one_event_per_change_in_order_then_the_final_one() -> None:
    script = Script(
        [
            snapshot(RUNNING, None, None),
            snapshot(RUNNING, "reading", {"read": 10}),
            snapshot(RUNNING, "reading", {"read": 10}),  # unchanged: no event
            snapshot(RUNNING, "applying", {"read": 20, "planned": 5, "applied": 2}),
            snapshot("partial", "finished", {"read": 20, "planned": 5, "applied": 4, "errors": 1}),
            snapshot(RUNNING, "reading", {}),  # never polled: the stream ended
        ]
    )
    chunks = collect(script)
    assert chunks[0] == "retry: 2000\n\n"
    got = events(chunks)
    assert [name for name, _ in got] == ["progress", "progress", "progress", "finished"]
    assert [data["phase_words"] for _, data in got] == [
        "Starting",
        "Reading the directory",
        "Applying the changes",
        "Finished",
    ]
    assert got[-1][1] == {
        "status": "partial",
        "phase": "finished",
        "phase_words": "Finished",
        "read": 20,
        "planned": 5,
        "applied": 4,
        "errors": 1,
    }
    assert script.polls == 5


def test_heartbeats_while_nothing_changes_and_a_bounded_life() -> None:
    script = Script([snapshot(RUNNING, "reading", {"read": 1})])
    chunks = collect(script, heartbeat=3, lifetime=10)
    assert len(events(chunks)) == 1
    assert chunks.count(": still running\n\n") >= 2
    assert script.polls < 12  # ended by its lifetime; the browser reconnects


def test_stops_when_the_client_leaves_or_the_run_is_gone() -> None:
    left = Script([snapshot(RUNNING, "reading", {})] * 100, leave_after=3)
    collect(left)
    assert left.polls == 3
    gone = Script([snapshot(RUNNING, None, None), None])
    assert collect(gone)[-1] == "event: gone\ndata: {}\n\n"


def test_a_run_that_ended_reads_as_finished_whatever_its_phase() -> None:
    held = snapshot("held", "applying", {"planned": 3})
    assert held.finished and held.phase == "finished" and held.planned == 3


@pytest.mark.parametrize("phase", ["reading", None])
def test_running_snapshots_are_not_finished(phase: str | None) -> None:
    assert not snapshot(RUNNING, phase, None).finished


def test_no_template_refreshes_itself() -> None:
    """Pages update by script or a Refresh link; a meta refresh moves focus and scroll under
    the reader (axe-core counts it a violation)."""
    found = [
        path.name
        for path in TEMPLATES_DIR.rglob("*.html")
        if "http-equiv" in path.read_text(encoding="utf-8").lower()
    ]
    assert found == []
