"""The control surface beyond faults: background churn, reset, and subscriptions kept on disk."""

from __future__ import annotations

import time

from switchboard.emulator.server import RunningEmulator
from tests.emulator_control import DEFAULT_DELTA_PAGE_SIZE, control, set_delta_page_size


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


def test_delta_page_size_is_a_setting_with_its_bounds(emu: RunningEmulator) -> None:
    with control(emu) as ctl:
        assert ctl.get("/status").json()["delta_page_size"] == DEFAULT_DELTA_PAGE_SIZE
        for wrong in (0, 5001, "7", None, True):
            refused = ctl.patch("/settings", json={"delta_page_size": wrong})
            assert refused.status_code == 422
            assert refused.json()["error"] == {
                "code": "invalid",
                "field": "delta_page_size",
                "message": "delta_page_size: give a whole number from 1 to 5000",
            }
        assert ctl.get("/status").json()["delta_page_size"] == DEFAULT_DELTA_PAGE_SIZE
    set_delta_page_size(emu, 7)
    with control(emu) as ctl:
        assert ctl.get("/status").json()["delta_page_size"] == 7
