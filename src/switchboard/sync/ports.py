"""What the sync services need from the application around them.

The composition root (``switchboard.bootstrap``) builds an object that has all of this; the
sync, directory and jobs packages name only these protocols, so they never import the root.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from sqlalchemy.orm import Session

from switchboard.clock import Clock
from switchboard.config import Settings
from switchboard.db.models import DirectoryRegistration
from switchboard.directory.auth import TokenCache
from switchboard.directory.graph_subscriptions import SubscriptionApi
from switchboard.directory.source import DirectorySource
from switchboard.secrets_at_rest import SecretBox

DirectoryFactory = Callable[[DirectoryRegistration], DirectorySource]
SubscriptionFactory = Callable[[DirectoryRegistration], SubscriptionApi]


class JobRunner(Protocol):
    """Background work: threads in-process (``switchboard.jobs.runner``), or inline in tests."""

    def submit(self, name: str, work: Callable[[], object], *, key: str | None = None) -> bool:
        """Run ``work`` later; failures are logged (the work records its own outcome).

        With a ``key``, work is refused (False) while earlier work of the same key is still
        queued or running: one sync of an account at a time, whoever asks.
        """
        ...

    def shutdown(self) -> None: ...


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

    @property
    def jobs(self) -> JobRunner:
        """Runs the work API calls and notifications start, so they answer at once."""
        ...

    @property
    def secrets(self) -> SecretBox:
        """Opens the registrations' private keys."""
        ...

    @property
    def token_cache(self) -> TokenCache:
        """The process's Graph token providers (a connection test reuses them)."""
        ...

    def directory_factory(self) -> DirectoryFactory: ...

    def subscription_factory(self) -> SubscriptionFactory: ...
