"""Service functions read the time from the clock attached to their session.

The composition root attaches the real clock; tests attach a FixedClock. Threading a clock
argument through every service call would add noise to every signature for one value.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from switchboard.clock import Clock, SystemClock

_SYSTEM = SystemClock()


def clock_of(session: Session) -> Clock:
    clock = session.info.get("clock")
    return clock if clock is not None else _SYSTEM


def now(session: Session) -> datetime:
    return clock_of(session).now()
