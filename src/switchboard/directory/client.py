"""The Graph HTTP client: one pooled connection set, retries, paging, $batch.

Everything Graph-specific about the wire lives here and in graph_wire.py (its message formats
and error mapping); graph_directory.py speaks in users and groups on top of it. Sleep, clock
and randomness are injected so retry behaviour is testable without waiting.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from switchboard.directory.auth import TokenProvider
from switchboard.directory.errors import (
    GraphBadRequest,
    GraphError,
    GraphThrottled,
    TransientGraphError,
)
from switchboard.directory.graph_wire import (
    BatchRequest,
    BatchResult,
    exhausted,
    json_object,
    json_or_none,
    map_error,
    network_words,
)
from switchboard.directory.waits import describe_wait, parse_retry_after
from switchboard.metrics import GRAPH_REQUESTS, GRAPH_RETRIES, GRAPH_RETRY_AFTER, GRAPH_THROTTLED

log = logging.getLogger("switchboard.directory.client")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
BATCH_LIMIT = 20
USER_AGENT = "Switchboard/0.1 (directory sync)"


@dataclass(frozen=True)
class RetryPolicy:
    """How long one logical request may keep trying before it is a TransientGraphError."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0  # one backoff step, and the most a Retry-After is honoured
    max_total_wait: float = 120.0  # all waits of one request (or one $batch item) together


