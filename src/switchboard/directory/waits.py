"""How long a service asked to wait: the ``Retry-After`` header, as Graph and Entra ID send it."""

from __future__ import annotations

import email.utils
import time


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait: Graph sends decimals ("2.128"); HTTP also allows a date."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


def describe_wait(seconds: float) -> str:
    """A wait in words: "45 seconds", "3 minutes", "2 hours 5 minutes"."""
    whole = max(int(-(-seconds // 1)), 1)
    if whole < 120:
        return f"{whole} seconds"
    minutes = -(-whole // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    hours, rest = divmod(minutes, 60)
    return f"{hours} hours" + (f" {rest} minutes" if rest else "")
