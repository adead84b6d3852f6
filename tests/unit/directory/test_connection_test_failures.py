"""Every kind of connection-test failure: built from the exceptions requests, urllib3, httpx,
ssl and msal really raise (and the texts the token endpoint really answers), mapped to one
plain message that names the fix and never shows the exception's own text."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError
from urllib3.exceptions import SSLError as Urllib3SSLError

from switchboard.connection import test_failures
from switchboard.connection.test_failures import GRAPH, TOKEN, FailureKind, Target, explain
from switchboard.directory.auth import GraphCredentials, TokenEndpointHttp, auth_error_from_result
from switchboard.directory.errors import (
    GraphAuthError,
    GraphError,
    GraphForbidden,
    GraphNotFound,
    TransientGraphError,
)
from switchboard.directory.graph_wire import exhausted

TENANT = "11111111-2222-3333-4444-555555555555"
APP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
CUSTOM = Target(
    tenant_id=TENANT,
    client_id=APP,
    cloud="custom",
    authority_url="https://login.test.example:8443",
    graph_url="https://graph.test.example:8443",
    thumbprint="AB" * 20,
)
GLOBAL = Target(tenant_id=TENANT, client_id=APP)
RAW = (
    "HTTPSConnectionPool",
    "NameResolutionError",
    "SSLCertVerificationError",
    "MaxRetryError",
    "Errno",
    "Traceback",
    "object at 0x",
    "OIDC Discovery",
)


def plain(message: str) -> str:
    for raw in RAW:
        assert raw not in message, message
    return message


def wrapped(cause: BaseException, code: str = "connectionError") -> GraphError:
    """As TokenEndpointHttp raises it, then as the Graph client gives up retrying it."""
    try:
        try:
            raise cause
        except BaseException as exc:
            raise TransientGraphError("could not reach the token endpoint", code=code) from exc
    except TransientGraphError as failure:
        given_up = exhausted(failure, "gave up after 3 attempts")
    return given_up


def requests_name_error() -> requests.ConnectionError:
    reason = NameResolutionError(
        "login.test.example",
        None,  # type: ignore[arg-type]
        socket.gaierror(-2, "Name or service not known"),
    )
    pool_error = MaxRetryError(None, "/tenant/v2.0/.well-known/openid-configuration", reason)  # type: ignore[arg-type]
    return requests.ConnectionError(pool_error)


def requests_tls_error() -> requests.exceptions.SSLError:
    verify = ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer"
    )
    reason = Urllib3SSLError(verify)
    return requests.exceptions.SSLError(MaxRetryError(None, "/", reason))  # type: ignore[arg-type]


def requests_refused() -> requests.ConnectionError:
    reason = NewConnectionError(
        None,  # type: ignore[arg-type]
        "Failed to establish a new connection: [Errno 111] Connection refused",
    )
    return requests.ConnectionError(MaxRetryError(None, "/", reason))  # type: ignore[arg-type]


def creds() -> GraphCredentials:
    return GraphCredentials(
        account_id=1,
        tenant_id=TENANT,
        client_id=APP,
        private_key_pem="-",
        certificate_pem="-",
        authority_url=CUSTOM.authority_url,
        graph_url=CUSTOM.graph_url,
    )


def refused_by_entra(code: int, description: str, error: str = "invalid_client") -> GraphAuthError:
    err = auth_error_from_result(
        {"error": error, "error_description": description, "error_codes": [code]}, creds()
    )
    assert isinstance(err, GraphAuthError)
    return err


def test_host_not_found_from_requests_and_httpx() -> None:
    failure = explain(wrapped(requests_name_error()), CUSTOM, TOKEN)
    assert failure.kind is FailureKind.HOST_NOT_FOUND
    assert "Host not found: login.test.example:8443" in plain(failure.message)
    assert "authority URL and the Graph URL" in failure.message
    on_graph = httpx.ConnectError("[Errno -2] Name or service not known")
    failure = explain(wrapped(on_graph, "ConnectError"), CUSTOM, GRAPH)
    assert failure.kind is FailureKind.HOST_NOT_FOUND
    assert "graph.test.example:8443 (Microsoft Graph)" in plain(failure.message)
    # On a public cloud the advice is to choose the right cloud.
    failure = explain(wrapped(requests_name_error()), GLOBAL, TOKEN)
    assert "choose that cloud under Edit connection" in plain(failure.message)


def test_connection_refused_and_timeouts() -> None:
    failure = explain(wrapped(requests_refused()), CUSTOM)
    assert failure.kind is FailureKind.CONNECTION_REFUSED
    assert "Connection refused" in plain(failure.message)
    assert explain(wrapped(ConnectionRefusedError(111, "x")), CUSTOM).kind == "connection_refused"
    for timeout in (requests.ReadTimeout("read timed out"), httpx.ReadTimeout("timed out")):
        failure = explain(wrapped(timeout, "timeout"), CUSTOM)
        assert failure.kind is FailureKind.TIMEOUT
        assert "No answer in time" in plain(failure.message)


def test_real_refused_connection_through_the_token_endpoint_client() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    http = TokenEndpointHttp(requests.Session(), timeout=2)
    with pytest.raises(TransientGraphError) as caught:
        http.get(f"https://127.0.0.1:{port}/t/v2.0/.well-known/openid-configuration")
    http.close()
    assert test_failures.kind_of(caught.value) is FailureKind.CONNECTION_REFUSED


def test_untrusted_certificate() -> None:
    failure = explain(wrapped(requests_tls_error(), "tlsError"), CUSTOM)
    assert failure.kind is FailureKind.TLS_UNTRUSTED
    assert "CA bundle (PEM)" in plain(failure.message)
    on_graph = httpx.ConnectError(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"
    )
    failure = explain(wrapped(on_graph, "ConnectError"), GLOBAL, GRAPH)
    assert failure.kind is FailureKind.TLS_UNTRUSTED
    assert "proxy that inspects TLS" in plain(failure.message)


@pytest.mark.parametrize(
    ("code", "description", "kind", "words"),
    [
        (
            90002,
            f"AADSTS90002: Tenant '{TENANT}' not found. Check to make sure you have the correct"
            " tenant ID and are signing into the correct cloud.",
            FailureKind.TENANT_NOT_FOUND,
            "Tenant not found",
        ),
        (
            700016,
            f"AADSTS700016: Application with identifier '{APP}' was not found in the directory"
            f" '{TENANT}'.",
            FailureKind.APP_NOT_FOUND,
            "App not found",
        ),
        (
            700027,
            "AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was"
            " not found., Thumbprint of key used by client: 'AB']",
            FailureKind.CERTIFICATE_NOT_UPLOADED,
            "Certificate not uploaded",
        ),
        (
            65001,
            "AADSTS65001: The user or administrator has not consented to use the application.",
            FailureKind.CONSENT_MISSING,
            "Admin consent not granted",
        ),
        (
            7000112,
            "AADSTS7000112: Application is disabled.",
            FailureKind.APP_DISABLED,
            "App disabled",
        ),
        (
            700024,
            "AADSTS700024: Client assertion is not within its valid time range.",
            FailureKind.CLOCK_SKEW,
            "Clock out of step",
        ),
        (
            500011,
            "AADSTS500011: The resource principal named https://graph.test.example was not found.",
            FailureKind.GRAPH_HOST_WRONG,
            "Wrong Graph host",
        ),
    ],
)
def test_token_endpoint_refusals(
    code: int, description: str, kind: FailureKind, words: str
) -> None:
    failure = explain(refused_by_entra(code, description), CUSTOM)
    assert failure.kind is kind
    assert words in plain(failure.message)
    assert failure.kind.value == kind.value  # a stable string the API and CLI show


def test_certificate_message_names_the_thumbprint_to_compare() -> None:
    failure = explain(refused_by_entra(700027, "AADSTS700027: x"), CUSTOM)
    assert f"thumbprint there must read {'AB' * 20}" in failure.message
    assert "Certificates & secrets > Certificates > Upload certificate" in failure.message


def test_an_unknown_tenant_in_msals_discovery_error() -> None:
    # msal raises ValueError with the discovery answer when the tenant is unknown.
    discovery = ValueError(
        f"OIDC Discovery failed on https://login.test.example/{TENANT}/v2.0/.well-known/"
        'openid-configuration. HTTP status: 400, Error: {"error":"invalid_tenant",'
        f'"error_description":"AADSTS90002: Tenant \'{TENANT}\' not found."}}'
    )
    assert test_failures.kind_of(discovery) is FailureKind.TENANT_NOT_FOUND
    refusal = GraphAuthError("cannot request a token", code="configuration")
    refusal.__cause__ = discovery
    assert explain(refusal, CUSTOM).kind is FailureKind.TENANT_NOT_FOUND


def test_permission_missing_and_consent_missing() -> None:
    forbidden = GraphForbidden("GET /users: denied", status=403, code="Authorization_RequestDenied")
    failure = explain(forbidden, CUSTOM, GRAPH)
    assert failure.kind is FailureKind.PERMISSION_MISSING
    assert "User.Read.All and GroupMember.Read.All" in plain(failure.message)
    named = test_failures.missing_permission("GroupMember.Read.All", "read group members", APP)
    assert named.kind is FailureKind.PERMISSION_MISSING
    assert "Application permissions > GroupMember.Read.All, then Grant admin consent" in (
        named.message
    )
    consent = test_failures.consent_missing(["User.Read.All", "GroupMember.Read.All"], APP)
    assert consent.kind is FailureKind.CONSENT_MISSING
    assert "Grant admin consent" in consent.message and APP in consent.message


def test_busy_missing_group_and_unknown() -> None:
    busy = TransientGraphError("the token endpoint is unavailable (HTTP 503)", status=503)
    assert explain(busy, CUSTOM).kind is FailureKind.SERVICE_BUSY
    assert explain(GraphNotFound("no group"), CUSTOM, GRAPH).kind is FailureKind.GROUP_NOT_FOUND
    odd = explain(RuntimeError("boom <object at 0x7f>"), CUSTOM)
    assert odd.kind is FailureKind.UNKNOWN
    assert "boom" not in plain(odd.message)
    entra = explain(refused_by_entra(12345, "AADSTS12345: Something odd."), CUSTOM)
    assert entra.kind is FailureKind.UNKNOWN
    assert "Something odd" in entra.message  # Entra's own words, not a Python exception


def test_every_kind_has_its_own_message() -> None:
    messages = {k: test_failures.message(k, CUSTOM) for k in FailureKind}
    assert len(set(messages.values())) == len(FailureKind)
    for text in messages.values():
        plain(text)
