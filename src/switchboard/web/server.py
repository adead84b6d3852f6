"""Running the ASGI app under uvicorn: plain HTTP for local use, or HTTPS with mutual TLS."""

from __future__ import annotations

import signal
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from switchboard.bootstrap import Container, build, is_embedded
from switchboard.config import Settings
from switchboard.db.migrate import upgrade
from switchboard.jobs import background
from switchboard.jobs.background import Work
from switchboard.tls.server import ClientCertH11Protocol, TlsFiles, server_context
from switchboard.web.app import create_app


def make_server(
    container: Container,
    *,
    host: str,
    port: int,
    tls: TlsFiles | None = None,
    log_level: str = "info",
    configure_logging: bool = True,
    forwarded_allow_ips: str | None = None,
) -> uvicorn.Server:
    """A uvicorn server for the app; with ``tls``, HTTPS whose /api/ needs a client certificate.

    The TLS files are loaded here, before anything listens, so a bad file is a clear
    TlsConfigError rather than a failure inside the server. ``configure_logging=False`` leaves
    the process's logging setup alone (for servers embedded in tests).
    """
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "log_config": LOGGING_CONFIG if configure_logging else None,
        # Forwarded headers are honoured only from the proxies named here (none by default).
        "proxy_headers": forwarded_allow_ips is not None,
        "forwarded_allow_ips": forwarded_allow_ips or "",
    }
    if tls is None:
        return uvicorn.Server(uvicorn.Config(create_app(container), **options))
    context = server_context(tls)

    def context_factory(
        _config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]
    ) -> ssl.SSLContext:
        return context

    config = uvicorn.Config(
        create_app(container, require_client_cert=True),
        http=ClientCertH11Protocol,
        ssl_context_factory=context_factory,
        # Refused client certificates get a TLS alert (uvloop and asyncio drop it).
        loop="switchboard.tls.alerts:AlertingEventLoop",
        **options,
    )
    return uvicorn.Server(config)


@contextmanager
def _signal_ends_server_only() -> Iterator[None]:
    """uvicorn stops on SIGINT/SIGTERM, then raises the signal again for the handler it found.
    With the default handlers that would end the process before the background work has
    stopped and removed its heartbeat row; a handler that does nothing takes the signal
    instead. The previous handlers are back for that stop: a second Ctrl-C cuts it short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    return None


def run(
    *,
    host: str,
    port: int,
    tls: TlsFiles | None = None,
    forwarded_allow_ips: str | None = None,
    settings: Settings | None = None,
    background_work: Work | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM, with ``background_work`` (see ``jobs.background.choose``)
    running beside the server; it stops, its threads joined, once the server has stopped."""
    settings = settings or Settings()
    container = build(settings)
    server = make_server(
        container, host=host, port=port, tls=tls, forwarded_allow_ips=forwarded_allow_ips
    )
    try:
        if is_embedded(settings.database_url):
            upgrade(container.engine)
        with background.running(container, background_work), _signal_ends_server_only():
            server.run()
    finally:
        container.close()
        container.engine.dispose()
