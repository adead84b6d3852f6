"""Graph users: list, select, paging, filter, search, count, get, create, patch, delete, restore."""

from __future__ import annotations

import httpx
import pytest

from switchboard.emulator.server import RunningEmulator
from tests.emulator_control import control

from .conftest import all_pages, graph_client, token_for

DEFAULTS = {
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
}


def new_user(domain: str, local: str, **extra: object) -> dict[str, object]:
    return {
        "accountEnabled": True,
        "displayName": f"{local.title()} Test",
        "mailNickname": local,
        "userPrincipalName": f"{local}@{domain}",
        "passwordProfile": {"password": "xWwvJ]6NMw+bWH-d", "forceChangePasswordNextSignIn": True},
        **extra,
    }


def test_list_returns_default_properties_and_pages_by_top(reader: httpx.Client) -> None:
    first = reader.get("/users", params={"$top": "15"})
    assert first.status_code == 200
    page = first.json()
    assert set(page["value"][0]) == DEFAULTS
    assert len(page["value"]) == 15
    users, last = all_pages(reader, first)
    assert len(users) == 40
    assert len({u["id"] for u in users}) == 40
    assert "@odata.nextLink" not in last


def test_select_returns_only_the_selected_properties(reader: httpx.Client) -> None:
    resp = reader.get(
        "/users", params={"$select": "displayName,accountEnabled,onPremisesSyncEnabled"}
    )
    users = resp.json()["value"]
    assert set(users[0]) == {"id", "displayName", "accountEnabled", "onPremisesSyncEnabled"}
    assert resp.headers["x-ms-resource-unit"] == "1"


def test_seed_holds_the_awkward_cases(reader: httpx.Client, emu: RunningEmulator) -> None:
    users = reader.get(
        "/users",
        params={
            "$select": "displayName,surname,mail,accountEnabled,officeLocation,"
            "onPremisesSyncEnabled",
            "$top": "999",
        },
    ).json()["value"]
    assert any(u["accountEnabled"] is False for u in users)
    assert any(u["surname"] is None for u in users)
    assert any(u["mail"] is None for u in users)
    assert any(u["onPremisesSyncEnabled"] for u in users)
    offices = {u["officeLocation"] for u in users}
    assert {"HQ", "Branch", "Remote", None} <= offices
    assert any(all(ord(c) < 128 for c in u["displayName"]) for u in users)
    assert any(any(ord(c) > 0x3000 for c in u["displayName"]) for u in users)
    assert emu.call(lambda: sum(u.is_admin for u in emu.emulator.directory.users.values())) >= 1


def test_seed_is_deterministic() -> None:
    from switchboard.emulator.clock import EmulatorClock
    from switchboard.emulator.directory import Directory
    from switchboard.emulator.seed import seed_directory

    def build() -> Directory:
        d = Directory("11111111-2222-4333-8444-555555555555", "fabrikam.example", EmulatorClock())
        seed_directory(d, users=50, groups=5, seed=42)
        return d

    a, b = build(), build()
    assert [(u.id, u.props) for u in a.users.values()] == [
        (u.id, u.props) for u in b.users.values()
    ]
    assert [(g.id, g.members) for g in a.groups.values()] == [
        (g.id, g.members) for g in b.groups.values()
    ]


