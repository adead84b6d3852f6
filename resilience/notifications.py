"""Duplicated change notifications through the portal's webhook endpoint.

The portal is served by ``switchboard serve`` on a loopback port (the emulator accepts plain
http there); the account is in jit mode with its subscriptions in the emulator, and every
notification is delivered twice. On PostgreSQL a ``switchboard worker`` runs the rounds the
webhook defers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import httpx

from resilience.checker import Tracker, portal_ids
from resilience.portal import SLUG, Portal
from resilience.report import Row
from resilience.scenarios import Context, finish, prepared, wait_for


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(portal: Portal, proc: subprocess.Popen[str], args: list[str]) -> None:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    portal.finish(proc, args, started)


def _quiet(portal: Portal, seconds: float) -> None:
    """Wait until no run is going and none has started for a few seconds."""
    deadline = time.monotonic() + seconds
    last = -1
    while time.monotonic() < deadline:
        rows = portal.sql(
            "select count(*), sum(case when status = 'running' then 1 else 0 end) from sync_runs"
        )
        count, running = int(str(rows[0][0])), int(str(rows[0][1] or 0))
        if count == last and running == 0:
            return
        last = count
        time.sleep(4)


def duplicated(ctx: Context, kind: str) -> Row:
    row = Row("duplicate notifications", kind)
    with prepared(ctx, kind) as portal:
        portal.baseline = portal_ids(portal)
        tracker = Tracker(ctx.emulator, ctx.groups)
        tracker.observe()
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        portal.extra_env = {
            "SWITCHBOARD_PUBLIC_URL": url,
            "SWITCHBOARD_NOTIFICATION_MIN_GAP_SECONDS": "0.5",
        }
        portal.run("directory", "settings", SLUG, "--mode", "jit")
        server = portal.start("serve", "--port", str(port))
        worker = portal.start("worker") if kind == "postgresql" else None
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"{url}/healthz", timeout=2)
                    break
                except httpx.HTTPError:
                    time.sleep(0.5)
            ensured = portal.run("directory", "subscriptions", SLUG, "--ensure")
            if ensured.code != 0:
                row.misses.append("the subscriptions could not be created")
            ctx.emulator.faults(notification_duplicate_rate=1.0)
            for _ in range(ctx.rounds):
                ctx.emulator.churn(ctx.churn, ctx.churn_seed())
                tracker.observe()
                wait_for(portal, "select id from sync_runs where trigger = 'notification'", 20)
                _quiet(portal, 60)
            rounds = portal.sql("select count(*) from sync_runs where trigger = 'notification'")
            sent = ctx.emulator.control("GET", "/notifications")["endpoints"]
            delivered = sum(int(s["delivered"]) for s in sent.values())
            row.notes.append(f"{delivered} deliveries, {rounds[0][0]} notification rounds")
            if not int(str(rounds[0][0])):
                row.misses.append("no notification started a delta round")
        finally:
            ctx.emulator.faults(notification_duplicate_rate=0.0)
            if worker is not None:
                _stop(portal, worker, ["worker"])
            _stop(portal, server, ["serve"])
            portal.extra_env = {}
        return finish(row, portal, ctx, tracker)
