"""Things that happened to portal users, for listeners the composition root registers.

The portal does not know who listens (the two-way sync queues write-backs); listeners run in
the same transaction as the change, so what they record commits or rolls back with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class UserChanged:
    account_id: int
    user_id: int
    fields: tuple[str, ...]
    by_directory: bool


Listener = Callable[[Session, UserChanged], None]


def emit(session: Session, event: UserChanged) -> None:
    listeners: list[Listener] = session.info.get("user_listeners", [])
    for listener in listeners:
        listener(session, event)
