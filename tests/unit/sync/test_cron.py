"""Our cron rules around croniter: checked by hand, on the edge cases where croniter alone reads
an expression otherwise, and against croniter where the two readings agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from croniter import croniter
from hypothesis import given
from hypothesis import strategies as st

from switchboard.sync.cron import CronError, CronSchedule, parse_cron

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
    assert cron.next_after(datetime(2026, 1, 19, 7, 0, tzinfo=UTC)) == datetime(
        2026, 1, 19, 7, 30, tzinfo=UTC
    )
    # Sunday 07:00 -> Monday 06:00: no Sunday run.
    assert cron.next_after(datetime(2026, 1, 18, 7, 0, tzinfo=UTC)) == datetime(
        2026, 1, 19, 6, 0, tzinfo=UTC
    )


def test_seven_is_sunday_and_restricted_day_fields_match_either() -> None:
    assert parse_cron("0 0 * * 7").weekdays == {0}
    assert parse_cron("0 0 * * 7").next_after(T) == datetime(2026, 1, 18, 0, 0, tzinfo=UTC)
    cron = parse_cron("0 0 1 * sun")  # the 1st, or any Sunday
    assert cron.next_after(T) == datetime(2026, 1, 18, 0, 0, tzinfo=UTC)
    # Sunday 25 January, then Sunday 1 February (both), then Sunday 8 February.
    assert cron.next_after(datetime(2026, 1, 26, tzinfo=UTC)) == datetime(2026, 2, 1, tzinfo=UTC)
    assert cron.next_after(datetime(2026, 2, 1, tzinfo=UTC)) == datetime(2026, 2, 8, tzinfo=UTC)
    # The 1st on a weekday counts too.
    assert parse_cron("0 0 1 * sat").next_after(T) == datetime(2026, 1, 17, tzinfo=UTC)
    assert parse_cron("0 0 1 * sat").next_after(datetime(2026, 1, 31, 1, tzinfo=UTC)) == (
        datetime(2026, 2, 1, tzinfo=UTC)
    )


def test_a_starred_step_leaves_the_day_field_unrestricted_as_in_classic_cron() -> None:
    cron = parse_cron("0 0 */2 * mon")  # odd-numbered days that are Mondays
    assert cron.next_after(T) == datetime(2026, 1, 19, 0, 0, tzinfo=UTC)
    # Mondays the 26th and the 2nd are even: skipped.
    assert cron.next_after(datetime(2026, 1, 19, 0, 0, tzinfo=UTC)) == datetime(
        2026, 2, 9, 0, 0, tzinfo=UTC
    )


def test_leap_day_is_found_years_ahead() -> None:
    assert parse_cron("0 12 29 feb *").next_after(T) == datetime(2028, 2, 29, 12, 0, tzinfo=UTC)


def test_a_date_rarer_than_every_eight_years_is_still_found() -> None:
    # New Year's Day on a Sunday (day-of-month '*/40' is the 1st, unrestricted): 2023, then 2034.
    cron = parse_cron("0 0 */40 jan sun")
    assert cron.next_after(T) == datetime(2034, 1, 1, tzinfo=UTC)


def test_a_one_value_range_is_that_value_not_every_value() -> None:
    # croniter alone reads '5-5' as '*' (every minute).
    assert croniter("5-5 * * * *", T).get_next(datetime) == datetime(2026, 1, 15, 9, 8, tzinfo=UTC)
    cron = parse_cron("5-5 9-9 * * *")
    assert (cron.minutes, cron.hours) == (frozenset({5}), frozenset({9}))
    assert cron.next_after(T) == datetime(2026, 1, 16, 9, 5, tzinfo=UTC)


def test_a_restricted_day_field_that_covers_every_day_means_every_day() -> None:
    # Both day fields restricted (neither starts with '*'), so either matching is enough, and
    # one matches every day. croniter alone reads a list holding '*' as unrestricted and goes by
    # the other field alone.
    assert croniter("0 0 15 * 1,*", T).get_next(datetime) == datetime(2026, 2, 15, tzinfo=UTC)
    assert parse_cron("0 0 15 * 1,*").next_after(T) == datetime(2026, 1, 16, tzinfo=UTC)
    assert croniter("0 0 5,* * mon", T).get_next(datetime) == datetime(2026, 1, 19, tzinfo=UTC)
    assert parse_cron("0 0 5,* * mon").next_after(T) == datetime(2026, 1, 16, tzinfo=UTC)
    assert parse_cron("0 0 15 * 0-6").next_after(T) == datetime(2026, 1, 16, tzinfo=UTC)


def test_times_are_utc_whatever_the_moment_given() -> None:
    chicago = timezone(timedelta(hours=-6))
    # 04:30 in Chicago is 10:30 UTC: today's 09:00 UTC has passed.
    fires = parse_cron("0 9 * * *").next_after(datetime(2026, 1, 15, 4, 30, tzinfo=chicago))
    assert fires == datetime(2026, 1, 16, 9, 0, tzinfo=UTC) and fires.tzinfo is UTC


def test_next_after_is_strictly_after_to_the_minute() -> None:
    cron = parse_cron("*/5 * * * *")
    assert cron.next_after(datetime(2026, 1, 15, 9, 10, tzinfo=UTC)) == datetime(
        2026, 1, 15, 9, 15, tzinfo=UTC
    )
    assert cron.next_after(datetime(2026, 1, 15, 9, 9, 59, 999, tzinfo=UTC)) == datetime(
        2026, 1, 15, 9, 10, tzinfo=UTC
    )


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
        ("5/10 * * * *", "a step needs '*' or a range before it, as '*/10' or '5-59/10'"),
        ("30-10 * * * *", "range '30-10' runs backwards"),
        ("* * * foo *", "month: 'foo' is not a number or a name (jan, feb, mar, ...)"),
        ("* * * * L", "day of week: 'l' is not a number or a name (sun, mon, tue, ...)"),
        ("* * ? * *", "day of month: '?' is not a number"),
        ("H * * * *", "minute: 'h' is not a number"),
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


def _field(
    low: int, high: int, star_steps: bool = True, one_value_ranges: bool = False
) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    single = number.map(str)
    # croniter alone reads a one-value range such as '0-0' as the whole field.
    span = st.tuples(number, number).map(
        lambda p: f"{min(p)}-{max(p)}" if p[0] != p[1] or one_value_ranges else str(p[0])
    )
    # In the day fields classic cron counts '*/n' as unrestricted, croniter as restricted.
    stars = ["*", None] if star_steps else [None]
    stepped = st.tuples(st.sampled_from(stars), number, number, st.integers(1, 9)).map(_step)
    item = st.one_of(single, span, stepped)
    return st.one_of(st.just("*"), st.lists(item, min_size=1, max_size=3).map(",".join))


expressions = st.tuples(
    _field(0, 59), _field(0, 23), _field(1, 28, False), _field(1, 12), _field(0, 6, False)
).map(" ".join)


moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1))


@given(expressions, moments)
def test_next_after_agrees_with_croniter_where_the_readings_agree(
    expression: str, start: datetime
) -> None:
    start = start.replace(tzinfo=UTC)
    ours = parse_cron(expression).next_after(start)
    theirs = croniter(expression, start).get_next(datetime)
    assert ours == theirs
    assert ours > start and ours - start <= timedelta(days=8 * 366)


def _fires(cron: CronSchedule, moment: datetime) -> bool:
    """Classic cron's reading, from the parsed sets: either day field when both are restricted."""
    by_day = moment.day in cron.days
    by_weekday = moment.isoweekday() % 7 in cron.weekdays
    expression_fields = cron.expression.split()
    if not expression_fields[2].startswith("*") and not expression_fields[4].startswith("*"):
        day = by_day or by_weekday
    else:
        day = by_day and by_weekday
    return (
        moment.second == 0
        and moment.minute in cron.minutes
        and moment.hour in cron.hours
        and moment.month in cron.months
        and day
    )


# Every form, including those croniter alone reads otherwise ('*/n' days, one-value ranges).
everything = st.tuples(
    *(
        _field(low, high, one_value_ranges=True)
        for low, high in ((0, 59), (0, 23), (1, 28), (1, 12), (0, 7))
    )
).map(" ".join)


@given(everything, moments, st.floats(0, 1))
def test_next_after_fires_and_nothing_fires_before_it(
    expression: str, start: datetime, fraction: float
) -> None:
    cron = parse_cron(expression)
    start = start.replace(tzinfo=UTC)
    fires = cron.next_after(start)
    assert fires > start and _fires(cron, fires)
    # From any moment in between, the same firing is next: none comes earlier.
    between = start + (fires - start - timedelta(microseconds=1)) * fraction
    assert cron.next_after(between) == fires


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [("*/5 * * * *", 5), ("0,3 * * * *", 3), ("58 * * * *", 60), ("0 6 * * *", 24 * 60)],
)
def test_shortest_gap(expression: str, minutes: int) -> None:
    assert parse_cron(expression).shortest_gap() == timedelta(minutes=minutes)
