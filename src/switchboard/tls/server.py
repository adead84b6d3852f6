"""The server side of mutual TLS: the SSL context and the per-connection client certificate.

The context asks for a client certificate but does not demand one (CERT_OPTIONAL): a client
that presents a certificate from another CA, or an expired one, fails the handshake, while a
client without a certificate still connects, because the admin UI, /healthz and inbound
webhooks are called by parties that have none. Whether the API itself may be used is decided
per request by the web layer from what ``ClientCertH11Protocol`` records.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

# Key under which a connection's verified peer certificate (ssl.getpeercert() form, or None)
# reaches every request's scope["state"] / request.state.
PEER_CERT_STATE_KEY = "tls_client_cert"


class TlsConfigError(Exception):
    """The TLS files cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    client_ca: Path


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """A TLS 1.2+ server context that verifies client certificates against ``client_ca``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(
            f"cannot use --tls-cert {files.cert} with --tls-key {files.key}: {_reason(exc)} "
            "(both must be PEM files, the key matching the certificate; "
            "`switchboard certs issue-server DIR` makes a pair)"
        ) from exc
    try:
        ctx.load_verify_locations(cafile=files.client_ca)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(
            f"cannot use --client-ca {files.client_ca}: {_reason(exc)} "
            "(it must be the PEM certificate of the CA that signs client certificates, "
            "e.g. DIR/ca.crt from `switchboard certs init-ca DIR`)"
        ) from exc
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason.lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or exc.__class__.__name__


class ClientCertH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, recording the connection's verified client certificate.

    uvicorn copies ``app_state`` into each request's ``scope["state"]``; giving this connection
    its own copy with the peer certificate makes it visible to the app, per connection.
    asyncio calls ``connection_made`` only once the handshake (and so verification) is done.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # asyncio passes a Transport
        super().connection_made(transport)
        peer: dict[str, Any] | None = transport.get_extra_info("peercert")
        self.app_state = {**self.app_state, PEER_CERT_STATE_KEY: peer or None}


@dataclass(frozen=True)
class ClientIdentity:
    """Who a verified client certificate names, for logs and request.state."""

    common_name: str | None
    serial: str | None
    not_after: str | None


def identity(peer: dict[str, Any]) -> ClientIdentity:
    common_name = None
    for rdn in peer.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                common_name = str(value)
    serial = peer.get("serialNumber")
    not_after = peer.get("notAfter")
    return ClientIdentity(
        common_name=common_name,
        serial=str(serial) if serial is not None else None,
        not_after=str(not_after) if not_after is not None else None,
    )
