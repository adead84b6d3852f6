"""GET /api/v1/sync-status for each role, over a fleet with a held run, a failing connection
test and a stale account, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.portal.actors import Role
from tests import factories
from tests.integration import fleet_seed

URL = "/api/v1/sync-status"


def status(client: TestClient, token: str, **query: str) -> dict[str, Any]:
    response = client.get(URL, headers=factories.bearer(token), params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_provider_admin_sees_every_account_those_needing_attention_first(
    container: Container, app_client: TestClient
) -> None:
    fleet_seed.seed(container)
    token = factories.token_for(container, "ops@provider.example", Role.PROVIDER_ADMIN)
    body = status(app_client, token)
    order = [row["account"] for row in body["items"]]
    assert sorted(order) == sorted(fleet_seed.SLUGS)
    assert (body["total"], body["needing_attention"]) == (7, 5)
    assert order[:5] == ["failing", "held", "nosubs", "stale", "twoway"]
    by_slug = {row["account"]: row for row in body["items"]}

    held = by_slug["held"]
    assert held["needs_attention"] is True
    assert held["held_runs"] == {"count": 1, "oldest_number": 2, "oldest_age_seconds": 7200}
    assert held["last_run"]["number"] == 2 and held["last_run"]["status"] == "held"

    failing = by_slug["failing"]
    assert failing["connection"] == {
        "connected": True,
        "last_test": "failed",
        "last_test_message": "no token: the certificate is not uploaded",
    }
    assert failing["errors"]["count"] == 2
    assert failing["last_success"]["number"] == 1
    assert failing["reasons"][1] == "the last run (#2) failed"

    stale = by_slug["stale"]
    assert stale["mode"] == "batched"
    assert stale["reasons"][0].startswith("stale: no completed run for 47 h")
    assert stale["next_run"]["due_now"] is True

    healthy = by_slug["healthy"]
    assert (healthy["needs_attention"], healthy["reasons"]) == (False, [])
    assert healthy["connection"]["last_test"] == "passed"
    assert healthy["next_run"]["kind"] == "none" and healthy["next_run"]["at"]
    assert by_slug["plain"]["connection"]["connected"] is False
    assert by_slug["plain"]["next_run"] is None

    only = status(app_client, token, needs_attention="true")
    assert [row["account"] for row in only["items"]] == order[:5]
    assert (only["total"], only["needing_attention"]) == (5, 5)


def test_account_admins_and_viewers_see_their_own_account_only(
    container: Container, app_client: TestClient
) -> None:
    fleet_seed.seed(container)
    for slug in ("held", "healthy"):
        for role in (Role.ACCOUNT_ADMIN, Role.ACCOUNT_VIEWER):
            token = factories.token_for(container, f"{role.value}@{slug}.example", role, slug)
            body = status(app_client, token)
            assert [row["account"] for row in body["items"]] == [slug]
            filtered = status(app_client, token, needs_attention="true")
            expected = [slug] if slug == "held" else []
            assert [row["account"] for row in filtered["items"]] == expected
            assert filtered["needing_attention"] == len(expected)


def test_the_filter_is_validated_and_a_token_is_required(
    container: Container, app_client: TestClient
) -> None:
    token = factories.token_for(container, "ops@provider.example", Role.PROVIDER_ADMIN)
    wrong = app_client.get(
        URL, headers=factories.bearer(token), params={"needs_attention": "maybe"}
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "needs_attention"
    assert app_client.get(URL).status_code == 401


def test_the_route_is_documented(app_client: TestClient) -> None:
    document = app_client.get("/openapi.json").json()
    answer = document["paths"][URL]["get"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["$ref"].endswith("/SyncStatusOut")
    fields = document["components"]["schemas"]["AccountSyncStatusOut"]["properties"]
    assert {"connection", "held_runs", "next_run", "needs_attention", "reasons"} <= fields.keys()
