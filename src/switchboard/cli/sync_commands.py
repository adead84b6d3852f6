"""`switchboard directory test|reconcile|delta|sync-user|runs|run|approve|reject`."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from switchboard.cli.common import (
    JsonOption,
    cli_actor,
    console,
    container,
    emit,
    fail,
    unit_of_work,
)
from switchboard.cli.directory_commands import directory
from switchboard.cli.run_display import ITEM_COLUMNS, print_summary, progress_bar
from switchboard.connection.verification import verify_connection
from switchboard.directory.errors import GraphError
from switchboard.portal.accounts import get_account
from switchboard.portal.errors import PortalError
from switchboard.sync import runs, writeback
from switchboard.sync.engine import RunSummary, SyncEngine

# Runs are named by their number within the account; the internal id is never printed.
RunNumber = Annotated[int, typer.Argument(help="the run's number in the account (1, 2, ...)")]
RUN_COLUMNS = ["number", "trigger", "kind", "status", "counts", "started_at", "message"]


def _run(account: str, as_json: bool, call: Any) -> None:
    with container() as c:
        engine = SyncEngine(c, c.directory_factory())
        try:
            summary: RunSummary = call(engine)
        except PortalError as exc:
            raise fail(exc.message, 2 if exc.status == 422 else 1) from exc
    print_summary(summary, as_json, account=account)
    # abandoned: another run took over; interrupted: resumes on its own later
    if summary.status in ("failed", "abandoned", "interrupted"):
        raise typer.Exit(1)


@directory.command("test")
def directory_test(account: str, as_json: bool = JsonOption) -> None:
    """Test connection: get a token and check every permission the settings need."""
    with container() as c:
        try:
            record = verify_connection(c, cli_actor(), account)
        except PortalError as exc:
            raise fail(exc.message, 2 if exc.status == 422 else 1) from exc
        except GraphError as exc:
            raise fail(exc.message) from exc
    if as_json:
        sys.stdout.write(record.model_dump_json(indent=2) + "\n")
    else:
        emit(
            [
                {
                    "check": c.get("name"),
                    "certificate": c.get("certificate"),
                    "ok": "yes" if c.get("ok") else "NO",
                    "kind": c.get("kind") or "",
                    "message": c.get("message"),
                }
                for c in record.checks
            ],
            False,
            ["check", "certificate", "ok", "kind", "message"],
            f"Connection test of {account}",
        )
    if not record.ok:
        raise typer.Exit(1)


@directory.command("reconcile")
def directory_reconcile(
    account: str,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan only; change nothing")] = False,
    as_json: bool = JsonOption,
) -> None:
    """Full reconcile: read the synced groups, plan, apply, sweep what left the scope."""
    if as_json:
        _run(account, True, lambda e: e.reconcile(cli_actor(), account, dry_run=dry_run))
        return
    with progress_bar() as progress:
        _run(
            account,
            False,
            lambda e: e.reconcile(cli_actor(), account, dry_run=dry_run, progress=progress),
        )


@directory.command("delta")
def directory_delta(account: str, as_json: bool = JsonOption) -> None:
    """Incremental round from the saved delta links (a full reconcile when there are none)."""
    _run(account, as_json, lambda e: e.delta(cli_actor(), account, trigger="manual"))


@directory.command("sync-user")
def directory_sync_user(
    account: str,
    user: Annotated[str, typer.Argument(help="userPrincipalName or object id")],
    as_json: bool = JsonOption,
) -> None:
    """Sync one user now."""
    _run(account, as_json, lambda e: e.sync_user(cli_actor(), account, user))


@directory.command("runs")
def directory_runs(
    account: str,
    limit: Annotated[int, typer.Option(min=1, max=200, help="The newest runs, this many")] = 20,
    as_json: bool = JsonOption,
) -> None:
    """The latest sync runs."""
    with unit_of_work() as s:
        actor = cli_actor()
        acct = get_account(s, actor, account)
        found, _total = runs.list_runs(s, actor, acct, limit=limit)
        rows: list[dict[str, Any]] = [
            {
                "number": r.number,
                "trigger": r.trigger,
                "kind": r.kind,
                "status": r.status,
                "dry_run": r.dry_run,
                "counts": r.counts,
                "message": r.message,
                "started_at": r.started_at.isoformat(timespec="seconds"),
                "finished_at": r.finished_at.isoformat(timespec="seconds")
                if r.finished_at
                else None,
            }
            for r in found
        ]
    if as_json:
        emit(rows, True, [], "")
        return
    for row in rows:
        row["counts"] = ", ".join(f"{k} {v}" for k, v in sorted(row["counts"].items()))
    emit(rows, False, RUN_COLUMNS, f"Sync runs of {account}")


@directory.command("run")
def directory_run(
    account: str,
    number: RunNumber,
    errors_only: Annotated[bool, typer.Option("--errors", help="Only failed items")] = False,
    as_json: bool = JsonOption,
) -> None:
    """One run's per-user items: what happened to whom, and why something failed."""
    with unit_of_work() as s:
        actor = cli_actor()
        acct = get_account(s, actor, account)
        run = runs.get_run(s, actor, acct, number)
        items = runs.items(s, run, state="failed" if errors_only else None)
        rows = [
            {
                "action": i.action,
                "state": i.state,
                "username": i.username,
                "directory_id": i.directory_id,
                "fields": list(i.fields),
                "error_code": i.error_code,
                "message": i.message,
            }
            for i in items
        ]
        title = f"Run #{run.number}: {run.kind} — {run.status}"
    emit(rows, as_json, ITEM_COLUMNS, title)


