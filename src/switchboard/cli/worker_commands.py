"""`switchboard worker` runs the sync schedules; `switchboard schedule show` explains them."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated

import typer

from switchboard.bootstrap import Container
from switchboard.cli.common import (
    JsonOption,
    cli_actor,
    container,
    emit,
    fail,
    require_current_schema,
    unit_of_work,
)
from switchboard.db.migrate import upgrade
from switchboard.jobs import sync_work
from switchboard.jobs.heartbeat import Heartbeat
from switchboard.portal.accounts import get_account

schedule = typer.Typer(help="Sync schedules: what runs when, and why.", no_args_is_help=True)


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run one tick, wait for its work, and exit (for cron)")
    ] = False,
    concurrency: Annotated[
        int, typer.Option(min=1, max=32, help="Accounts synced at the same time")
    ] = 2,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve this process's counters (sync runs, Graph requests) for Prometheus at"
            " http://METRICS_HOST:PORT/metrics; the portal's /metrics has the rest",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Interface for --metrics-port (no authentication: keep it private)")
    ] = "127.0.0.1",
) -> None:
    """Run scheduled syncs (batched mode and the safety net) and push due write-backs.

    On SQLite: an in-process scheduler ticks every 5 s and runs due accounts on a thread pool
    (`switchboard serve` runs the same scheduler unless given --no-scheduler).
    On PostgreSQL: a procrastinate worker; run as many as you like, they share the queue and
    never sync one account twice at once. Its schema is created on first use (or by
    `switchboard db upgrade`). Either way the process keeps a heartbeat row while it runs,
    from which the UI tells whether syncs run by themselves.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with _metrics_server(metrics_host, metrics_port), container(migrated=False) as c:
        if c.is_sqlite():
            upgrade(c.engine)  # as `serve` does for an embedded database
            _embedded(c, once=once, concurrency=concurrency)
        else:
            require_current_schema(c)
            _queue(c, once=once, concurrency=concurrency)


@contextmanager
def _metrics_server(host: str, port: int | None) -> Iterator[None]:
    """prometheus-client's own HTTP server over the default registry, for the run and Graph
    counters this process keeps in memory (a worker serves no web app of its own)."""
    if port is None:
        yield
        return
    from prometheus_client import start_http_server

    try:
        server, thread = start_http_server(port, addr=host)
    except OSError as exc:
        raise fail(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or 'the address is not usable'}"
            " (choose another --metrics-port, or leave it out)",
            2,
        ) from exc
    typer.echo(f"metrics at http://{host}:{port}/metrics")
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _print(report: sync_work.TickReport) -> None:
    for item in report.started:
        typer.echo(f"{item.slug}: {item.decision.kind} run started ({item.decision.reason})")
    for item in report.already_busy:
        typer.echo(f"{item.slug}: {item.decision.kind} due, but its last job is still pending")
    for slug in report.writebacks:
        typer.echo(f"{slug}: pushing due write-backs")
    typer.echo(
        f"{len(report.started)} run(s) started, {len(report.not_due)} account(s) not due,"
        f" {len(report.writebacks)} write-back push(es)"
    )


def _embedded(c: Container, *, once: bool, concurrency: int) -> None:
    from switchboard.jobs.embedded import TICK_SECONDS, EmbeddedScheduler
    from switchboard.jobs.runner import ThreadJobRunner

    runner = ThreadJobRunner(workers=concurrency)
    scheduler = EmbeddedScheduler(c, runner)
    try:
        if once:
            report = scheduler.tick()
            runner.wait_idle()
            _print(report)
            return
        stop = threading.Event()

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        typer.echo(
            f"worker: embedded scheduler, {concurrency} thread(s), tick every {TICK_SECONDS:.0f} s"
        )
        beating = Heartbeat(c, "scheduler")
        beating.start()
        try:
            scheduler.run_forever(stop)
        finally:
            runner.shutdown()  # started syncs finish before the row goes
            beating.stop()
    finally:
        runner.shutdown()


def _queue(c: Container, *, once: bool, concurrency: int) -> None:
    from switchboard.jobs import queue

    queue.ensure_queue_schema(c.engine)
    if once:
        app = queue.make_app(c)
        with app.open():
            report = queue.enqueue_due(app, c)
        app.run_worker(
            queues=[queue.SYNC_QUEUE, queue.WRITEBACK_QUEUE],
            wait=False,
            concurrency=concurrency,
            install_signal_handlers=False,
            listen_notify=False,
        )
        _print(report)
        return
    from switchboard.jobs.background import QueueWorkerThread

    # Our handlers go in before the heartbeat row exists, so a signal at any moment of the
    # start-up ends in a clean stop (running jobs finished, row removed), never a kill.
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    typer.echo(f"worker: procrastinate on PostgreSQL, concurrency {concurrency}")
    service = QueueWorkerThread(c, concurrency=concurrency)
    service.start()
    try:
        while not stop.wait(1.0):
            if not service.is_alive():
                raise fail("the queue worker stopped; its error is in the log above")
    finally:
        service.stop()


@schedule.command("show")
def schedule_show(account: str, as_json: bool = JsonOption) -> None:
    """When the account's next scheduled sync is due, and why."""
    with unit_of_work() as s:
        get_account(s, cli_actor(), account)  # a clear error for an unknown account
    with container() as c:
        decision = sync_work.decision_for(c, account)
    if decision is None:
        raise fail(
            f"account '{account}' is not connected to Entra ID; nothing is scheduled"
            " (switchboard directory connect)"
        )
    row = sync_work.describe(decision)
    if as_json:
        typer.echo(json.dumps(row))
        return
    emit(
        [row],
        False,
        ["account", "mode", "due", "next_at", "reason"],
        f"Schedule of {account}",
    )
