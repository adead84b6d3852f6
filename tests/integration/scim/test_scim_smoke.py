from __future__ import annotations

from tests.scim_support import ScimClient, entra_user


def test_create_read_patch_delete(scim: ScimClient) -> None:
    created = scim.post("/Users", entra_user("ada@example.com"))
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith("application/scim+json")
    user = created.json()
    got = scim.get(f"/Users/{user['id']}")
    assert got.status_code == 200, got.text
    assert got.json()["userName"] == "ada@example.com"
    patched = scim.patch(
        f"/Users/{user['id']}", {"op": "Replace", "path": "active", "value": "False"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["active"] is False
    gone = scim.delete(f"/Users/{user['id']}")
    assert gone.status_code == 204, gone.text
    assert scim.get(f"/Users/{user['id']}").status_code == 404
