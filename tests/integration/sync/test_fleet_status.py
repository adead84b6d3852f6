"""The fleet view's rows: each account's sync health, why it needs attention, and the cost of
reading a thousand accounts (statements, not seconds), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.models import DirectorySubscription
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Role
from switchboard.sync import fleet_health, fleet_status
from tests import factories
from tests.integration import fleet_seed

OP = factories.OPERATOR


def rows(
    container: Container, role: Role = Role.PROVIDER_ADMIN, slug: str | None = None
) -> tuple[dict[str, fleet_health.AccountHealth], list[str]]:
    """The fleet as ``role`` (of account ``slug``) sees it: rows by slug, and their order."""
    with container.unit_of_work() as s:
        account = get_account(s, OP, slug) if slug else None
        found = fleet_status.fleet(s, factories.actor_of(role, account))
    return {r.slug: r for r in found}, [r.slug for r in found]


def test_each_state_is_told_apart_and_those_needing_attention_come_first(
    container: Container,
) -> None:
    fleet = fleet_seed.seed(container)
    found, order = rows(container)
    assert set(order) == set(fleet_seed.SLUGS)
    attention = [slug for slug in order if found[slug].needs_attention]
    assert sorted(attention) == sorted(fleet_seed.ATTENTION)
    assert order[: len(attention)] == attention  # needing attention first
    # The failing account has two reasons and leads.
    assert order[0] == "failing"

    healthy = found["healthy"]
    assert (healthy.connected, healthy.mode, healthy.test_ok, healthy.reasons) == (
        True,
        "on_demand",
        True,
        [],
    )
    assert healthy.last_run is not None and healthy.last_run.number == 1
    assert healthy.last_run.age_seconds == 3600 - 60  # finished a minute after it started
    assert healthy.last_success == healthy.last_run
    # The daily safety net: a delta round a day after the last one.
    assert healthy.next_run is not None and not healthy.next_run.due_now
    assert healthy.next_run.at == fleet.at - timedelta(hours=1) + timedelta(hours=24)

    held = found["held"]
    assert (held.held_runs, held.oldest_held_number) == (1, 2)
    assert held.oldest_held_age_seconds == 2 * 3600
    assert held.reasons == ["run #2 waits for approval (for 2 h)"]
    assert held.last_success is not None and held.last_success.number == 1

    failing = found["failing"]
    assert failing.test_ok is False
    assert failing.last_run is not None and failing.last_run.status == "failed"
    assert failing.last_success is not None and failing.last_success.number == 1
    assert failing.errors == 2
    assert failing.first_errors == [
        "ada@contoso.example: the email of ada is taken",
        "bob@contoso.example: the email of bob is taken",
    ]
    assert failing.reasons == [
        "the last connection test failed: no token: the certificate is not uploaded",
        "the last run (#2) failed",
    ]

    stale = found["stale"]
    assert stale.mode == "batched"
    assert stale.reasons == [
        "stale: no completed run for 47 h (its mode expects one within 90 min)"
    ]
    # Every 15 minutes, and the last run was long ago: due now.
    assert stale.next_run is not None and stale.next_run.due_now

    nosubs = found["nosubs"]
    assert (nosubs.subscriptions, nosubs.subscriptions_missing) == ("missing", ["groups", "users"])
    assert "just-in-time subscriptions missing (groups, users)" in nosubs.reasons[0]
    assert found["twoway"].writebacks_failing == 2
    assert found["twoway"].reasons == ["2 write-back(s) to Entra ID failed"]

    plain = found["plain"]
    assert (plain.connected, plain.mode, plain.next_run, plain.reasons) == (False, None, None, [])
    assert plain.subscriptions is None


def test_subscriptions_expiring_within_a_day_need_attention(container: Container) -> None:
    fleet = fleet_seed.seed(container)
    with container.unit_of_work() as s:
        for resource, hours in (("users", 30), ("groups", 20)):
            s.add(
                DirectorySubscription(
                    account_id=fleet.ids["nosubs"],
                    subscription_id=f"sub-{resource}",
                    resource=resource,
                    expires_at=fleet.at + timedelta(hours=hours),
                    client_state_sha256="0" * 64,
                    created_at=fleet.at,
                )
            )
    found, _ = rows(container)
    nosubs = found["nosubs"]
    assert (nosubs.subscriptions, nosubs.subscriptions_missing) == ("expiring", [])
    assert nosubs.subscriptions_expire_at == fleet.at + timedelta(hours=20)
    assert nosubs.reasons == [
        "just-in-time subscriptions expire within 24 hours and were not renewed"
    ]


def test_an_account_role_sees_its_own_account_only(container: Container) -> None:
    fleet_seed.seed(container)
    for role in (Role.ACCOUNT_ADMIN, Role.ACCOUNT_VIEWER):
        found, order = rows(container, role, "held")
        assert order == ["held"]
        assert found["held"].held_runs == 1


def test_a_connected_account_never_synced_becomes_stale_after_its_interval(
    container: Container, clock: FixedClock
) -> None:
    with container.unit_of_work() as s:
        account = factories.account(s, "fresh")
        fleet_seed.connect(s, account.id, clock.now())
    found, _ = rows(container)
    assert found["fresh"].reasons == []
    assert found["fresh"].next_run is not None and found["fresh"].next_run.due_now
    clock.advance(timedelta(hours=50))
    found, _ = rows(container)
    assert found["fresh"].reasons == ["stale: no completed run since it was connected 2 days ago"]


@contextmanager
def statements(container: Container) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    engine = container.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_statements_do_not_grow_with_the_number_of_accounts(container: Container) -> None:
    fleet = fleet_seed.seed(container)
    with statements(container) as few:
        rows(container)
    with container.unit_of_work() as s:
        for n in range(40):
            account = factories.account(s, f"more{n:02d}")
            fleet_seed.connect(s, account.id, fleet.at, mode="jit")
            for number in range(1, 4):
                status = "held" if number == 3 and n % 2 else "succeeded"
                fleet_seed.run(s, account.id, number, status, fleet.at - timedelta(hours=number))
    with statements(container) as many:
        found, _ = rows(container)
    assert len(found) == len(fleet_seed.SLUGS) + 40
    assert sum(1 for r in found.values() if r.held_runs) == 1 + 20
    assert len(many) == len(few)
