"""What one scheduler tick costs: the reads that decide what is due (schedules, write-backs,
subscriptions) over N connected accounts, each with a run history, on SQLite and PostgreSQL.

The tick runs every 5 s (jobs/embedded.py, jobs/queue.py); this says what that costs.
Run with `python benchmarks/tick_bench.py [--accounts 200] [--ticks 20]`. Prints a table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from portal_bench import OP, database
from rich.console import Console
from rich.table import Table

from switchboard.bootstrap import build
from switchboard.config import Settings
from switchboard.db.models import DirectoryRegistration, DirectorySyncState, SyncRun
from switchboard.jobs.embedded import EmbeddedScheduler
from switchboard.portal import accounts
from switchboard.portal.clock_context import now
from switchboard.portal.schemas import AccountIn
from switchboard.sync.policy import SyncPolicy

POLICY = SyncPolicy(
    groups=["11111111-1111-1111-1111-111111111111"], mode="batched", schedule_minutes=5
).model_dump(mode="json")
HISTORY = 60  # runs per account: more than the scheduler reads
KEY = "tick-bench-throwaway"


class Refusing:
    """A job runner that takes nothing: the tick's decisions without the work they start."""

    def submit(self, name: str, work: Callable[[], object], *, key: str | None = None) -> bool:
        return False

    def shutdown(self) -> None:
        return None


def seed(url: str, data_dir: Path, count: int) -> None:
    c = build(Settings(database_url=url, data_dir=data_dir, secret_key=KEY), migrate=True)
    try:
        for i in range(count):
            with c.unit_of_work() as s:
                acct = accounts.create_account(
                    s, OP, AccountIn(slug=f"a{i:04d}", name=f"Account {i}", extension_length=4)
                )
                stamp = now(s)
                s.add(
                    DirectoryRegistration(
                        account_id=acct.id,
                        tenant_id="t",
                        client_id="c",
                        cloud="global",
                        authority_url="https://login.microsoftonline.com",
                        graph_url="https://graph.microsoft.com",
                        certificate_pem="-",
                        private_key_encrypted="-",
                        policy=POLICY,
                        created_at=stamp,
                        updated_at=stamp,
                    )
                )
                s.add(
                    DirectorySyncState(
                        account_id=acct.id,
                        last_full_at=stamp - timedelta(days=1),
                        last_delta_at=stamp - timedelta(minutes=1),
                        delta_chain_started_at=stamp - timedelta(days=1),
                    )
                )
                for n in range(HISTORY):
                    started = stamp - timedelta(minutes=5 * (HISTORY - 1 - n) + 1)
                    s.add(
                        SyncRun(
                            account_id=acct.id,
                            number=n + 1,
                            trigger="schedule",
                            kind="delta",
                            status="succeeded",
                            dry_run=False,
                            counts={},
                            started_at=started,
                            finished_at=started + timedelta(seconds=2),
                            heartbeat_at=started,
                        )
                    )
    finally:
        c.close()
        c.engine.dispose()


def measure(url: str, data_dir: Path, ticks: int, *, full: bool) -> tuple[list[float], list[float]]:
    """Wall time and this process's CPU time of each tick (the database server's CPU aside).
    ``full``: every account decided afresh (a scheduler's first tick, and one a minute);
    otherwise the ticks in between, where nothing changed."""
    c = build(Settings(database_url=url, data_dir=data_dir, secret_key=KEY))
    try:
        scheduler = EmbeddedScheduler(c, Refusing())
        scheduler.tick()  # warm the pool and the statement cache
        wall, cpu = [], []
        for _ in range(ticks):
            if full:
                scheduler = EmbeddedScheduler(c, Refusing())
            start, start_cpu = time.perf_counter(), time.process_time()
            scheduler.tick()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        return wall, cpu
    finally:
        c.close()
        c.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--ticks", type=int, default=20)
    args = parser.parse_args()
    table = Table(title=f"One scheduler tick, {args.accounts} batched accounts")
    columns = ("database", "tick", "wall median ms", "wall max ms", "CPU median ms", "CPU per 5 s")
    for column in columns:
        table.add_column(column)
    for kind in ("sqlite", "postgresql"):
        with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
            seed(url, Path(tmp), args.accounts)
            for full in (True, False):
                wall, cpu = measure(url, Path(tmp), args.ticks, full=full)
                cpu_median = statistics.median(cpu)
                table.add_row(
                    kind,
                    "full (one a minute)" if full else "nothing changed",
                    f"{statistics.median(wall) * 1000:.0f}",
                    f"{max(wall) * 1000:.0f}",
                    f"{cpu_median * 1000:.0f}",
                    f"{cpu_median / 5:.1%}",
                )
    Console().print(table)


if __name__ == "__main__":
    main()
