"""Count HTTP requests and time them, labelled by the matched route's template.

The label is the template ("/api/v1/accounts/{account}/users/{user_id}"), never the raw path:
raw paths carry ids and would make a new time series per user. A request no route matches is
labelled UNMATCHED, and a method outside the standard ones OTHER, so a scanner cannot grow the
label sets either.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.metrics import HTTP_LATENCY, HTTP_REQUESTS

UNMATCHED = "unmatched"
OTHER = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

Template = tuple[re.Pattern[str], str]


def templates(routes: Iterable[Any]) -> list[Template]:
    """(path regex, path template) of every route, in the router's order; routers included
    with a prefix are expanded into their routes with the full template."""
    table: list[Template] = []
    for route in routes:
        expand = getattr(route, "effective_route_contexts", None)
        if callable(expand):  # a router included into another one
            table.extend(templates(expand()))
            continue
        regex, template = getattr(route, "path_regex", None), getattr(route, "path_format", None)
        if isinstance(regex, re.Pattern) and isinstance(template, str):
            table.append((regex, template))
    return table


def route_template(table: Sequence[Template], path: str) -> str:
    for regex, template in table:
        if regex.match(path):
            return template
    return UNMATCHED


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class HttpMetricsMiddleware:
    """Pure ASGI middleware (no response buffering); ``routes`` gives the app's routes, read
    once at the first request, when every router has been included."""

    def __init__(self, app: ASGIApp, *, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.routes = routes
        self._table: list[Template] | None = None

    def _template(self, path: str) -> str:
        if self._table is None:
            self._table = templates(self.routes())
        return route_template(self._table, path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = _route_path(scope)
        status = 500  # what the client gets when the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            method = scope.get("method", "")
            method = method if method in METHODS else OTHER
            route = self._template(path)
            HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
            HTTP_LATENCY.labels(route=route, method=method).observe(time.perf_counter() - started)
