"""Parsing Graph change notifications leniently, and coalescing them into delta rounds."""

from __future__ import annotations

import threading
from collections.abc import Callable

from prometheus_client import REGISTRY

from switchboard.jobs.runner import ThreadJobRunner
from switchboard.sync.notification_intake import (
    MAX_ITEMS,
    NotificationCoalescer,
    RoundOutcome,
    parse_notifications,
)
from switchboard.sync.subscription_upkeep import digest, endpoint_urls, state_matches

SUB = "7F105C7D-2DC5-4530-97CD-4E7AE6534C07"


def test_parses_graph_items_whatever_the_casing() -> None:
    body = {
        "Value": [
            {
                "subscriptionId": SUB,
                "subscriptionExpirationDateTime": "2026-02-10T00:00:00Z",
                "changeType": "Updated",
                "clientState": "s3cret",
                "resource": "Users/abc",
                "resourceData": {"@odata.type": "#Microsoft.Graph.User", "id": "abc"},
                "tenantId": "ABC-TENANT",
            },
            {"SUBSCRIPTIONID": "other", "CLIENTSTATE": "x", "LifecycleEvent": "missed"},
        ]
    }
    first, second = parse_notifications(body)
    assert first.subscription_id == SUB.lower()
    assert first.client_state == "s3cret"
    assert first.change_type == "updated"
    assert first.resource == "Users/abc"
    assert first.tenant_id == "abc-tenant"
    assert first.lifecycle_event is None
    assert second.subscription_id == "other"
    assert second.lifecycle_event == "missed"


def test_skips_what_is_not_a_notification() -> None:
    assert parse_notifications(None) == []
    assert parse_notifications([{"subscriptionId": SUB}]) == []
    assert parse_notifications({"value": "nope"}) == []
    items = parse_notifications(
        {
            "value": [
                "text",
                {"clientState": "no id"},
                {"subscriptionId": "  "},
                {"subscriptionId": 42},
                {"subscriptionId": SUB, "clientState": 7},
            ]
        }
    )
    assert len(items) == 1
    assert items[0].client_state is None  # a non-string state never matches


def test_reads_a_bounded_number_of_items() -> None:
    body = {"value": [{"subscriptionId": SUB}] * (MAX_ITEMS + 50)}
    assert len(parse_notifications(body)) == MAX_ITEMS


def test_client_state_is_checked_against_its_digest() -> None:
    stored = digest("s3cret")
    assert stored != "s3cret" and len(stored) == 64
    assert state_matches(stored, "s3cret")
    assert not state_matches(stored, "s3cret ")
    assert not state_matches(stored, None)
    assert not state_matches(stored, stored)


def test_endpoint_urls_hang_off_the_public_url() -> None:
    assert endpoint_urls("https://portal.example.com/sb/") == (
        "https://portal.example.com/sb/webhooks/graph",
        "https://portal.example.com/sb/webhooks/graph/lifecycle",
    )


