"""Portal responsiveness while a sync runs: the product's web app (`switchboard serve`, its
own process, on the run's database) asked for the account's user list every ~100 ms.

The request is the JSON API's first page of users (GET /api/v1/accounts/{slug}/users, an
account admin's API token), the page an admin's list shows while a sync fills it.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

INTERVAL_S = 0.1
P99_TARGET_MS = 200.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def portal(setup: dict[str, Any], secret: str) -> Iterator[str]:
    """`switchboard serve` on the benchmark's database, background work left off (nothing
    but the probe's requests and the run under test touch the database); its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "SWITCHBOARD_DATABASE_URL": setup["database_url"],
        "SWITCHBOARD_DATA_DIR": setup["data_dir"],
        "SWITCHBOARD_SECRET_KEY": secret,
    }
    exe = Path(sys.executable).with_name("switchboard")
    proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the portal (switchboard serve) exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the portal (switchboard serve) did not answer within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Probe:
    """Asks for the user list every INTERVAL_S (or as soon as the last answer came, when it
    took longer) on a thread, from ``start`` to ``stop``."""

    def __init__(self, base: str, slug: str, token: str) -> None:
        self.url = f"{base}/api/v1/accounts/{slug}/users"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.latencies_ms: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="portal-probe", daemon=True)

    def start(self) -> None:
        # A serving portal has answered before: the first request's set-up is not the run's.
        httpx.get(self.url, headers=self.headers, params={"limit": 50}, timeout=30)
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=60)
        return summary(self.latencies_ms, self.errors)

    def _loop(self) -> None:
        with httpx.Client(headers=self.headers, timeout=30) as client:
            while not self._stop.is_set():
                began = time.perf_counter()
                try:
                    ok = client.get(self.url, params={"limit": 50}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - began
                if ok:
                    self.latencies_ms.append(took * 1000)
                else:
                    self.errors += 1
                self._stop.wait(max(0.0, INTERVAL_S - took))


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted ``values``."""
    rank = max(1, math.ceil(share * len(values)))
    return values[rank - 1]


def summary(latencies_ms: list[float], errors: int) -> dict[str, Any]:
    ordered = sorted(latencies_ms)
    if not ordered:
        return {"requests": 0, "errors": errors, "p50": None, "p99": None, "max": None}
    return {
        "requests": len(ordered),
        "errors": errors,
        "p50": percentile(ordered, 0.50),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1],
    }
