"""The composition root: the one place that picks the concrete adapters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from switchboard.clock import Clock, SystemClock
from switchboard.config import Settings
from switchboard.db.engine import make_engine, make_session_factory
from switchboard.db.migrate import upgrade
from switchboard.db.models import DirectoryRegistration
from switchboard.directory.source import DirectorySource
from switchboard.directory.subscriptions import SubscriptionApi
from switchboard.jobs.runner import JobRunner, ThreadJobRunner
from switchboard.portal.events import Listener
from switchboard.portal.media_store import FolderMediaStore, MediaStore
from switchboard.secrets_at_rest import SecretBox


def default_user_listeners() -> list[Listener]:
    from switchboard.connection.registration import on_account_terminated
    from switchboard.sync.subscriptions import on_jit_ended
    from switchboard.sync.writeback import on_user_changed

    return [on_user_changed, on_account_terminated, on_jit_ended]


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    media_store: MediaStore
    # Derived from the settings; the key is read on first use, not at start-up.
    secrets: SecretBox = field(init=False)
    # Background work (API runs that answer at once); threads in-process by default.
    jobs: JobRunner = field(default_factory=ThreadJobRunner)
    # Told of user changes in the changing transaction (two-way sync queues write-backs).
    user_listeners: list[Listener] = field(default_factory=default_user_listeners)
    # Registration -> DirectorySource; None means Microsoft Graph (tests wire a fake).
    directory_for: Callable[[DirectoryRegistration], DirectorySource] | None = None
    # Registration -> Graph change-notification subscriptions; None means Microsoft Graph.
    subscriptions_for: Callable[[DirectoryRegistration], SubscriptionApi] | None = None

    def directory_factory(self) -> Callable[[DirectoryRegistration], DirectorySource]:
        if self.directory_for is not None:
            return self.directory_for
        from switchboard.directory.factory import graph_directory_factory

        return graph_directory_factory(self.secrets)

    def subscription_factory(self) -> Callable[[DirectoryRegistration], SubscriptionApi]:
        if self.subscriptions_for is not None:
            return self.subscriptions_for
        from switchboard.directory.subscriptions import graph_subscriptions_for

        return graph_subscriptions_for(self.secrets)

    def __post_init__(self) -> None:
        settings = self.settings
        self.secrets = SecretBox(lambda: settings.effective_secret_key)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose changes commit together, or not at all."""
        with self.session_factory() as session:
            session.info["clock"] = self.clock
            session.info["media_store"] = self.media_store
            session.info["secrets"] = self.secrets
            session.info["user_listeners"] = self.user_listeners
            session.info["subscription_factory"] = self.subscription_factory
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    media_store: MediaStore | None = None,
    migrate: bool = False,
) -> Container:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    container = Container(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        clock=clock or SystemClock(),
        media_store=media_store or FolderMediaStore(settings.media_dir),
    )
    if migrate:
        upgrade(engine)
    return container


def is_embedded(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"
