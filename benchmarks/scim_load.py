"""The SCIM benchmark's clients: a number of concurrent clients (asyncio tasks, one keep-alive
connection each) sending one scenario's requests for a fixed time, after a warm-up that is not
counted. Every answer that is not 2xx is an error.

Scenarios, each with Entra's request shapes:
  create  POST /Users with a new userName each time
  patch   PATCH /Users/{id} of a seeded user, in turn Replace name.givenName, Replace
          emails[type eq "work"].value (a new address) and Replace active ("False" / "True",
          strings as Entra sends them)
  lookup  GET /Users?filter=userName eq "..." of a seeded user, as Entra looks a user up
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from scim_seed import entra_user

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCENARIOS = ("create", "patch", "lookup")


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, str] | None = None
    body: dict[str, Any] | None = None


@dataclass
class Outcome:
    scenario: str
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0]
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(p) - 1]


def calls(scenario: str, run: str, users: Sequence[tuple[str, str]]) -> Callable[[int], Call]:
    """The i-th request of a scenario (``run`` keeps new userNames apart between runs)."""
    rng = random.Random(f"{scenario}-{run}")  # noqa: S311 - picks test users, not secrets

    def create(i: int) -> Call:
        name = f"new-{run}-{i}@bench.example"
        return Call("POST", "/Users", body=entra_user(name, f"New{i}", f"Person{i}"))

    def patch(i: int) -> Call:
        user_id, _ = rng.choice(users)
        kind = i % 3
        if kind == 0:
            op = {"op": "Replace", "path": "name.givenName", "value": f"Given{i}"}
        elif kind == 1:
            value = f"mail-{run}-{i}@bench.example"
            op = {"op": "Replace", "path": 'emails[type eq "work"].value', "value": value}
        else:
            op = {"op": "Replace", "path": "active", "value": "False" if i % 2 else "True"}
        return Call("PATCH", f"/Users/{user_id}", body={"schemas": [PATCH_OP], "Operations": [op]})

    def lookup(_i: int) -> Call:
        _, name = rng.choice(users)
        return Call("GET", "/Users", params={"filter": f'userName eq "{name}"'})

    return {"create": create, "patch": patch, "lookup": lookup}[scenario]


async def _drive(
    base: str,
    token: str,
    scenario: str,
    make: Callable[[int], Call],
    clients: int,
    warmup: float,
    duration: float,
) -> Outcome:
    outcome = Outcome(scenario)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    counter = iter(range(10**9))
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as http:
        begin = time.perf_counter() + warmup
        end = begin + duration
        last = begin

        async def client() -> None:
            nonlocal last
            while (start := time.perf_counter()) < end:
                call = make(next(counter))
                content = None if call.body is None else json.dumps(call.body)
                try:
                    answer = await http.request(
                        call.method, call.path, params=call.params, content=content
                    )
                    status, text = answer.status_code, answer.text
                except httpx.HTTPError as exc:
                    status, text = 0, f"{type(exc).__name__}: {exc}"
                done = time.perf_counter()
                if start < begin:
                    continue
                outcome.latencies_ms.append((done - start) * 1000)
                last = max(last, done)
                if not 200 <= status < 300:
                    outcome.errors += 1
                    outcome.error_samples[f"{status} {text[:160]}"] += 1

        await asyncio.gather(*(client() for _ in range(clients)))
    outcome.seconds = last - begin
    return outcome


def measure(
    base: str,
    token: str,
    scenario: str,
    run: str,
    users: Sequence[tuple[str, str]],
    *,
    clients: int,
    warmup: float,
    duration: float,
) -> Outcome:
    make = calls(scenario, run, users)
    return asyncio.run(_drive(base, token, scenario, make, clients, warmup, duration))
