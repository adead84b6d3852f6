"""How tests get containers: ``build()`` against the test database, with the fakes a test
needs passed in, never assigned to a container afterwards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

from sqlalchemy import Engine

from switchboard.bootstrap import DEFAULT_USER_LISTENERS, Container, build
from switchboard.clock import Clock
from switchboard.config import Settings
from switchboard.directory.auth import TokenCache
from switchboard.portal.events import Listener
from switchboard.portal.media_store import MediaStore
from switchboard.sync.ports import DirectoryFactory, JobRunner, SubscriptionFactory

TEST_SECRET_KEY = "test-secret-key-not-for-production"


class Adapters(TypedDict, total=False):
    """What ``build()`` gets besides the test database: the settings and the adapters. What is
    left out is the test settings (``ContainerBuilder.settings()``) or the production adapter."""

    settings: Settings
    clock: Clock
    media_store: MediaStore
    jobs: JobRunner
    token_cache: TokenCache
    directory_for: DirectoryFactory
    subscriptions_for: SubscriptionFactory
    user_listeners: Sequence[Listener]


@dataclass
class ContainerBuilder:
    """Builds containers over one test database; the fixture closes them after the test."""

    engine: Engine
    data_dir: Path
    clock: Clock
    built: list[Container] = field(default_factory=list)

    def settings(self, **changes: Any) -> Settings:
        settings = Settings(
            database_url=self.engine.url.render_as_string(hide_password=False),
            data_dir=self.data_dir,
            secret_key=TEST_SECRET_KEY,
        )
        return settings.model_copy(update=changes) if changes else settings

    def __call__(self, **adapters: Unpack[Adapters]) -> Container:
        container = build(
            adapters.get("settings") or self.settings(),
            engine=self.engine,
            clock=adapters.get("clock", self.clock),
            media_store=adapters.get("media_store"),
            jobs=adapters.get("jobs"),
            token_cache=adapters.get("token_cache"),
            directory_for=adapters.get("directory_for"),
            subscriptions_for=adapters.get("subscriptions_for"),
            user_listeners=adapters.get("user_listeners", DEFAULT_USER_LISTENERS),
        )
        self.built.append(container)
        return container

    def close(self) -> None:
        for container in self.built:
            container.close()
