"""The composition root: the one place that picks the concrete adapters.

``build()`` takes every adapter as a keyword argument (tests pass fakes) and returns a
container that is ready to use; its adapters cannot be swapped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from switchboard.clock import Clock, SystemClock
from switchboard.config import Settings
from switchboard.connection.registration import on_account_terminated
from switchboard.db.engine import make_engine, make_session_factory
from switchboard.db.migrate import upgrade
from switchboard.directory.auth import TokenCache
from switchboard.directory.connections import GraphConnections
from switchboard.directory.factory import graph_directory_factory
from switchboard.directory.graph_subscriptions import graph_subscriptions_for
from switchboard.jobs.runner import ThreadJobRunner
from switchboard.portal.events import Listener
from switchboard.portal.media_store import FolderMediaStore, MediaStore
from switchboard.secrets_at_rest import SecretBox
from switchboard.sync.ports import DirectoryFactory, JobRunner, SubscriptionFactory
from switchboard.sync.subscription_teardown import on_jit_ended
from switchboard.sync.writeback import on_user_changed

# Told of user changes in the changing transaction: two-way sync queues write-backs, a
# terminated account loses its registration, leaving jit mode drops the subscriptions.
DEFAULT_USER_LISTENERS: tuple[Listener, ...] = (
    on_user_changed,
    on_account_terminated,
    on_jit_ended,
)


@dataclass(frozen=True)
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    media_store: MediaStore
    # Derived from the settings; the key is read on first use, not at start-up.
    secrets: SecretBox
    # Background work (API runs that answer at once).
    jobs: JobRunner
    # msal applications per registration certificate, for every Graph client of the process.
    token_cache: TokenCache
    # Keep-alive connections to Graph that the runs share.
    graph_connections: GraphConnections
    user_listeners: tuple[Listener, ...]
    # Registration -> DirectorySource (Microsoft Graph, or a fake in tests).
    directory_for: DirectoryFactory
    # Registration -> Graph change-notification subscriptions.
    subscriptions_for: SubscriptionFactory

    def directory_factory(self) -> DirectoryFactory:
        return self.directory_for

    def subscription_factory(self) -> SubscriptionFactory:
        return self.subscriptions_for

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose changes commit together, or not at all."""
        with self.session_factory() as session:
            session.info["clock"] = self.clock
            session.info["media_store"] = self.media_store
            session.info["secrets"] = self.secrets
            session.info["user_listeners"] = list(self.user_listeners)
            session.info["subscription_factory"] = self.subscriptions_for
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def close(self) -> None:
        """Wait for background work and drop the token providers (the engine is the caller's)."""
        self.jobs.shutdown()
        self.token_cache.close()
        self.graph_connections.close()


def build(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    media_store: MediaStore | None = None,
    jobs: JobRunner | None = None,
    token_cache: TokenCache | None = None,
    directory_for: DirectoryFactory | None = None,
    subscriptions_for: SubscriptionFactory | None = None,
    user_listeners: Sequence[Listener] = DEFAULT_USER_LISTENERS,
    migrate: bool = False,
) -> Container:
    """The container with production adapters for whatever is not given.

    ``engine`` defaults to one for ``settings.database_url``; the Graph factories share
    ``token_cache``; ``migrate`` brings the schema up to date first.
    """
    settings = settings or Settings()
    engine = engine if engine is not None else make_engine(settings.database_url)
    secrets = SecretBox(lambda: settings.effective_secret_key)
    token_cache = token_cache if token_cache is not None else TokenCache()
    connections = GraphConnections()
    container = Container(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        clock=clock if clock is not None else SystemClock(),
        media_store=(
            media_store if media_store is not None else FolderMediaStore(settings.media_dir)
        ),
        secrets=secrets,
        jobs=jobs if jobs is not None else ThreadJobRunner(),
        token_cache=token_cache,
        graph_connections=connections,
        user_listeners=tuple(user_listeners),
        directory_for=(
            directory_for
            if directory_for is not None
            else graph_directory_factory(secrets, token_cache, connections)
        ),
        subscriptions_for=(
            subscriptions_for
            if subscriptions_for is not None
            else graph_subscriptions_for(secrets, token_cache)
        ),
    )
    if migrate:
        upgrade(engine)
    return container


def is_embedded(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"
