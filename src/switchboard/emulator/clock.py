"""The emulator's directory clock: wall time plus an offset the control surface can advance.

Directory semantics (delta token expiry, deleted-item retention, subscription expiry) follow
this clock; authentication (assertion nbf/exp, access token exp) follows wall time, because
clients such as msal cache tokens by wall time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class EmulatorClock:
    def __init__(self, offset_seconds: float = 0.0) -> None:
        self.offset_seconds = offset_seconds

    def timestamp(self) -> float:
        return time.time() + self.offset_seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("seconds: the clock only moves forward; give a value >= 0")
        self.offset_seconds += seconds


def iso(ts: float) -> str:
    """Graph's timestamp format: UTC with a Z suffix and whole seconds."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
