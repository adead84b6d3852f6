"""Parsing Graph change notifications leniently, and coalescing them into delta rounds."""

from __future__ import annotations

import threading
from collections.abc import Callable

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


class Gate:
    """A sleep that waits until the test opens it: the coalescing window made explicit."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        assert self.opened.wait(10)


def coalescer(
    run_round: Callable[[int], RoundOutcome], sleep: Callable[[float], None]
) -> tuple[NotificationCoalescer, ThreadJobRunner]:
    runner = ThreadJobRunner(workers=4)
    return NotificationCoalescer(
        runner, run_round, window=1.0, busy_retry=5.0, max_busy_retries=2, sleep=sleep
    ), runner


def test_a_burst_within_the_window_is_one_round() -> None:
    rounds: list[int] = []
    gate = Gate()

    def run_round(account_id: int) -> RoundOutcome:
        rounds.append(account_id)
        return "ran"

    c, runner = coalescer(run_round, gate)
    assert c.notify(1) is True
    assert [c.notify(1) for _ in range(5)] == [False] * 5  # duplicates join the waiting drain
    assert c.notify(2) is True  # another account has its own round
    gate.opened.set()
    assert runner.wait_idle(10)
    assert sorted(rounds) == [1, 2]
    assert c.notify(1) is True  # later hints start a new drain
    assert runner.wait_idle(10)
    assert sorted(rounds) == [1, 1, 2]
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

    c, runner = coalescer(run_round, lambda _s: None)
    c.notify(1)
    assert started.wait(10)
    for _ in range(3):
        assert c.notify(1) is False
    release.set()
    assert runner.wait_idle(10)
    assert rounds == [1, 1]
    runner.shutdown()


def test_a_round_refused_as_busy_is_tried_again_then_given_up() -> None:
    outcomes: list[RoundOutcome] = ["busy", "ran"]
    calls: list[int] = []
    waits: list[float] = []

    def run_round(account_id: int) -> RoundOutcome:
        calls.append(account_id)
        return outcomes.pop(0) if outcomes else "busy"

    c, runner = coalescer(run_round, waits.append)
    c.notify(1)
    assert runner.wait_idle(10)
    assert calls == [1, 1]
    assert waits == [1.0, 5.0, 1.0]  # window, busy retry, window (nothing new: done)
    calls.clear()
    waits.clear()
    c.notify(1)  # always busy now: 1 try and 2 retries, then it stops
    assert runner.wait_idle(10)
    assert calls == [1, 1, 1]
    runner.shutdown()


def test_a_failing_round_does_not_wedge_the_account() -> None:
    calls: list[int] = []

    def run_round(account_id: int) -> RoundOutcome:
        calls.append(account_id)
        raise RuntimeError("boom")

    c, runner = coalescer(run_round, lambda _s: None)
    c.notify(1)
    assert runner.wait_idle(10)
    assert c.notify(1) is True
    assert runner.wait_idle(10)
    assert calls == [1, 1]
    runner.shutdown()
