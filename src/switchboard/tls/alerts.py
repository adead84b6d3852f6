"""An event loop whose refused TLS handshakes tell the client why (a TLS alert).

When OpenSSL refuses a client certificate (another CA, expired), it writes an alert such as
"unknown CA" or "certificate expired" to the connection's outgoing buffer. asyncio's SSL
protocol then closes the socket without sending that buffer, so the client sees only an
unexpected EOF and cannot tell a refused certificate from a network fault. This loop sends the
pending alert first. The server uses it only for HTTPS (see web.server.make_server).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from asyncio import constants, selector_events, sslproto
from typing import Any


class AlertingSSLProtocol(sslproto.SSLProtocol):
    def _on_handshake_complete(self, handshake_exc: BaseException | None) -> None:
        if handshake_exc is not None:
            # The alert is in the outgoing buffer; the close that follows would drop it.
            with contextlib.suppress(Exception):
                self._process_outgoing()  # type: ignore[attr-defined]  # private in asyncio
        super()._on_handshake_complete(handshake_exc)


class AlertingEventLoop(asyncio.SelectorEventLoop):
    """asyncio's selector loop, with AlertingSSLProtocol for TLS connections."""

    def _make_ssl_transport(
        self,
        rawsock: socket.socket,
        protocol: asyncio.BaseProtocol,
        sslcontext: ssl.SSLContext,
        waiter: asyncio.Future[Any] | None = None,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        extra: dict[str, Any] | None = None,
        server: asyncio.AbstractServer | None = None,
        ssl_handshake_timeout: float | None = constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout: float | None = constants.SSL_SHUTDOWN_TIMEOUT,
    ) -> asyncio.Transport:
        # The same as BaseSelectorEventLoop._make_ssl_transport, with the protocol swapped.
        ssl_protocol = AlertingSSLProtocol(
            self,
            protocol,
            sslcontext,
            waiter,  # type: ignore[arg-type]  # asyncio itself passes None through
            server_side,
            server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,  # type: ignore[arg-type]  # a float, stubs say int
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
        selector_events._SelectorSocketTransport(  # type: ignore[attr-defined]  # private in asyncio
            self, rawsock, ssl_protocol, extra=extra, server=server
        )
        transport: asyncio.Transport = ssl_protocol._app_transport
        return transport
