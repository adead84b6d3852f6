"""Manual provisioning: users in scope are offered, and an admin adds them one by one."""

from __future__ import annotations

from starlette.testclient import TestClient

from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Role
from switchboard.sync.offers import list_offers
from tests import factories
from tests.integration.sync_world import OTHER, SALES, World

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


def test_a_user_who_left_the_scope_is_no_longer_offered(world: World) -> None:
    world.set_policy(provisioning="manual")
    world.directory.add_user("u1")
    world.directory.add_member(SALES, "u1")
    world.engine.reconcile(factories.OPERATOR, "acme")
    world.directory.remove_member(SALES, "u1")
    left = world.engine.sync_user(factories.OPERATOR, "acme", "u1", provision=True)
    assert left.counts == {"skip": 1}
    with world.container.unit_of_work() as s:
        account = get_account(s, factories.OPERATOR, "acme")
        assert list_offers(s, factories.OPERATOR, account) == []
