"""GraphClient against a fake Graph at the transport edge (httpx.MockTransport), no sleeping."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from switchboard.directory.client import GraphClient, RetryPolicy
from switchboard.directory.errors import (
    DeltaTokenExpired,
    GraphAuthError,
    GraphBadRequest,
    GraphError,
    GraphForbidden,
    GraphNotFound,
    GraphThrottled,
    TransientGraphError,
)
from switchboard.directory.graph_wire import BatchRequest
from switchboard.directory.waits import parse_retry_after

GRAPH = "https://graph.example.test"
Handler = Callable[[httpx.Request], httpx.Response]


class Tokens:
    def __init__(self) -> None:
        self.calls: list[bool] = []

    def token(self, *, refresh: bool = False) -> str:
        self.calls.append(refresh)
        return f"token-{len(self.calls)}"


def envelope(code: str, message: str = "x", rid: str = "rid-1") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "innerError": {"request-id": rid}}}


def make(
    handler: Handler, *, retry: RetryPolicy | None = None, background: bool = True
) -> tuple[GraphClient, list[float], list[httpx.Request], Tokens]:
    sleeps: list[float] = []
    seen: list[httpx.Request] = []
    tokens = Tokens()

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = GraphClient(
        GRAPH,
        tokens,
        transport=httpx.MockTransport(recording),
        retry=retry,
        background=background,
        sleep=sleeps.append,
        rng=random.Random(3),  # noqa: S311 - jitter
    )
    return client, sleeps, seen, tokens


def sequence(*responses: httpx.Response | Exception) -> Handler:
    items = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler


OK = httpx.Response(200, json={"value": []})


def test_retry_after_decimal_is_honoured_and_request_repeated() -> None:
    client, sleeps, seen, _ = make(
        sequence(
            httpx.Response(429, json=envelope("TooManyRequests"), headers={"Retry-After": "2.128"}),
            httpx.Response(200, json={"value": [{"id": "a"}]}),
        )
    )
    assert client.get("/users", {"$top": "1"}) == {"value": [{"id": "a"}]}
    assert sleeps == [2.128]
    assert [str(r.url) for r in seen] == [f"{GRAPH}/v1.0/users?%24top=1"] * 2


def test_without_retry_after_backoff_is_jittered_exponential() -> None:
    retry = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=30.0, max_total_wait=100.0)
    client, sleeps, _, _ = make(
        sequence(
            httpx.Response(503), httpx.Response(504), httpx.Response(503), httpx.Response(200)
        ),
        retry=retry,
    )
    client.get("/users")
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps):
        assert 0 <= delay <= 1.0 * 2**attempt
    assert len(set(sleeps)) == 3  # jitter: not a fixed schedule


def test_attempts_are_capped_then_transient_error() -> None:
    retry = RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=5, max_total_wait=100)
    client, sleeps, seen, _ = make(
        lambda r: httpx.Response(
            429, json=envelope("TooManyRequests", rid="r9"), headers={"Retry-After": "1"}
        ),
        retry=retry,
    )
    with pytest.raises(TransientGraphError) as err:
        client.get("/users")
    assert len(seen) == 4 and sleeps == [1.0, 1.0, 1.0]
    assert err.value.status == 429 and err.value.code == "TooManyRequests"
    assert err.value.request_id == "r9"
    assert "gave up after 4 attempts" in err.value.message


def test_total_wait_is_capped() -> None:
    retry = RetryPolicy(max_attempts=10, base_delay=0.1, max_delay=30, max_total_wait=50)
    client, sleeps, _, _ = make(
        lambda r: httpx.Response(429, headers={"Retry-After": "20"}), retry=retry
    )
    with pytest.raises(TransientGraphError):
        client.get("/users")
    assert sleeps == [20.0, 20.0]  # a third wait would pass 50 s in total


def test_retry_after_beyond_the_cap_stops_at_once_as_throttled() -> None:
    client, sleeps, _, _ = make(
        lambda r: httpx.Response(503, headers={"Retry-After": "3600"}),
        retry=RetryPolicy(max_delay=30),
    )
    with pytest.raises(GraphThrottled, match="asked to wait 60 minutes") as err:
        client.get("/users")
    assert sleeps == [] and err.value.wait_seconds == 3600.0
    assert isinstance(err.value, TransientGraphError)  # callers that only retry still do


def test_retry_after_within_the_cap_is_waited_not_throttled() -> None:
    client, sleeps, _, _ = make(
        sequence(httpx.Response(429, headers={"Retry-After": "30"}), OK),
        retry=RetryPolicy(max_delay=30),
    )
    assert client.get("/users") == {"value": []}
    assert sleeps == [30.0]


class FlakyTokens:
    """A token provider whose token endpoint fails ``failures`` times first."""

    def __init__(self, *failures: TransientGraphError) -> None:
        self.failures = list(failures)
        self.calls = 0

    def token(self, *, refresh: bool = False) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "fresh"


def test_token_endpoint_busy_is_retried_with_its_retry_after_then_backoff() -> None:
    busy = TransientGraphError("the token endpoint is unavailable (HTTP 503)", retry_after=2.0)
    reset = TransientGraphError("could not reach the token endpoint: connection reset")
    tokens = FlakyTokens(busy, reset)
    sleeps: list[float] = []
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return OK

    client = GraphClient(
        GRAPH,
        tokens,
        transport=httpx.MockTransport(recording),
        sleep=sleeps.append,
        rng=random.Random(3),  # noqa: S311 - jitter
    )
    assert client.get("/users") == {"value": []}
    assert tokens.calls == 3 and len(seen) == 1
    assert sleeps[0] == 2.0 and 0 <= sleeps[1] <= RetryPolicy().base_delay * 2
    # The token alone (the connection test asks for one) is retried the same way.
    tokens.failures = [TransientGraphError("busy", retry_after=1.5)]
    assert client.token(refresh=True) == "fresh" and sleeps[-1] == 1.5


def test_token_endpoint_failing_for_good_gives_up_with_its_message() -> None:
    tokens = FlakyTokens(
        *[TransientGraphError("the token endpoint at login.test is unavailable", status=503)] * 9
    )
    client = GraphClient(
        GRAPH,
        tokens,
        transport=httpx.MockTransport(lambda r: OK),
        retry=RetryPolicy(max_attempts=4),
        sleep=lambda s: None,
    )
    with pytest.raises(TransientGraphError) as err:
        client.get("/users")
    assert not isinstance(err.value, GraphThrottled)
    assert err.value.message == (
        "the token endpoint at login.test is unavailable (gave up after 4 attempts)"
    )
    assert tokens.calls == 4


def test_token_endpoint_asking_for_a_long_wait_is_throttled() -> None:
    tokens = FlakyTokens(TransientGraphError("asked to slow down (HTTP 429)", retry_after=900))
    client = GraphClient(GRAPH, tokens, transport=httpx.MockTransport(lambda r: OK))
    with pytest.raises(GraphThrottled, match="asked to wait 15 minutes") as err:
        client.get("/users")
    assert err.value.wait_seconds == 900


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection reset by peer"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
def test_timeouts_and_resets_are_retried(exc: Exception) -> None:
    client, sleeps, seen, _ = make(sequence(exc, OK))
    assert client.get("/users") == {"value": []}
    assert len(seen) == 2 and len(sleeps) == 1


def test_resets_that_persist_become_transient() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    client, _, _, _ = make(fail, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(TransientGraphError, match="could not connect to Graph") as err:
        client.get("/users")
    assert err.value.code == "ConnectError"


def test_headers_priority_and_one_client_request_id_across_retries() -> None:
    client, _, seen, _ = make(sequence(httpx.Response(503), OK, OK))
    client.get("/users")
    ids = {r.headers["client-request-id"] for r in seen}
    assert len(ids) == 1 and uuid.UUID(ids.pop()).version == 4
    assert all(r.headers["x-ms-throttle-priority"] == "low" for r in seen)
    assert seen[0].headers["authorization"] == "Bearer token-1"
    client.get("/users")
    assert seen[2].headers["client-request-id"] != seen[0].headers["client-request-id"]

    interactive, _, seen2, _ = make(sequence(OK), background=False)
    interactive.get("/users")
    assert "x-ms-throttle-priority" not in seen2[0].headers


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (403, "Authorization_RequestDenied", GraphForbidden),
        (404, "Request_ResourceNotFound", GraphNotFound),
        (400, "Request_BadRequest", GraphBadRequest),
        (400, "syncStateNotFound", DeltaTokenExpired),
        (409, "ObjectConflict", GraphBadRequest),
    ],
)
def test_error_envelope_maps_by_code_and_status(
    status: int, code: str, kind: type[GraphError]
) -> None:
    client, sleeps, seen, _ = make(
        lambda r: httpx.Response(status, json=envelope(code, "Some words", "req-42"))
    )
    with pytest.raises(kind) as err:
        client.get("/users/abc")
    assert type(err.value) is kind
    assert err.value.code == code and err.value.status == status
    assert err.value.request_id == "req-42"
    assert "GET /users/abc" in err.value.message
    assert len(seen) == 1 and sleeps == []


def test_410_gone_on_delta_is_an_expired_token_elsewhere_not_found() -> None:
    gone = httpx.Response(410, headers={"Location": f"{GRAPH}/v1.0/users/delta", "request-id": "h"})
    client, _, _, _ = make(lambda r: gone)
    with pytest.raises(DeltaTokenExpired) as err:
        list(client.pages(f"{GRAPH}/v1.0/users/delta?$deltatoken=old", delta=True))
    assert err.value.request_id == "h"
    with pytest.raises(GraphNotFound):
        client.get("/users/x")


def test_401_refreshes_the_token_once() -> None:
    client, _, seen, tokens = make(
        sequence(httpx.Response(401, json=envelope("InvalidAuthenticationToken")), OK)
    )
    client.get("/users")
    assert tokens.calls == [False, True]
    assert seen[1].headers["authorization"] == "Bearer token-2"

    client, _, seen, tokens = make(
        lambda r: httpx.Response(401, json=envelope("InvalidAuthenticationToken"))
    )
    with pytest.raises(GraphAuthError) as err:
        client.get("/users")
    assert err.value.code == "InvalidAuthenticationToken"
    assert len(seen) == 2 and tokens.calls == [False, True]


def test_paging_follows_next_links_exactly_through_empty_pages() -> None:
    # Opaque tokens with characters a URL builder would like to re-encode.
    link1 = f"{GRAPH}/v1.0/users?$top=2&$skiptoken=RFNwdAIAAQAAACU6%2Bab%3D%3D"
    link2 = f"{GRAPH}/v1.0/users?$top=2&$skiptoken=second!token"
    pages = {
        f"{GRAPH}/v1.0/users?%24top=2": {
            "value": [{"id": "1"}, {"id": "2"}],
            "@odata.nextLink": link1,
        },
        link1: {"value": [], "@odata.nextLink": link2},
        link2: {"value": [{"id": "3"}]},
    }
    client, _, seen, _ = make(lambda r: httpx.Response(200, json=pages[str(r.url)]))
    assert [u["id"] for u in client.items("/users", {"$top": "2"})] == ["1", "2", "3"]
    assert [str(r.url) for r in seen][1:] == [link1, link2]


def test_next_link_to_another_host_is_refused() -> None:
    client, _, seen, _ = make(
        sequence(
            httpx.Response(
                200, json={"value": [], "@odata.nextLink": "https://evil.example/v1.0/users?x=1"}
            )
        )
    )
    with pytest.raises(GraphBadRequest, match="another host"):
        list(client.pages("/users"))
    assert len(seen) == 1


def test_batch_chunks_of_twenty_in_order() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        return httpx.Response(
            200,
            json={
                "responses": [
                    {"id": r["id"], "status": 200, "body": {"url": r["url"]}}
                    for r in reversed(body["requests"])  # Graph answers in any order
                ]
            },
        )

    client, _, seen, _ = make(handler)
    reqs = [BatchRequest(str(i), "GET", f"/users/u{i}") for i in range(45)]
    results = client.batch(reqs)
    assert [len(b["requests"]) for b in bodies] == [20, 20, 5]
    assert all(str(r.url) == f"{GRAPH}/v1.0/$batch" for r in seen)
    assert [r.id for r in results] == [str(i) for i in range(45)]
    assert results[7].body == {"url": "/users/u7"} and results[7].ok


def test_batch_item_429_is_retried_alone_after_its_retry_after() -> None:
    calls: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        ids = [r["id"] for r in body["requests"]]
        calls.append(ids)
        responses = []
        for r in body["requests"]:
            if r["id"] in ("1", "2") and len(calls) == 1:
                wait = "1.5" if r["id"] == "1" else "0.25"
                responses.append(
                    {
                        "id": r["id"],
                        "status": 429,
                        "headers": {"Retry-After": wait},
                        "body": envelope("TooManyRequests"),
                    }
                )
            elif r["id"] == "3":
                responses.append(
                    {"id": "3", "status": 404, "body": envelope("Request_ResourceNotFound")}
                )
            else:
                responses.append({"id": r["id"], "status": 204})
        return httpx.Response(200, json={"responses": responses})

    client, sleeps, _, _ = make(handler)
    reqs = [
        BatchRequest(str(i), "PATCH", f"/users/u{i}", body={"mobilePhone": "+1"}) for i in range(5)
    ]
    results = client.batch(reqs)
    assert calls == [["0", "1", "2", "3", "4"], ["1", "2"]]
    assert sleeps == [1.5]  # the longest Retry-After of the throttled items
    assert [r.status for r in results] == [204, 204, 204, 404, 204]
    err = results[3].error("PATCH /users/u3")
    assert isinstance(err, GraphNotFound)


def test_batch_item_throttled_past_the_cap_keeps_its_429() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "responses": [
                    {"id": r["id"], "status": 429, "headers": {"retry-after": "2"}}
                    for r in body["requests"]
                ]
            },
        )

    client, sleeps, seen, _ = make(handler, retry=RetryPolicy(max_attempts=3))
    [result] = client.batch([BatchRequest("a", "GET", "/users/a")])
    assert result.status == 429 and sleeps == [2.0, 2.0] and len(seen) == 3
    assert isinstance(result.error("GET /users/a"), TransientGraphError)


def test_batch_item_asked_to_wait_past_the_cap_is_throttled() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        answers = [{"id": r["id"], "status": 200, "body": {"value": []}} for r in body["requests"]]
        answers[-1] = {"id": answers[-1]["id"], "status": 429, "headers": {"Retry-After": "140"}}
        return httpx.Response(200, json={"responses": answers})

    client, sleeps, _, _ = make(handler, retry=RetryPolicy(max_delay=30))
    with pytest.raises(GraphThrottled, match="1 of 3 requests were throttled") as err:
        client.batch([BatchRequest(i, "GET", f"/users/{i}") for i in "abc"])
    assert err.value.wait_seconds == 140 and sleeps == []


def test_batch_request_sets_content_type_with_a_body() -> None:
    item = BatchRequest("1", "POST", "/users/u/checkMemberGroups", body={"groupIds": []}).as_json()
    assert item["headers"] == {"Content-Type": "application/json"}
    assert "headers" not in BatchRequest("2", "GET", "/users/u").as_json()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2.128", 2.128), ("7", 7.0), ("-3", 0.0), ("soon", None), (None, None), ("nan", None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412485.0) == 5.0
