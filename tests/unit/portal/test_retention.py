"""Retention cutoffs in calendar months, month ends and leap years included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.portal.retention import cutoff, expires_at, months_of


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(("plan", "months"), [("6m", 6), ("1y", 12), ("2y", 24), ("3y", 36)])
def test_plans_in_months(plan: str, months: int) -> None:
    assert months_of(plan) == months


def test_unknown_plan_is_refused() -> None:
    with pytest.raises(ValueError, match="6m, 1y, 2y, 3y"):
        months_of("5y")


@pytest.mark.parametrize(
    ("now", "months", "expected"),
    [
        # Same day and time, N calendar months back, across a year boundary.
        (at(2026, 1, 15, 9), 6, at(2025, 7, 15, 9)),
        (at(2026, 1, 15, 9), 12, at(2025, 1, 15, 9)),
        (at(2026, 1, 15, 9), 36, at(2023, 1, 15, 9)),
        # 31 August minus six months has no 31 February: all of February is older.
        (at(2026, 8, 31, 9), 6, at(2026, 3, 1)),
        (at(2026, 8, 29, 9), 6, at(2026, 3, 1)),
        (at(2026, 8, 28, 9), 6, at(2026, 2, 28, 9)),
        # Leap years: 29 February exists in 2028.
        (at(2028, 8, 29, 9), 6, at(2028, 2, 29, 9)),
        (at(2028, 8, 30, 9), 6, at(2028, 3, 1)),
        (at(2029, 2, 28, 9), 12, at(2028, 2, 28, 9)),
        # 31 May minus one month: 30 April does not have a 31st either.
        (at(2026, 5, 31, 23, 59), 1, at(2026, 5, 1)),
        (at(2026, 3, 31, 12), 1, at(2026, 3, 1)),
    ],
)
def test_cutoff(now: datetime, months: int, expected: datetime) -> None:
    assert cutoff(now, months) == expected


@pytest.mark.parametrize(
    ("recorded", "months", "expected"),
    [
        (at(2025, 7, 15, 9), 6, at(2026, 1, 15, 9)),
        (at(2026, 1, 31, 10), 1, at(2026, 3, 1)),
        (at(2027, 8, 31, 10), 6, at(2028, 3, 1)),
        (at(2028, 2, 29, 10), 12, at(2029, 3, 1)),
        (at(2028, 2, 29, 10), 24, at(2030, 3, 1)),
        (at(2028, 2, 29, 10), 48, at(2032, 2, 29, 10)),
    ],
)
def test_expires_at(recorded: datetime, months: int, expected: datetime) -> None:
    assert expires_at(recorded, months) == expected


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)


@given(now=instants, later=st.timedeltas(timedelta(0), timedelta(days=400)))
def test_cutoff_never_moves_backwards(now: datetime, later: timedelta) -> None:
    for months in (1, 6, 12, 24, 36):
        assert cutoff(now, months) <= cutoff(now + later, months)


@given(recorded=instants)
def test_expires_at_is_where_the_purge_starts_removing(recorded: datetime) -> None:
    step = timedelta(microseconds=1)
    for months in (1, 6, 12, 24, 36):
        end = expires_at(recorded, months)
        # A purge at ``now`` removes what was recorded before cutoff(now).
        assert not recorded < cutoff(end - step, months)
        assert recorded < cutoff(end + step, months)
