"""Scenarios of crashes and hostile conditions: kills, a fault storm, replays, racing starts,
a killed worker. Each runs on a fresh database and ends with the checker.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from resilience.checker import Tracker, check, converge, portal_ids
from resilience.emulator import STORM_KINDS, Emulator
from resilience.portal import SLUG, Portal, as_datetime, fresh_database
from resilience.report import Row


@dataclass
class Context:
    """What every scenario shares: the emulator, the synced groups and the sizes."""

    emulator: Emulator
    workdir: Path
    groups: list[str]
    spare_group: str  # a group outside the synced ones (the "wrong group")
    kills: int
    churn: int
    rounds: int
    races: int
    leavers: int
    backlog: int
    block_limit: float
    seed: int = 7
    # Shared by the copies each scenario gets, so no two churn batches share a seed.
    seeds: Iterator[int] = field(default_factory=lambda: itertools.count(10_000))

    def rng(self, salt: str) -> random.Random:
        return random.Random(f"{self.seed}-{salt}")  # noqa: S311 - a reproducible test pattern

    def churn_seed(self) -> int:
        # Each churn batch its own seed, suite-wide: a seed used again mints the same new user
        # ids, which the tenant already holds. Never the tenant's seed either.
        return next(self.seeds)


@contextmanager
def prepared(ctx: Context, kind: str, *, sync: bool = True) -> Iterator[Portal]:
    """A fresh database with the account connected and (by default) a first full run."""
    ctx.emulator.calm()
    with fresh_database(kind, ctx.workdir) as url:
        portal = Portal(url, ctx.workdir, ctx.emulator, list(ctx.groups))
        try:
            portal.connect()
            if sync:
                out = portal.run("directory", "reconcile", SLUG)
                latest = portal.latest_run()
                if latest is not None:
                    portal.startup_seconds = max(out.seconds - portal.run_seconds(latest[0]), 0.5)
            yield portal
        finally:
            portal.close()


def finish(
    row: Row,
    portal: Portal,
    ctx: Context,
    tracker: Tracker | None = None,
    *,
    blocked_since: float | None = None,
) -> Row:
    """Converge with a final full run, then compare the tenant with the portal.
    ``blocked_since``: when starts began to be refused, if they still are."""
    ctx.emulator.calm()
    convergence = converge(portal, ctx.block_limit, blocked_since)
    if tracker is not None:
        tracker.observe()
    row.add(check(portal, ctx.groups, baseline=portal.baseline, tracker=tracker))
    row.take(portal, convergence, ctx.block_limit)
    return row


class Blocked:
    """How long starts have been refused in a row (the account is blocked meanwhile)."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.longest = 0.0

    def saw(self, refused: bool) -> float:
        if not refused:
            self.since = None
            return 0.0
        now = time.monotonic()
        self.since = self.since or now
        self.longest = max(self.longest, now - self.since)
        return now - self.since


def kills(ctx: Context, kind: str) -> Row:
    """SIGKILL reconcile and delta processes at random points while the tenant churns."""
    row = Row("kills", kind)
    rng = ctx.rng(f"kills-{kind}")
    with prepared(ctx, kind) as portal:
        tracker = Tracker(ctx.emulator, ctx.groups)
        tracker.observe()
        portal.baseline = portal_ids(portal)
        # A little latency per request, so a small tenant's runs last long enough to be hit.
        ctx.emulator.faults(latency_ms=30)
        spans: dict[str, float] = {}
        for command in ("reconcile", "delta"):
            portal.run("directory", command, SLUG)
            spans[command] = portal.run_seconds(portal.max_run_id())
        blocked = Blocked()
        starts = mid_run = 0
        while row.kills < ctx.kills and starts < 3 * ctx.kills:
            ctx.emulator.churn(ctx.churn, ctx.churn_seed())
            tracker.observe()
            command = rng.choice(["reconcile", "delta"])
            # Mostly inside the run (reading, applying, saving links); some while starting up.
            fraction = rng.uniform(0.0, 0.9) if rng.random() < 0.85 else -rng.random()
            out = portal.kill_in_run(fraction, spans[command], "directory", command, SLUG)
            starts += 1
            row.kills += out.killed
            mid_run += out.mid_run
            # A process killed before it reached its run says nothing about the account.
            if (out.refused or out.started_run) and blocked.saw(out.refused) > ctx.block_limit:
                break
            if blocked.since is not None and time.monotonic() - blocked.since > ctx.block_limit:
                break
            if out.refused:
                starts -= 1  # waiting for the account is not a try at a kill
                time.sleep(2)
        if blocked.since is not None:
            blocked.longest = max(blocked.longest, time.monotonic() - blocked.since)
        if row.kills < ctx.kills:
            row.misses.append(
                f"only {row.kills} of {ctx.kills} kills: every start was refused for"
                f" {blocked.longest:.0f} s"
                if blocked.longest > ctx.block_limit
                else f"only {row.kills} of {ctx.kills} kills landed in {starts} starts"
            )
        row.notes.append(f"{starts} starts, {mid_run} of {row.kills} kills left a run 'running'")
        row.blocked_seconds = blocked.longest
        return finish(row, portal, ctx, tracker, blocked_since=blocked.since)


