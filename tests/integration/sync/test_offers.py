"""Manual provisioning: users in scope are offered, and an admin adds them one by one."""

from __future__ import annotations

from starlette.testclient import TestClient

from switchboard.portal.actors import Role
from tests import factories
from tests.integration.sync.conftest import OTHER, SALES, World

BASE = "/api/v1/accounts/acme/directory"


def test_offered_then_added(world: World, app_client: TestClient) -> None:
    world.set_policy(provisioning="manual")
    for uid in ("u1", "u2"):
        world.directory.add_user(uid, givenName=uid.upper())
        world.directory.add_member(SALES, uid)
    world.directory.add_user("outsider", givenName="Out")
    world.directory.add_member(OTHER, "outsider")
    headers = factories.bearer(
        factories.token_for(world.container, "it@acme.example", Role.ACCOUNT_ADMIN, "acme")
    )

    summary = world.engine.reconcile(factories.OPERATOR, "acme")
    assert summary.counts == {"skip": 2}
    offered = app_client.get(f"{BASE}/offers", headers=headers).json()
    assert [o["directory_id"] for o in offered] == ["u1", "u2"]

    added = app_client.post(f"{BASE}/offers/add", json={"user": "u1"}, headers=headers).json()
    assert added["counts"] == {"create": 1}
    assert [
        o["directory_id"] for o in app_client.get(f"{BASE}/offers", headers=headers).json()
    ] == ["u2"]
    users = app_client.get("/api/v1/accounts/acme/users?source=directory", headers=headers)
    assert [u["directory_id"] for u in users.json()["items"]] == ["u1"]

    # Someone outside the synced groups is not added, and the run says why.
    refused = app_client.post(
        f"{BASE}/offers/add", json={"user": "outsider"}, headers=headers
    ).json()
    assert refused["counts"] == {"skip": 1}
    assert refused["items"][0]["error_code"] == "out_of_scope"
    assert "synced group" in refused["items"][0]["message"]
