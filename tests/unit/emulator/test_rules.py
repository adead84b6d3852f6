"""Emulator rules that need no server: $filter parsing, throttling windows, slow endpoints,
fault settings, delta projections."""

from __future__ import annotations

import time

import pytest

from switchboard.emulator.change_notifications import EndpointStats, Notifier
from switchboard.emulator.clock import EmulatorClock
from switchboard.emulator.directory import Directory
from switchboard.emulator.directory_objects import Change, DirectoryError
from switchboard.emulator.faults import Faults
from switchboard.emulator.odata import parse_filter, parse_search
from switchboard.emulator.subscription_resources import Subscription
from switchboard.emulator.throttle import Throttle, read_limit, request_cost

USER = {
    "userPrincipalName": "Zoë.O'Brien@Fabrikam.example",
    "displayName": "Zoë O'Brien",
    "officeLocation": "HQ",
    "accountEnabled": True,
    "mail": None,
    "id": "abc",
}


@pytest.mark.parametrize(
    ("expr", "expected", "advanced"),
    [
        ("userPrincipalName eq 'zoë.o''brien@fabrikam.example'", True, False),
        ("startswith(displayName,'zo')", True, False),
        ("officeLocation eq 'HQ' and accountEnabled eq true", True, False),
        (
            "officeLocation eq 'Branch' or (accountEnabled eq true and startswith(mail,'x'))",
            False,
            False,
        ),
        ("officeLocation in ('Branch', 'HQ')", True, False),
        ("mail eq null", True, True),
        ("not(officeLocation eq 'HQ')", False, True),
        ("endswith(userPrincipalName,'.example')", True, True),
        ("officeLocation ne 'HQ'", False, True),
    ],
)
def test_filter_subset(expr: str, expected: bool, advanced: bool) -> None:
    spec = parse_filter(expr, "users")
    assert spec.predicate(USER) is expected
    assert spec.advanced is advanced


@pytest.mark.parametrize(
    "expr",
    [
        "shoeSize eq 1",
        "startswith(accountEnabled,'t')",
        "displayName eq",
        "displayName gt 'a'",
        "displayName eq 'a' extra",
        "(displayName eq 'a'",
    ],
)
def test_filter_refusals(expr: str) -> None:
    with pytest.raises(DirectoryError) as err:
        parse_filter(expr, "users")
    assert err.value.status == 400


def test_id_lists_are_recognised_for_delta() -> None:
    spec = parse_filter("id eq 'a' or id eq 'b'", "users")
    assert spec.ids == ["a", "b"]
    assert parse_filter("id eq 'a' and displayName eq 'x'", "users").ids is None


def test_search_matches_word_prefixes() -> None:
    assert parse_search('"displayName:brien"')(USER)
    assert parse_search('"displayName:zz" OR "userPrincipalName:zoë"')(USER)
    assert not parse_search('"displayName:zoë" AND "officeLocation:branch"')(USER)
    with pytest.raises(DirectoryError):
        parse_search("displayName:zoë")


def test_throttle_costs_and_limits() -> None:
    assert request_cost("GET", "users", {}) == 2
    assert request_cost("GET", "users", {"$select": "id"}) == 1
    assert request_cost("GET", "users/x", {"$select": "id"}) == 1
    assert request_cost("GET", "users/x", {"$expand": "manager"}) == 2
    assert (read_limit(10), read_limit(200), read_limit(501)) == (3500, 5000, 8000)
    t = Throttle()
    t.write_limit_override = 2
    verdicts = [t.charge("app", "PATCH", "users/x", {}, 10) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert 0 < verdicts[2].retry_after <= 150
    assert t.charge("other-app", "PATCH", "users/x", {}, 10).allowed  # per app


def test_fault_settings_are_validated() -> None:
    f = Faults()
    f.update({"error_rate": 0.5, "error_kinds": ["reset", "timeout"]})
    assert f.error_rate == 0.5
    for bad in (
        {"error_rate": 1.5},
        {"error_kinds": ["418"]},
        {"latency_ms": True},
        {"delta_expired_status": 404},
        {"nope": 1},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            f.update(bad)


def test_slow_endpoints_get_delayed_then_dropped() -> None:
    stats = EndpointStats()
    stats.answers.extend([0.1] * 88 + [3.0] * 12)
    assert 0.10 < stats.slow_share() <= 0.15
    n = Notifier("t", EmulatorClock(), Faults())
    n.subscriptions["s"] = Subscription(
        id="s",
        app_id="a",
        resource="users",
        change_types=["updated"],
        notification_url="https://hook.example/n",
        lifecycle_url=None,
        expiration=n.clock.timestamp() + 3600 * 24,
        client_state=None,
        created=0.0,
    )
    n.stats["https://hook.example/n"] = stats
    n.on_change(Change("users", "u1", "updated", "users"))
    assert n.pending() == 1
    assert n._queue[0].due > time.time() + 5  # delayed delivery
    stats.answers.extend([3.0] * 10)
    n.on_change(Change("users", "u2", "updated", "users"))
    assert n.pending() == 1 and stats.dropped == 1


def test_deleted_change_types_filter_subscriptions() -> None:
    sub = Subscription(
        id="s",
        app_id="a",
        resource="users",
        change_types=["deleted"],
        notification_url="x",
        lifecycle_url=None,
        expiration=0.0,
        client_state=None,
        created=0.0,
    )
    assert not sub.matches(Change("users", "u", "updated", "users"))
    assert sub.matches(Change("users", "u", "deleted", "users"))
    one = Subscription(
        id="s",
        app_id="a",
        resource="users/u",
        change_types=["updated"],
        notification_url="x",
        lifecycle_url=None,
        expiration=0.0,
        client_state=None,
        created=0.0,
    )
    assert one.matches(Change("users", "U", "updated", "users"))
    assert not one.matches(Change("users", "v", "updated", "users"))


def test_soft_delete_and_restore_keep_group_membership() -> None:
    d = Directory("11111111-2222-4333-8444-555555555555", "fabrikam.example", EmulatorClock())
    g = d.create_group(
        {"displayName": "G", "mailEnabled": False, "mailNickname": "g", "securityEnabled": True}
    )
    u = d.create_user(
        {"displayName": "A", "userPrincipalName": "a@fabrikam.example", "accountEnabled": True}
    )
    d.add_member(g.id, u.id)
    d.delete_user(u.id)
    assert u.id not in g.members
    d.restore_user(u.id)
    assert u.id in g.members
    with pytest.raises(DirectoryError):
        d.create_user(
            {"displayName": "B", "userPrincipalName": "A@FABRIKAM.example", "accountEnabled": True}
        )
