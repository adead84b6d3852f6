"""The control surface beyond faults: background churn, reset, and subscriptions kept on disk."""

from __future__ import annotations

import time

from switchboard.emulator.server import RunningEmulator

from .conftest import control


def test_background_churn_runs_at_a_rate_and_stops(emu: RunningEmulator) -> None:
    with control(emu) as ctl:
        before = ctl.get("/status").json()["version"]
        started = ctl.post("/churn", json={"rate": 200, "duration": 0.5, "seed": 4})
        assert started.status_code == 202
        deadline = time.monotonic() + 10
        while ctl.get("/status").json()["churning"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        after = ctl.get("/status").json()["version"]
        assert after - before >= 50
        ctl.post("/churn", json={"rate": 50})
        assert ctl.get("/status").json()["churning"] is True
        assert ctl.delete("/churn").json() == {"churning": False}
        assert ctl.get("/status").json()["churning"] is False
        bad = ctl.post("/churn", json={"rate": 0})
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "rate"


def test_reset_reseeds_and_keeps_versions_moving_forward(emu: RunningEmulator) -> None:
    with control(emu) as ctl:
        before = ctl.get("/status").json()["version"]
        resp = ctl.post("/reset", json={"users": 12, "groups": 2, "seed": 99})
        assert resp.status_code == 200
        body = resp.json()
        assert body["users"] == 12 and body["groups"] == 2
        assert body["version"] > before
        assert ctl.post("/reset", json={"users": -1}).json()["error"]["field"] == "users"
