"""Graph groups: list, get, create, members, transitiveMembers, $ref, checkMemberGroups."""

from __future__ import annotations

import httpx

from switchboard.emulator.server import RunningEmulator

from .conftest import all_pages, graph_client, token_for


def _groups(client: httpx.Client) -> dict[str, str]:
    return {g["displayName"]: g["id"] for g in client.get("/groups").json()["value"]}


def test_groups_list_and_get(reader: httpx.Client) -> None:
    groups = reader.get("/groups").json()["value"]
    assert len(groups) == 6
    one = reader.get(f"/groups/{groups[0]['id']}", params={"$select": "displayName"})
    assert set(one.json()) == {"id", "displayName", "@odata.context"}
    assert reader.get("/groups/00000000-0000-4000-8000-000000000000").status_code == 404


def test_nested_groups_show_in_transitive_members(reader: httpx.Client) -> None:
    g = _groups(reader)
    top, nested = g["Voice Users"], g["Sales"]
    direct = reader.get(f"/groups/{top}/members", params={"$top": "999"}).json()["value"]
    assert nested in {m["id"] for m in direct if m["@odata.type"] == "#microsoft.graph.group"}
    nested_users = {
        m["id"]
        for m in reader.get(f"/groups/{nested}/members/microsoft.graph.user").json()["value"]
    }
    first = reader.get(
        f"/groups/{top}/transitiveMembers/microsoft.graph.user",
        params={"$select": "displayName,officeLocation", "$top": "5"},
    )
    transitive, _ = all_pages(reader, first)
    assert all(m["@odata.type"] == "#microsoft.graph.user" for m in transitive)
    ids = {m["id"] for m in transitive}
    assert nested_users <= ids
    assert set(transitive[0]) == {"@odata.type", "id", "displayName", "officeLocation"}
    # Two levels deep: Support is nested in Sales, which is nested in Voice Users.
    deep = {m["id"] for m in reader.get(f"/groups/{g['Support']}/members").json()["value"]}
    assert deep <= ids


def test_member_ref_add_and_remove_and_check_member_groups(
    writer: httpx.Client, reader: httpx.Client
) -> None:
    g = _groups(writer)
    target = g["Operations"]
    user = next(
        u
        for u in writer.get("/users").json()["value"]
        if not reader.post(
            f"/users/{u['id']}/checkMemberGroups", json={"groupIds": [target]}
        ).json()["value"]
    )
    resp = writer.post(
        f"/groups/{target}/members/$ref",
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}"},
    )
    assert resp.status_code == 204, resp.text
    again = writer.post(
        f"/groups/{target}/members/$ref",
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}"},
    )
    assert again.status_code == 400
    check = reader.post(
        f"/users/{user['id']}/checkMemberGroups",
        json={"groupIds": [target, g["Voice Users"], g["Finance"]]},
    )
    assert check.status_code == 200
    assert target in check.json()["value"]
    assert writer.delete(f"/groups/{target}/members/{user['id']}/$ref").status_code == 204
    check = reader.post(f"/users/{user['id']}/checkMemberGroups", json={"groupIds": [target]})
    assert check.json()["value"] == []
    assert writer.delete(f"/groups/{target}/members/{user['id']}/$ref").status_code == 404


def test_check_member_groups_is_transitive(reader: httpx.Client) -> None:
    g = _groups(reader)
    support_member = reader.get(f"/groups/{g['Support']}/members/microsoft.graph.user").json()[
        "value"
    ][0]
    resp = reader.post(
        f"/users/{support_member['id']}/checkMemberGroups",
        json={"groupIds": [g["Voice Users"], g["Sales"], g["Support"]]},
    )
    assert set(resp.json()["value"]) == {g["Voice Users"], g["Sales"], g["Support"]}


def test_membership_cycles_are_refused(writer: httpx.Client) -> None:
    g = _groups(writer)
    resp = writer.post(
        f"/groups/{g['Support']}/members/$ref",
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{g['Voice Users']}"},
    )
    assert resp.status_code == 400


def test_create_group_needs_group_write(emu: RunningEmulator, writer: httpx.Client) -> None:
    body = {
        "displayName": "Night Shift",
        "mailEnabled": False,
        "mailNickname": "night",
        "securityEnabled": True,
    }
    with graph_client(emu, token_for(emu, "GroupMember.ReadWrite.All")) as member_writer:
        assert member_writer.post("/groups", json=body).status_code == 403
    created = writer.post("/groups", json=body)
    assert created.status_code == 201
    assert created.json()["displayName"] == "Night Shift"
    missing = writer.post("/groups", json={"displayName": "x"})
    assert missing.status_code == 400


def test_group_member_reads_need_a_group_permission(emu: RunningEmulator) -> None:
    with graph_client(emu, token_for(emu, "User.Read.All")) as users_only:
        groups = users_only.get("/groups")
        assert groups.status_code == 403
        assert groups.json()["error"]["code"] == "Authorization_RequestDenied"


def test_member_counts_need_consistency_level(reader: httpx.Client) -> None:
    g = _groups(reader)
    top = g["Voice Users"]
    assert reader.get(f"/groups/{top}/transitiveMembers/$count").status_code == 400
    eventual = {"ConsistencyLevel": "eventual"}
    users = reader.get(
        f"/groups/{top}/transitiveMembers/microsoft.graph.user", params={"$top": "999"}
    ).json()["value"]
    count = reader.get(
        f"/groups/{top}/transitiveMembers/microsoft.graph.user/$count", headers=eventual
    )
    assert count.status_code == 200
    assert count.text == str(len(users))
    direct = reader.get(f"/groups/{top}/members", params={"$top": "999"}).json()["value"]
    assert reader.get(f"/groups/{top}/members/$count", headers=eventual).text == str(len(direct))
