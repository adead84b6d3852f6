"""One row per scenario and database, the verdict against the targets, and the table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from rich.console import Console
from rich.table import Table

from resilience.checker import Convergence, Findings
from resilience.portal import Portal

# Targets of the issue: nothing lost, duplicated or wrongly deleted; no account blocked more
# than two minutes by a dead run or worker; no traceback reaching anyone.
BLOCK_LIMIT_SECONDS = 120.0


@dataclass
class Row:
    scenario: str
    database: str
    runs: int = 0
    kills: int = 0
    lost: int = 0
    duplicated: int = 0
    stale: int = 0
    wrongly_deleted: int = 0
    stuck: int = 0
    tracebacks: int = 0
    blocked_seconds: float = 0.0
    skipped: str | None = None
    # Misses no count column shows (both racers ran, a worker never came back, ...).
    misses: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, findings: Findings) -> None:
        self.lost += len(findings.lost)
        self.duplicated += len(findings.duplicated)
        self.stale += len(findings.stale)
        self.wrongly_deleted += len(findings.wrongly_deleted)
        self.stuck += len(findings.stuck)

    def take(self, portal: Portal, convergence: Convergence | None, block_limit: float) -> None:
        """Count the runs the portal started, tracebacks, and how long it stayed blocked."""
        self.runs += len(portal.sql("select id from sync_runs where dry_run = false"))
        self.tracebacks += portal.tracebacks
        seen = {last_line(o.output) for o in portal.outcomes if o.traceback}
        self.notes += [f"traceback: {line}" for line in sorted(seen)[:3]]
        if convergence is not None:
            self.blocked_seconds = max(self.blocked_seconds, convergence.blocked_seconds)
            if convergence.refused:
                self.misses.append(
                    f"the final run was still refused after {block_limit:.0f} s"
                    " (lost and stale counted without a converging run)"
                )

    def failures(self, block_limit: float) -> list[str]:
        if self.skipped:
            return []
        out = [
            f"{n} {what}"
            for n, what in (
                (self.lost, "lost"),
                (self.duplicated, "duplicated"),
                (self.wrongly_deleted, "wrongly deleted"),
                (self.stuck, "stuck runs"),
                (self.tracebacks, "tracebacks"),
            )
            if n
        ]
        if self.blocked_seconds > block_limit:
            out.append(f"blocked {self.blocked_seconds:.0f} s")
        return out + self.misses

    def verdict(self, block_limit: float) -> str:
        if self.skipped:
            return "skipped"
        missed = self.failures(block_limit)
        return "pass" if not missed else "FAIL: " + "; ".join(missed)


def last_line(output: str) -> str:
    """The exception a traceback ends with (its first 120 characters)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:120] if lines else "(no output)"


def print_table(rows: list[Row], block_limit: float, title: str) -> None:
    table = Table(title=title, show_lines=True)
    table.add_column("scenario")
    table.add_column("database")
    for name in ("runs", "kills", "lost", "dup", "stale", "wrongly del", "stuck", "tracebacks"):
        table.add_column(name, justify="right")
    table.add_column("verdict")
    table.add_column("notes")
    for r in rows:
        if r.skipped:
            table.add_row(r.scenario, r.database, *["-"] * 8, "skipped", r.skipped)
            continue
        table.add_row(
            r.scenario,
            r.database,
            str(r.runs),
            str(r.kills),
            str(r.lost),
            str(r.duplicated),
            str(r.stale),
            str(r.wrongly_deleted),
            str(r.stuck),
            str(r.tracebacks),
            r.verdict(block_limit),
            "; ".join(r.notes),
        )
    Console(width=200).print(table)


def as_json(rows: list[Row], block_limit: float) -> str:
    return json.dumps(
        [{**asdict(r), "verdict": r.verdict(block_limit)} for r in rows], indent=2, default=str
    )