def test_top_above_999_is_refused(reader: httpx.Client) -> None:
    resp = reader.get("/users", params={"$top": "1000"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "Request_BadRequest"


def test_unknown_select_property_is_refused(reader: httpx.Client) -> None:
    resp = reader.get("/users", params={"$select": "displayName,shoeSize"})
    assert resp.status_code == 400
    assert "shoeSize" in resp.json()["error"]["message"]


def test_filter_eq_and_startswith(reader: httpx.Client) -> None:
    everyone = reader.get("/users", params={"$top": "999"}).json()["value"]
    target = everyone[3]
    resp = reader.get(
        "/users",
        params={"$filter": f"userPrincipalName eq '{target['userPrincipalName'].upper()}'"},
    )
    assert [u["id"] for u in resp.json()["value"]] == [target["id"]]
    prefix = target["userPrincipalName"][:2]
    resp = reader.get(
        "/users", params={"$filter": f"startswith(userPrincipalName,'{prefix}')", "$top": "999"}
    )
    expected = {
        u["id"] for u in everyone if u["userPrincipalName"].lower().startswith(prefix.lower())
    }
    assert {u["id"] for u in resp.json()["value"]} == expected
    resp = reader.get(
        "/users",
        params={"$filter": "officeLocation eq 'HQ' or officeLocation eq 'Branch'", "$top": "999"},
    )
    assert {u["officeLocation"] for u in resp.json()["value"]} == {"HQ", "Branch"}


def test_advanced_filters_need_consistency_level(reader: httpx.Client) -> None:
    resp = reader.get("/users", params={"$filter": "endswith(mail,'.example')"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "Request_UnsupportedQuery"
    resp = reader.get(
        "/users",
        params={"$filter": "endswith(mail,'.example')", "$count": "true"},
        headers={"ConsistencyLevel": "eventual"},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["@odata.count"] == len(body["value"]) > 0


def test_filter_on_an_unsupported_property_is_refused(reader: httpx.Client) -> None:
    resp = reader.get("/users", params={"$filter": "shoeSize eq 4"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_count_and_search_need_consistency_level_eventual(reader: httpx.Client) -> None:
    assert reader.get("/users", params={"$count": "true"}).status_code == 400
    assert reader.get("/users", params={"$search": '"displayName:a"'}).status_code == 400
    assert reader.get("/users/$count").status_code == 400
    eventual = {"ConsistencyLevel": "eventual"}
    count = reader.get("/users/$count", headers=eventual)
    assert count.status_code == 200
    assert count.text == "40"
    resp = reader.get("/users", params={"$count": "true", "$top": "5"}, headers=eventual)
    assert resp.json()["@odata.count"] == 40
    first = reader.get("/users", params={"$top": "1"}).json()["value"][0]
    word = first["displayName"].split()[0]
    resp = reader.get(
        "/users", params={"$search": f'"displayName:{word}"', "$top": "999"}, headers=eventual
    )
    assert resp.status_code == 200
    assert first["id"] in {u["id"] for u in resp.json()["value"]}


def test_get_by_id_or_upn_and_404(reader: httpx.Client) -> None:
    first = reader.get("/users", params={"$top": "1"}).json()["value"][0]
    by_id = reader.get(f"/users/{first['id']}", params={"$select": "accountEnabled,department"})
    assert set(by_id.json()) == {"id", "accountEnabled", "department", "@odata.context"}
    by_upn = reader.get(f"/users/{first['userPrincipalName']}")
    assert by_upn.json()["id"] == first["id"]
    missing = reader.get("/users/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    err = missing.json()["error"]
    assert err["code"] == "Request_ResourceNotFound"
    assert err["innerError"]["request-id"] == missing.headers["request-id"]


def test_a_reader_cannot_write(reader: httpx.Client, emu: RunningEmulator) -> None:
    domain = emu.emulator.directory.domain
    resp = reader.post("/users", json=new_user(domain, "nora"))
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "Authorization_RequestDenied"


def test_missing_read_permission_is_403(emu: RunningEmulator) -> None:
    with graph_client(emu, token_for(emu, "GroupMember.Read.All")) as graph:
        resp = graph.get("/users")
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "Authorization_RequestDenied"
        assert graph.get("/groups").status_code == 200


def test_create_patch_delete_restore_and_purge(writer: httpx.Client, emu: RunningEmulator) -> None:
    domain = emu.emulator.directory.domain
    created = writer.post("/users", json=new_user(domain, "nora", officeLocation="HQ"))
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    assert created.json()["officeLocation"] == "HQ"
    dup = writer.post("/users", json=new_user(domain, "nora"))
    assert dup.status_code == 400
    foreign = writer.post("/users", json=new_user("elsewhere.example", "nora2"))
    assert foreign.status_code == 400
    assert "verified domains" in foreign.json()["error"]["message"]

    assert writer.patch(f"/users/{uid}", json={"jobTitle": "Chief Listener"}).status_code == 204
    assert writer.get(f"/users/{uid}").json()["jobTitle"] == "Chief Listener"
    bad = writer.patch(f"/users/{uid}", json={"id": "x"})
    assert bad.status_code == 400

    assert writer.delete(f"/users/{uid}").status_code == 204
    assert writer.get(f"/users/{uid}").status_code == 404
    deleted = writer.get("/directory/deletedItems/microsoft.graph.user").json()["value"]
    assert uid in {u["id"] for u in deleted}
    restored = writer.post(f"/directory/deletedItems/{uid}/restore")
    assert restored.status_code == 200
    assert writer.get(f"/users/{uid}").status_code == 200

    assert writer.delete(f"/users/{uid}").status_code == 204
    assert writer.delete(f"/directory/deletedItems/{uid}").status_code == 204
    assert writer.post(f"/directory/deletedItems/{uid}/restore").status_code == 404


def test_phone_write_rules(emu: RunningEmulator, writer: httpx.Client) -> None:
    domain = emu.emulator.directory.domain
    with control(emu) as ctl:
        synced = ctl.post(
            "/users", json=new_user(domain, "synced", onPremisesSyncEnabled=True)
        ).json()
        admin = ctl.post("/users", json=new_user(domain, "boss", isAdmin=True)).json()
        plain = ctl.post("/users", json=new_user(domain, "plain")).json()
    two = writer.patch(f"/users/{plain['id']}", json={"businessPhones": ["+1 1", "+1 2"]})
    assert two.status_code == 400
    assert "only one" in two.json()["error"]["message"]
    assert (
        writer.patch(
            f"/users/{plain['id']}", json={"businessPhones": ["+1 425 555 0100"]}
        ).status_code
        == 204
    )
    long_mobile = writer.patch(f"/users/{plain['id']}", json={"mobilePhone": "1" * 65})
    assert long_mobile.status_code == 400
    ext = writer.patch(
        f"/users/{plain['id']}",
        json={"onPremisesExtensionAttributes": {"extensionAttribute1": "x100"}},
    )
    assert ext.status_code == 204
    got = writer.get(f"/users/{plain['id']}", params={"$select": "onPremisesExtensionAttributes"})
    assert got.json()["onPremisesExtensionAttributes"]["extensionAttribute1"] == "x100"
    assert got.json()["onPremisesExtensionAttributes"]["extensionAttribute2"] is None

    on_prem = writer.patch(f"/users/{synced['id']}", json={"mobilePhone": "+1 555"})
    assert on_prem.status_code == 400
    assert "on-premises" in on_prem.json()["error"]["message"]

    admin_phone = writer.patch(f"/users/{admin['id']}", json={"businessPhones": ["+1 2"]})
    assert admin_phone.status_code == 403
    assert admin_phone.json()["error"]["code"] == "Authorization_RequestDenied"
    with graph_client(emu, token_for(emu, "Directory.ReadWrite.All")) as privileged:
        ok = privileged.patch(f"/users/{admin['id']}", json={"businessPhones": ["+1 2"]})
        assert ok.status_code == 204


@pytest.mark.parametrize("roles", ["User-Phone.ReadWrite.All"])
def test_phone_only_permission_writes_phones_but_not_names(
    emu: RunningEmulator, roles: str
) -> None:
    uid = emu.call(
        lambda: next(
            u.id
            for u in emu.emulator.directory.active_users()
            if not u.is_admin and not u.props.get("onPremisesSyncEnabled")
        )
    )
    with graph_client(emu, token_for(emu, roles)) as graph:
        assert (
            graph.patch(f"/users/{uid}", json={"mobilePhone": "+1 425 555 0199"}).status_code == 204
        )
        assert graph.patch(f"/users/{uid}", json={"displayName": "Nope"}).status_code == 403


def test_filtered_lists_page_without_gaps_or_repeats(
    reader: httpx.Client, writer: httpx.Client
) -> None:
    everyone = reader.get("/users", params={"$top": "999"}).json()["value"]
    expected = {u["id"] for u in everyone if u["officeLocation"] in ("HQ", "Branch")}
    first = reader.get(
        "/users",
        params={"$top": "3", "$filter": "officeLocation eq 'HQ' or officeLocation eq 'Branch'"},
    )
    page = first.json()
    seen = [u["id"] for u in page["value"]]
    # A user on a later page is deleted mid-way: paging carries on from where it was.
    later = next(u for u in everyone[-5:] if u["id"] in expected and u["id"] not in seen)
    assert writer.delete(f"/users/{later['id']}").status_code == 204
    rest, _ = all_pages(reader, reader.get(page["@odata.nextLink"]))
    seen += [u["id"] for u in rest]
    assert len(seen) == len(set(seen))
    assert set(seen) == expected - {later["id"]}
