"""Graph groups as the group picker reads them: $search and startswith on the name, counts of
members and nested groups, and names of several groups by id."""

from __future__ import annotations

import httpx

EVENTUAL = {"ConsistencyLevel": "eventual"}


def _groups(client: httpx.Client) -> dict[str, str]:
    return {g["displayName"]: g["id"] for g in client.get("/groups").json()["value"]}


def test_search_on_display_name_needs_consistency_level(reader: httpx.Client) -> None:
    refused = reader.get("/groups", params={"$search": '"displayName:sal"'})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == (
        "Request with $search query parameter only works through MSGraph with a special "
        "request header: 'ConsistencyLevel: eventual'"
    )
    found = reader.get(
        "/groups",
        params={
            "$search": '"displayName:sal"',
            "$count": "true",
            "$select": "id,displayName,description,securityEnabled,mailEnabled",
        },
        headers=EVENTUAL,
    )
    assert found.status_code == 200
    body = found.json()
    assert [g["displayName"] for g in body["value"]] == ["Sales"]
    assert body["@odata.count"] == 1
    assert set(body["value"][0]) == {
        "id",
        "displayName",
        "description",
        "securityEnabled",
        "mailEnabled",
    }
    # Word prefixes match too ("users" in "Voice Users"), ignoring case.
    words = reader.get("/groups", params={"$search": '"displayName:USERS"'}, headers=EVENTUAL)
    assert [g["displayName"] for g in words.json()["value"]] == ["Voice Users"]


def test_startswith_filter_on_display_name(reader: httpx.Client) -> None:
    found = reader.get("/groups", params={"$filter": "startswith(displayName,'su')"})
    assert [g["displayName"] for g in found.json()["value"]] == ["Support"]
    # A quote in the name is doubled inside the string literal.
    none = reader.get("/groups", params={"$filter": "startswith(displayName,'O''Brien')"})
    assert none.status_code == 200 and none.json()["value"] == []


def test_counts_of_members_and_nested_groups(reader: httpx.Client) -> None:
    g = _groups(reader)
    top = g["Voice Users"]
    nested = reader.get(f"/groups/{top}/members/microsoft.graph.group/$count", headers=EVENTUAL)
    assert nested.status_code == 200 and nested.text == "2"  # Sales and Engineering
    assert (
        reader.get(
            f"/groups/{g['Support']}/members/microsoft.graph.group/$count", headers=EVENTUAL
        ).text
        == "0"
    )
    users = reader.get(
        f"/groups/{top}/transitiveMembers/microsoft.graph.user", params={"$top": "999"}
    ).json()["value"]
    count = reader.get(
        f"/groups/{top}/transitiveMembers/microsoft.graph.user/$count", headers=EVENTUAL
    )
    assert count.text == str(len(users)) and len(users) > 0
    refused = reader.get(f"/groups/{top}/members/microsoft.graph.group/$count")
    assert refused.status_code == 400


def test_names_of_several_groups_by_id(reader: httpx.Client) -> None:
    g = _groups(reader)
    gone = "00000000-0000-4000-8000-000000000000"
    wanted = [g["Sales"], g["Finance"], gone]
    clause = "id in (" + ",".join(f"'{i}'" for i in wanted) + ")"
    found = reader.get("/groups", params={"$filter": clause, "$select": "id,displayName"})
    assert found.status_code == 200
    assert {x["displayName"] for x in found.json()["value"]} == {"Sales", "Finance"}


def test_first_groups_by_name_with_a_count(reader: httpx.Client) -> None:
    page = reader.get(
        "/groups",
        params={"$orderby": "displayName", "$count": "true", "$top": "2"},
        headers=EVENTUAL,
    ).json()
    assert page["@odata.count"] == 6
    assert [x["displayName"] for x in page["value"]] == ["Engineering", "Finance"]
