"""What the sync services need from the application around them.

The composition root (``switchboard.bootstrap``) builds an object that has all of this; the
sync and directory packages name only these protocols, so they never import the root.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from sqlalchemy.orm import Session

from switchboard.clock import Clock
from switchboard.config import Settings
from switchboard.db.models import DirectoryRegistration
from switchboard.directory.source import DirectorySource
from switchboard.directory.subscriptions import SubscriptionApi

DirectoryFactory = Callable[[DirectoryRegistration], DirectorySource]
SubscriptionFactory = Callable[[DirectoryRegistration], SubscriptionApi]


class Transactions(Protocol):
    """Units of work against the portal database."""

    def unit_of_work(self) -> AbstractContextManager[Session]:
        """A session whose changes commit together, or not at all."""
        ...

    def is_sqlite(self) -> bool: ...


class SyncServices(Transactions, Protocol):
    """Everything a sync run, a held-run decision or a subscription upkeep uses."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    def directory_factory(self) -> DirectoryFactory: ...

    def subscription_factory(self) -> SubscriptionFactory: ...