class GraphClient:
    """Graph v1.0 over ONE pooled httpx.Client (thread-safe; share it between workers)."""

    def __init__(
        self,
        graph_url: str,
        tokens: TokenProvider,
        *,
        version: str = "v1.0",
        verify: ssl.SSLContext | bool = True,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        background: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        max_connections: int = 16,
        timeout: float = 60.0,
        http: httpx.Client | None = None,
    ) -> None:
        """``http``: a client shared with other runs (``connections.GraphConnections``), left
        open by ``close``; without it the client opens a pool of its own."""
        self._graph_url = graph_url
        self._version = version
        self.root = f"{graph_url.rstrip('/')}/{version}"
        self._origin = _origin(self.root)
        self.tokens = tokens
        self.retry = retry or RetryPolicy()
        self.background = background
        self.sleep = sleep
        self.clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._rng_lock = threading.Lock()
        self._owns_http = http is None
        self._http = http or httpx.Client(
            verify=verify,
            transport=transport,
            http2=False,
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=30.0,
            ),
            timeout=httpx.Timeout(timeout, connect=10.0),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            trust_env=False,
        )
        self._sent = 0
        self._sent_lock = threading.Lock()

    # ------------------------------------------------------------------ plumbing
    @property
    def requests_sent(self) -> int:
        """Attempts put on the wire (retries included), for benchmarks and tests."""
        return self._sent

    def interactive(self, retry: RetryPolicy) -> GraphClient:
        """A client for a person waiting on the answer: the same tokens and connections (left
        open by its ``close``), its own shorter retry policy, not marked as background work."""
        return GraphClient(
            self._graph_url,
            self.tokens,
            version=self._version,
            retry=retry,
            background=False,
            sleep=self.sleep,
            clock=self.clock,
            http=self._http,
        )

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path_or_url: str) -> str:
        """An absolute URL: relative paths join the version root; links are taken as given."""
        if path_or_url.startswith(("https://", "http://")):
            if _origin(path_or_url) != self._origin:
                # Never send the bearer token to a host that is not this Graph.
                raise GraphBadRequest(
                    f"Graph returned a link to another host ({_origin(path_or_url)}); refusing "
                    f"to follow it with this registration's token",
                    code="foreignLink",
                )
            return path_or_url
        return f"{self.root}/{path_or_url.lstrip('/')}"

    def _backoff(self, attempt: int) -> float:
        cap = min(self.retry.max_delay, self.retry.base_delay * (2**attempt))
        with self._rng_lock:
            return self._rng.uniform(0, cap)

    # ------------------------------------------------------------------ requests
    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        delta: bool = False,
    ) -> httpx.Response:
        """Send with retries; a 2xx/3xx response is returned, anything else raises GraphError."""
        url = self.url(path_or_url)
        what = f"{method} {urlsplit(url).path.removeprefix(urlsplit(self.root).path) or '/'}"
        request_id = str(uuid.uuid4())  # one id for all attempts, so Graph can correlate them
        extra = dict(headers or {})
        if self.background:
            extra.setdefault("x-ms-throttle-priority", "low")
        waited = 0.0
        refreshed = refresh_next = False
        attempt = 0
        while True:
            attempt += 1
            delay: float | None = None
            failure: GraphError
            try:
                token = self.tokens.token(refresh=refresh_next)
                refresh_next = False
                with self._sent_lock:
                    self._sent += 1
                resp = self._http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers={
                        **extra,
                        "Authorization": f"Bearer {token}",
                        "client-request-id": request_id,
                    },
                )
            except TransientGraphError as exc:  # the token endpoint is busy or out of reach
                failure, delay = exc, exc.retry_after
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                GRAPH_REQUESTS.labels(status="0").inc()
                failure = TransientGraphError(
                    f"{what}: {network_words(exc)}", code=type(exc).__name__
                )
                failure.__cause__ = exc  # what the network said, for the connection test
            else:
                counted(resp.status_code)
                if resp.status_code < 400:
                    return resp
                body = json_or_none(resp)
                failure = map_error(resp.status_code, body, resp.headers, what, delta=delta)
                if resp.status_code == 401 and not refreshed:
                    # One retry with a fresh token: the cached one may have been revoked.
                    refreshed = refresh_next = True
                    GRAPH_RETRIES.inc()
                    continue
                if resp.status_code not in RETRY_STATUSES:
                    raise failure
                delay = parse_retry_after(resp.headers.get("Retry-After"))
            waited += self._wait(failure, delay, attempt, waited)

    def token(self, *, refresh: bool = False) -> str:
        """A token from the provider, retried like a request while the token endpoint is busy."""
        attempt = 0
        waited = 0.0
        while True:
            attempt += 1
            try:
                return self.tokens.token(refresh=refresh)
            except TransientGraphError as exc:
                waited += self._wait(exc, exc.retry_after, attempt, waited)

    def _wait(self, failure: GraphError, delay: float | None, attempt: int, waited: float) -> float:
        """Sleep before the next attempt and return how long; raise when retrying is over.

        A wait longer than the cap is GraphThrottled at once (the caller stops and comes back
        after it); attempts or total waiting used up is the failure itself.
        """
        if delay is None:
            delay = self._backoff(attempt - 1)
        if delay > self.retry.max_delay:
            raise GraphThrottled(
                f"{failure.message} (asked to wait {describe_wait(delay)})",
                wait_seconds=delay,
                status=failure.status,
                code=failure.code,
                request_id=failure.request_id,
            )
        if attempt >= self.retry.max_attempts or waited + delay > self.retry.max_total_wait:
            raise exhausted(failure, f"gave up after {attempt} attempts")
        log.info("%s; retrying in %.2f s", failure.message, delay)
        GRAPH_RETRIES.inc()
        GRAPH_RETRY_AFTER.inc(delay)
        self.sleep(delay)
        return delay

    def get(self, path_or_url: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return json_object(self.request("GET", path_or_url, params=params))

    def post(self, path_or_url: str, body: Any) -> dict[str, Any]:
        return json_object(self.request("POST", path_or_url, json=body))

    def patch(self, path_or_url: str, body: Any) -> None:
        self.request("PATCH", path_or_url, json=body)

    def pages(
        self,
        path_or_url: str,
        params: Mapping[str, str] | None = None,
        *,
        delta: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """Each page of a collection, following ``@odata.nextLink`` exactly as given.

        Ends at the page without a nextLink (for delta, the one with the deltaLink). An empty
        page with a nextLink is not the end.
        """
        resp = self.request("GET", path_or_url, params=params, delta=delta, headers=headers)
        while True:
            page = json_object(resp)
            yield page
            link = page.get("@odata.nextLink")
            if not isinstance(link, str) or not link:
                return
            resp = self.request("GET", link, delta=delta, headers=headers)

    def items(
        self, path_or_url: str, params: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        for page in self.pages(path_or_url, params):
            yield from page.get("value") or ()

    # ------------------------------------------------------------------ $batch
    def batch(self, requests: Sequence[BatchRequest], *, workers: int = 1) -> list[BatchResult]:
        """Run requests through ``$batch`` in chunks of 20; results in the order given.

        Each item is throttled on its own by Graph: an item answered 429 (or 503/504) is sent
        again in a later batch after its own Retry-After, within the retry policy's caps; if it
        still fails its result keeps that status for the caller to map.
        """
        ids = [r.id for r in requests]
        if len(set(ids)) != len(ids):
            raise ValueError("batch request ids must be unique")
        chunks = [requests[i : i + BATCH_LIMIT] for i in range(0, len(requests), BATCH_LIMIT)]
        results: dict[str, BatchResult] = {}
        if workers > 1 and len(chunks) > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for chunk_results in pool.map(self._batch_chunk, chunks):
                    results.update(chunk_results)
        else:
            for chunk in chunks:
                results.update(self._batch_chunk(chunk))
        return [results[i] for i in ids]

    def _batch_chunk(self, chunk: Sequence[BatchRequest]) -> dict[str, BatchResult]:
        pending = {r.id: r for r in chunk}
        done: dict[str, BatchResult] = {}
        waited = 0.0
        round_no = 0
        while pending:
            round_no += 1
            body = self.post("/$batch", {"requests": [r.as_json() for r in pending.values()]})
            answered = body.get("responses") or []
            retry_after: list[float] = []
            for item in answered:
                rid = str(item.get("id"))
                if rid not in pending:
                    continue
                result = BatchResult(
                    id=rid,
                    status=int(item.get("status") or 0),
                    body=item.get("body"),
                    headers={str(k): str(v) for k, v in (item.get("headers") or {}).items()},
                )
                done[rid] = result
                if result.status == 429:  # each item is throttled on its own
                    GRAPH_THROTTLED.inc()
                if result.status in RETRY_STATUSES:
                    lowered = {k.lower(): v for k, v in result.headers.items()}
                    ra = parse_retry_after(lowered.get("retry-after"))
                    retry_after.append(ra if ra is not None else self._backoff(round_no - 1))
                else:
                    pending.pop(rid)
            missing = [rid for rid in pending if rid not in {str(i.get("id")) for i in answered}]
            for rid in missing:  # an item the service did not answer is retried like a 503
                done[rid] = BatchResult(rid, 503)
                retry_after.append(self._backoff(round_no - 1))
            if not pending:
                break
            delay = max(retry_after)
            if delay > self.retry.max_delay:
                first = done[next(iter(pending))]
                raise GraphThrottled(
                    f"POST /$batch: {len(pending)} of {len(chunk)} requests were throttled "
                    f"(asked to wait {describe_wait(delay)})",
                    wait_seconds=delay,
                    status=first.status,
                    code="TooManyRequests" if first.status == 429 else "ServiceUnavailable",
                )
            if round_no >= self.retry.max_attempts or waited + delay > self.retry.max_total_wait:
                break  # the remaining items keep their 429/503 result
            GRAPH_RETRIES.inc(len(pending))
            GRAPH_RETRY_AFTER.inc(delay)
            self.sleep(delay)
            waited += delay
        return done


def counted(status: int) -> None:
    """One answer from Graph (or its token endpoint) in the process's metrics."""
    GRAPH_REQUESTS.labels(status=str(status)).inc()
    if status == 429:
        GRAPH_THROTTLED.inc()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
