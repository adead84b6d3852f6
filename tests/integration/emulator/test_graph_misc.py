"""Smaller Graph surfaces: memberOf, getMemberGroups, organization, the emulator's own
resource URI as scope, and app registration through the control surface."""

from __future__ import annotations

import httpx
import jwt

from switchboard.emulator.server import RunningEmulator
from tests.emulator_control import control

from .conftest import graph_client, msal_app, new_credential


def test_member_of_and_get_member_groups(reader: httpx.Client) -> None:
    groups = {g["displayName"]: g["id"] for g in reader.get("/groups").json()["value"]}
    member = reader.get(f"/groups/{groups['Support']}/members/microsoft.graph.user").json()[
        "value"
    ][0]["id"]
    direct = {g["id"] for g in reader.get(f"/users/{member}/memberOf").json()["value"]}
    assert groups["Support"] in direct
    transitive = {
        g["id"] for g in reader.get(f"/users/{member}/transitiveMemberOf").json()["value"]
    }
    assert {groups["Support"], groups["Sales"], groups["Voice Users"]} <= transitive
    every = reader.post(f"/users/{member}/getMemberGroups", json={"securityEnabledOnly": False})
    assert set(every.json()["value"]) == transitive


def test_organization_lists_the_verified_domain(emu: RunningEmulator, reader: httpx.Client) -> None:
    org = reader.get("/organization").json()["value"][0]
    assert org["id"] == emu.tenant_id
    assert emu.emulator.directory.domain in {d["name"] for d in org["verifiedDomains"]}


def test_unknown_segments_and_bad_json(reader: httpx.Client, writer: httpx.Client) -> None:
    resp = reader.get("/me/messages")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "BadRequest"
    bad = writer.post("/users", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400


def test_the_emulator_base_url_is_accepted_as_the_graph_resource(emu: RunningEmulator) -> None:
    cred = new_credential()
    with control(emu) as ctl:
        resp = ctl.post(
            "/apps",
            json={
                "client_id": cred.client_id,
                "certificate_pem": cred.cert_pem,
                "roles": ["User.Read.All"],
            },
        )
        assert resp.status_code == 201, resp.text
        bad = ctl.post(
            "/apps",
            json={"client_id": cred.client_id, "certificate_pem": "not a cert", "roles": []},
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "certificate"
    result = msal_app(emu, cred).acquire_token_for_client(scopes=[f"{emu.url}/.default"])
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["aud"] == emu.url
    with graph_client(emu, result["access_token"]) as graph:
        assert graph.get("/users", params={"$top": "1"}).status_code == 200


def test_orderby_display_name(reader: httpx.Client) -> None:
    names = [
        u["displayName"]
        for u in reader.get(
            "/users", params={"$orderby": "displayName", "$top": "999", "$select": "displayName"}
        ).json()["value"]
    ]
    assert names == sorted(names, key=str.casefold)
    assert reader.get("/users", params={"$orderby": "jobTitle"}).status_code == 400
