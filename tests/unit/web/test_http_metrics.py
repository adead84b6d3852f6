"""HTTP requests are counted by route template, never by raw path; methods and unmatched paths
fall into fixed labels, so no request can grow the label sets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from prometheus_client import REGISTRY
from starlette.staticfiles import StaticFiles
from starlette.testclient import TestClient

from switchboard.web.http_metrics import UNMATCHED, HttpMetricsMiddleware, templates

USER_ROUTE = "/api/v1/accounts/{account}/users/{user_id}"


def requests_counted(route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("switchboard_http_requests_total", labels) or 0.0


def timed(route: str, method: str) -> float:
    labels = {"route": route, "method": method}
    return REGISTRY.get_sample_value("switchboard_http_request_duration_seconds_count", labels) or 0


def make_app(static: Path) -> FastAPI:
    """Shaped like the portal: routers with parameters in their prefix inside /api/v1, plain
    routes, a mount."""
    app = FastAPI()
    users = APIRouter(prefix="/accounts/{account}/users")

    @users.get("/{user_id}")
    def get_user(account: str, user_id: int) -> dict[str, object]:
        if user_id == 0:
            raise HTTPException(404, "no such user")
        return {"account": account, "id": user_id}

    @users.post("/{user_id}/boom")
    def boom(account: str, user_id: int) -> None:
        raise RuntimeError("the handler failed")

    api = APIRouter(prefix="/api/v1")
    api.include_router(users)
    app.include_router(api)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.mount("/static", StaticFiles(directory=static), name="static")
    app.add_middleware(HttpMetricsMiddleware, routes=lambda: app.routes)
    return app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "site.css").write_text("body {}")
    with TestClient(make_app(tmp_path), raise_server_exceptions=False) as c:
        yield c


def test_included_routers_give_their_full_templates(tmp_path: Path) -> None:
    found = {template for _regex, template in templates(make_app(tmp_path).routes)}
    assert {USER_ROUTE, f"{USER_ROUTE}/boom", "/healthz", "/static/{path}"} <= found


def test_requests_are_labelled_by_template_and_status(client: TestClient) -> None:
    ok, missing = (
        requests_counted(USER_ROUTE, "GET", "200"),
        requests_counted(USER_ROUTE, "GET", "404"),
    )
    times = timed(USER_ROUTE, "GET")
    for account, user in (("acme", 1), ("globex", 2), ("acme", 3)):
        assert client.get(f"/api/v1/accounts/{account}/users/{user}").status_code == 200
    assert client.get("/api/v1/accounts/acme/users/0").status_code == 404
    assert requests_counted(USER_ROUTE, "GET", "200") - ok == 3
    assert requests_counted(USER_ROUTE, "GET", "404") - missing == 1
    assert timed(USER_ROUTE, "GET") - times == 4
    # No series was made from a raw path.
    assert requests_counted("/api/v1/accounts/acme/users/1", "GET", "200") == 0


def test_a_failing_handler_counts_as_500(client: TestClient) -> None:
    before = requests_counted(f"{USER_ROUTE}/boom", "POST", "500")
    assert client.post("/api/v1/accounts/acme/users/1/boom").status_code == 500
    assert requests_counted(f"{USER_ROUTE}/boom", "POST", "500") - before == 1


def test_unmatched_paths_and_odd_methods_share_fixed_labels(client: TestClient) -> None:
    unmatched = requests_counted(UNMATCHED, "GET", "404")
    odd = requests_counted("/healthz", "other", "405")
    for n in range(3):
        assert client.get(f"/wp-admin/{n}.php").status_code == 404
    assert client.request("BREW", "/healthz").status_code == 405
    assert requests_counted(UNMATCHED, "GET", "404") - unmatched == 3
    assert requests_counted("/healthz", "other", "405") - odd == 1


def test_a_mount_is_one_template(client: TestClient) -> None:
    before = requests_counted("/static/{path}", "GET", "200")
    assert client.get("/static/site.css").status_code == 200
    assert requests_counted("/static/{path}", "GET", "200") - before == 1
