"""A full reconcile against the Entra ID emulator shows in /metrics: the Graph and token
requests it sent, the 429s it met and the waits it honoured, and the run itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.emulator.server import RunningEmulator, running
from switchboard.emulator.state import SeedOptions
from switchboard.sync.engine import SyncEngine
from switchboard.sync.policy import SyncPolicy
from switchboard.web.app import create_app
from tests import factories
from tests.integration.sync.emulator_account import connect_account
from tests.integration.web.test_metrics import moved, scrape
from tests.wiring import Adapters

SEED = SeedOptions(users=30, groups=4, seed=7)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    state: Path = tmp_path_factory.mktemp("metrics-emulator")
    with running(state, seed=SEED) as server:
        yield server


@pytest.fixture
def adapters() -> Adapters:
    """The production adapters: Microsoft Graph is the emulator here."""
    return {}


def throttle_the_first_requests(emulator: RunningEmulator) -> None:
    """The first three Graph requests answered 429 with a short Retry-After; the token
    endpoint left alone."""
    emu = emulator.emulator

    def faults() -> None:
        emu.reset(SEED)
        emu.faults.update(
            {
                "latency_ms": 0,
                "error_rate": 1.0,
                "error_kinds": ["429"],
                "error_targets": ["graph"],
                "error_budget": 3,
                "seed": 1,
                "retry_after_seconds": 0.05,
            }
        )

    emulator.call(faults)


def test_a_run_against_graph_moves_the_graph_counters(
    container: Container, emulator: RunningEmulator
) -> None:
    throttle_the_first_requests(emulator)
    groups = sorted(emulator.emulator.directory.groups)[:2]
    connect_account(container, emulator, SyncPolicy(groups=groups))
    with TestClient(create_app(container)) as client:
        before = scrape(client)
        summary = SyncEngine(container, container.directory_factory()).reconcile(
            factories.OPERATOR, "acme"
        )
        assert summary.status in ("succeeded", "partial"), summary.message
        after = scrape(client)
    graph = "switchboard_graph_requests_total"
    assert moved(before, after, graph, status="200") >= 2  # a token and at least one page
    assert moved(before, after, graph, status="429") == 3  # the emulator's budget of faults
    assert moved(before, after, "switchboard_graph_throttled_total") == 3
    assert moved(before, after, "switchboard_graph_retries_total") == 3
    waited = moved(before, after, "switchboard_graph_retry_after_wait_seconds_total")
    assert waited == pytest.approx(3 * 0.05)
    runs = "switchboard_sync_runs_total"
    outcome = summary.status
    assert moved(before, after, runs, kind="full", trigger="manual", outcome=outcome) == 1
    created = sum(
        moved(before, after, "switchboard_sync_plan_items_total", action=action)
        for action in ("create", "error")
    )
    assert created == sum(summary.counts.get(a, 0) for a in ("create", "error")) > 0
