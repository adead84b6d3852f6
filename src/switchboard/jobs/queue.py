"""Scaled-out scheduling on PostgreSQL: procrastinate workers share one job queue.

A periodic ``tick`` (every 5 s; every worker runs the deferrer, procrastinate defers each
tick once) enqueues ``sync_account``, ``push_writebacks`` and ``maintain_subscriptions`` jobs
for the accounts that are due. Per account, a queueing lock keeps at most one job waiting
and a lock keeps two workers from running the account at once; the engine's run lease backs
both up.

Workers send heartbeats. The tick first looks for jobs left in ``doing`` by a worker that
stopped sending them (killed, its machine lost): such a job would keep its account's lock for
good. It is put back in the queue, to start once the run it had begun has missed its lease,
so the next worker takes the account over from the abandoned run.

procrastinate's tables, types and functions live in their own PostgreSQL schema
(``procrastinate``), apart from ours: its connections put that schema on their search_path.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from procrastinate import App, PsycopgConnector, sql
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException, UniqueViolation
from procrastinate.jobs import Job, Status
from procrastinate.schema import SchemaManager
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from switchboard.jobs import sync_work
from switchboard.jobs.scan_cache import ScanCache
from switchboard.sync.ports import SyncServices

log = logging.getLogger("switchboard.worker")
QUEUE_SCHEMA = "procrastinate"
SYNC_QUEUE = "sync"
WRITEBACK_QUEUE = "writeback"
TICK_QUEUE = "tick"
# Six fields: the last one is seconds. A short tick keeps schedule lag small; it is cheap
# (a few indexed reads per connected account).
TICK_CRON = "* * * * * */5"
# The run log's daily prune (sync/run_retention.py), at a quiet hour (UTC).
PRUNE_CRON = "17 3 * * *"
# Serialises schema creation between workers starting at the same time.
_SCHEMA_LOCK_KEY = 0x5357_4254  # "SWBT"


def conninfo(database_url: str) -> str:
    """The libpq URL for procrastinate (SQLAlchemy's driver suffix removed)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(
            f"the job queue needs PostgreSQL; SWITCHBOARD_DATABASE_URL is {url.drivername}"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_queue_schema(engine: Engine) -> bool:
    """Create procrastinate's schema once; True if it was created now."""
    with engine.begin() as conn:
        conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        exists = conn.scalar(
            text("select to_regclass(:name)"), {"name": f"{QUEUE_SCHEMA}.procrastinate_jobs"}
        )
        if exists is not None:
            return False
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{QUEUE_SCHEMA}"'))
        conn.execute(text(f'SET LOCAL search_path TO "{QUEUE_SCHEMA}"'))
        # Run as one simple query on the driver connection: the script has many statements
        # and literal % signs that must not be read as parameters.
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute(SchemaManager.get_schema())
    log.info("created the job queue schema %r", QUEUE_SCHEMA)
    return True


def make_app(services: SyncServices) -> App:
    """A procrastinate App whose tasks run against ``services``."""
    connector = PsycopgConnector(
        conninfo=conninfo(services.settings.database_url),
        kwargs={"options": f"-c search_path={QUEUE_SCHEMA}"},
    )
    stalled_after = services.settings.worker_stalled_seconds
    app = App(
        connector=connector,
        worker_defaults={
            # Keep failed jobs for diagnosis; a tick every 5 s would otherwise pile up rows.
            "delete_jobs": "successful",
            "update_heartbeat_interval": stalled_after / 3,
            "stalled_worker_timeout": stalled_after,
        },
    )

    @app.task(name="switchboard.sync_account", queue=SYNC_QUEUE)
    def sync_account(account_id: int, kind: str) -> None:
        sync_work.run_sync(services, account_id, kind)

    @app.task(name="switchboard.push_writebacks", queue=WRITEBACK_QUEUE)
    def push_writebacks(account_id: int) -> None:
        sync_work.push_writebacks(services, account_id)

    @app.task(name="switchboard.maintain_subscriptions", queue=SYNC_QUEUE)
    def maintain_subscriptions(account_id: int) -> None:
        sync_work.maintain_subscriptions(services, account_id)

    # This process's decisions from tick to tick (each tick runs on one worker of the fleet).
    cache = ScanCache()

    @app.periodic(cron=TICK_CRON)
    @app.task(name="switchboard.tick", queue=TICK_QUEUE, queueing_lock="switchboard.tick")
    def tick(timestamp: int) -> None:
        recover_stalled(app, services)
        enqueue_due(app, services, cache)

    @app.periodic(cron=PRUNE_CRON)
    @app.task(name="switchboard.prune_runs", queue=TICK_QUEUE, queueing_lock="switchboard.prune")
    def prune_runs(timestamp: int) -> None:
        sync_work.prune_run_log(services)

    return app


def recover_stalled(app: App, services: SyncServices) -> list[int]:
    """Put the jobs of workers that stopped heartbeating back in the queue; their ids.

    A sync job restarts once the run it had begun is past its lease (so it takes the account
    over at once instead of being refused). When a newer job of the same kind already waits
    for the account (its queueing lock), the stalled one is closed as failed instead.
    """
    settings = services.settings
    stalled_after = settings.worker_stalled_seconds
    # procrastinate's own queries (those of JobManager.get_stalled_jobs, retry_job_by_id and
    # finish_job) through its synchronous connector: this runs in a worker's task thread
    # (the worker's pool serves it) or in a command that opened the app.
    connector = app.connector.get_sync_connector()
    stalled = [
        Job.from_row(row)
        for row in connector.execute_query_all(
            query=sql.queries["select_stalled_jobs_by_heartbeat"],
            queue=None,
            task_name=None,
            seconds_since_heartbeat=stalled_after,
        )
    ]
    wait = timedelta(seconds=max(settings.run_lease_seconds - stalled_after, 0))
    recovered: list[int] = []
    for job in stalled:
        assert job.id is not None
        try:
            try:
                app.job_manager.retry_job_by_id(job.id, retry_at=datetime.now(UTC) + wait)
            except UniqueViolation:
                connector.execute_query(
                    query=sql.queries["finish_job"],
                    job_id=job.id,
                    status=Status.FAILED.value,
                    delete_job=False,
                )
        except ConnectorException:  # handled by another worker's tick meanwhile
            continue
        log.warning(
            "job %s (%s) of a worker that stopped heartbeating is back in the queue",
            job.id,
            job.task_name,
        )
        recovered.append(job.id)
    return recovered


def enqueue_due(
    app: App, services: SyncServices, cache: ScanCache | None = None
) -> sync_work.TickReport:
    """Defer jobs for every due account; an account with a job already waiting is skipped."""
    report = sync_work.TickReport()
    sync_task: Any = app.tasks["switchboard.sync_account"]
    push_task: Any = app.tasks["switchboard.push_writebacks"]
    for item in sync_work.scan(services, cache):
        if not item.decision.is_due:
            report.not_due.append(item)
            continue
        try:
            sync_task.configure(
                lock=f"switchboard.account:{item.account_id}",
                queueing_lock=f"switchboard.sync:{item.account_id}",
            ).defer(account_id=item.account_id, kind=item.decision.kind)
            report.started.append(item)
        except AlreadyEnqueued:
            report.already_busy.append(item)
    for account_id, slug in sync_work.due_writebacks(services):
        try:
            push_task.configure(
                lock=f"switchboard.writeback:{account_id}",
                queueing_lock=f"switchboard.writeback:{account_id}",
            ).defer(account_id=account_id)
            report.writebacks.append(slug)
        except AlreadyEnqueued:
            pass
    subscription_task: Any = app.tasks["switchboard.maintain_subscriptions"]
    for account_id, slug in sync_work.subscription_work(services):
        try:
            subscription_task.configure(
                lock=f"switchboard.subscriptions:{account_id}",
                queueing_lock=f"switchboard.subscriptions:{account_id}",
            ).defer(account_id=account_id)
            report.subscriptions.append(slug)
        except AlreadyEnqueued:
            pass
    return report
