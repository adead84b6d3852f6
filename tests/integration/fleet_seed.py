"""A provider's fleet in every state the fleet view tells apart, written as the rows a real
history leaves (runs, items, registrations, subscriptions, write-backs) at known times.

- ``healthy``: connected on demand, connection test passed, a full run an hour ago.
- ``held``: a run waits for approval since two hours.
- ``failing``: its connection test failed, and so did its last run (two users' errors).
- ``stale``: batched every 15 minutes, but nothing completed for two days.
- ``nosubs``: just in time, without its change-notification subscriptions.
- ``twoway``: two write-backs to Entra ID were refused.
- ``plain``: not connected to Entra ID at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.db.models import (
    DirectoryRegistration,
    DirectorySyncState,
    SyncRun,
    SyncRunItem,
    WriteBackTask,
)
from switchboard.portal.clock_context import now
from switchboard.sync.policy import SyncPolicy
from tests import factories

GROUP = "0b9f6a4c-1d2e-4f60-8a7b-9c0d1e2f3a4b"
SLUGS = ("healthy", "held", "failing", "stale", "nosubs", "twoway", "plain")
ATTENTION = ("failing", "held", "nosubs", "stale", "twoway")


@dataclass(frozen=True)
class Fleet:
    ids: dict[str, int]
    at: datetime


def connect(
    session: Session,
    account_id: int,
    stamp: datetime,
    *,
    test: dict[str, Any] | None = None,
    **policy: Any,
) -> None:
    settings = SyncPolicy(groups=[GROUP], **policy)
    session.add(
        DirectoryRegistration(
            account_id=account_id,
            tenant_id="t",
            client_id="c",
            cloud="global",
            authority_url="https://login.microsoftonline.com",
            graph_url="https://graph.microsoft.com",
            certificate_pem="-",
            private_key_encrypted="-",
            policy=settings.model_dump(mode="json"),
            last_test=test,
            created_at=stamp,
            updated_at=stamp,
        )
    )


def run(
    session: Session,
    account_id: int,
    number: int,
    status: str,
    started: datetime,
    *,
    kind: str = "full",
    message: str | None = None,
    counts: dict[str, int] | None = None,
) -> SyncRun:
    row = SyncRun(
        account_id=account_id,
        number=number,
        trigger="schedule",
        kind=kind,
        status=status,
        dry_run=False,
        counts=counts or {},
        message=message,
        started_at=started,
        finished_at=started + timedelta(minutes=1),
        heartbeat_at=started + timedelta(minutes=1),
    )
    session.add(row)
    session.flush()
    return row


def synced(session: Session, account_id: int, at: datetime) -> None:
    session.add(
        DirectorySyncState(
            account_id=account_id,
            users_delta_link="u",
            groups_delta_link="g",
            delta_chain_started_at=at,
            last_full_at=at,
            last_delta_at=at,
        )
    )


def seed(container: Container) -> Fleet:
    ids: dict[str, int] = {}
    with container.unit_of_work() as s:
        at = now(s)
        hour = timedelta(hours=1)
        for slug in SLUGS:
            ids[slug] = factories.account(s, slug).id
        passed = {"ok": True, "message": "all permissions granted"}

        connect(s, ids["healthy"], at - 3 * hour, test=passed)
        run(s, ids["healthy"], 1, "succeeded", at - hour, counts={"create": 3})
        synced(s, ids["healthy"], at - hour)

        connect(s, ids["held"], at - 5 * hour, test=passed)
        run(s, ids["held"], 1, "succeeded", at - 4 * hour)
        run(s, ids["held"], 2, "held", at - 2 * hour - timedelta(minutes=1), counts={"pending": 8})
        synced(s, ids["held"], at - 2 * hour)

        failing_test = {"ok": False, "message": "no token: the certificate is not uploaded"}
        connect(s, ids["failing"], at - 3 * hour, test=failing_test)
        run(s, ids["failing"], 1, "succeeded", at - 2 * hour)
        failed = run(
            s,
            ids["failing"],
            2,
            "failed",
            at - hour,
            message="Entra ID: the certificate was refused",
            counts={"update": 1, "failed": 2},
        )
        for name in ("ada", "bob"):
            s.add(
                SyncRunItem(
                    run_id=failed.id,
                    directory_id=name,
                    username=f"{name}@contoso.example",
                    action="update",
                    fields=[],
                    state="failed",
                    message=f"the email of {name} is taken",
                )
            )
        synced(s, ids["failing"], at - 2 * hour)

        connect(s, ids["stale"], at - 5 * 24 * hour, mode="batched", schedule_minutes=15)
        run(s, ids["stale"], 1, "succeeded", at - 48 * hour)
        synced(s, ids["stale"], at - 48 * hour)

        connect(s, ids["nosubs"], at - 3 * hour, test=passed, mode="jit")
        run(s, ids["nosubs"], 1, "succeeded", at - hour)
        synced(s, ids["nosubs"], at - hour)

        connect(s, ids["twoway"], at - 3 * hour, test=passed, direction="two_way")
        run(s, ids["twoway"], 1, "succeeded", at - hour)
        synced(s, ids["twoway"], at - hour)
        for n in range(2):
            s.add(
                WriteBackTask(
                    account_id=ids["twoway"],
                    directory_id=f"d{n}",
                    properties={"businessPhones": ["+13125550100"]},
                    status="failed",
                    attempts=5,
                    last_error="Insufficient privileges",
                    next_attempt_at=at,
                    created_at=at,
                    updated_at=at,
                )
            )
    return Fleet(ids, at)