class FakeClock:
    """A monotonic clock the test moves; waits handed to ``sleep`` move it too."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(round(seconds, 6))
            self.now += seconds


def coalescer(
    run_round: Callable[[int], RoundOutcome], clock: FakeClock, *, min_gap: float = 0.0
) -> tuple[NotificationCoalescer, ThreadJobRunner]:
    runner = ThreadJobRunner(workers=4)
    return NotificationCoalescer(
        runner,
        run_round,
        min_gap=min_gap,
        busy_retry=5.0,
        max_busy_retries=2,
        sleep=clock.sleep,
        clock=clock,
    ), runner


def commits() -> tuple[float, float]:
    """How many rounds observed notification-to-commit so far, and their total seconds."""
    name = "switchboard_notification_to_commit_seconds"
    return (
        REGISTRY.get_sample_value(f"{name}_count") or 0.0,
        REGISTRY.get_sample_value(f"{name}_sum") or 0.0,
    )


def test_the_first_hint_for_an_idle_account_starts_its_round_at_once() -> None:
    clock = FakeClock()
    rounds: list[int] = []

    def run_round(account_id: int) -> RoundOutcome:
        rounds.append(account_id)
        return "ran"

    c, runner = coalescer(run_round, clock)
    assert c.notify(1) is True
    assert c.notify(2) is True  # another account has its own round
    assert runner.wait_idle(10)
    assert sorted(rounds) == [1, 2]
    assert clock.waits == []  # no gathering window before the round
    assert c.notify(1) is True  # later hints start a new drain, again without waiting
    assert runner.wait_idle(10)
    assert sorted(rounds) == [1, 1, 2]
    assert clock.waits == []
    runner.shutdown()


def test_hints_during_a_round_lead_to_exactly_one_more_round() -> None:
    started, release = threading.Event(), threading.Event()
    rounds: list[int] = []

    def run_round(account_id: int) -> RoundOutcome:
        rounds.append(account_id)
        if len(rounds) == 1:
            started.set()
            assert release.wait(10)
        return "ran"

    c, runner = coalescer(run_round, FakeClock())
    c.notify(1)
    assert started.wait(10)
    for _ in range(100):  # a burst while the first round runs
        assert c.notify(1) is False
    release.set()
    assert runner.wait_idle(10)
    assert rounds == [1, 1]
    runner.shutdown()


def test_a_round_observes_the_time_from_its_earliest_hint_to_its_commit() -> None:
    clock = FakeClock(start=50.0)
    started, release = threading.Event(), threading.Event()
    rounds: list[float] = []

    def run_round(_account_id: int) -> RoundOutcome:
        rounds.append(clock())
        if len(rounds) == 1:
            started.set()
            assert release.wait(10)
        clock.now += 0.25  # the round takes a quarter of a second
        return "ran"

    c, runner = coalescer(run_round, clock)
    count, total = commits()
    c.notify(1, arrived=49.9)  # reached the process 0.1 s before the drain took it
    assert started.wait(10)
    c.notify(1, arrived=50.1)
    c.notify(1, arrived=50.0)  # out of order: the earliest counts
    release.set()
    assert runner.wait_idle(10)
    after_count, after_total = commits()
    assert after_count - count == 2
    # Round 1: 49.9 -> 50.25 (0.35 s); round 2: 50.0 -> 50.5 (0.5 s).
    assert abs((after_total - total) - 0.85) < 1e-6
    runner.shutdown()


def test_back_to_back_rounds_start_a_minimum_gap_apart_and_an_idle_account_at_once() -> None:
    clock = FakeClock()
    started, release = threading.Event(), threading.Event()
    rounds: list[float] = []

    def run_round(_account_id: int) -> RoundOutcome:
        rounds.append(clock())
        if len(rounds) == 1:
            started.set()
            assert release.wait(10)
        clock.now += 0.25  # a round takes a quarter of a second
        return "ran"

    c, runner = coalescer(run_round, clock, min_gap=1.5)
    c.notify(1)
    assert started.wait(10)
    c.notify(1)  # during the round: one more round, 1.5 s after the first started
    release.set()
    assert runner.wait_idle(10)
    assert rounds == [100.0, 101.5]
    assert clock.waits == [1.25]
    clock.now += 0.1
    c.notify(1)  # idle again: at once, however recent the last round
    assert runner.wait_idle(10)
    assert rounds == [100.0, 101.5, 101.85]
    assert clock.waits == [1.25]
    runner.shutdown()


def test_a_round_longer_than_the_gap_is_followed_at_once() -> None:
    clock = FakeClock()
    started, release = threading.Event(), threading.Event()
    rounds: list[float] = []

    def run_round(_account_id: int) -> RoundOutcome:
        rounds.append(clock())
        if len(rounds) == 1:
            started.set()
            assert release.wait(10)
            clock.now += 3.0  # a long round
        return "ran"

    c, runner = coalescer(run_round, clock, min_gap=1.5)
    c.notify(1)
    assert started.wait(10)
    c.notify(1)
    release.set()
    assert runner.wait_idle(10)
    assert rounds == [100.0, 103.0]
    assert clock.waits == []
    runner.shutdown()


def test_a_round_refused_as_busy_is_tried_again_then_given_up() -> None:
    clock = FakeClock()
    outcomes: list[RoundOutcome] = ["busy", "ran"]
    calls: list[int] = []

    def run_round(account_id: int) -> RoundOutcome:
        calls.append(account_id)
        return outcomes.pop(0) if outcomes else "busy"

    c, runner = coalescer(run_round, clock)
    count, _total = commits()
    c.notify(1)
    assert runner.wait_idle(10)
    assert calls == [1, 1]
    assert clock.waits == [5.0]  # at once, then the busy retry's wait
    assert commits()[0] - count == 1  # a refused round commits nothing
    calls.clear()
    clock.waits.clear()
    c.notify(1)  # always busy now: 1 try and 2 retries, then it stops
    assert runner.wait_idle(10)
    assert calls == [1, 1, 1]
    assert clock.waits == [5.0, 5.0]
    runner.shutdown()


def test_a_failing_round_does_not_wedge_the_account() -> None:
    calls: list[int] = []

    def run_round(account_id: int) -> RoundOutcome:
        calls.append(account_id)
        raise RuntimeError("boom")

    c, runner = coalescer(run_round, FakeClock())
    c.notify(1)
    assert runner.wait_idle(10)
    assert c.notify(1) is True
    assert runner.wait_idle(10)
    assert calls == [1, 1]
    runner.shutdown()
