"""Expired UI sessions do not pile up: each sign-in removes them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.models import UiSession
from switchboard.portal import principals, ui_sessions
from switchboard.portal.actors import Role
from tests import factories


def test_sign_in_sweeps_expired_sessions(container: Container, clock: FixedClock) -> None:
    with container.unit_of_work() as s:
        p = principals.create_principal(
            s, factories.OPERATOR, email="ops@example.com", role=Role.PROVIDER_ADMIN
        )
        stale = ui_sessions.open_session(s, p, hours=1)
        live = ui_sessions.open_session(s, p, hours=12)
    clock.advance(timedelta(hours=2))
    with container.unit_of_work() as s:
        ui_sessions.open_session(s, principals.find_principal(s, "ops@example.com"), hours=1)
    with container.unit_of_work() as s:
        assert ui_sessions.resolve_session(s, stale.cookie) is None
        assert ui_sessions.resolve_session(s, live.cookie) is not None
        assert s.scalar(select(func.count()).select_from(UiSession)) == 2
