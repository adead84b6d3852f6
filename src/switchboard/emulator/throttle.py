"""Graph's identity throttling: resource units per app per tenant in 10-second windows.

Reads cost 2 for GET /users (list) and 1 for other GETs, one less with $select (at least 1),
one more with $expand. Writes are counted separately (3,000 per 2.5 minutes per app). The
window uses wall time: throttling is about request rate, not directory time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

READ_WINDOW_SECONDS = 10.0
WRITE_WINDOW_SECONDS = 150.0
WRITE_LIMIT = 3000
TENANT_WRITE_WINDOW_SECONDS = 300.0
TENANT_WRITE_LIMIT = 18000
TENANT = "*tenant*"


def read_limit(tenant_users: int) -> int:
    if tenant_users < 50:
        return 3500
    if tenant_users <= 500:
        return 5000
    return 8000


def request_cost(method: str, path: str, query: dict[str, str]) -> int:
    if method != "GET":
        return 1
    cost = 2 if path.strip("/") == "users" else 1
    if "$select" in query:
        cost -= 1
    if "$expand" in query:
        cost += 1
    return max(cost, 1)


@dataclass
class _Window:
    started: float = 0.0
    used: int = 0


@dataclass
class Verdict:
    allowed: bool
    cost: int
    retry_after: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class Throttle:
    def __init__(self) -> None:
        self.enabled = True
        # None = Graph's limits by tenant size; a number = a fixed limit (demos, tests).
        self.read_limit_override: int | None = None
        self.write_limit_override: int | None = None
        self._reads: dict[str, _Window] = {}
        self._writes: dict[str, _Window] = {}

    def reset(self) -> None:
        self._reads.clear()
        self._writes.clear()

    def charge(
        self, app_id: str, method: str, path: str, query: dict[str, str], tenant_users: int
    ) -> Verdict:
        cost = request_cost(method, path, query)
        if not self.enabled:
            return Verdict(True, cost, headers={"x-ms-resource-unit": str(cost)})
        now = time.monotonic()
        if method == "GET":
            windows, span = self._reads, READ_WINDOW_SECONDS
            limit = self.read_limit_override or read_limit(tenant_users)
        else:
            windows, span = self._writes, WRITE_WINDOW_SECONDS
            limit = self.write_limit_override or WRITE_LIMIT
        window = windows.setdefault(app_id, _Window(now, 0))
        if now - window.started >= span:
            window.started, window.used = now, 0
        headers = {"x-ms-resource-unit": str(cost)}
        if window.used + cost > limit:
            retry = max(round(window.started + span - now, 3), 0.001)
            headers["x-ms-throttle-limit-percentage"] = f"{min(window.used / limit, 1.8):.1f}"
            return Verdict(False, cost, retry, headers)
        if method != "GET":
            # All apps together: 18,000 writes per 5 minutes per tenant.
            tenant = self._writes.setdefault(TENANT, _Window(now, 0))
            if now - tenant.started >= TENANT_WRITE_WINDOW_SECONDS:
                tenant.started, tenant.used = now, 0
            if tenant.used + cost > TENANT_WRITE_LIMIT:
                retry = max(round(tenant.started + TENANT_WRITE_WINDOW_SECONDS - now, 3), 0.001)
                return Verdict(False, cost, retry, headers)
            tenant.used += cost
        window.used += cost
        share = window.used / limit
        if share > 0.8:
            headers["x-ms-throttle-limit-percentage"] = f"{share:.1f}"
        return Verdict(True, cost, headers=headers)
