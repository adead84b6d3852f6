"""Mutual TLS on the API, with real handshakes against a real uvicorn server.

The server runs in a background thread on an ephemeral port with certificates made by
switchboard.tls.private_ca; clients are httpx (TLS 1.3, as curl would negotiate) and, where the
moment of refusal matters, a raw TLS 1.2 socket, on which a rejected client certificate fails
the handshake itself.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from switchboard.bootstrap import Container
from switchboard.portal.actors import Role
from switchboard.tls import private_ca
from switchboard.tls.private_ca import IssuedFiles
from switchboard.tls.server import TlsFiles
from switchboard.web.server import make_server
from tests.factories import bearer, tenant, token_for


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server: IssuedFiles
    alice: IssuedFiles  # signed by our CA
    stranger: IssuedFiles  # signed by another CA
    expired: IssuedFiles  # signed by our CA, expired yesterday


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ours, theirs = tmp_path_factory.mktemp("pki"), tmp_path_factory.mktemp("other-pki")
    ca = private_ca.init_ca(ours)
    private_ca.init_ca(theirs)
    now = datetime.now(UTC)
    cert, key = private_ca.issue(
        private_ca.load_ca(ours),
        "old-client",
        purpose=ExtendedKeyUsageOID.CLIENT_AUTH,
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    expired = IssuedFiles(ours / "old-client.crt", ours / "old-client.key")
    private_ca.write_pair(cert, key, expired.cert, expired.key)
    return Pki(
        ca_cert=ca.cert,
        server=private_ca.issue_server(ours),
        alice=private_ca.issue_client(ours, "alice"),
        stranger=private_ca.issue_client(theirs, "mallory"),
        expired=expired,
    )


@pytest.fixture
def server_port(container: Container, pki: Pki) -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = make_server(
        container,
        host="127.0.0.1",
        port=port,
        tls=TlsFiles(cert=pki.server.cert, key=pki.server.key, client_ca=pki.ca_cert),
        log_level="warning",
        configure_logging=False,
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="mtls-server", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "the server thread ended before it started listening"
            assert time.monotonic() < deadline, "the server did not start within 10s"
            time.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "the server did not shut down within 10s"


def client_context(pki: Pki, pair: IssuedFiles | None = None) -> ssl.SSLContext:
    """What `curl --cacert ca.crt [--cert X.crt --key X.key]` sets up."""
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    if pair is not None:
        ctx.load_cert_chain(pair.cert, pair.key)
    return ctx


def client(pki: Pki, port: int, pair: IssuedFiles | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=f"https://localhost:{port}", verify=client_context(pki, pair), timeout=10
    )


def test_api_without_a_client_certificate_is_refused_while_healthz_works(
    container: Container, pki: Pki, server_port: int
) -> None:
    token = token_for(container, "op@example.com", Role.PROVIDER_ADMIN)
    with client(pki, server_port) as http:
        refused = http.get("/api/v1/accounts", headers=bearer(token))
        document = http.get("/openapi.json")
        health = http.get("/healthz")

    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "client_certificate_required"
    assert error["field"] is None
    assert "certs issue-client" in error["message"] and "--cert" in error["message"]
    # The API's description is gated like the API and its /api/docs page.
    assert document.status_code == 403
    assert document.json()["error"]["code"] == "client_certificate_required"
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}


def test_good_certificate_and_token_reach_the_api(
    container: Container, pki: Pki, server_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with container.unit_of_work() as session:
        tenant(session, "acme")
    token = token_for(container, "op@example.com", Role.PROVIDER_ADMIN)
    caplog.set_level(logging.DEBUG, logger="switchboard.web.mtls")

    with client(pki, server_port, pki.alice) as http:
        listed = http.get("/api/v1/accounts", headers=bearer(token))
        no_token = http.get("/api/v1/accounts")
        document = http.get("/openapi.json")

    assert listed.status_code == 200, listed.text
    assert [a["slug"] for a in listed.json()] == ["acme"]
    assert document.status_code == 200
    assert document.json()["info"]["title"] == "Switchboard"
    # The certificate admits the client to the API; it does not replace the API token.
    assert no_token.status_code == 401
    assert no_token.json()["error"]["code"] != "client_certificate_required"
    assert "client certificate CN=alice" in caplog.text


@pytest.mark.parametrize(
    ("which", "alert"),
    [("stranger", "ALERT_UNKNOWN_CA"), ("expired", "ALERT_CERTIFICATE_EXPIRED")],
)
def test_rejected_certificate_fails_the_handshake_with_an_alert(
    container: Container, pki: Pki, server_port: int, which: str, alert: str
) -> None:
    token = token_for(container, "op@example.com", Role.PROVIDER_ADMIN)
    pair: IssuedFiles = getattr(pki, which)

    # TLS 1.3 (the default): the server drops the connection before any HTTP response.
    with client(pki, server_port, pair) as http, pytest.raises(httpx.TransportError):
        http.get("/healthz", headers=bearer(token))

    # TLS 1.2: the client certificate is checked inside the handshake, which fails; the server
    # says why with a TLS alert rather than just closing the connection.
    ctx = client_context(pki, pair)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        socket.create_connection(("127.0.0.1", server_port), timeout=10) as raw,
        pytest.raises(ssl.SSLError, match=alert),
    ):
        ctx.wrap_socket(raw, server_hostname="localhost").close()

    # TLS 1.3: the handshake completes on the client's side first; the alert arrives on read.
    ctx13 = client_context(pki, pair)
    ctx13.minimum_version = ssl.TLSVersion.TLSv1_3
    with (
        socket.create_connection(("127.0.0.1", server_port), timeout=10) as raw,
        ctx13.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        with pytest.raises(ssl.SSLError, match=alert):
            tls.recv(64)


def test_good_certificate_completes_a_tls12_handshake(pki: Pki, server_port: int) -> None:
    # The counterpart of the refusal above: same client setup, a certificate from our CA.
    ctx = client_context(pki, pki.alice)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        socket.create_connection(("127.0.0.1", server_port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() == "TLSv1.2"
        peer = tls.getpeercert()
        assert peer is not None
        assert ("commonName", "localhost") in peer["subject"][-1]
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert tls.recv(64).startswith(b"HTTP/1.1 200")


def test_server_certificate_is_verified_by_clients(pki: Pki, server_port: int) -> None:
    # A client that does not trust our CA refuses the server: the CA must be handed to clients.
    with (
        httpx.Client(base_url=f"https://localhost:{server_port}", timeout=10) as http,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        http.get("/healthz")
