"""One account's SCIM token never reads or writes another account: every SCIM route answers
404 for another account's address, and another account's resources are not found."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.web import scim
from tests.scim_support import PATCH_OP, ScimClient, entra_user, scim_account


@pytest.fixture
def two(container: Container, app_client: TestClient) -> tuple[ScimClient, ScimClient]:
    acme = ScimClient(app_client, "acme", scim_account(container, "acme"))
    globex = ScimClient(app_client, "globex", scim_account(container, "globex", area="415"))
    return acme, globex


def test_every_scim_route_refuses_another_accounts_address(
    two: tuple[ScimClient, ScimClient],
) -> None:
    acme, globex = two
    theirs = globex.post("/Users", entra_user("secret@globex.example.com")).json()["id"]
    routes = scim.routes()
    assert len(routes) >= 10  # users and discovery (groups add theirs)
    for method, path in routes:
        url = (
            path.replace("{account}", "globex")
            .replace("{user_id}", theirs)
            .replace("{group_id}", theirs)
            .replace("{name}", "User")
            .replace("{urn}", "urn:ietf:params:scim:schemas:core:2.0:User")
        )
        body = (
            {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "displayName"}]}
            if method == "PATCH"
            else entra_user("x@example.com")
        )
        answer = acme.http.request(
            method,
            url,
            json=body if method in ("POST", "PUT", "PATCH") else None,
            headers=acme.headers(),
        )
        assert answer.status_code == 404, (method, url, answer.text)
        assert "secret" not in answer.text
    # And nothing of globex changed.
    assert globex.get(f"/Users/{theirs}").json()["userName"] == "secret@globex.example.com"


def test_another_accounts_resource_is_not_found_at_ones_own_address(
    two: tuple[ScimClient, ScimClient],
) -> None:
    acme, globex = two
    theirs = globex.post("/Users", entra_user("secret@globex.example.com")).json()["id"]
    assert acme.get(f"/Users/{theirs}").status_code == 404
    assert acme.put(f"/Users/{theirs}", entra_user("x@example.com")).status_code == 404
    assert (
        acme.patch(
            f"/Users/{theirs}", {"op": "replace", "path": "active", "value": False}
        ).status_code
        == 404
    )
    assert acme.delete(f"/Users/{theirs}").status_code == 404
    assert globex.get(f"/Users/{theirs}").json()["active"] is True


def test_no_token_a_wrong_token_and_a_revoked_token(
    container: Container, two: tuple[ScimClient, ScimClient]
) -> None:
    from switchboard.portal.accounts import get_account
    from switchboard.scim import tokens
    from tests import factories

    acme, _globex = two
    bare = acme.http.get("/scim/v2/acme/Users/x")
    assert bare.status_code == 401
    assert bare.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert "WWW-Authenticate" in bare.headers
    wrong = acme.http.get("/scim/v2/acme/Users/x", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    with container.unit_of_work() as session:
        account = get_account(session, factories.OPERATOR, "acme")
        tokens.revoke(session, factories.OPERATOR, account)
    assert acme.get("/Users/x").status_code == 401
