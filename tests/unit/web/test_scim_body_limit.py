"""The SCIM middleware counts a body as it arrives, message by message: the endpoint sees the
whole body once, or never when it grows past 1 MB."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from starlette.types import Message, Receive, Scope, Send

from switchboard.bootstrap import Container
from switchboard.scim.limits import RateLimiter
from switchboard.web.scim.request_log import ScimRequestMiddleware

MB = 1024 * 1024
SCOPE: Scope = {
    "type": "http",
    "method": "POST",
    "path": "/scim/v2/acme/Users",
    "headers": [(b"content-type", b"application/scim+json")],
}


class Endpoint:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        self.bodies.append(b"".join(chunks))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def run(chunks: list[bytes], *, then_disconnect: bool = False) -> tuple[Endpoint, list[Message]]:
    endpoint = Endpoint()
    limiter = RateLimiter(clock=lambda: 0.0)
    assert limiter.claim_refresh("acme")
    limiter.set_limit("acme", 100)  # known: the middleware reads nothing from the database
    # Nothing is logged (the endpoint names no account), so no container is reached.
    middleware = ScimRequestMiddleware(
        endpoint, container=cast(Container, object()), limiter=limiter
    )
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    if then_disconnect:
        messages[-1]["more_body"] = True
        messages.append({"type": "http.disconnect"})
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(middleware(dict(SCOPE), receive, send))
    return endpoint, sent


def test_a_body_in_many_messages_reaches_the_endpoint_whole() -> None:
    chunks = [b"a" * (256 * 1024)] * 4  # exactly 1 MB
    endpoint, sent = run(chunks)
    assert endpoint.bodies == [b"".join(chunks)]
    assert sent[0]["status"] == 204


def test_a_body_that_grows_past_1_mb_is_refused_before_the_endpoint_sees_it() -> None:
    endpoint, sent = run([b"a" * (512 * 1024), b"a" * (512 * 1024), b"a"])
    assert endpoint.bodies == []
    assert sent[0]["status"] == 413
    assert (b"content-type", b"application/scim+json") in sent[0]["headers"]


def test_a_client_that_leaves_mid_body_gets_nothing() -> None:
    endpoint, sent = run([b"a" * 1000], then_disconnect=True)
    assert endpoint.bodies == [] and sent == []
