"""The /api/ gate on its own: ASGI scopes in, responses out, no sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from switchboard.tls.server import PEER_CERT_STATE_KEY, ClientIdentity
from switchboard.web.client_cert import IDENTITY_STATE_KEY, ClientCertificateMiddleware

ALICE = {
    "subject": ((("organizationName", "Switchboard"),), (("commonName", "alice"),)),
    "serialNumber": "0A1B",
    "notAfter": "Jan 15 09:00:00 2027 GMT",
}


class Inner:
    """The wrapped app: answers 200 and remembers the scope it saw."""

    def __init__(self) -> None:
        self.seen: Scope | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen = scope
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})


def call(
    required: bool, path: str, state: dict[str, Any] | None, root_path: str = ""
) -> tuple[int, bytes, Inner]:
    inner = Inner()
    gate = ClientCertificateMiddleware(inner, required=required)
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": root_path + path,
        "root_path": root_path,
        "headers": [],
        "query_string": b"",
        "client": ("10.0.0.9", 5555),
    }
    if state is not None:
        scope["state"] = state
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(gate(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, inner


@pytest.mark.parametrize("path", ["/api/v1/accounts", "/api", "/api/docs", "/openapi.json"])
@pytest.mark.parametrize("state", [None, {}, {PEER_CERT_STATE_KEY: None}])
def test_api_without_a_verified_certificate_is_refused(
    path: str, state: dict[str, Any] | None
) -> None:
    status, body, inner = call(True, path, state)
    assert status == 403
    assert json.loads(body)["error"]["code"] == "client_certificate_required"
    assert inner.seen is None


@pytest.mark.parametrize(
    "path", ["/healthz", "/", "/webhooks/graph", "/apix", "/ui/api/x", "/openapi.jsonx"]
)
def test_paths_outside_the_api_pass_without_a_certificate(path: str) -> None:
    status, body, _ = call(True, path, {PEER_CERT_STATE_KEY: None})
    assert (status, body) == (200, b"inner")


def test_the_api_under_a_root_path_is_still_gated() -> None:
    assert call(True, "/api/v1/accounts", {}, root_path="/switchboard")[0] == 403


def test_a_verified_certificate_passes_and_its_identity_reaches_the_app() -> None:
    status, _, inner = call(True, "/api/v1/accounts", {PEER_CERT_STATE_KEY: ALICE})
    assert status == 200
    assert inner.seen is not None
    assert inner.seen["state"][IDENTITY_STATE_KEY] == ClientIdentity(
        common_name="alice", serial="0A1B", not_after="Jan 15 09:00:00 2027 GMT"
    )


def test_nothing_is_required_when_the_server_does_not_ask_for_it() -> None:
    status, _, inner = call(False, "/api/v1/accounts", None)
    assert status == 200
    assert inner.seen is not None
    assert inner.seen["state"][IDENTITY_STATE_KEY] is None


def test_scim_endpoint_is_gated_with_a_scim_error() -> None:
    status, body, inner = call(True, "/scim/v2/acme/Users", state={})
    assert status == 403
    refusal = json.loads(body)
    assert refusal["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert "client certificate" in refusal["detail"]
    assert inner.seen is None


def test_scim_endpoint_opens_with_a_client_certificate() -> None:
    status, body, _inner = call(True, "/scim/v2/acme/Users", state={PEER_CERT_STATE_KEY: ALICE})
    assert (status, body) == (200, b"inner")
