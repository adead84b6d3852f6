"""The resilience suite, bounded for every change: a few SIGKILLs, two racing starts and the
deletion guard's leave-return-approve scenario, on SQLite and PostgreSQL, against the emulator
in its own process. Fails when the checker reports a missed target (`make resilience` runs the
full suite).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from resilience.portal import postgres_unreachable
from resilience.report import Row
from resilience.suite import Sizes, run_suite

# A killed run's lease is 3 s here: an account still blocked after 30 s is stuck.
BOUNDED = Sizes(
    users=300, groups=8, kills=3, churn=10, rounds=2, races=2, leavers=25, block_limit=30
)
SCENARIOS = ["kills", "race", "guard-approve"]


def describe(rows: list[Row]) -> str:
    return "\n".join(
        f"{r.scenario} on {r.database}: {r.verdict(BOUNDED.block_limit)}"
        f" (lost {r.lost}, duplicated {r.duplicated}, stale {r.stale},"
        f" wrongly deleted {r.wrongly_deleted}, stuck {r.stuck}, tracebacks {r.tracebacks};"
        f" {'; '.join(r.notes)})"
        for r in rows
    )


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_bounded_resilience_meets_every_target(database: str, tmp_path: Path) -> None:
    if database == "postgresql":
        why = postgres_unreachable()
        if why:
            pytest.skip(why)
    rows = run_suite(
        BOUNDED,
        scenario_names=SCENARIOS,
        databases=[database],
        workdir=tmp_path,
        progress=lambda _line: None,
    )
    assert [r.scenario.split(":")[0] for r in rows][:2] == ["kills", "racing starts"]
    missed = [r for r in rows if r.failures(BOUNDED.block_limit)]
    assert not missed, describe(rows)
    # The scenarios did what they claim: kills landed and runs happened.
    assert rows[0].kills == BOUNDED.kills, describe(rows)
