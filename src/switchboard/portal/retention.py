"""Retention arithmetic in calendar months, kept pure so the month-end rules can be unit tested.

A purge at ``now`` removes media recorded before ``cutoff(now, months)``. Going back N calendar
months lands on the same day and time; when that day does not exist (six months before
31 August is "31 February") the cutoff is the start of the following day's month, i.e. the whole
of 28 February counts as older than six months. This keeps the cutoff from ever moving backwards
as ``now`` advances, so a daily purge never keeps something an earlier purge would have removed.
"""

from __future__ import annotations

import calendar
from datetime import datetime

from switchboard.portal.validation import RETENTION_MONTHS


def months_of(plan: str) -> int:
    try:
        return RETENTION_MONTHS[plan]
    except KeyError:
        raise ValueError(
            f"unknown retention plan {plan!r}; expected one of {', '.join(RETENTION_MONTHS)}"
        ) from None


def _shift(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _month_start(year: int, month: int, like: datetime) -> datetime:
    return like.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def cutoff(now: datetime, months: int) -> datetime:
    """The instant before which media is older than ``months`` calendar months at ``now``."""
    if months < 0:
        raise ValueError("months must not be negative")
    year, month = _shift(now.year, now.month, -months)
    if now.day <= calendar.monthrange(year, month)[1]:
        return now.replace(year=year, month=month)
    next_year, next_month = _shift(year, month, 1)
    return _month_start(next_year, next_month, now)


def expires_at(recorded_at: datetime, months: int) -> datetime:
    """When the retention plan ends for media recorded at ``recorded_at``.

    Every purge before this instant keeps the media, every purge after it removes it (the inverse
    of :func:`cutoff`). A recording
    made on 31 January under a one-month plan expires at the start of 1 March (February has no
    31st, and a purge on 28 February still keeps everything from 28 January on).
    """
    if months < 0:
        raise ValueError("months must not be negative")
    year, month = _shift(recorded_at.year, recorded_at.month, months)
    if recorded_at.day <= calendar.monthrange(year, month)[1]:
        return recorded_at.replace(year=year, month=month)
    next_year, next_month = _shift(year, month, 1)
    return _month_start(next_year, next_month, recorded_at)
