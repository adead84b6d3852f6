"""SCIM benchmark: Switchboard's /scim/v2 endpoint next to scim2-server, the RFC reference server.

    .venv/bin/python benchmarks/scim_bench.py [--users 100000] [--quick] [--workers 1,2]
        [--clients 8] [--duration 20] [--warmup 3] [--seed bulk|create]
        [--servers switchboard,scim2-server]

Each server runs in its own process, seeded with the same users before anything is measured;
the clients run in this one. For each server, the three scenarios of ``scim_load`` (creates,
PATCH updates, userName lookups) with --clients concurrent clients for --duration seconds each.

Switchboard serves a throwaway PostgreSQL database (dropped afterwards) with its production
app, ``create_app(build(Settings()))`` as `switchboard serve` builds it, under uvicorn with
--workers processes (`switchboard serve` runs one); each worker count is a separate run on the
same data. scim2-server runs as its `scim2-server` command ships: in memory, one process, a
thread per request. A non-2xx answer counts as an error; any error fails the run (exit 1).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table
from scim_load import SCENARIOS, Outcome, measure
from scim_seed import SLUG, Seeded, database, seed_scim2_server, seed_switchboard

from switchboard.bootstrap import build
from switchboard.config import Settings
from switchboard.web.app import create_app

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
SECRET = "scim-bench-throwaway-key"  # noqa: S105 - a throwaway database
SCIM2_TOKEN = "scim2-bench-token"  # noqa: S105 - a throwaway in-memory server
# The targets for Switchboard: 20 times Entra's 25 requests/s, and fast lookups.
CREATE_TARGET = 500.0
LOOKUP_P99_TARGET_MS = 20.0


def portal_app() -> FastAPI:
    """The app each uvicorn worker serves (settings from SWITCHBOARD_* variables)."""
    return create_app(build(Settings()))


@dataclass(frozen=True)
class Row:
    server: str
    outcome: Outcome
    target: str
    met: bool | None


# ---------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(args: Sequence[str], env: dict[str, str], log: Path, ready: str) -> Iterator[None]:
    """A server in its own session (Ctrl-C reaches only the bench), stopped on the way out."""
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own commands, fixed arguments
            list(args), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_http(ready, proc, log)
            yield
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{proc.args!r} exited during start-up:\n{tail}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s (log: {log})")


# ---------------------------------------------------------------------------- runs
def scenarios(
    label: str, base: str, seeded: Seeded, args: argparse.Namespace, run: str
) -> list[Outcome]:
    done = []
    for scenario in SCENARIOS:
        outcome = measure(
            base,
            seeded.token,
            scenario,
            run,
            seeded.users,
            clients=args.clients,
            warmup=args.warmup,
            duration=args.duration,
        )
        print(
            f"  {label} {scenario}: {outcome.rate:,.0f}/s, p50 {outcome.percentile(50):.1f} ms,"
            f" p99 {outcome.percentile(99):.1f} ms, {outcome.errors} errors"
            f" (load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        done.append(outcome)
    return done


def switchboard_runs(args: argparse.Namespace, workdir: Path) -> tuple[list[Row], str]:
    rows: list[Row] = []
    with database() as url:
        settings = Settings(database_url=url, data_dir=workdir / "data", secret_key=SECRET)
        print(f"switchboard: seeding {args.users:,} users ({args.seed})...", flush=True)
        c = build(settings)
        try:
            seeded = seed_switchboard(c, args.users, args.seed)
        finally:
            c.close()
            c.engine.dispose()
        note = f"switchboard: {args.users:,} users seeded in {seeded.seconds:,.0f} s ({seeded.how})"
        print(note, flush=True)
        env = {
            **os.environ,
            "SWITCHBOARD_DATABASE_URL": url,
            "SWITCHBOARD_DATA_DIR": str(workdir / "data"),
            "SWITCHBOARD_SECRET_KEY": SECRET,
        }
        for workers in args.workers:
            port = free_port()
            command = [
                str(BIN / "python"),
                "-m",
                "uvicorn",
                "--factory",
                "scim_bench:portal_app",
                "--app-dir",
                str(HERE),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--no-proxy-headers",
            ]
            label = f"switchboard, {workers} worker{'s' if workers > 1 else ''}"
            log = workdir / f"switchboard-{workers}.log"
            with process(command, env, log, f"http://127.0.0.1:{port}/healthz"):
                base = f"http://127.0.0.1:{port}/scim/v2/{SLUG}"
                for outcome in scenarios(label, base, seeded, args, f"w{workers}"):
                    rows.append(_switchboard_row(label, outcome))
    return rows, note


def _switchboard_row(label: str, outcome: Outcome) -> Row:
    if outcome.scenario == "create":
        return Row(label, outcome, f">= {CREATE_TARGET:.0f}/s", outcome.rate >= CREATE_TARGET)
    if outcome.scenario == "lookup":
        p99 = outcome.percentile(99)
        return Row(label, outcome, f"p99 <= {LOOKUP_P99_TARGET_MS:.0f} ms", p99 <= 20.0)
    return Row(label, outcome, "", None)


def scim2_server_runs(args: argparse.Namespace, workdir: Path) -> tuple[list[Row], str]:
    port = free_port()
    command = [str(BIN / "scim2-server"), "--port", str(port), "--bearer-token", SCIM2_TOKEN]
    base = f"http://127.0.0.1:{port}/v2"
    with process(command, dict(os.environ), workdir / "scim2-server.log", base + "/Schemas"):
        print(f"scim2-server: seeding {args.users:,} users...", flush=True)
        seeded = seed_scim2_server(base, SCIM2_TOKEN, args.users)
        note = (
            f"scim2-server: {args.users:,} users seeded in {seeded.seconds:,.0f} s ({seeded.how})"
        )
        print(note, flush=True)
        label = "scim2-server"
        rows = [Row(label, o, "", None) for o in scenarios(label, base, seeded, args, "ref")]
    return rows, note


# ---------------------------------------------------------------------------- report
def report(rows: list[Row], notes: list[str], args: argparse.Namespace) -> None:
    table = Table(title=f"SCIM benchmark: {args.clients} concurrent clients, {args.duration:g} s")
    for column in ("server", "scenario", "requests/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="left" if column in ("server", "scenario") else "right")
    table.add_column("target")
    table.add_column("met?")
    for row in rows:
        o = row.outcome
        table.add_row(
            row.server,
            o.scenario,
            f"{o.rate:,.0f}",
            f"{o.percentile(50):.1f}",
            f"{o.percentile(99):.1f}",
            str(o.errors),
            row.target,
            "" if row.met is None else ("met" if row.met else "missed"),
        )
    table.caption = "\n".join(
        [*notes, f"load average at the end {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)"]
    )
    Console(width=120).print(table)
    for row in rows:
        for sample, count in row.outcome.error_samples.most_common(3):
            print(f"{row.server} {row.outcome.scenario}: {count} x {sample}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="5,000 users, 5 s per scenario")
    parser.add_argument("--workers", default="1,2", help="uvicorn workers, one run per count")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds not counted")
    parser.add_argument("--seed", choices=("bulk", "create"), default="bulk")
    parser.add_argument("--servers", default="switchboard,scim2-server")
    args = parser.parse_args()
    if args.quick:
        args.users, args.duration, args.warmup = 5_000, 5.0, 1.0
    args.workers = [int(w) for w in args.workers.split(",")]
    rows: list[Row] = []
    notes: list[str] = []
    runs = {"switchboard": switchboard_runs, "scim2-server": scim2_server_runs}
    with tempfile.TemporaryDirectory() as tmp:
        for server in args.servers.split(","):
            found, note = runs[server](args, Path(tmp))
            rows.extend(found)
            notes.append(note)
    report(rows, notes, args)
    if any(row.outcome.errors for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
