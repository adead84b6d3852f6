"""The sync benchmark's targets and its tables.

Time targets are stated for a size (``Targets.users``; delta-10k for 10,000 changes) and scale
linearly when the benchmark runs at another size (--users, --big-changes, --quick), so a
smaller run checks the same rate; memory and ratio targets do not scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from sync_probe import P99_TARGET_MS

BIG_CHANGES = 10_000
# Kept from the first targets: 250 ms rows, delta and single.
LATENCY_INITIAL_S = 60.0
DELTA_S = 3.0
SINGLE_S = 1.0
RSS_MB = 400.0
RATIO = 1.5  # a run against the read-only floor


@dataclass(frozen=True)
class Targets:
    users: int  # the tenant size the time targets are for
    initial_s: dict[str, float]  # 0 ms, by database
    initial_work_ratio: float | None  # 0 ms, against the work floor
    steady_s: float | None
    steady_ratio: float | None  # against the read-only floor
    delta_big_s: float | None  # 0 ms, BIG_CHANGES changes
    rss_mb: float  # 0 ms rows of initial, steady and delta-10k
    probe_p99_ms: float = P99_TARGET_MS


HUNDRED_K = Targets(
    users=100_000,
    initial_s={"sqlite": 6.0, "postgresql": 8.0},
    initial_work_ratio=2.0,
    steady_s=None,
    steady_ratio=1.5,
    delta_big_s=3.0,
    rss_mb=200.0,
)
MILLION = Targets(
    users=1_000_000,
    initial_s={"sqlite": 120.0, "postgresql": 150.0},
    initial_work_ratio=None,
    steady_s=40.0,
    steady_ratio=None,
    delta_big_s=None,
    rss_mb=400.0,
)
NEW_SCENARIOS = ("initial", "steady", "delta-10k")


class Verdict:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.missed: list[str] = []

    def check(self, label: str, ok: bool, miss: str) -> None:
        self.parts.append(label)
        if not ok:
            self.missed.append(miss)


def verdict(row: dict[str, Any], t: Targets, users: int, big_changes: int) -> tuple[str, str]:
    v = Verdict()
    scenario, zero, secs = row["scenario"], row["latency"] == 0, row["seconds"]
    ratio, work_ratio = row["ratio"], row.get("work_ratio")

    def seconds(limit: float) -> None:
        v.check(f"≤{limit:.3g} s", secs <= limit, "time")

    def against_floor(limit: float) -> None:
        v.check(f"ratio ≤{limit:g}", ratio is None or ratio <= limit, "ratio")

    if scenario == "initial" and zero:
        seconds(t.initial_s[row["database"]] * users / t.users)
        if t.initial_work_ratio is not None:
            limit = t.initial_work_ratio
            ok = work_ratio is None or work_ratio <= limit
            v.check(f"work ratio ≤{limit:g}", ok, "work ratio")
    elif scenario == "initial":
        seconds(LATENCY_INITIAL_S)
        against_floor(RATIO)
    elif scenario == "steady":
        if t.steady_s is not None and zero:
            seconds(t.steady_s * users / t.users)
        if t.steady_ratio is not None or not zero:
            against_floor(t.steady_ratio or RATIO)
    elif scenario == "delta-10k":
        v.check("a delta round", row.get("kind") == "delta", "became full")
        if zero and t.delta_big_s is not None:
            seconds(t.delta_big_s * big_changes / BIG_CHANGES)
        elif not zero:
            against_floor(RATIO)
    elif scenario == "delta":
        seconds(DELTA_S)
        against_floor(RATIO)
    else:
        seconds(SINGLE_S)
    rss = t.rss_mb if zero and scenario in NEW_SCENARIOS else RSS_MB
    v.check(f"≤{rss:g} MB", row["rss_mb"] <= rss, "RSS")
    probe = row.get("probe")
    if probe is not None:
        p99 = probe["p99"]
        ok = p99 is not None and p99 < t.probe_p99_ms and not probe["errors"]
        v.check(f"portal p99 <{t.probe_p99_ms:g} ms", ok, "portal")
    return ", ".join(v.parts), "yes" if not v.missed else "no: " + ", ".join(v.missed)


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def label(row: dict[str, Any]) -> str:
    """The scenario, and whether a delta round had to become a full reconcile."""
    scenario = str(row["scenario"])
    if scenario.startswith("delta") and row.get("kind") not in (None, "delta"):
        return f"{scenario} (became full)"
    return scenario


def print_table(
    rows: list[dict[str, Any]], title: str, t: Targets, users: int, big_changes: int
) -> None:
    table = Table(title=title)
    for name in ("scenario", "database", "latency", "users"):
        table.add_column(name, justify="right" if name == "users" else "left")
    for name in ("wall s", "CPU s/1k users", "users/s", "peak RSS MB", "floor s", "ratio"):
        table.add_column(name, justify="right")
    for name in ("work floor s", "work ratio"):
        table.add_column(name, justify="right")
    table.add_column("target")
    table.add_column("met?")
    for r in rows:
        target, met = verdict(r, t, users, big_changes)
        rate = r["users"] / r["seconds"] if r["seconds"] else 0.0
        per_1k = r["cpu_seconds"] / (r["users"] / 1000) if r["users"] else None
        table.add_row(
            label(r),
            r["database"],
            f"{r['latency']} ms",
            f"{r['users']:,}",
            f"{r['seconds']:.2f}",
            _num(per_1k, 3),
            f"{rate:,.0f}",
            f"{r['rss_mb']:.0f}",
            _num(r["floor"]),
            _num(r["ratio"]),
            _num(r.get("work_floor")),
            _num(r.get("work_ratio")),
            target,
            met,
        )
    Console(width=220).print(table)
    probed = [r for r in rows if r.get("probe") is not None]
    if probed:
        print_probe_table(probed, t)


def print_probe_table(rows: list[dict[str, Any]], t: Targets) -> None:
    table = Table(title="Portal user list (JSON API, first page) while the run works")
    for name in ("scenario", "database"):
        table.add_column(name)
    for name in ("requests", "errors", "p50 ms", "p99 ms", "max ms"):
        table.add_column(name, justify="right")
    table.add_column("target")
    table.add_column("met?")
    for r in rows:
        p = r["probe"]
        ok = p["p99"] is not None and p["p99"] < t.probe_p99_ms and not p["errors"]
        table.add_row(
            label(r),
            r["database"],
            f"{p['requests']:,}",
            f"{p['errors']:,}",
            _num(p["p50"], 0),
            _num(p["p99"], 0),
            _num(p["max"], 0),
            f"p99 <{t.probe_p99_ms:g} ms, no errors",
            "yes" if ok else "no",
        )
    Console(width=220).print(table)
