"""$batch, throttling with Graph's headers, and faults injected through the control surface."""

from __future__ import annotations

import time

import httpx
import pytest

from switchboard.emulator.server import RunningEmulator
from tests.emulator_control import control

from .conftest import graph_client, plain_user_ids


def test_batch_answers_each_request(emu: RunningEmulator, writer: httpx.Client) -> None:
    uid = plain_user_ids(emu)[0]
    resp = writer.post(
        "/$batch",
        json={
            "requests": [
                {"id": "1", "method": "GET", "url": "/users?$select=displayName&$top=2"},
                {
                    "id": "2",
                    "method": "PATCH",
                    "url": f"/users/{uid}",
                    "headers": {"Content-Type": "application/json"},
                    "body": {"mobilePhone": "+1 5"},
                },
                {
                    "id": "3",
                    "method": "GET",
                    "url": f"/users/{uid}?$select=mobilePhone",
                    "dependsOn": ["2"],
                },
                {"id": "4", "method": "GET", "url": "/users/00000000-0000-4000-8000-000000000000"},
                {
                    "id": "5",
                    "method": "GET",
                    "url": "/users/00000000-0000-4000-8000-000000000000/memberOf",
                    "dependsOn": ["4"],
                },
            ]
        },
    )
    assert resp.status_code == 200
    by_id = {r["id"]: r for r in resp.json()["responses"]}
    assert by_id["1"]["status"] == 200 and len(by_id["1"]["body"]["value"]) == 2
    assert by_id["2"]["status"] == 204
    assert by_id["3"]["body"]["mobilePhone"] == "+1 5"
    assert by_id["4"]["status"] == 404
    assert by_id["4"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert by_id["5"]["status"] == 424


def test_batch_of_21_is_refused(writer: httpx.Client) -> None:
    reqs = [{"id": str(i), "method": "GET", "url": "/users?$top=1"} for i in range(21)]
    resp = writer.post("/$batch", json={"requests": reqs})
    assert resp.status_code == 400
    assert "20" in resp.json()["error"]["message"]
    assert writer.post("/$batch", json={"requests": reqs[:20]}).status_code == 200


def test_batch_validates_ids_urls_and_bodies(writer: httpx.Client) -> None:
    dup = [{"id": "1", "method": "GET", "url": "/users"}] * 2
    assert writer.post("/$batch", json={"requests": dup}).status_code == 400
    absolute = [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}]
    assert writer.post("/$batch", json={"requests": absolute}).status_code == 400
    no_type = [{"id": "1", "method": "POST", "url": "/groups", "body": {"displayName": "x"}}]
    resp = writer.post("/$batch", json={"requests": no_type})
    assert resp.json()["responses"][0]["status"] == 400


def test_throttling_answers_429_with_retry_after(
    emu: RunningEmulator, reader: httpx.Client
) -> None:
    with control(emu) as ctl:
        ctl.patch("/throttle", json={"read_limit": 5})
    responses = [reader.get("/users", params={"$top": "1"}) for _ in range(3)]  # 2 units each
    assert [r.status_code for r in responses] == [200, 200, 429]
    throttled = responses[2]
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert 0 < float(throttled.headers["Retry-After"]) <= 10
    assert throttled.headers["x-ms-resource-unit"] == "2"


def test_throttle_percentage_header_near_the_limit(
    emu: RunningEmulator, reader: httpx.Client
) -> None:
    with control(emu) as ctl:
        ctl.patch("/throttle", json={"read_limit": 10})
    headers = [reader.get("/users", params={"$select": "id"}).headers for _ in range(9)]
    assert "x-ms-throttle-limit-percentage" not in headers[0]
    assert headers[8]["x-ms-throttle-limit-percentage"] == "0.9"


def test_inner_batch_requests_are_throttled_one_by_one(
    emu: RunningEmulator, reader: httpx.Client
) -> None:
    with control(emu) as ctl:
        ctl.patch("/throttle", json={"read_limit": 3})
    reqs = [{"id": str(i), "method": "GET", "url": "/users?$select=id&$top=1"} for i in range(5)]
    resp = reader.post("/$batch", json={"requests": reqs})
    statuses = [r["status"] for r in resp.json()["responses"]]
    assert statuses == [200, 200, 200, 429, 429]
    assert float(resp.json()["responses"][3]["headers"]["Retry-After"]) > 0


def test_injected_errors_503_and_429(emu: RunningEmulator, reader: httpx.Client) -> None:
    with control(emu) as ctl:
        r = ctl.patch(
            "/faults",
            json={"error_rate": 1.0, "error_kinds": ["503"], "retry_after_seconds": 2.128},
        )
        assert r.status_code == 200
    resp = reader.get("/users")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "2.128"
    with control(emu) as ctl:
        ctl.patch("/faults", json={"error_kinds": ["429"]})
    assert reader.get("/users").status_code == 429
    with control(emu) as ctl:
        ctl.patch("/faults", json={"error_rate": 0.0})
    assert reader.get("/users").status_code == 200


def test_injected_reset_and_timeout(emu: RunningEmulator, reader_token: str) -> None:
    with control(emu) as ctl:
        ctl.patch("/faults", json={"error_rate": 1.0, "error_kinds": ["reset"]})
    with graph_client(emu, reader_token) as graph, pytest.raises(httpx.TransportError):
        graph.get("/users")
    with control(emu) as ctl:
        ctl.patch("/faults", json={"error_kinds": ["timeout"], "timeout_seconds": 5})
    with graph_client(emu, reader_token) as graph:
        graph.timeout = httpx.Timeout(0.5)
        with pytest.raises(httpx.ReadTimeout):
            graph.get("/users")
    with control(emu) as ctl:
        ctl.patch("/faults", json={"error_rate": 0.0})


def test_added_latency(emu: RunningEmulator, reader: httpx.Client) -> None:
    with control(emu) as ctl:
        ctl.patch("/faults", json={"latency_ms": 300})
    started = time.monotonic()
    assert reader.get("/users", params={"$top": "1"}).status_code == 200
    assert time.monotonic() - started >= 0.3
    with control(emu) as ctl:
        ctl.patch("/faults", json={"latency_ms": 0})


def test_control_surface_validates_and_needs_its_key(emu: RunningEmulator) -> None:
    with control(emu) as ctl:
        bad = ctl.patch("/faults", json={"error_rate": 2})
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "error_rate"
        assert ctl.patch("/faults", json={"bogus": 1}).status_code == 422
        assert ctl.post("/clock/advance", json={"seconds": -1}).status_code == 422
        status = ctl.get("/status").json()
        assert status["users"] == 40 and status["groups"] == 6
        ctl.headers["X-Emulator-Key"] = "wrong"
        assert ctl.get("/status").status_code == 401
