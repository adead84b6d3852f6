"""How a sync run looks on the terminal: the progress bar while it runs, the outcome table after.

Shared by `switchboard directory reconcile|delta|...` and `switchboard demo`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from switchboard.cli.common import console, emit
from switchboard.sync.engine import Progress as ProgressCallback
from switchboard.sync.engine import RunSummary

ITEM_COLUMNS = ["action", "state", "username", "fields", "error_code", "message"]


def summary_dict(s: RunSummary) -> dict[str, Any]:
    return {
        "number": s.number,
        "kind": s.kind,
        "trigger": s.trigger,
        "status": s.status,
        "dry_run": s.dry_run,
        "counts": s.counts,
        "message": s.message,
    }


@contextmanager
def progress_bar() -> Iterator[ProgressCallback]:
    """A Rich progress bar fed by the engine's ``progress(phase, done, total)`` callback."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        reading = bar.add_task("reading Entra ID", total=None)
        applying = bar.add_task("applying", total=None, visible=False)

        def progress(phase: str, done: int, total: int | None) -> None:
            task = reading if phase == "read" else applying
            bar.update(task, completed=done, total=total, visible=True)

        yield progress


def print_summary(s: RunSummary, as_json: bool, account: str = "ACCOUNT") -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary_dict(s), indent=2) + "\n")
        return
    title = f"Run #{s.number}: {s.kind} ({s.trigger}) — {s.status}" + (
        " — dry run" if s.dry_run else ""
    )
    # As wide as its title: two narrow columns would otherwise wrap it over several lines.
    table = Table(title=title, min_width=len(title))
    table.add_column("outcome")
    table.add_column("users", justify="right")
    for outcome, count in sorted(s.counts.items()):
        table.add_row(outcome, str(count))
    console.print(table)
    if s.message:
        console.print(s.message)
    if s.dry_run and s.planned:
        emit(
            [
                {
                    "action": i.action.value,
                    "state": "planned",
                    "username": i.username,
                    "fields": list(i.fields),
                    "error_code": i.code,
                    "message": i.message,
                }
                for i in s.planned
                if i.code != "unchanged"
            ],
            False,
            ITEM_COLUMNS,
            "Plan",
        )
    if s.status != "failed":
        console.print(f"details: switchboard directory run {account} {s.number}")
