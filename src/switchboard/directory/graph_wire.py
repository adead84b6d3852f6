"""Graph's wire formats: $batch items, JSON bodies, and failures mapped to the taxonomy
(by ``error.code`` and status, never by message).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from switchboard.directory.errors import (
    DeltaTokenExpired,
    GraphAuthError,
    GraphBadRequest,
    GraphError,
    GraphForbidden,
    GraphNotFound,
    TransientGraphError,
)

# Graph's codes for a delta token it no longer knows (documented loosely as "40X").
DELTA_EXPIRED_CODES = frozenset({"syncStateNotFound", "syncStateInvalid", "resyncRequired"})


@dataclass
class BatchRequest:
    id: str
    method: str
    url: str  # relative to the version root, as "/users/{id}?$select=..."
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {"id": self.id, "method": self.method, "url": self.url}
        headers = dict(self.headers)
        if self.body is not None:
            item["body"] = self.body
            headers.setdefault("Content-Type", "application/json")
        if headers:
            item["headers"] = headers
        return item


@dataclass
class BatchResult:
    id: str
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error(self, what: str) -> GraphError | None:
        if self.ok:
            return None
        return map_error(self.status, self.body, self.headers, what)


def _envelope(body: Any) -> tuple[str, str, str | None]:
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            inner = err.get("innerError") or err.get("innererror") or {}
            rid = inner.get("request-id") if isinstance(inner, Mapping) else None
            return str(err.get("code") or ""), str(err.get("message") or ""), rid
    return "", "", None


def map_error(
    status: int, body: Any, headers: Mapping[str, str], what: str, *, delta: bool = False
) -> GraphError:
    """Graph's error envelope -> the taxonomy, by ``error.code`` and status (never by message)."""
    code, message, rid = _envelope(body)
    lowered = {k.lower(): v for k, v in headers.items()}
    rid = rid or lowered.get("request-id")
    text = f"{what}: {status} {code or 'error'}" + (f": {message}" if message else "")
    kwargs: dict[str, Any] = {"status": status, "code": code, "request_id": rid}
    if code in DELTA_EXPIRED_CODES or (status == 410 and delta):
        return DeltaTokenExpired(text, **kwargs)
    if status == 401:
        return GraphAuthError(text, **kwargs)
    if status == 403:
        return GraphForbidden(text, **kwargs)
    if status in (404, 410):
        return GraphNotFound(text, **kwargs)
    if status == 429 or status >= 500:
        return TransientGraphError(text, **kwargs)
    return GraphBadRequest(text, **kwargs)


def decode_json(content: bytes) -> Any:
    """A JSON body: orjson first (a 999-user page in half the time), the standard library for
    what orjson refuses and JSON allows (a lone surrogate escape, an integer beyond 64 bits),
    so one odd directory value never fails a page. ValueError when it is not JSON."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content)


def json_or_none(resp: httpx.Response) -> Any:
    try:
        return decode_json(resp.content)
    except ValueError:
        return None


def json_object(resp: httpx.Response) -> dict[str, Any]:
    if resp.status_code == 204 or not resp.content:
        return {}
    data = json_or_none(resp)
    if not isinstance(data, dict):
        raise TransientGraphError(
            f"{resp.request.method} {resp.request.url.path}: the answer is not a JSON object",
            status=resp.status_code,
            code="invalidResponse",
        )
    return data


def network_words(exc: Exception) -> str:
    """A connection problem in words (the exception's own text names internals)."""
    if isinstance(exc, httpx.TimeoutException):
        return "Graph did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect to Graph"
    return "the connection to Graph was reset"


def exhausted(failure: GraphError, why: str) -> GraphError:
    if isinstance(failure, TransientGraphError):
        given_up = TransientGraphError(
            f"{failure.message} ({why})",
            status=failure.status,
            code=failure.code,
            request_id=failure.request_id,
        )
        # Kept so a connection test can say what the network said (test_failures).
        given_up.__cause__ = failure
        return given_up
    return failure
