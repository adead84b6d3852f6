"""Two-way sync: the portal is the master of extensions and numbers; Entra ID gets them.

Changes are queued (WriteBackTask) in the transaction that made them, written by ``process``
outside any transaction, retried with backoff when Graph is unavailable, and reported per user
when Entra ID refuses them (users synced from on-premises AD, users holding admin roles).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, DirectoryRegistration, User, WriteBackTask
from switchboard.directory.errors import (
    GraphAuthError,
    GraphBadRequest,
    GraphError,
    GraphForbidden,
    GraphNotFound,
)
from switchboard.directory.models import DirectoryUser
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import NotFound
from switchboard.portal.events import Event, UserChanged
from switchboard.sync.policy import SyncPolicy, WriteBack
from switchboard.sync.ports import SyncServices

# Waits after each failed attempt; after the last, the task is reported failed.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
WRITTEN_FIELDS = {"extension", "phone_numbers"}
ON_PREMISES = (
    "synced from on-premises Active Directory: Entra ID keeps its phone fields"
    " read-only; set the extension and number in on-premises AD instead"
)


def desired_properties(user: User, rules: WriteBack) -> dict[str, Any]:
    """What Entra ID should hold for the user: first number, extension attribute."""
    props: dict[str, Any] = {}
    if rules.number_to == "businessPhones":
        props["businessPhones"] = [user.numbers[0].e164] if user.numbers else []
    if rules.extension_to:
        props["onPremisesExtensionAttributes"] = {rules.extension_to: user.extension}
    return props


def drift(directory_user: DirectoryUser, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``wanted`` the directory does not already hold."""
    patch: dict[str, Any] = {}
    if "businessPhones" in wanted:
        have = list(directory_user.get("businessPhones") or [])
        if have != wanted["businessPhones"]:
            patch["businessPhones"] = wanted["businessPhones"]
    for name, value in (wanted.get("onPremisesExtensionAttributes") or {}).items():
        if directory_user.get(f"onPremisesExtensionAttributes.{name}") != value:
            patch.setdefault("onPremisesExtensionAttributes", {})[name] = value
    return patch


def enqueue(session: Session, account_id: int, user: User, properties: Mapping[str, Any]) -> None:
    """Queue a write, merged into the user's pending one so only the latest values go out."""
    if not properties or user.directory_id is None:
        return
    stamp = now(session)
    task = session.scalar(
        select(WriteBackTask).where(
            WriteBackTask.account_id == account_id,
            WriteBackTask.user_id == user.id,
            WriteBackTask.status == "pending",
        )
    )
    if task is None:
        session.add(
            WriteBackTask(
                account_id=account_id,
                user_id=user.id,
                directory_id=user.directory_id,
                properties=dict(properties),
                status="pending",
                attempts=0,
                next_attempt_at=stamp,
                created_at=stamp,
                updated_at=stamp,
            )
        )
        return
    merged = dict(task.properties)
    for key, value in properties.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    task.properties = merged
    task.next_attempt_at = stamp
    task.updated_at = stamp


def two_way_policy(session: Session, account_id: int) -> SyncPolicy | None:
    reg = session.scalar(
        select(DirectoryRegistration).where(DirectoryRegistration.account_id == account_id)
    )
    if reg is None:
        return None
    policy = SyncPolicy.model_validate(reg.policy or {})
    return policy if policy.direction == "two_way" else None


def on_user_changed(session: Session, event: Event) -> None:
    """Listener: a directory user's extension or numbers changed in the portal."""
    if not isinstance(event, UserChanged):
        return
    if event.by_directory or not WRITTEN_FIELDS & set(event.fields):
        return
    user = session.get(User, event.user_id)
    if user is None or user.source != "directory":
        return
    policy = two_way_policy(session, event.account_id)
    if policy is None:
        return
    enqueue(session, event.account_id, user, desired_properties(user, policy.write_back))


