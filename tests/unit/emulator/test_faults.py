"""Fault settings of the emulator: where errors go and how many."""

from __future__ import annotations

import pytest

from switchboard.emulator.faults import Faults


def test_errors_go_only_to_the_targets_chosen() -> None:
    faults = Faults()
    faults.update({"error_rate": 1.0, "error_targets": ["token"]})
    assert faults.pick_error("graph") is None
    assert faults.pick_error("token") in ("429", "503")


def test_a_budget_stops_errors_after_that_many() -> None:
    faults = Faults()
    faults.update({"error_rate": 1.0, "error_budget": 2, "error_kinds": ["503"]})
    picked = [faults.pick_error("token") for _ in range(4)]
    assert picked == ["503", "503", None, None]
    assert faults.public()["error_budget"] == 0
    faults.update({"error_budget": None})
    assert faults.pick_error("graph") == "503"


@pytest.mark.parametrize(
    "change",
    [
        {"error_targets": ["login"]},
        {"error_targets": []},
        {"error_budget": -1},
        {"error_budget": True},
    ],
)
def test_bad_settings_are_refused_naming_the_field(change: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(change))):
        Faults().update(change)
