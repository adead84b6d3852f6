"""Graph requests and responses as plain values, and Graph's error envelope."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from switchboard.emulator.tokens import Caller

OPTIONS = (
    "select",
    "top",
    "filter",
    "search",
    "count",
    "orderby",
    "expand",
    "skiptoken",
    "deltatoken",
    "skip",
    "format",
)


@dataclass
class GraphRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    base_url: str
    caller: Caller
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class GraphResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def normalise_query(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Graph accepts OData options with or without the leading $."""
    out: dict[str, str] = {}
    for key, value in pairs:
        bare = key.lstrip("$").lower()
        out[f"${bare}" if bare in OPTIONS else key] = value
    return out


def error_body(code: str, message: str, request_id: str, client_request_id: str | None) -> Any:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id or request_id,
            },
        }
    }
