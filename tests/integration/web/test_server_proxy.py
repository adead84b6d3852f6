"""Behind a TLS-terminating proxy: forwarded headers count only from the proxies named."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from switchboard.bootstrap import Container
from switchboard.web.server import make_server


@contextmanager
def serving(container: Container, forwarded_allow_ips: str | None) -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = make_server(
        container,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        configure_logging=False,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _login_cookie(port: int) -> str:
    response = httpx.get(f"http://127.0.0.1:{port}/login", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    return response.headers["set-cookie"].lower()


def test_forwarded_proto_from_a_trusted_proxy_makes_cookies_secure(container: Container) -> None:
    with serving(container, "127.0.0.1") as port:
        assert "secure" in _login_cookie(port)


def test_forwarded_headers_are_ignored_by_default(container: Container) -> None:
    with serving(container, None) as port:
        assert "secure" not in _login_cookie(port)
