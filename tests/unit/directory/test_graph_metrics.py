"""The Graph client and the token endpoint count what they send and wait for in the process's
Prometheus metrics: answers by status, 429s, retries and the seconds waited."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
import requests
from prometheus_client import REGISTRY
from requests.adapters import BaseAdapter

from switchboard.directory.auth import TokenEndpointHttp
from switchboard.directory.errors import TransientGraphError
from switchboard.directory.graph_wire import BatchRequest
from tests.unit.directory.test_client import envelope, make, sequence


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Figures:
    """The Graph counters' values now, and how far each moved since."""

    NAMES = (
        "switchboard_graph_throttled_total",
        "switchboard_graph_retries_total",
        "switchboard_graph_retry_after_wait_seconds_total",
    )

    def __init__(self) -> None:
        self.before = self._read()

    @staticmethod
    def _read() -> dict[str, float]:
        figures = {name: value(name) for name in Figures.NAMES}
        for status in ("0", "200", "429", "503"):
            figures[status] = value("switchboard_graph_requests_total", status=status)
        return figures

    def moved(self) -> dict[str, float]:
        after = self._read()
        return {k: round(after[k] - self.before[k], 6) for k in after if after[k] != self.before[k]}


def test_a_throttled_request_counts_its_answers_its_retry_and_its_wait() -> None:
    figures = Figures()
    client, sleeps, _, _ = make(
        sequence(
            httpx.Response(429, json=envelope("TooManyRequests"), headers={"Retry-After": "2.5"}),
            httpx.Response(503),
            httpx.Response(200, json={"value": []}),
        )
    )
    with client:
        client.get("/users")
    assert figures.moved() == {
        "429": 1,
        "503": 1,
        "200": 1,
        "switchboard_graph_throttled_total": 1,
        "switchboard_graph_retries_total": 2,
        "switchboard_graph_retry_after_wait_seconds_total": round(2.5 + sleeps[1], 6),
    }
    assert sleeps[0] == 2.5


def test_a_request_without_answer_counts_as_status_0() -> None:
    figures = Figures()
    client, _, _, _ = make(
        sequence(httpx.ConnectError("refused"), httpx.Response(200, json={"value": []}))
    )
    with client:
        client.get("/users")
    moved = figures.moved()
    assert (moved["0"], moved["200"], moved["switchboard_graph_retries_total"]) == (1, 1, 1)


def test_batch_items_throttled_on_their_own_are_counted_and_retried() -> None:
    answers = iter(
        [
            {
                "responses": [
                    {"id": "1", "status": 200, "body": {}},
                    {"id": "2", "status": 429, "headers": {"Retry-After": "1"}},
                ]
            },
            {"responses": [{"id": "2", "status": 200, "body": {}}]},
        ]
    )
    figures = Figures()
    client, sleeps, _, _ = make(lambda _request: httpx.Response(200, json=next(answers)))
    with client:
        results = client.batch(
            [BatchRequest("1", "GET", "/users/a"), BatchRequest("2", "GET", "/users/b")]
        )
    assert [r.status for r in results] == [200, 200]
    assert sleeps == [1.0]
    assert figures.moved() == {
        "200": 2,  # two $batch requests on the wire
        "switchboard_graph_throttled_total": 1,
        "switchboard_graph_retries_total": 1,
        "switchboard_graph_retry_after_wait_seconds_total": 1.0,
    }


class Canned(BaseAdapter):
    """The token endpoint's answers at requests' transport edge, without a network."""

    def __init__(self, *answers: int | Exception) -> None:
        super().__init__()
        self.answers: Iterator[int | Exception] = iter(answers)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        answer = next(self.answers)
        if isinstance(answer, Exception):
            raise answer
        response = requests.Response()
        response.status_code = answer
        response.headers.update({"Retry-After": "3"} if answer == 429 else {})
        response._content = b"{}"
        response.request = request
        return response

    def close(self) -> None:
        pass


def endpoint(*answers: int | Exception) -> TokenEndpointHttp:
    session = requests.Session()
    session.mount("https://", Canned(*answers))
    return TokenEndpointHttp(session, timeout=5)


@pytest.mark.parametrize(
    ("answer", "moved"),
    [
        (200, {"200": 1}),
        (429, {"429": 1, "switchboard_graph_throttled_total": 1}),
        (503, {"503": 1}),
        (requests.ConnectionError("reset"), {"0": 1}),
    ],
)
def test_the_token_endpoint_counts_its_answers(
    answer: int | Exception, moved: Mapping[str, float]
) -> None:
    figures = Figures()
    http = endpoint(answer)
    try:
        if answer == 200:
            http.post("https://login.example.test/t/oauth2/v2.0/token", data={})
        else:
            with pytest.raises(TransientGraphError):
                http.post("https://login.example.test/t/oauth2/v2.0/token", data={})
    finally:
        http.close()
    assert figures.moved() == moved
