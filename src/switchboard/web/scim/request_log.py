"""The request log and the limits of the SCIM endpoint, as one pure ASGI middleware.

For every request under /scim/v2/ (other paths pass through untouched), in this order:

1. Rate limit: a token bucket per account slug (the path's third segment), refilled at the
   account's SCIM rate limit (switchboard.scim.limits). Above it: 429, a SCIM Error and
   ``Retry-After`` in whole seconds. A request whose token the endpoint then refuses (no
   ``scim_account_id``, below) gives its token back.
2. Body size: a body over 1 MB, by Content-Length or counted as a chunked body arrives, is
   refused with 413 and a SCIM Error. The body (at most 1 MB) is read here and handed to the
   endpoint unchanged.
3. The endpoint answers; after its response is sent, one entry is written to the account's
   request log in a short unit of work of its own, in a worker thread. A failure to write it
   is logged and counted (switchboard_scim_request_log_failures), never the client's problem.

Refusals of steps 1 and 2 come before the token is checked, so they go to no account's log:
they are counted in switchboard_scim_refused instead.

The contract with the SCIM routes, through ``scope["state"]`` (``request.state``):

- ``scim_account_id`` (int): the id of the account the request's token was accepted for. Set
  it once the token is accepted; leave it unset when the token is missing or refused or the
  account is unknown, and nothing is logged, so no stranger can write into an account's log.
- ``scim_subject`` (str, optional): the userName of the user or the displayName of the group
  the request was about.
- ``scim_change`` (str, optional): what changed, in words: "created", "updated: first name,
  email", "disabled", "enabled", "deleted", "members added: 2".
- ``scim_error`` (str, optional): the detail of the SCIM Error the request was answered with.

The log keeps the method, the path without its query string, the status and the time taken;
never a header, a query string or a body.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.bootstrap import Container
from switchboard.metrics import SCIM_LOG_FAILURES, SCIM_REFUSED
from switchboard.scim import limits, request_log
from switchboard.scim.errors import ScimError
from switchboard.web.scim.coalescing import Coalescer

log = logging.getLogger("switchboard.scim")

PREFIX = "/scim/v2/"
SCIM_CONTENT_TYPE = b"application/scim+json"
STATE_ACCOUNT = "scim_account_id"
STATE_SUBJECT = "scim_subject"
STATE_CHANGE = "scim_change"
STATE_ERROR = "scim_error"
SERVER_FAILED = "the server failed to answer this request; it was not carried out, send it again"
TOO_LARGE = (
    "the request body is larger than 1 MB; send fewer changes per request (a group's members"
    " in several PATCH requests)"
)


def install(
    app: FastAPI,
    container: Container,
    *,
    clock: limits.Clock = time.monotonic,
    timer: Callable[[], float] = time.perf_counter,
) -> None:
    """Put the middleware on ``app``; ``clock`` drives the rate limit, ``timer`` the durations
    (tests pass fakes of both)."""
    app.add_middleware(
        ScimRequestMiddleware,
        container=container,
        limiter=limits.RateLimiter(clock=clock),
        timer=timer,
    )


@dataclass(frozen=True)
class _Entry:
    account_id: int
    method: str
    path: str
    status: int
    subject: str | None
    change: str | None
    error: str | None
    duration_ms: int


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _account_of(state: dict[str, Any]) -> int | None:
    found = state.get(STATE_ACCOUNT)
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def _too_many(decision: limits.Decision) -> ScimError:
    seconds = decision.retry_after
    return ScimError(
        429,
        f"too many requests: this account allows {decision.rate} SCIM requests per second;"
        f" wait {seconds} second{'' if seconds == 1 else 's'} and send it again",
        headers={"Retry-After": str(seconds)},
    )


def _slug(path: str) -> str:
    return path[len(PREFIX) :].split("/", 1)[0]


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # counted as it arrives instead
    return None


async def _refuse(send: Send, error: ScimError) -> None:
    body = json.dumps(error.body()).encode()
    headers = [
        (b"content-type", SCIM_CONTENT_TYPE),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Gone:
    """The client disconnected before its body was read."""


class ScimRequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        container: Container,
        limiter: limits.RateLimiter,
        timer: Callable[[], float] = time.perf_counter,
        max_body: int = limits.MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.container = container
        self.limiter = limiter
        self.timer = timer
        self.max_body = max_body
        # Entries of requests finishing together are written in one transaction.
        self._entries: Coalescer[_Entry, None] = Coalescer(self._write, max_batch=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        started = self.timer()
        decision = await self._take(_slug(path))
        if not decision.allowed:
            SCIM_REFUSED.labels(reason="rate_limit").inc()
            await _refuse(send, _too_many(decision))
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        try:
            await self._within_limits(scope, receive, send, state, started)
        finally:
            if _account_of(state) is None:
                self.limiter.refund(decision)

    async def _within_limits(
        self, scope: Scope, receive: Receive, send: Send, state: dict[str, Any], started: float
    ) -> None:
        length = _content_length(scope)
        body = None if length is not None and length > self.max_body else await self._read(receive)
        if body is None:
            SCIM_REFUSED.labels(reason="body_too_large").inc()
            await _refuse(send, ScimError(413, TOO_LARGE))
            return
        if isinstance(body, _Gone):
            return  # the client went away before it finished sending
        await self._answer(scope, _replay(body, receive), send, state, started)

    async def _take(self, slug: str) -> limits.Decision:
        if self.limiter.claim_refresh(slug):
            try:
                rate = await anyio.to_thread.run_sync(self._rate_limit_of, slug)
            except Exception:
                log.exception("SCIM rate limit of %r not read; the last one known holds", slug)
            else:
                self.limiter.set_limit(slug, rate)
        return self.limiter.take(slug)

    def _rate_limit_of(self, slug: str) -> int | None:
        with self.container.unit_of_work() as session:
            return limits.rate_limit_of(session, slug)

    async def _read(self, receive: Receive) -> bytes | _Gone | None:
        """The whole body; None when it grows past the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _Gone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, state: dict[str, Any], started: float
    ) -> None:
        status = 500
        finished: float | None = None

        async def noting_send(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = self.timer()

        try:
            await self.app(scope, receive, noting_send)
        except Exception:
            await self._log(scope, state, 500, started, self.timer(), failed=True)
            raise
        await self._log(scope, state, status, started, finished or self.timer())

    async def _log(
        self,
        scope: Scope,
        state: dict[str, Any],
        status: int,
        started: float,
        finished: float,
        *,
        failed: bool = False,
    ) -> None:
        account_id = _account_of(state)
        if account_id is None:
            return  # no account accepted this request's token: it goes to no one's log
        error = _text(state.get(STATE_ERROR))
        entry = _Entry(
            account_id=account_id,
            method=str(scope.get("method", "")),
            path=str(scope.get("path", "")),
            status=status,
            subject=_text(state.get(STATE_SUBJECT)),
            change=None if failed else _text(state.get(STATE_CHANGE)),
            error=SERVER_FAILED if failed or (status >= 500 and error is None) else error,
            duration_ms=round(max(0.0, finished - started) * 1000),
        )
        try:
            await anyio.to_thread.run_sync(self._entries.submit, "log", entry)
        except Exception:  # the client has its answer; a lost entry is for the operator
            SCIM_LOG_FAILURES.inc()
            log.exception(
                "SCIM request log: the entry of %s %s not written", entry.method, entry.path
            )

    def _write(self, _key: Hashable, entries: Sequence[_Entry]) -> list[None]:
        with self.container.unit_of_work() as session:
            for entry in entries:
                request_log.record(
                    session,
                    entry.account_id,
                    method=entry.method,
                    path=entry.path,
                    status=entry.status,
                    subject=entry.subject,
                    change=entry.change,
                    error=entry.error,
                    duration_ms=entry.duration_ms,
                )
        return [None for _entry in entries]


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, as one message; then the client's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
