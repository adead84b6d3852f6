"""The emulator's composition: one tenant, its apps, tokens, Graph, notifications, persistence."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchboard.emulator.apps import AppRegistry
from switchboard.emulator.change_notifications import Notifier
from switchboard.emulator.churn import Churner
from switchboard.emulator.clock import EmulatorClock
from switchboard.emulator.directory import Directory
from switchboard.emulator.faults import Faults
from switchboard.emulator.graph import Graph
from switchboard.emulator.keys_and_certificates import ensure_signing_key
from switchboard.emulator.seed import SeedSummary, seed_directory
from switchboard.emulator.store import Store
from switchboard.emulator.throttle import Throttle
from switchboard.emulator.tokens import TokenService

log = logging.getLogger("switchboard.emulator")

DEFAULT_DOMAIN = "fabrikam.example"
CONTROL_KEY_FILE = "control.key"
SECRET_FILE = "token-secret"  # noqa: S105 - a file name, not a secret


# What a reset replaces; the rest (tenant, clock, listeners) stays.
_DIRECTORY_CONTENT = (
    "version",
    "users",
    "groups",
    "user_log",
    "group_log",
    "user_tombstones",
    "group_tombstones",
    "member_of",
    "upn_index",
    "deleted_ids",
    "user_order",
)


@dataclass
class SeedOptions:
    users: int = 200
    groups: int = 10
    seed: int = 1


def _secret_file(path: Path, nbytes: int) -> str:
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(nbytes)
    path.touch(mode=0o600)
    path.write_text(value)
    return value


def control_key(state_dir: Path) -> str:
    return _secret_file(state_dir / CONTROL_KEY_FILE, 32)


class Emulator:
    def __init__(
        self,
        state_dir: Path,
        *,
        tenant_id: str | None = None,
        domain: str = DEFAULT_DOMAIN,
        seed: SeedOptions | None = None,
    ) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir
        self.store = Store(state_dir)
        meta = self.store.meta()
        self.clock = EmulatorClock(float(meta.get("clock_offset", 0.0)))
        self.faults = Faults()
        if "faults" in meta:
            self.faults.update(meta["faults"])
        self.throttle = Throttle()
        self.control_key = control_key(state_dir)
        secret = _secret_file(state_dir / SECRET_FILE, 32).encode()
        if "tenant_id" in meta:
            if tenant_id and tenant_id.lower() != meta["tenant_id"]:
                raise ValueError(
                    f"tenant-id: {state_dir} already holds tenant {meta['tenant_id']}; use "
                    "another --state-dir or omit --tenant-id"
                )
            self.directory = Directory(meta["tenant_id"], meta["domain"], self.clock)
            subs = self.store.load(self.directory)
        else:
            tid = (tenant_id or str(uuid.uuid4())).lower()
            uuid.UUID(tid)  # raises ValueError for a malformed --tenant-id
            self.directory = Directory(tid, domain, self.clock)
            subs = []
            opts = seed or SeedOptions()
            seed_directory(self.directory, users=opts.users, groups=opts.groups, seed=opts.seed)
        self.notifier = Notifier(self.directory.tenant_id, self.clock, self.faults)
        self.notifier.load(subs)
        self.directory.listeners.append(self.notifier.on_change)
        self.apps = AppRegistry(state_dir)
        self.tokens = TokenService(
            self.directory.tenant_id,
            self.directory.domain,
            ensure_signing_key(state_dir),
            self.apps,
        )
        self.graph = Graph(self.directory, self.notifier, self.throttle, self.faults, secret)
        if "delta_page_size" in meta:
            self.graph.delta.page_size = int(meta["delta_page_size"])
        self.churn_task: asyncio.Task[None] | None = None
        self.churner = Churner(self.directory, seed=1)
        self.save(full="tenant_id" not in meta)

    def trust_notification_ca(self, ca_file: Path) -> None:
        """Also trust this CA for HTTPS webhook endpoints (a local product's own CA)."""
        ctx = ssl.create_default_context()
        ctx.load_verify_locations(cafile=str(ca_file))
        self.notifier.verify = ctx

    # ------------------------------------------------------------------ persistence
    def meta(self) -> dict[str, Any]:
        return {
            "tenant_id": self.directory.tenant_id,
            "domain": self.directory.domain,
            "clock_offset": self.clock.offset_seconds,
            "faults": self.faults.public(),
            "delta_page_size": self.graph.delta.page_size,
        }

    def save(self, *, full: bool = False) -> int:
        return self.store.save(self.directory, self.meta(), self.notifier.to_json(), full=full)

    def close(self) -> None:
        self.save()
        self.store.close()

    def check_control_key(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.control_key.encode())

    # ------------------------------------------------------------------ control operations
    def reset(self, opts: SeedOptions) -> SeedSummary:
        """A fresh directory for the same tenant (apps stay registered)."""
        self.stop_churn()
        d = self.directory
        if opts.users < 0 or opts.groups < 0:
            raise ValueError("users/groups: give counts >= 0")
        fresh = Directory(d.tenant_id, d.domain, self.clock)
        # Keep the version counter moving forward so old delta tokens cannot alias new state.
        fresh.version = d.version
        # Let go of the old objects before making the new ones (a million users each).
        self.churner.forget_ids()
        d.__dict__.update({k: getattr(fresh, k) for k in _DIRECTORY_CONTENT})
        fresh = Directory(d.tenant_id, d.domain, self.clock)
        fresh.version = d.version
        summary = seed_directory(fresh, users=opts.users, groups=opts.groups, seed=opts.seed)
        d.__dict__.update({k: getattr(fresh, k) for k in _DIRECTORY_CONTENT})
        self.notifier.subscriptions.clear()
        self.throttle.reset()
        self.save(full=True)
        return summary

    def start_churn(self, rate: float, duration: float | None, seed: int | None) -> None:
        self.stop_churn()
        if seed is not None:
            self.churner = Churner(self.directory, seed)
        self.churn_task = asyncio.get_running_loop().create_task(self._churn(rate, duration))

    async def _churn(self, rate: float, duration: float | None) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + duration if duration else None
        interval = 1.0 / rate
        budget = 0.0
        last = loop.time()
        while end is None or loop.time() < end:
            await asyncio.sleep(min(interval, 0.1))
            now = loop.time()
            budget += (now - last) * rate
            last = now
            steps = int(budget)
            budget -= steps
            for _ in range(steps):
                self.churner.step()

    def stop_churn(self) -> None:
        if self.churn_task is not None:
            self.churn_task.cancel()
            self.churn_task = None

    async def persist_loop(self, interval: float = 0.5) -> None:
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                d = self.directory
                if d.dirty_users or d.dirty_groups or self.notifier.dirty:
                    self.save()
