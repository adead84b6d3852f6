"""Fleet benchmark: scheduled syncs of many accounts on PostgreSQL with 1, 2 and 4 workers.

    .venv/bin/python benchmarks/fleet_bench.py [--accounts 200] [--users 500] [--jit 20]
        [--minutes 15] [--workers 1,2,4] [--concurrency 2] [--churn-per-minute 12]

Set-up (not measured, but timed): one emulator tenant with a group of --users members for each
account; --accounts accounts in batched mode every 5 minutes (the minimum) and --jit accounts
in jit mode, each connected with its own app registration to its own group; every account's
initial full sync; a `switchboard serve` process as the address Graph notifies
(SWITCHBOARD_PUBLIC_URL) and the jit accounts' subscriptions.

Then, for each worker count: that many `switchboard worker` processes (procrastinate; the
periodic tick enqueues what is due) run for --minutes while a thread changes users of the jit
accounts' groups through Graph (--churn-per-minute). The table comes from sync_runs alone (see
fleet_metrics.py). The database is switchboard_bench_fleet, dropped and created anew each run;
every process the bench starts is stopped on the way out, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import httpx
from fleet_metrics import PhaseStats, RunRow, phase_stats
from fleet_setup import (
    EVERY_MINUTES,
    SKIPPED_GROUPS,
    Fleet,
    Processes,
    Tenant,
    admin_directory,
    connect_accounts,
    environment,
    fleet_database,
    free_port,
    group_ids,
    initial_syncs,
    members,
    settings,
    switch_to_batched,
    switch_to_jit,
    wait_http,
)
from graph_read_bench import control
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from switchboard.bootstrap import Container, build
from switchboard.db.migrate import upgrade
from switchboard.db.models import SyncRun
from switchboard.directory.graph_directory import GraphDirectory

CORES = os.cpu_count() or 1
TICKS = os.sysconf("SC_CLK_TCK")


class Churn(threading.Thread):
    """Changes one user of the jit accounts' groups at a steady rate (their given name, which
    the portal syncs), through Graph as any other writer would; only while ``on`` is set."""

    def __init__(self, directory: GraphDirectory, users: list[str], per_minute: float) -> None:
        super().__init__(name="fleet-churn", daemon=True)
        self.directory, self.users = directory, users
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.on, self.done = threading.Event(), threading.Event()
        self.changes = 0
        self.errors = 0
        self.rng = random.Random(7)  # noqa: S311 - reproducible load

    def run(self) -> None:
        while not self.done.is_set():
            if not self.interval or not self.on.wait(timeout=0.5):
                continue
            user = self.rng.choice(self.users)
            try:
                self.directory.client.patch(f"/users/{user}", {"givenName": f"Churn{self.changes}"})
                self.changes += 1
            except Exception:  # counted and shown; the load goes on
                self.errors += 1
            self.done.wait(self.interval)


class Stagger(threading.Thread):
    """Switches the batched accounts to batched mode one by one, evenly over ``seconds``
    (the schedule's period), and notes when: each account's first due time."""

    def __init__(self, c: Container, slugs: list[str], seconds: float) -> None:
        super().__init__(name="fleet-stagger", daemon=True)
        self.c, self.slugs, self.seconds = c, slugs, seconds
        self.since: dict[int, datetime] = {}
        self.done = threading.Event()

    def run(self) -> None:
        began = time.monotonic()
        for k, slug in enumerate(self.slugs):
            if self.done.wait(
                max(began + k * self.seconds / len(self.slugs) - time.monotonic(), 0)
            ):
                return
            account_id = switch_to_batched(self.c, slug)
            self.since[account_id] = datetime.now(UTC)


def start_tenant(procs: Processes, folder: Path, users: int, groups: int) -> Tenant:
    proc = procs.start(
        "emulator",
        [
            "emulator",
            "serve",
            "--state-dir",
            str(folder),
            "--port",
            "0",
            "--users",
            str(users),
            "--groups",
            str(groups),
            "--seed",
            "1",
            "--log-level",
            "warning",
        ],
        environment_without_settings(),
    )
    deadline = time.monotonic() + 900
    server = folder / "server.json"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the emulator exited during start-up; see its log")
        if server.exists():
            url = json.loads(server.read_text())["url"]
            try:
                status = control(folder, url, "GET", "/status")
                return Tenant(folder, url, status["tenant_id"])
            except httpx.HTTPError:  # not serving yet
                pass
        time.sleep(0.5)
    raise SystemExit("the emulator did not start within 15 minutes")


def environment_without_settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a running process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def load_runs(c: Container) -> list[RunRow]:
    with c.unit_of_work() as s:
        return [
            RunRow(r.account_id, r.trigger, r.kind, r.status, r.started_at, r.finished_at)
            for r in s.scalars(select(SyncRun).where(SyncRun.dry_run.is_(False)))
        ]


def bench(args: argparse.Namespace, work: Path, procs: Processes, db_url: str) -> list[PhaseStats]:
    started = time.perf_counter()
    groups = SKIPPED_GROUPS + args.accounts + args.jit
    tenant = start_tenant(procs, work / "emulator", groups * args.users, groups)
    # Every account reads the same tenant: the emulator's per-app throttling would measure
    # the emulator, not the workers.
    control(tenant.folder, tenant.url, "PATCH", "/throttle", {"enabled": False})
    print(
        f"emulator at {tenant.url}: {groups * args.users:,} users in {groups} groups,"
        f" up in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    s = settings(db_url, work / "data", public_url)
    env = environment(s)
    c = build(s)
    admin = admin_directory(tenant)
    try:
        t0 = time.perf_counter()
        upgrade(c.engine)
        setup = {"database_url": db_url, "data_dir": str(work / "data")}
        fleet: Fleet = connect_accounts(
            setup, tenant, group_ids(admin), args.accounts, args.jit, args.setup_processes
        )
        print(f"{args.accounts + args.jit} accounts connected in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        synced = initial_syncs(setup, fleet.batched + fleet.jit, args.setup_processes)
        print(
            f"initial full syncs: {synced:,} users in {args.accounts + args.jit} accounts"
            f" ({synced / max(args.accounts + args.jit, 1):,.0f} per account)"
            f" in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        serve = procs.start("serve", ["serve", "--host", "127.0.0.1", "--port", str(port)], env)
        wait_http(f"{public_url}/healthz", serve, "switchboard serve")
        switch_to_jit(c, fleet.jit)
        subscriptions = control(tenant.folder, tenant.url, "GET", "/status")["subscriptions"]
        print(f"jit: {subscriptions} subscriptions notifying {public_url}", flush=True)
        churn_users = [u for g in fleet.jit_groups for u in members(admin, g)]
        churn = Churn(admin, churn_users, args.churn_per_minute if fleet.jit else 0)
        churn.start()
        print(f"set-up done in {time.perf_counter() - started:.0f} s", flush=True)
        windows: list[tuple[int, datetime, datetime, int, float]] = []
        stagger = Stagger(c, fleet.batched, EVERY_MINUTES * 60.0)
        try:
            for index, count in enumerate(args.workers):
                workers = [
                    procs.start(
                        f"worker-{count}x-{i + 1}",
                        ["worker", "--concurrency", str(args.concurrency)],
                        env,
                    )
                    for i in range(count)
                ]
                start, before = datetime.now(UTC), churn.changes
                churn.on.set()
                if index == 0:
                    stagger.start()
                end_at = time.monotonic() + args.minutes * 60
                while time.monotonic() < end_at:
                    time.sleep(min(5.0, max(end_at - time.monotonic(), 0)))
                    dead = [w for w in workers if w.poll() is not None]
                    if dead:
                        raise SystemExit(f"a worker exited (exit {dead[0].returncode}); see logs")
                end = datetime.now(UTC)
                churn.on.clear()
                cpu = sum(cpu_seconds(w.pid) for w in workers)
                for worker in workers:
                    procs.stop(worker)
                windows.append((count, start, end, churn.changes - before, cpu))
                print(f"  {count} worker(s): {args.minutes:g} min done", flush=True)
        finally:
            churn.done.set()
            stagger.done.set()
            churn.join(timeout=10)
            if stagger.is_alive():
                stagger.join(timeout=30)
        runs = load_runs(c)
        stats = []
        for count, start, end, changes, cpu in windows:
            row = phase_stats(
                runs,
                stagger.since,
                workers=count,
                slots=count * args.concurrency,
                start=start,
                end=end,
                every=timedelta(minutes=EVERY_MINUTES),
            )
            row = replace(row, worker_cpu_seconds=cpu)
            stats.append(row)
            print(
                f"  {count} worker(s): {row.scheduled_runs} scheduled runs"
                f" ({row.failed} not succeeded), {row.judged} due times judged,"
                f" {row.jit_rounds} jit rounds after {changes} changes"
                f" ({churn.errors} churn errors in all)",
                flush=True,
            )
        return stats
    finally:
        admin.close()
        c.engine.dispose()


def show_logs(folder: Path, lines: int = 15) -> None:
    """The end of each process's log (the folder goes with the bench's temporary files)."""
    for log in sorted(folder.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        if tail:
            print(f"--- {log.name} (last {len(tail)} lines)", *tail, sep="\n")


def print_table(stats: list[PhaseStats], args: argparse.Namespace) -> None:
    table = Table(
        title=f"Fleet benchmark: {args.accounts} batched accounts x {args.users} users every"
        f" {EVERY_MINUTES} min + {args.jit} jit accounts ({args.churn_per_minute:g} changes/min),"
        f" {args.minutes:g} min per worker count, concurrency {args.concurrency}"
    )
    columns = (
        "workers",
        "runs/min",
        "mean run s",
        "slots busy %",
        "worker CPU %",
        "CPU s/run",
        "lag p50 s",
        "lag p99 s",
        "lag max s",
        "overlaps",
        "missed",
        "jit rounds/min",
        "x runs/min",
    )
    for name in columns:
        table.add_column(name, justify="right")
    base = stats[0] if stats else None
    for r in stats:
        table.add_row(
            str(r.workers),
            f"{r.runs_per_minute:.1f}",
            f"{r.mean_run_seconds:.2f}",
            f"{100 * r.busy_share:.0f}",
            f"{100 * r.worker_cpu_seconds / (60 * r.minutes * CORES):.0f}" if r.minutes else "-",
            f"{r.cpu_per_run:.2f}",
            f"{r.lag_p50:.1f}",
            f"{r.lag_p99:.1f}",
            f"{r.lag_max:.1f}",
            str(r.overlaps),
            f"{r.missed} of {r.judged}",
            f"{r.jit_rounds / r.minutes:.1f}" if r.minutes else "-",
            f"{r.runs_per_minute / base.runs_per_minute:.2f}"
            if base and base.runs_per_minute
            else "-",
        )
    Console(width=200).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200, help="batched accounts")
    parser.add_argument("--users", type=int, default=500, help="members of each account's group")
    parser.add_argument("--jit", type=int, default=20, help="accounts in jit mode")
    parser.add_argument("--minutes", type=float, default=15.0, help="per worker count")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, in order")
    parser.add_argument("--concurrency", type=int, default=2, help="each worker's job slots")
    parser.add_argument("--churn-per-minute", type=float, default=12.0)
    parser.add_argument(
        "--setup-processes", type=int, default=2, help="for connecting and the initial syncs"
    )
    parser.add_argument("--keep-database", action="store_true", help="leave it for inspection")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args()
    try:
        args.workers = [int(x) for x in args.workers.split(",") if x.strip()]
    except ValueError:
        raise SystemExit("--workers: give whole numbers separated by commas, e.g. 1,2,4") from None
    if not args.workers or min(args.workers) < 1:
        raise SystemExit("--workers: give at least one count of 1 or more")
    if args.accounts < 1 or args.users < 1 or args.jit < 0 or args.minutes <= 0:
        raise SystemExit("--accounts and --users: 1 or more; --jit: 0 or more; --minutes: > 0")

    def _terminate(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    print(
        f"about {args.minutes * len(args.workers):g} min of measurement after the set-up;"
        " Ctrl-C stops every process the bench started and drops its database",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        procs = Processes(work / "logs")
        stats: list[PhaseStats] = []
        try:
            with fleet_database(keep=args.keep_database) as db_url:
                try:
                    stats = bench(args, work, procs, db_url)
                finally:
                    procs.stop_all()
        except KeyboardInterrupt:
            raise SystemExit("interrupted: every process the bench started is stopped") from None
        except BaseException:
            show_logs(work / "logs")
            raise
    print_table(stats, args)
    if args.json:
        print(json.dumps([vars(r) for r in stats]))


if __name__ == "__main__":
    main()