def storm(ctx: Context, kind: str) -> Row:
    """10% of Graph and token requests fail (429, 503, resets, timeouts) during runs."""
    row = Row("fault storm", kind)
    with prepared(ctx, kind) as portal:
        tracker = Tracker(ctx.emulator, ctx.groups)
        tracker.observe()
        portal.baseline = portal_ids(portal)
        failed = 0
        for i in range(ctx.rounds):
            ctx.emulator.calm()
            ctx.emulator.churn(ctx.churn, ctx.churn_seed())
            tracker.observe()
            # Timeouts answer 504 after 5 s: a real client-side timeout would take a minute.
            ctx.emulator.faults(
                error_rate=0.1, error_kinds=STORM_KINDS, timeout_seconds=5, seed=ctx.seed + i
            )
            out = portal.run("directory", "delta" if i % 2 else "reconcile", SLUG)
            failed += out.code != 0
        row.notes.append(f"{failed} of {ctx.rounds} runs under the storm ended in failure")
        return finish(row, portal, ctx, tracker)


def replays(ctx: Context, kind: str) -> Row:
    """Each delta link is run twice (the second time as if the first had never happened),
    and the emulator replays pages already sent."""
    row = Row("delta replays", kind)
    with prepared(ctx, kind) as portal:
        tracker = Tracker(ctx.emulator, ctx.groups)
        tracker.observe()
        portal.baseline = portal_ids(portal)
        ctx.emulator.faults(delta_replays=True)
        for _ in range(ctx.rounds):
            ctx.emulator.churn(ctx.churn, ctx.churn_seed())
            tracker.observe()
            links = portal.sql(
                "select users_delta_link, groups_delta_link from directory_sync_state"
            )
            portal.run("directory", "delta", SLUG)
            if links:
                portal.sql(
                    "update directory_sync_state set users_delta_link = :u, groups_delta_link = :g",
                    u=links[0][0],
                    g=links[0][1],
                )
            portal.run("directory", "delta", SLUG)
        row.notes.append("webhook duplicates: see the 'duplicate notifications' row")
        return finish(row, portal, ctx, tracker)


def race(ctx: Context, kind: str) -> Row:
    """Two reconciles started at the same moment: one runs, the other is refused cleanly.

    Writes to the run table are held off while both start (as a busy database would), so
    both reach the start check together instead of a second apart. Two runs one after the
    other (the second started after the first had finished) were no race: they are only
    counted in the notes."""
    row = Row("racing starts", kind)
    with prepared(ctx, kind) as portal:
        tracker = Tracker(ctx.emulator, ctx.groups)
        tracker.observe()
        portal.baseline = portal_ids(portal)
        both = sequential = neither = unclean = 0
        for _ in range(ctx.races):
            ctx.emulator.churn(ctx.churn, ctx.churn_seed())
            tracker.observe()
            before = portal.max_run_id()
            started = time.monotonic()
            with portal.writes_held(2, portal.startup_seconds + 3):
                procs = [portal.start("directory", "reconcile", SLUG) for _ in range(2)]
            outs = [portal.finish(p, ["directory", "reconcile"], started) for p in procs]
            spans = portal.sql(
                "select started_at, finished_at from sync_runs where id > :i order by id",
                i=before,
            )
            if len(spans) > 1:
                overlapped = spans[0][1] is None or as_datetime(spans[1][0]) < as_datetime(
                    spans[0][1]
                )
                both += overlapped
                sequential += not overlapped
            neither += not spans
            ran = [o for o in outs if o.code == 0]
            refused = [o for o in outs if o.refused and not o.traceback]
            unclean += len(ran) + len(refused) != 2
        for n, what in (
            (both, "both ran at the same time"),
            (neither, "neither ran"),
            (unclean, "a racer neither finished nor was refused cleanly (exit 1, no traceback)"),
        ):
            if n:
                row.misses.append(f"{n} of {ctx.races} races: {what}")
        if sequential:
            row.notes.append(f"{sequential} of {ctx.races} pairs ran one after the other")
        return finish(row, portal, ctx, tracker)


def worker(ctx: Context, kind: str) -> Row:
    """A procrastinate worker is SIGKILLed mid-run; a new worker must sync the account again
    within the block limit."""
    row = Row("killed worker", kind)
    if kind != "postgresql":
        row.skipped = "the procrastinate worker runs on PostgreSQL only"
        return row
    with prepared(ctx, kind, sync=False) as portal:
        # Slow answers, so the worker's run lasts long enough to be killed inside it.
        ctx.emulator.faults(latency_ms=500)
        first = portal.start("worker")
        if not wait_for(portal, "select id from sync_runs where status = 'running'", 90, 0.05):
            row.misses.append("the first worker started no run within 90 s")
        os.killpg(first.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        portal.finish(first, ["worker"], killed_at, killed=True)
        row.kills = 1
        second = portal.start("worker")
        synced = wait_for(
            portal,
            "select id from sync_runs where status in ('succeeded', 'partial', 'held')",
            ctx.block_limit,
        )
        row.blocked_seconds = time.monotonic() - killed_at
        if not synced:
            row.misses.append(f"no run finished within {ctx.block_limit:.0f} s of the kill")
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
        portal.finish(second, ["worker"], killed_at)
        limit = ctx.block_limit
        ctx.block_limit = min(limit, 30.0)
        try:
            return finish(row, portal, ctx)
        finally:
            ctx.block_limit = limit


def wait_for(portal: Portal, query: str, seconds: float, every: float = 1.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if portal.sql(query):
            return True
        time.sleep(every)
    return False
