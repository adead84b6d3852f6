"""The benchmark reads back every object it seeded (its timings are for people, not tests)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from switchboard.cli.main import app


def test_bench_reads_back_every_user() -> None:
    result = CliRunner().invoke(
        app, ["emulator", "bench", "--users", "450", "--groups", "4", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = {r["step"]: r for r in json.loads(result.output)}
    assert rows["seed + save"]["objects"] == 450
    assert rows["/users $top=999 $select"]["objects"] == 450
    assert rows["/users $top=999 $select"]["requests"] == 1
    assert rows["/users/delta $select, first round"]["objects"] == 450
    assert rows["/users/delta $select, first round"]["requests"] == 3  # 200 a page
    assert rows["/groups/delta members (refs)"]["objects"] >= 450
