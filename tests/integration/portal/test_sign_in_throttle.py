"""Sign-in throttling per email and per client address, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.models import SignInAttempt
from switchboard.portal import sign_in_throttle
from switchboard.portal.actors import Role
from tests import factories
from tests.ui_support import make_admin, sign_in

ADMIN = "admin@acme.example"
LOCKED = "Too many failed sign-ins; try again in"


def _setup(container: Container) -> None:
    with container.unit_of_work() as session:
        factories.tenant(session)
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")


def _page(html: str, email: str) -> str:
    """The page with the typed email and the one-time login form token blanked out."""
    return re.sub(r'name="login_token" value="[^"]*"', "", html).replace(email, "EMAIL")


def _fail(client: TestClient, email: str, times: int) -> None:
    for _ in range(times):
        response = sign_in(client, email, password="wrong password!!")
        assert response.status_code == 401
        assert "Email or password is incorrect." in response.text


def test_five_failures_lock_the_email_even_for_the_right_password(
    app_client: TestClient, container: Container, clock: FixedClock
) -> None:
    _setup(container)
    _fail(app_client, ADMIN.upper(), 5)  # the email is matched ignoring case
    locked = sign_in(app_client, ADMIN)
    assert locked.status_code == 429
    assert f"{LOCKED} 15 minutes." in locked.text
    assert locked.headers["retry-after"] == "900"
    assert "sb_session" not in locked.headers.get("set-cookie", "")
    assert f'value="{ADMIN}"' in locked.text
    # Refused attempts are not counted, so knocking on the door does not extend the lockout.
    clock.advance(timedelta(minutes=14, seconds=1))
    still = sign_in(app_client, ADMIN)
    assert still.status_code == 429 and f"{LOCKED} 1 minute." in still.text
    clock.advance(timedelta(seconds=59))
    assert sign_in(app_client, ADMIN).status_code == 303


def test_failures_spread_over_more_than_the_window_do_not_lock(
    app_client: TestClient, container: Container, clock: FixedClock
) -> None:
    _setup(container)
    _fail(app_client, ADMIN, 4)
    clock.advance(timedelta(minutes=15))
    _fail(app_client, ADMIN, 4)  # 8 failures, never 5 within 15 minutes
    assert sign_in(app_client, ADMIN).status_code == 303


def test_success_forgets_the_failures_of_the_email(
    app_client: TestClient, container: Container
) -> None:
    _setup(container)
    _fail(app_client, ADMIN, 4)
    assert sign_in(app_client, ADMIN).status_code == 303
    _fail(app_client, ADMIN, 4)
    assert sign_in(app_client, ADMIN).status_code == 303


def test_unknown_emails_are_throttled_exactly_like_known_ones(
    app_client: TestClient, container: Container
) -> None:
    _setup(container)
    _fail(app_client, ADMIN, 5)
    _fail(app_client, "nobody@acme.example", 5)
    known = sign_in(app_client, ADMIN)
    unknown = sign_in(app_client, "nobody@acme.example")
    assert known.status_code == unknown.status_code == 429
    assert _page(known.text, ADMIN) == _page(unknown.text, "nobody@acme.example")
    # Another email from the same address is not locked by them.
    make_admin(container, "other@acme.example", Role.ACCOUNT_ADMIN, "acme")
    assert sign_in(app_client, "other@acme.example").status_code == 303


def test_one_address_is_locked_after_fifty_failures(
    app_client: TestClient, container: Container, clock: FixedClock
) -> None:
    _setup(container)
    # Fifty failures from the test client's address, each for a different email (as in
    # password spraying), recorded through the service; no email reaches its own limit.
    with container.unit_of_work() as session:
        for i in range(sign_in_throttle.IP_LIMIT):
            attempt = sign_in_throttle.Attempt.of(f"user{i}@acme.example", "testclient")
            sign_in_throttle.record_failure(session, attempt)
    locked = sign_in(app_client, ADMIN)
    assert locked.status_code == 429 and f"{LOCKED} 15 minutes." in locked.text
    with container.unit_of_work() as session:
        # Another address is not affected.
        sign_in_throttle.check(session, sign_in_throttle.Attempt.of(ADMIN, "192.0.2.7"))
    clock.advance(timedelta(minutes=15))
    assert sign_in(app_client, ADMIN).status_code == 303


def test_old_failures_are_swept(container: Container, clock: FixedClock) -> None:
    with container.unit_of_work() as session:
        for _ in range(3):
            sign_in_throttle.record_failure(session, sign_in_throttle.Attempt.of("a@b.c", "x"))
    clock.advance(timedelta(minutes=31))
    with container.unit_of_work() as session:
        sign_in_throttle.record_failure(session, sign_in_throttle.Attempt.of("d@e.f", "y"))
    with container.unit_of_work() as session:
        keys = session.scalars(select(SignInAttempt.email_key)).all()
        assert keys == ["d@e.f"]
        assert session.scalar(select(func.count()).select_from(SignInAttempt)) == 1


@pytest.mark.parametrize(
    ("offsets", "locked_minutes"),
    [
        ([0, 1, 2, 3], None),  # four failures: not yet
        ([0, 1, 2, 3, 4], 15),  # the fifth locks for 15 minutes after it
        ([0, 4, 8, 12, 14.9], 15),  # all five inside one window
        ([0, 4, 8, 12, 15], None),  # the first has left the window
    ],
)
def test_lockout_arithmetic(
    container: Container, clock: FixedClock, offsets: list[float], locked_minutes: int | None
) -> None:
    start = clock.now()
    attempt = sign_in_throttle.Attempt.of("x@acme.example", "198.51.100.1")
    for offset in offsets:
        clock.advance(start + timedelta(minutes=offset) - clock.now())
        with container.unit_of_work() as session:
            sign_in_throttle.record_failure(session, attempt)
    with container.unit_of_work() as session:
        if locked_minutes is None:
            sign_in_throttle.check(session, attempt)
        else:
            with pytest.raises(sign_in_throttle.Throttled) as raised:
                sign_in_throttle.check(session, attempt)
            assert raised.value.minutes == locked_minutes
            assert raised.value.status == 429