def queue_drift(
    session: Session, account: Account, policy: SyncPolicy, directory_users: Iterable[DirectoryUser]
) -> tuple[int, list[tuple[str, str]]]:
    """After a sync: queue writes where Entra ID differs from the portal.

    Returns the number queued and (directory id, username) of users that cannot be written.
    """
    seen = {u.id: u for u in directory_users}
    if not seen:
        return 0, []
    queued, blocked = 0, []
    users = session.scalars(
        select(User).where(User.account_id == account.id, User.directory_id.in_(list(seen)))
    )
    for user in users:
        assert user.directory_id is not None
        patch = drift(seen[user.directory_id], desired_properties(user, policy.write_back))
        if not patch:
            continue
        if seen[user.directory_id].on_premises_sync_enabled:
            blocked.append((user.directory_id, user.username))
            continue
        enqueue(session, account.id, user, patch)
        queued += 1
    return queued, blocked


@dataclass
class WriteBackReport:
    written: int = 0
    failed: int = 0
    retrying: int = 0
    errors: list[str] = field(default_factory=list)


def _refusal(exc: GraphError) -> str:
    if isinstance(exc, GraphNotFound):
        return "the user no longer exists in Entra ID"
    if isinstance(exc, GraphForbidden):
        return (
            "Entra ID refused the change (" + (exc.code or "forbidden") + "): users holding"
            " admin roles need a more privileged app to change their phone fields, and"
            " users synced from on-premises AD cannot be changed here; " + exc.message
        )
    return f"Entra ID refused the change ({exc.code or exc.status}): {exc.message}"


def process(
    services: SyncServices, actor: Actor, slug: str, *, limit: int = 500
) -> WriteBackReport:
    """Write the account's due tasks to Entra ID; Graph calls happen outside transactions."""
    from switchboard.portal.accounts import get_account

    with services.unit_of_work() as session:
        account = get_account(session, actor, slug, write=True)
        reg = session.scalar(
            select(DirectoryRegistration).where(DirectoryRegistration.account_id == account.id)
        )
        if reg is None:
            raise NotFound(
                f"account '{slug}' is not connected to Entra ID", code="directory_not_connected"
            )
        due = [
            (t.id, t.directory_id, dict(t.properties))
            for t in session.scalars(
                select(WriteBackTask)
                .where(
                    WriteBackTask.account_id == account.id,
                    WriteBackTask.status == "pending",
                    WriteBackTask.next_attempt_at <= now(session),
                )
                .order_by(WriteBackTask.id)
                .limit(limit)
            )
        ]
        directory = services.directory_factory()(reg) if due else None
    report = WriteBackReport()
    outcomes: list[tuple[int, str, str | None]] = []
    try:
        for task_id, directory_id, properties in due:
            assert directory is not None
            try:
                directory.update_user(directory_id, properties)
                outcomes.append((task_id, "done", None))
            except (GraphForbidden, GraphBadRequest, GraphNotFound) as exc:
                outcomes.append((task_id, "failed", _refusal(exc)))
            except GraphAuthError as exc:
                outcomes.append((task_id, "retry", exc.message))
                break  # no token: every other task would fail the same way
            except GraphError as exc:
                outcomes.append((task_id, "retry", exc.message))
    finally:
        if directory is not None:
            directory.close()
    with services.unit_of_work() as session:
        stamp = now(session)
        for task_id, outcome, message in outcomes:
            task = session.get(WriteBackTask, task_id)
            if task is None:
                continue
            task.attempts += 1
            task.updated_at = stamp
            task.last_error = message
            if outcome == "done":
                task.status = "done"
                report.written += 1
            elif outcome == "failed" or task.attempts > len(BACKOFF):
                task.status = "failed"
                report.failed += 1
                report.errors.append(f"{task.directory_id}: {message}")
            else:
                task.next_attempt_at = stamp + BACKOFF[task.attempts - 1]
                report.retrying += 1
    return report


def list_tasks(
    session: Session, actor: Actor, account: Account, *, status: str | None = None, limit: int = 100
) -> list[WriteBackTask]:
    actor.require_read(account.id)
    query = select(WriteBackTask).where(WriteBackTask.account_id == account.id)
    if status is not None:
        query = query.where(WriteBackTask.status == status)
    return list(session.scalars(query.order_by(WriteBackTask.id.desc()).limit(limit)))
