"""Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in UTC.

Each field takes ``*``, numbers, names (jan..dec, sun..sat), lists (``1,15``), ranges
(``9-17``) and steps (``*/15``, ``8-18/2``). As in classic cron, when both day fields are
restricted a day matches if EITHER matches; a field starting with ``*`` counts as unrestricted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from switchboard.portal.validation import quote

# As schedule_minutes: batched runs at least 5 minutes apart.
MIN_GAP = timedelta(minutes=5)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class CronError(ValueError):
    """An expression that cannot be read; the message names the field and the rule."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, MONTHS, 1),
    # 7 is Sunday too, as in most crons.
    _Field("day of week", 0, 7, DAYS, 0),
)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    def matches(self, moment: datetime) -> bool:
        moment = moment.astimezone(UTC)
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and self._day_matches(moment)
        )

    def _day_matches(self, moment: datetime) -> bool:
        by_day = moment.day in self.days
        by_weekday = (moment.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return by_day or by_weekday
        return by_day and by_weekday

    def shortest_gap(self) -> timedelta:
        """The least time between two firings within a day (by minutes and hours alone)."""
        times = sorted(h * 60 + m for h in self.hours for m in self.minutes)
        gaps = [b - a for a, b in pairwise(times)]
        gaps.append(24 * 60 - times[-1] + times[0])  # into the next day
        return timedelta(minutes=min(gaps))

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after ``moment``."""
        start = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        hours = sorted(self.hours)
        minutes = sorted(self.minutes)
        # Eight years always contain every month/day/weekday combination that can exist.
        for _ in range(8 * 366):
            if day.month in self.months and self._day_matches(day):
                for hour in hours:
                    for minute in minutes:
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        raise CronError(f"{quote(self.expression)} never fires (no such date exists)")


def parse_cron(expression: str) -> CronSchedule:
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(
            f"{quote(expression)} has {len(parts)} field(s); a cron expression has five fields:"
            " minute hour day-of-month month day-of-week, for example '*/30 * * * *' or"
            " '0 6 * * mon-fri'"
        )
    values = [_parse_field(part, spec) for part, spec in zip(parts, FIELDS, strict=True)]
    weekdays = frozenset(0 if d == 7 else d for d in values[4])
    schedule = CronSchedule(
        expression=" ".join(parts),
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        days_restricted=not parts[2].startswith("*"),
        weekdays_restricted=not parts[4].startswith("*"),
    )
    if not schedule.weekdays_restricted and not any(
        d <= _longest(m) for m in schedule.months for d in schedule.days
    ):
        raise CronError(
            f"{quote(expression)}: day of month {min(schedule.days)} never occurs in the chosen"
            " months"
        )
    return schedule


def _longest(month: int) -> int:
    return {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}.get(month, 31)


def _parse_field(text: str, spec: _Field) -> frozenset[int]:
    result: set[int] = set()
    for item in text.lower().split(","):
        if not item:
            raise CronError(f"{spec.name}: empty list item in {quote(text)}")
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{spec.name}: step '/{step_text}' must be a whole number above 0")
            step = int(step_text)
        if base == "*":
            low, high = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _value(first, spec), _value(last, spec)
            if low > high:
                raise CronError(
                    f"{spec.name}: range {quote(base)} runs backwards; write it low-high"
                )
        else:
            low = high = _value(base, spec)
            if step_text:
                raise CronError(
                    f"{spec.name}: a step needs '*' or a range before it, as '*/{step}'"
                    f" or '{low}-{spec.high}/{step}'"
                )
        result.update(range(low, high + 1, step))
    return frozenset(result)


def _value(text: str, spec: _Field) -> int:
    if text in spec.names:
        return spec.names.index(text) + spec.name_base
    if not text.isdigit():
        hint = f" or a name ({', '.join(spec.names[:3])}, ...)" if spec.names else ""
        raise CronError(f"{spec.name}: {quote(text)} is not a number{hint}")
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise CronError(f"{spec.name}: {value} is outside {spec.low}-{spec.high}")
    return value
