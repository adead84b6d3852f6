"""The SCIM middleware: one log entry per request whose token was accepted (none otherwise), the
rate limit and the 1 MB body limit, through the real endpoint; a small endpoint that keeps the
same contract stands in where the real one cannot be made to (fail, or name no account). On
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.db.models import ScimRequest
from switchboard.portal import accounts
from switchboard.scim import source, tokens
from switchboard.web.app import create_app
from switchboard.web.scim.request_log import SERVER_FAILED
from tests import factories
from tests.integration.web.scim import fake_endpoint
from tests.scim_support import PATCH_OP, entra_user

OP = factories.OPERATOR
USERS = "/scim/v2/{}/_fake/Users"
ALICE = {"userName": "alice@contoso.com", "name": {"givenName": "Alice"}}
MB = 1024 * 1024


class Monotonic:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Scim:
    client: TestClient
    clock: Monotonic
    token: str
    account_id: int

    def post(self, body: object, *, slug: str = "acme", token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.client.post(USERS.format(slug), json=body, headers=headers)


def connect(container: Container, slug: str, rate_limit: int | None = None) -> tuple[str, int]:
    with container.unit_of_work() as session:
        account = accounts.get_account(session, OP, slug)
        source.connect(session, OP, account, "entra", source.ScimSettings(rate_limit=rate_limit))
        return tokens.issue(session, OP, account).token, account.id


@pytest.fixture
def scim(container: Container) -> Iterator[Scim]:
    with container.unit_of_work() as session:
        factories.tenant(session, "acme")
        factories.tenant(session, "beta", area="415")
    token, account_id = connect(container, "acme")
    clock = Monotonic()
    app = create_app(container, scim_clock=clock)
    fake_endpoint.install(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Scim(client, clock, token, account_id)


def logged(container: Container) -> list[ScimRequest]:
    with container.unit_of_work() as session:
        rows = list(session.scalars(select(ScimRequest).order_by(ScimRequest.id)))
        session.expunge_all()
        return rows


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("switchboard_scim_refused_total", {"reason": reason}) or 0.0


def real(scim: Scim, method: str, path: str, body: object = None, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {kw.pop('token', scim.token)}"}
    return scim.client.request(method, f"/scim/v2/acme{path}", json=body, headers=headers, **kw)


def test_requests_to_the_endpoint_are_logged_without_query_token_or_body(
    scim: Scim, container: Container
) -> None:
    created = real(scim, "POST", "/Users", entra_user("ada@contoso.com", given="Ada"))
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "name.givenName", "value": "Augusta"}],
    }
    assert real(scim, "PATCH", f"/Users/{user_id}", patch).status_code == 200
    found = real(
        scim, "GET", f"/Users/{user_id}", params={"attributes": "userName", "secret": "s3cr3t"}
    )
    assert found.status_code == 200
    taken = real(scim, "POST", "/Users", entra_user("ada@contoso.com"))
    assert taken.status_code == 409
    assert real(scim, "DELETE", f"/Users/{user_id}").status_code == 204

    entries = logged(container)
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("POST", "/scim/v2/acme/Users", 201),
        ("PATCH", f"/scim/v2/acme/Users/{user_id}", 200),
        ("GET", f"/scim/v2/acme/Users/{user_id}", 200),
        ("POST", "/scim/v2/acme/Users", 409),
        ("DELETE", f"/scim/v2/acme/Users/{user_id}", 204),
    ]
    assert {e.account_id for e in entries} == {scim.account_id}
    create, update, _, refused, delete = entries
    assert (create.subject, create.change, create.error) == ("ada@contoso.com", "created", None)
    assert update.subject == "ada@contoso.com" and "first name" in (update.change or "")
    assert refused.subject == "ada@contoso.com" and refused.change is None
    assert refused.error == taken.json()["detail"]
    assert (delete.change, delete.error) == ("deleted", None)
    assert all(e.duration_ms >= 0 for e in entries)
    stored = " ".join(
        str(v) for e in entries for v in (e.path, e.subject, e.change, e.error, e.method)
    )
    for secret in ("attributes", "s3cr3t", scim.token, "Augusta", "Lovelace", "givenName"):
        assert secret not in stored


def test_a_failure_of_the_endpoint_is_logged_as_a_server_error(
    scim: Scim, container: Container
) -> None:
    response = scim.post({**ALICE, "explode": True})
    assert response.status_code == 500
    [entry] = logged(container)
    assert (entry.status, entry.error, entry.change) == (500, SERVER_FAILED, None)


def test_no_entry_when_the_token_is_refused_or_the_account_unknown(
    scim: Scim, container: Container
) -> None:
    beta_token, _ = connect(container, "beta")
    body = entra_user("eve@contoso.com")
    assert scim.client.post("/scim/v2/acme/Users", json=body).status_code == 401
    assert real(scim, "POST", "/Users", body, token="scim_000000000000_forged").status_code == 401
    # A token of another account opens nothing here, and writes into neither log.
    assert real(scim, "POST", "/Users", body, token=beta_token).status_code == 404
    assert (
        scim.client.post(
            "/scim/v2/nosuch/Users", json=body, headers={"Authorization": f"Bearer {scim.token}"}
        ).status_code
        == 404
    )
    assert logged(container) == []


def test_a_failure_to_log_never_fails_the_request(scim: Scim, container: Container) -> None:
    response = scim.client.post("/scim/v2/acme/_fake/forged")
    assert response.status_code == 200
    assert logged(container) == []
    assert (REGISTRY.get_sample_value("switchboard_scim_request_log_failures_total") or 0.0) >= 1


def test_25_requests_a_second_sustained_are_never_limited_at_the_lowest_limit(
    scim: Scim, container: Container
) -> None:
    with container.unit_of_work() as session:
        account = accounts.get_account(session, OP, "acme")
        source.update(session, OP, account, source.ScimSettings(rate_limit=25))
    scim.clock.now += 10  # past the period the limit is cached for
    statuses = []
    for _ in range(25 * 8):
        statuses.append(real(scim, "GET", "/ServiceProviderConfig").status_code)
        scim.clock.now += 1 / 25
    assert statuses == [200] * 200
    assert len(logged(container)) == 200


def test_above_the_limit_429_with_retry_after_and_nothing_logged(
    scim: Scim, container: Container
) -> None:
    before = refused("rate_limit")
    # 200 in the same instant with the default limit of 100 a second.
    responses = [real(scim, "GET", "/ServiceProviderConfig") for _ in range(200)]
    ok = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert (len(ok), len(limited)) == (100, 100)
    answer = limited[0]
    assert answer.headers["retry-after"] == "1"
    assert answer.headers["content-type"] == "application/scim+json"
    body = answer.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "429" and body["detail"].startswith("too many requests")
    assert "100 SCIM requests per second" in body["detail"]
    assert refused("rate_limit") - before == 100
    assert len(logged(container)) == 100
    # Another account has its own bucket; after Retry-After, acme goes on.
    beta_token, _ = connect(container, "beta")
    beta = scim.client.get(
        "/scim/v2/beta/ServiceProviderConfig", headers={"Authorization": f"Bearer {beta_token}"}
    )
    assert beta.status_code == 200
    scim.clock.now += 1
    assert real(scim, "GET", "/ServiceProviderConfig").status_code == 200


def _big(size: int) -> bytes:
    head = b'{"userName": "big@contoso.com", "name": {"givenName": "B"}, "pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def test_requests_with_a_refused_token_do_not_use_up_the_clients_allowance(
    scim: Scim, container: Container
) -> None:
    # A stranger who knows the slug, at one instant: 300 requests with a made-up token, and
    # bodies over the limit (refused before any token is checked).
    for _ in range(300):
        assert real(scim, "GET", "/ServiceProviderConfig", token="forged").status_code == 401
    for _ in range(20):
        too_big = scim.client.post(
            "/scim/v2/acme/Users",
            content=b"x" * (MB + 1),
            headers={"Content-Type": "application/scim+json"},
        )
        assert too_big.status_code == 413
    # The client still has its whole second's worth.
    statuses = [real(scim, "GET", "/ServiceProviderConfig").status_code for _ in range(101)]
    assert statuses == [200] * 100 + [429]
    assert len(logged(container)) == 100


def test_a_body_over_1_mb_is_refused_by_its_length_and_as_it_streams(
    scim: Scim, container: Container
) -> None:
    headers = {"Authorization": f"Bearer {scim.token}", "Content-Type": "application/scim+json"}
    url = USERS.format("acme")
    before = refused("body_too_large")
    exact = scim.client.post(url, content=_big(MB), headers=headers)
    assert exact.status_code == 201 and exact.json()["received"] == MB

    too_big = scim.client.post("/scim/v2/acme/Users", content=_big(MB + 1), headers=headers)
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/scim+json"
    body = too_big.json()
    assert body["status"] == "413" and "scimType" not in body
    assert body["detail"].startswith("the request body is larger than 1 MB")

    def chunks() -> Iterator[bytes]:
        data = _big(MB + 10)
        for start in range(0, len(data), 64 * 1024):
            yield data[start : start + 64 * 1024]

    streamed = scim.client.post(url, content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    assert streamed.status_code == 413
    assert refused("body_too_large") - before == 2
    assert [e.status for e in logged(container)] == [201]


def test_other_paths_pass_untouched(scim: Scim) -> None:
    # The limits hold only under /scim/v2/: the health check is neither limited nor logged.
    for _ in range(150):
        assert scim.client.get("/healthz").status_code == 200
