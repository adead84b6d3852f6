"""The benchmark reads back every object it seeded and every change it made (its timings are for
people, not tests), and reports the emulator's own peak RSS."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from switchboard.cli.main import app


def test_bench_reads_back_every_user_and_the_churn() -> None:
    result = CliRunner().invoke(
        app,
        ["emulator", "bench", "--users", "450", "--groups", "4", "--churn", "60", "--json"],
    )
    assert result.exit_code == 0, result.output
    rows = {r["step"]: r for r in json.loads(result.output)}
    assert rows["start: seed + save"]["objects"] == 450
    assert rows["/users $top=999 $select"]["objects"] == 450
    assert rows["/users $top=999 $select"]["requests"] == 1
    assert rows["/users/delta $select, first round"]["objects"] == 450
    assert rows["/users/delta $select, first round"]["requests"] == 3  # 200 a page
    assert rows["/groups/delta members (refs)"]["objects"] >= 450
    assert rows["churn (POST /_emulator/churn)"]["objects"] == 60
    # Every change touches one user at most; creates, edits and deletions all show up.
    assert 0 < rows["/users/delta, round after churn"]["objects"] <= 60
    # An emulator process holding a 450-user tenant: tens of MB, not nothing, not gigabytes.
    assert 20 < max(r["peak_rss_mb"] for r in rows.values()) < 1000
