"""Things that happened in the portal, for listeners the composition root registers.

The portal does not know who listens (the two-way sync queues write-backs; the directory
registration goes with a terminated account); listeners run in the same transaction as the
change, so what they record commits or rolls back with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from switchboard.portal.actors import Actor


# User events: one per user, from a change of one user or of 100,000 alike; ``by_directory``
# says the directory sync made it (the write-back listener does not echo those to Entra ID).
@dataclass(frozen=True, slots=True)
class UserCreated:
    account_id: int
    user_id: int
    by_directory: bool


@dataclass(frozen=True, slots=True)
class UserChanged:
    account_id: int
    user_id: int
    fields: tuple[str, ...]
    by_directory: bool


@dataclass(frozen=True, slots=True)
class UserDeleted:
    account_id: int
    user_id: int
    by_directory: bool


@dataclass(frozen=True, slots=True)
class UserRelocated:
    """The directory moved a user: its record ``from_user_id`` became ``user_id``."""

    account_id: int
    user_id: int
    from_user_id: int
    by_directory: bool


@dataclass(frozen=True)
class AccountTerminated:
    account_id: int
    actor: Actor


@dataclass(frozen=True)
class JitEnded:
    """An account stops receiving change notifications (it left jit mode or disconnects);
    emitted while its registration still exists, so its Graph subscriptions can be removed."""

    account_id: int
    reason: str


Event = UserCreated | UserChanged | UserDeleted | UserRelocated | AccountTerminated | JitEnded
Listener = Callable[[Session, Event], None]


def emit(session: Session, event: Event) -> None:
    emit_all(session, (event,))


def emit_all(session: Session, events: Iterable[Event]) -> None:
    listeners: list[Listener] = session.info.get("user_listeners", [])
    if not listeners:
        return
    for event in events:
        for listener in listeners:
            listener(session, event)
