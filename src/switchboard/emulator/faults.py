"""Faults on demand: latency, error rates, notification trouble, delta replays."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ErrorKind = Literal["429", "503", "reset", "timeout"]
ERROR_KINDS: tuple[str, ...] = ("429", "503", "reset", "timeout")
# Where errors are injected: Graph requests ($batch included) and the token endpoint.
ERROR_TARGETS: tuple[str, ...] = ("graph", "token")


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    error_kinds: list[str] = field(default_factory=lambda: ["429", "503"])
    error_targets: list[str] = field(default_factory=lambda: list(ERROR_TARGETS))
    # How many more errors to inject (None: no limit), e.g. "the next 2 token requests fail".
    error_budget: int | None = None
    retry_after_seconds: float = 1.0
    timeout_seconds: float = 30.0
    notification_delay_ms: int = 0
    notification_drop_rate: float = 0.0
    notification_duplicate_rate: float = 0.0
    delta_replays: bool = False
    # Interleave pages that carry no objects but a nextLink (Graph sends them too).
    delta_empty_pages: bool = False
    # How an expired delta token is answered: 400 syncStateNotFound, or 410 Gone + Location.
    delta_expired_status: int = 400
    seed: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)  # noqa: S311 - reproducible faults

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("rng")
        return data

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial change; every value is checked and errors name the field."""
        for key in changes:
            if key == "rng" or key not in self.public():
                raise ValueError(f"{key}: unknown fault setting; known: {sorted(self.public())}")
        checks: dict[str, tuple[type | tuple[type, ...], Any]] = {
            "latency_ms": (int, lambda v: 0 <= v <= 600_000),
            "error_rate": ((int, float), lambda v: 0 <= v <= 1),
            "retry_after_seconds": ((int, float), lambda v: 0 <= v <= 3600),
            "timeout_seconds": ((int, float), lambda v: 0 < v <= 3600),
            "notification_delay_ms": (int, lambda v: 0 <= v <= 600_000),
            "notification_drop_rate": ((int, float), lambda v: 0 <= v <= 1),
            "notification_duplicate_rate": ((int, float), lambda v: 0 <= v <= 1),
            "delta_replays": (bool, lambda v: True),
            "delta_empty_pages": (bool, lambda v: True),
            "delta_expired_status": (int, lambda v: v in (400, 410)),
            "seed": (int, lambda v: True),
            "error_kinds": (list, lambda v: bool(v) and all(k in ERROR_KINDS for k in v)),
            "error_targets": (list, lambda v: bool(v) and all(t in ERROR_TARGETS for t in v)),
            "error_budget": ((int, type(None)), lambda v: v is None or 0 <= v <= 1_000_000),
        }
        for key, value in changes.items():
            kinds, rule = checks[key]
            if isinstance(value, bool) and kinds is not bool:
                raise ValueError(f"{key}: expected a number, got true/false")
            if not isinstance(value, kinds) or not rule(value):
                raise ValueError(f"{key}: invalid value {value!r}; see the limits in the docs")
        for key, value in changes.items():
            setattr(self, key, value)
        if "seed" in changes:
            self.rng = random.Random(self.seed)  # noqa: S311 - reproducible fault pattern

    def pick_error(self, target: str = "graph") -> str | None:
        """The error to inject into this request to ``target`` ("graph" or "token"), if any."""
        if target not in self.error_targets or self.error_budget == 0:
            return None
        if self.error_rate and self.rng.random() < self.error_rate:
            if self.error_budget is not None:
                self.error_budget -= 1
            return self.rng.choice(self.error_kinds)
        return None