@directory.command("approve")
def directory_approve(account: str, number: RunNumber, as_json: bool = JsonOption) -> None:
    """Carry out the deletions a guard held back in this run."""
    _run(account, as_json, lambda e: e.resolve_held(cli_actor(), account, number, approve=True))


@directory.command("reject")
def directory_reject(account: str, number: RunNumber, as_json: bool = JsonOption) -> None:
    """Drop the deletions a guard held back in this run; the users stay."""
    _run(account, as_json, lambda e: e.resolve_held(cli_actor(), account, number, approve=False))


@directory.command("writebacks")
def directory_writebacks(
    account: str,
    status: Annotated[str | None, typer.Option(help="pending, done or failed")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Two-way sync: queued, written and refused writes to Entra ID."""
    if status not in (None, "pending", "done", "failed"):
        raise fail("--status must be pending, done or failed", 2)
    with unit_of_work() as s:
        actor = cli_actor()
        acct = get_account(s, actor, account)
        rows = [
            {
                "id": t.id,
                "directory_id": t.directory_id,
                "status": t.status,
                "attempts": t.attempts,
                "properties": json.dumps(t.properties),
                "last_error": t.last_error,
                "next_attempt_at": t.next_attempt_at.isoformat(timespec="seconds"),
            }
            for t in writeback.list_tasks(s, actor, acct, status=status)
        ]
    emit(
        rows,
        as_json,
        ["id", "directory_id", "status", "attempts", "properties", "last_error"],
        f"Write-backs of {account}",
    )


@directory.command("writeback")
def directory_writeback(account: str, as_json: bool = JsonOption) -> None:
    """Write the due queued changes to Entra ID now."""
    with container() as c:
        try:
            report = writeback.process(c, cli_actor(), account)
        except PortalError as exc:
            raise fail(exc.message, 2 if exc.status == 422 else 1) from exc
    if as_json:
        sys.stdout.write(json.dumps(report.__dict__, indent=2) + "\n")
    else:
        console.print(
            f"written {report.written}, failed {report.failed}, retrying later {report.retrying}"
        )
        for error in report.errors:
            console.print(f"  [red]{error}[/]")
    if report.failed:
        raise typer.Exit(1)
