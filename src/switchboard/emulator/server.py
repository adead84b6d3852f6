"""The HTTPS server: binds the socket, runs uvicorn with the emulator's TLS identity, and
writes server.json once it serves (the routes are in http_routes.py); ``running`` serves one
from a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

import uvicorn

from switchboard.emulator.http_routes import build_app
from switchboard.emulator.keys_and_certificates import ensure_server_identity
from switchboard.emulator.state import Emulator, SeedOptions

log = logging.getLogger("switchboard.emulator.server")
SERVER_FILE = "server.json"
T = TypeVar("T")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it every response waits ~40 ms on Nagle plus delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(
    emu: Emulator, host: str, log_level: str, on_ready: Callable[[], None] | None = None
) -> uvicorn.Config:
    identity = ensure_server_identity(emu.state_dir, [host])
    return uvicorn.Config(
        build_app(emu, on_ready, partial(_remove_server_file, emu.state_dir)),
        ssl_certfile=str(identity.cert_path),
        ssl_keyfile=str(identity.key_path),
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )


def _remove_server_file(state_dir: Path) -> None:
    (state_dir / SERVER_FILE).unlink(missing_ok=True)


def write_server_file(emu: Emulator, url: str) -> None:
    path = emu.state_dir / SERVER_FILE
    path.write_text(
        json.dumps({"url": url, "pid": os.getpid(), "tenant_id": emu.directory.tenant_id})
    )


def serve(
    state_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8443,
    tenant_id: str | None = None,
    seed: SeedOptions | None = None,
    log_level: str = "info",
    notification_ca: Path | None = None,
) -> None:
    (state_dir / SERVER_FILE).unlink(missing_ok=True)  # left by a killed server
    emu = Emulator(state_dir, tenant_id=tenant_id, seed=seed)
    # The tenant lives as long as the process: keep its objects out of the collector's full
    # passes, each of which would otherwise walk a million users (about a second) mid-request.
    gc.freeze()
    if notification_ca is not None:
        emu.trust_notification_ca(notification_ca)
    sock = _bind(host, port)
    url = f"https://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}"

    def ready() -> None:
        # Written once the server accepts requests; the CLI finds the server through it.
        write_server_file(emu, url)
        log.warning(
            "Entra ID emulator for tenant %s at %s (CA: %s)",
            emu.directory.tenant_id,
            url,
            state_dir / "ca.pem",
        )

    config = _config(emu, host, log_level, ready)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        emu.store.close()
        (state_dir / SERVER_FILE).unlink(missing_ok=True)


class RunningEmulator:
    """An emulator served from a background thread (tests, demos, benchmarks)."""

    def __init__(
        self,
        emu: Emulator,
        url: str,
        server: uvicorn.Server,
        thread: threading.Thread,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.emulator = emu
        self.url = url
        self.server = server
        self.thread = thread
        self.server_loop = loop

    @property
    def ca_path(self) -> Path:
        return self.emulator.state_dir / "ca.pem"

    @property
    def tenant_id(self) -> str:
        return self.emulator.directory.tenant_id

    @property
    def authority(self) -> str:
        return f"{self.url}/{self.tenant_id}"

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on the server's event loop (the directory is loop-owned) and return."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.server_loop).result(timeout=60)


@contextlib.contextmanager
def running(
    state_dir: Path,
    *,
    seed: SeedOptions | None = None,
    tenant_id: str | None = None,
    host: str = "127.0.0.1",
) -> Iterator[RunningEmulator]:
    emu = Emulator(state_dir, tenant_id=tenant_id, seed=seed)
    config = _config(emu, host, "warning")
    sock = _bind(host, 0)
    url = f"https://{host}:{sock.getsockname()[1]}"
    server = uvicorn.Server(config)
    loop_box: dict[str, asyncio.AbstractEventLoop] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        loop_box["loop"] = loop
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.serve(sockets=[sock]))
        # A TLS connection closes only once the client answers the server's close_notify, which
        # an idle pooled client never does: cut those now. A transport still open when the loop
        # closes keeps its socket until some later garbage collection frees it (ResourceWarning).
        for connection in list(server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        # Let closed connections finish closing before the loop goes away.
        loop.run_until_complete(asyncio.sleep(0.05))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=run, name="entra-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start; see the log above")
            time.sleep(0.02)
        handle = RunningEmulator(emu, url, server, thread, loop_box["loop"])
        write_server_file(emu, url)
        yield handle
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
        emu.store.close()
        (state_dir / SERVER_FILE).unlink(missing_ok=True)
