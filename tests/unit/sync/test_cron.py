"""The five-field cron matcher, checked by hand and against croniter as an oracle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter
from hypothesis import given
from hypothesis import strategies as st

from switchboard.sync.cron import CronError, parse_cron

T = datetime(2026, 1, 15, 9, 7, tzinfo=UTC)  # a Thursday


def test_every_thirty_minutes() -> None:
    cron = parse_cron("*/30 * * * *")
    assert cron.minutes == {0, 30}
    assert cron.next_after(T) == datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    assert cron.next_after(datetime(2026, 1, 15, 9, 30, tzinfo=UTC)) == datetime(
        2026, 1, 15, 10, 0, tzinfo=UTC
    )


def test_weekday_mornings_with_names_lists_and_ranges() -> None:
    cron = parse_cron("0,30 6-8 * * mon-fri")
    # Friday 08:30 -> Monday 06:00.
    assert cron.next_after(datetime(2026, 1, 16, 8, 30, tzinfo=UTC)) == datetime(
        2026, 1, 19, 6, 0, tzinfo=UTC
    )
    assert cron.matches(datetime(2026, 1, 19, 7, 30, tzinfo=UTC))
    assert not cron.matches(datetime(2026, 1, 18, 7, 30, tzinfo=UTC))  # Sunday


def test_seven_is_sunday_and_restricted_day_fields_match_either() -> None:
    assert parse_cron("0 0 * * 7").weekdays == {0}
    cron = parse_cron("0 0 1 * sun")  # the 1st, or any Sunday
    assert cron.next_after(T) == datetime(2026, 1, 18, 0, 0, tzinfo=UTC)
    assert cron.matches(datetime(2026, 2, 1, 0, 0, tzinfo=UTC))


def test_a_starred_step_leaves_the_day_field_unrestricted_as_in_classic_cron() -> None:
    cron = parse_cron("0 0 */2 * mon")  # odd-numbered days that are Mondays
    assert cron.next_after(T) == datetime(2026, 1, 19, 0, 0, tzinfo=UTC)
    # Mondays the 26th and the 2nd are even: skipped.
    assert cron.next_after(datetime(2026, 1, 19, 0, 0, tzinfo=UTC)) == datetime(
        2026, 2, 9, 0, 0, tzinfo=UTC
    )


def test_leap_day_is_found_years_ahead() -> None:
    assert parse_cron("0 12 29 feb *").next_after(T) == datetime(2028, 2, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("* * * *", "has 4 field(s)"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("* 24 * * *", "hour: 24 is outside 0-23"),
        ("* * 0 * *", "day of month: 0 is outside 1-31"),
        ("* * * 13 *", "month: 13 is outside 1-12"),
        ("* * * * 8", "day of week: 8 is outside 0-7"),
        ("*/0 * * * *", "step '/0' must be a whole number above 0"),
        ("5/10 * * * *", "a step needs '*' or a range before it"),
        ("30-10 * * * *", "range '30-10' runs backwards"),
        ("* * * foo *", "month: 'foo' is not a number or a name (jan, feb, mar, ...)"),
        ("1,,2 * * * *", "minute: empty list item"),
        ("0 0 31 feb *", "day of month 31 never occurs in the chosen months"),
    ],
)
def test_clear_errors(expression: str, words: str) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(expression)
    assert words in str(caught.value)


def _step(p: tuple[str | None, int, int, int]) -> str:
    star, first, last, step = p
    if star:
        return f"*/{step}"
    if first == last:
        return str(first)
    return f"{min(first, last)}-{max(first, last)}/{step}"


def _field(low: int, high: int, star_steps: bool = True) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    single = number.map(str)
    # croniter reads a one-value range such as '0-0' as the whole field: avoid it.
    span = st.tuples(number, number).map(
        lambda p: f"{min(p)}-{max(p)}" if p[0] != p[1] else str(p[0])
    )
    # In the day fields classic cron counts '*/n' as unrestricted, croniter as restricted.
    stars = ["*", None] if star_steps else [None]
    stepped = st.tuples(st.sampled_from(stars), number, number, st.integers(1, 9)).map(_step)
    item = st.one_of(single, span, stepped)
    return st.one_of(st.just("*"), st.lists(item, min_size=1, max_size=3).map(",".join))


expressions = st.tuples(
    _field(0, 59), _field(0, 23), _field(1, 28, False), _field(1, 12), _field(0, 6, False)
).map(" ".join)


@given(expressions, st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)))
def test_next_after_agrees_with_croniter(expression: str, start: datetime) -> None:
    start = start.replace(tzinfo=UTC)
    ours = parse_cron(expression).next_after(start)
    theirs = croniter(expression, start).get_next(datetime)
    assert ours == theirs
    assert ours > start and ours - start <= timedelta(days=8 * 366)


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [("*/5 * * * *", 5), ("0,3 * * * *", 3), ("58 * * * *", 60), ("0 6 * * *", 24 * 60)],
)
def test_shortest_gap(expression: str, minutes: int) -> None:
    assert parse_cron(expression).shortest_gap() == timedelta(minutes=minutes)
