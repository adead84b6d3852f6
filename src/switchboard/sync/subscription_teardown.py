"""Leaving jit mode: an account's change-notification subscriptions go with it.

Listens for ``JitEnded`` in the transaction that ends jit mode: the rows go in that
transaction, and the Graph subscriptions are deleted once it commits (while the registration,
and with it the key to call Graph, still exists). subscription_upkeep.py keeps them otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from switchboard.db.models import DirectoryRegistration, DirectorySubscription
from switchboard.directory.graph_subscriptions import SubscriptionApi
from switchboard.portal.events import Event, JitEnded
from switchboard.sync.ports import SubscriptionFactory
from switchboard.sync.subscription_upkeep import delete_in_graph

log = logging.getLogger("switchboard.subscriptions")


def on_jit_ended(session: Session, evt: Event) -> None:
    """Listener: forget the account's subscriptions in this transaction, and delete them in
    Graph once it commits (while the registration, and with it the key, still exists now)."""
    if not isinstance(evt, JitEnded):
        return
    rows = list(
        session.scalars(
            select(DirectorySubscription).where(DirectorySubscription.account_id == evt.account_id)
        )
    )
    if not rows:
        return
    registration = session.scalar(
        select(DirectoryRegistration).where(DirectoryRegistration.account_id == evt.account_id)
    )
    ids = [r.subscription_id for r in rows]
    session.execute(
        delete(DirectorySubscription).where(DirectorySubscription.account_id == evt.account_id)
    )
    if registration is None:
        return
    factory: SubscriptionFactory | None = session.info.get("subscription_factory")
    if factory is None:
        raise RuntimeError("no subscription factory attached to the session; open it via Container")
    api = factory(registration)
    log.info("account %s: %s; deleting subscriptions %s", evt.account_id, evt.reason, ids)
    _after_commit(session, lambda: _delete_all(api, ids), api.close)


def _delete_all(api: SubscriptionApi, ids: list[str]) -> None:
    try:
        for subscription_id in ids:
            delete_in_graph(api, subscription_id)
    finally:
        api.close()


def _after_commit(
    session: Session, work: Callable[[], None], otherwise: Callable[[], None]
) -> None:
    done = False

    def committed(_session: Session) -> None:
        nonlocal done
        if not done:
            done = True
            try:
                work()
            except Exception:
                log.exception("deleting subscriptions after commit failed")

    def rolled_back(_session: Session) -> None:
        nonlocal done
        if not done:
            done = True
            otherwise()

    event.listen(session, "after_commit", committed)
    # after_rollback: the real rollback only, not a savepoint's.
    event.listen(session, "after_rollback", rolled_back)
