"""Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in UTC.

croniter expands the fields and finds the next firing; around it we keep our rules. Each field
takes ``*``, numbers, names (jan..dec, sun..sat), lists (``1,15``), ranges (``9-17``) and steps
(``*/15``, ``8-18/2``), and anything else is refused in words that name the field and the rule
(croniter would accept ``5/10`` or a backwards range, and reads ``5-5`` as ``*``). As in classic
cron, when both day fields are restricted a day matches if EITHER matches; a field starting with
``*`` counts as unrestricted (croniter counts ``*/2`` as restricted, and ``5,*`` as not, so we
tell it which rule applies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from croniter import CroniterBadDateError, croniter

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
    expression: str  # as written, one space between fields
    checked: str  # the same schedule in numbers only, as croniter is given it
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    either_day: bool  # both day fields restricted: a day matches if either matches

    def shortest_gap(self) -> timedelta:
        """The least time between two firings within a day (by minutes and hours alone)."""
        times = sorted(h * 60 + m for h in self.hours for m in self.minutes)
        gaps = [b - a for a, b in pairwise(times)]
        gaps.append(24 * 60 - times[-1] + times[0])  # into the next day
        return timedelta(minutes=min(gaps))

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after ``moment``, in UTC."""
        try:
            fires: datetime = croniter(
                self.checked, moment.astimezone(UTC), day_or=self.either_day
            ).get_next(datetime)
        except CroniterBadDateError as exc:
            raise CronError(f"{quote(self.expression)} never fires (no such date exists)") from exc
        return fires.astimezone(UTC)


def parse_cron(expression: str) -> CronSchedule:
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(
            f"{quote(expression)} has {len(parts)} field(s); a cron expression has five fields:"
            " minute hour day-of-month month day-of-week, for example '*/30 * * * *' or"
            " '0 6 * * mon-fri'"
        )
    fields = [_check_field(part, spec) for part, spec in zip(parts, FIELDS, strict=True)]
    expanded, _ = croniter.expand(" ".join(fields))
    values = [
        frozenset(range(spec.low, spec.high + 1) if "*" in field else map(int, field))
        for field, spec in zip(expanded, FIELDS, strict=True)
    ]
    weekdays = frozenset(0 if d == 7 else d for d in values[4])
    days_restricted = not parts[2].startswith("*")
    weekdays_restricted = not parts[4].startswith("*")
    either_day = days_restricted and weekdays_restricted
    if either_day and (len(values[2]) == 31 or len(weekdays) == 7):
        # Either day field matching every day means every day; croniter would instead read a
        # list that holds '*' (as '5,*') as unrestricted and go by the other field alone.
        fields[2] = fields[4] = "*"
        either_day = False
    schedule = CronSchedule(
        expression=" ".join(parts),
        checked=" ".join(fields),
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        either_day=either_day,
    )
    if not weekdays_restricted and not any(
        d <= _longest(m) for m in schedule.months for d in schedule.days
    ):
        raise CronError(
            f"{quote(expression)}: day of month {min(schedule.days)} never occurs in the chosen"
            " months"
        )
    return schedule


def _longest(month: int) -> int:
    return {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}.get(month, 31)


def _check_field(text: str, spec: _Field) -> str:
    """The field in numbers only, or CronError in words; a one-value range becomes its value."""
    items: list[str] = []
    for item in text.lower().split(","):
        if not item:
            raise CronError(f"{spec.name}: empty list item in {quote(text)}")
        base, _, step_text = item.partition("/")
        step = ""
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{spec.name}: step '/{step_text}' must be a whole number above 0")
            step = f"/{int(step_text)}"
        if base == "*":
            items.append(f"*{step}")
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _value(first, spec), _value(last, spec)
            if low > high:
                raise CronError(
                    f"{spec.name}: range {quote(base)} runs backwards; write it low-high"
                )
            items.append(str(low) if low == high else f"{low}-{high}{step}")
        else:
            value = _value(base, spec)
            if step_text:
                raise CronError(
                    f"{spec.name}: a step needs '*' or a range before it, as '*{step}'"
                    f" or '{value}-{spec.high}{step}'"
                )
            items.append(str(value))
    return ",".join(items)


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
