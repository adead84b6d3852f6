"""users/delta and groups/delta as the contract describes them."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from switchboard.emulator.server import RunningEmulator
from tests.emulator_control import control, set_delta_page_size

from .conftest import all_pages, plain_user_ids


def full_round(client: httpx.Client, first: httpx.Response) -> tuple[list[dict[str, Any]], str]:
    items, last = all_pages(client, first)
    assert "@odata.deltaLink" in last
    return items, last["@odata.deltaLink"]


def merge(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for item in items:
        merged.setdefault(item["id"], {}).update(item)
    return merged


def test_initial_round_pages_and_remembers_select(
    emu: RunningEmulator, reader: httpx.Client
) -> None:
    set_delta_page_size(emu, 7)
    first = reader.get("/users/delta", params={"$select": "displayName,accountEnabled"})
    assert len(first.json()["value"]) == 7
    next_link = first.json()["@odata.nextLink"]
    assert "$select" not in next_link and "$skiptoken=" in next_link
    items, delta_link = full_round(reader, first)
    assert len(merge(items)) == 40
    assert all(set(i) <= {"id", "displayName", "accountEnabled"} for i in items)
    assert "$deltatoken=" in delta_link


def test_default_page_size_is_200(emu: RunningEmulator) -> None:
    from .conftest import graph_client

    def grow() -> None:
        from switchboard.emulator.state import SeedOptions

        emu.emulator.reset(SeedOptions(users=450, groups=3, seed=1))

    emu.call(grow)
    with graph_client(emu, emu_token(emu)) as graph:
        first = graph.get("/users/delta", params={"$select": "displayName"})
        assert len(first.json()["value"]) == 200
        items, _ = full_round(graph, first)
        assert len(merge(items)) == 450


def emu_token(emu: RunningEmulator) -> str:
    from .conftest import token_for

    return token_for(emu, "User.Read.All,GroupMember.Read.All")


def test_incremental_round_reports_changes_deletions_and_restores(
    emu: RunningEmulator, reader: httpx.Client, writer: httpx.Client
) -> None:
    select = "displayName,jobTitle,accountEnabled,mobilePhone"
    _, delta_link = full_round(reader, reader.get("/users/delta", params={"$select": select}))
    everyone = [u["id"] for u in writer.get("/users", params={"$top": "999"}).json()["value"]]
    a, b, c, e, r = everyone[10:15]
    assert writer.patch(f"/users/{a}", json={"jobTitle": "Night Manager"}).status_code == 204
    assert writer.delete(f"/users/{b}").status_code == 204
    assert writer.delete(f"/users/{c}").status_code == 204
    assert writer.delete(f"/directory/deletedItems/{c}").status_code == 204
    assert writer.patch(f"/users/{e}", json={"accountEnabled": False}).status_code == 204
    assert writer.delete(f"/users/{r}").status_code == 204
    assert writer.post(f"/directory/deletedItems/{r}/restore").status_code == 200
    domain = emu.emulator.directory.domain
    created = writer.post(
        "/users",
        json={
            "accountEnabled": True,
            "displayName": "Ada New",
            "mailNickname": "ada",
            "userPrincipalName": f"ada.new@{domain}",
        },
    ).json()["id"]

    items, next_delta = full_round(reader, reader.get(delta_link))
    got = merge(items)
    assert set(got) == {a, b, c, e, r, created}
    assert got[a]["jobTitle"] == "Night Manager"
    assert "displayName" in got[a]  # unchanged selected properties come back too
    assert got[b]["@removed"] == {"reason": "changed"}
    assert got[c]["@removed"] == {"reason": "deleted"}
    assert got[e]["accountEnabled"] is False
    assert "@removed" not in got[r]
    assert got[created]["displayName"] == "Ada New"
    assert "mobilePhone" not in got[created]  # never set: absent
    # Nothing happened since: the next round is empty.
    quiet, _ = full_round(reader, reader.get(next_delta))
    assert quiet == []


def test_return_minimal_sends_only_changed_properties(
    emu: RunningEmulator, reader: httpx.Client, writer: httpx.Client
) -> None:
    select = "displayName,jobTitle,mobilePhone,officeLocation"
    _, delta_link = full_round(reader, reader.get("/users/delta", params={"$select": select}))
    uid = plain_user_ids(emu)[0]
    assert writer.patch(f"/users/{uid}", json={"mobilePhone": "+1 425 555 0142"}).status_code == 204
    assert writer.patch(f"/users/{uid}", json={"officeLocation": None}).status_code == 204
    resp = reader.get(delta_link, headers={"Prefer": "return=minimal"})
    assert resp.headers["Preference-Applied"] == "return=minimal"
    items, _ = full_round(reader, resp)
    assert items == [{"id": uid, "mobilePhone": "+1 425 555 0142", "officeLocation": None}]


def test_removed_can_appear_in_the_first_round(writer: httpx.Client, reader: httpx.Client) -> None:
    uid = writer.get("/users", params={"$top": "1"}).json()["value"][0]["id"]
    writer.delete(f"/users/{uid}")
    items, _ = full_round(reader, reader.get("/users/delta", params={"$select": "displayName"}))
    assert merge(items)[uid] == {"id": uid, "@removed": {"reason": "changed"}}


def test_deltatoken_latest_tracks_from_now(reader: httpx.Client, writer: httpx.Client) -> None:
    resp = reader.get("/users/delta", params={"$deltatoken": "latest", "$select": "jobTitle"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["value"] == [] and "@odata.deltaLink" in body and "@odata.nextLink" not in body
    uid = writer.get("/users", params={"$top": "1"}).json()["value"][0]["id"]
    writer.patch(f"/users/{uid}", json={"jobTitle": "Receptionist of the Year"})
    items, _ = full_round(reader, reader.get(body["@odata.deltaLink"]))
    assert items == [{"id": uid, "jobTitle": "Receptionist of the Year"}]


@pytest.mark.parametrize("status", [400, 410])
def test_a_delta_token_expires_after_seven_days(
    emu: RunningEmulator, reader: httpx.Client, status: int
) -> None:
    _, delta_link = full_round(
        reader, reader.get("/users/delta", params={"$select": "displayName"})
    )
    with control(emu) as ctl:
        ctl.patch("/faults", json={"delta_expired_status": status})
        assert ctl.post("/clock/advance", json={"days": 6.9}).status_code == 200
        assert reader.get(delta_link).status_code == 200
        ctl.post("/clock/advance", json={"days": 0.2})
    expired = reader.get(delta_link)
    assert expired.status_code == status
    assert expired.json()["error"]["code"] == "syncStateNotFound"
    if status == 410:
        assert expired.headers["Location"].endswith("/v1.0/users/delta?$select=displayName")
        assert reader.get(expired.headers["Location"]).status_code == 200


def test_delta_rejects_unsupported_options_and_forged_tokens(reader: httpx.Client) -> None:
    assert reader.get("/users/delta", params={"$top": "10"}).status_code == 400
    assert reader.get("/users/delta", params={"$orderby": "displayName"}).status_code == 400
    assert (
        reader.get("/users/delta", params={"$filter": "startswith(displayName,'a')"}).status_code
        == 400
    )
    forged = reader.get("/users/delta", params={"$deltatoken": "eyJrIjoidXNlcnMifQ.AAAA"})
    assert forged.status_code == 400
    many = " or ".join(f"id eq '00000000-0000-4000-8000-{i:012d}'" for i in range(51))
    assert reader.get("/users/delta", params={"$filter": many}).status_code == 400


def test_delta_filter_by_ids(reader: httpx.Client, writer: httpx.Client) -> None:
    ids = [u["id"] for u in reader.get("/users", params={"$top": "3"}).json()["value"]]
    flt = " or ".join(f"id eq '{i}'" for i in ids[:2])
    items, delta_link = full_round(reader, reader.get("/users/delta", params={"$filter": flt}))
    assert {i["id"] for i in items} == set(ids[:2])
    for uid in ids:
        writer.patch(f"/users/{uid}", json={"jobTitle": "Filtered"})
    items, _ = full_round(reader, reader.get(delta_link))
    assert {i["id"] for i in items} == set(ids[:2])


def test_replays_repeat_objects_but_merge_by_id_converges(
    emu: RunningEmulator, reader: httpx.Client
) -> None:
    set_delta_page_size(emu, 10)
    with control(emu) as ctl:
        ctl.patch("/faults", json={"delta_replays": True})
    items, delta_link = full_round(
        reader, reader.get("/users/delta", params={"$select": "displayName"})
    )
    assert len(items) > 40
    assert len(merge(items)) == 40
    again, _ = full_round(reader, reader.get(delta_link))
    assert 0 < len(again) <= 4  # the tail of the last round comes back


def test_groups_delta_splits_members_across_pages(
    emu: RunningEmulator, reader: httpx.Client
) -> None:
    set_delta_page_size(emu, 4)
    first = reader.get("/groups/delta", params={"$select": "displayName,members"})
    items, delta_link = full_round(reader, first)
    by_group: dict[str, set[str]] = {}
    pages_per_group: dict[str, int] = {}
    for item in items:
        by_group.setdefault(item["id"], set()).update(
            m["id"] for m in item.get("members@delta", [])
        )
        pages_per_group[item["id"]] = pages_per_group.get(item["id"], 0) + 1
    assert max(pages_per_group.values()) > 1
    voice = next(
        g["id"] for g in reader.get("/groups").json()["value"] if g["displayName"] == "Voice Users"
    )
    direct = {
        m["id"]
        for m in reader.get(f"/groups/{voice}/members", params={"$top": "999"}).json()["value"]
    }
    assert by_group[voice] == direct
    assert parse_qs(urlsplit(delta_link).query)["$deltatoken"]


def test_groups_delta_reports_member_changes(reader: httpx.Client, writer: httpx.Client) -> None:
    _, delta_link = full_round(
        reader, reader.get("/groups/delta", params={"$select": "displayName,members"})
    )
    groups = {g["displayName"]: g["id"] for g in reader.get("/groups").json()["value"]}
    ops = groups["Operations"]
    members = [
        m["id"] for m in reader.get(f"/groups/{ops}/members/microsoft.graph.user").json()["value"]
    ]
    outsider = next(
        u["id"]
        for u in reader.get("/users", params={"$top": "999"}).json()["value"]
        if u["id"] not in members
    )
    writer.delete(f"/groups/{ops}/members/{members[0]}/$ref")
    writer.post(
        f"/groups/{ops}/members/$ref",
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{outsider}"},
    )
    items, _ = full_round(reader, reader.get(delta_link))
    changed = [i for i in items if i["id"] == ops]
    assert changed
    member_delta = [m for i in changed for m in i["members@delta"]]
    assert {"@odata.type": "#microsoft.graph.user", "id": outsider} in member_delta
    assert {
        "@odata.type": "#microsoft.graph.user",
        "id": members[0],
        "@removed": {"reason": "deleted"},
    } in member_delta


def test_churn_shows_up_in_delta(emu: RunningEmulator, reader: httpx.Client) -> None:
    _, delta_link = full_round(
        reader, reader.get("/users/delta", params={"$select": "displayName,accountEnabled"})
    )
    with control(emu) as ctl:
        made = ctl.post("/churn", json={"count": 30, "seed": 3})
    assert made.status_code == 200
    assert sum(made.json()["changes"].values()) == 30
    items, _ = full_round(reader, reader.get(delta_link))
    assert items
    kinds = {("removed" if "@removed" in i else "live") for i in items}
    assert "live" in kinds


def test_empty_pages_with_a_next_link_are_not_the_end(
    emu: RunningEmulator, reader: httpx.Client
) -> None:
    set_delta_page_size(emu, 15)
    with control(emu) as ctl:
        ctl.patch("/faults", json={"delta_empty_pages": True})
    page = reader.get("/users/delta", params={"$select": "displayName"}).json()
    pages = [page]
    while "@odata.nextLink" in page:
        page = reader.get(page["@odata.nextLink"]).json()
        pages.append(page)
    assert any(p["value"] == [] and "@odata.nextLink" in p for p in pages)
    assert len(merge([i for p in pages for i in p["value"]])) == 40


def test_users_soft_deleted_over_30_days_ago_are_purged(
    emu: RunningEmulator, reader: httpx.Client, writer: httpx.Client
) -> None:
    uid = writer.get("/users", params={"$top": "1"}).json()["value"][0]["id"]
    writer.delete(f"/users/{uid}")
    _, delta_link = full_round(
        reader, reader.get("/users/delta", params={"$select": "displayName"})
    )
    with control(emu) as ctl:
        advanced = ctl.post("/clock/advance", json={"days": 31})
    assert advanced.json()["purged_deleted_users"] == 1
    assert writer.get(f"/directory/deletedItems/{uid}").status_code == 404
    # The old delta link is now over 7 days old: the client starts again.
    assert reader.get(delta_link).status_code == 400
    items, _ = full_round(reader, reader.get("/users/delta", params={"$select": "displayName"}))
    assert merge(items)[uid] == {"id": uid, "@removed": {"reason": "deleted"}}


def test_groups_delta_latest_and_removed_groups(reader: httpx.Client, writer: httpx.Client) -> None:
    latest = reader.get("/groups/delta", params={"$deltatoken": "latest"}).json()
    assert latest["value"] == []
    gid = writer.post(
        "/groups",
        json={
            "displayName": "Temp",
            "mailEnabled": False,
            "mailNickname": "temp",
            "securityEnabled": True,
        },
    ).json()["id"]
    assert writer.delete(f"/groups/{gid}").status_code == 204
    items, _ = full_round(reader, reader.get(latest["@odata.deltaLink"]))
    assert merge(items)[gid]["@removed"] == {"reason": "deleted"}


def test_a_group_changed_while_its_members_span_pages_comes_again_whole(
    emu: RunningEmulator, reader: httpx.Client, writer: httpx.Client
) -> None:
    set_delta_page_size(emu, 3)
    groups = {g["displayName"]: g["id"] for g in reader.get("/groups").json()["value"]}
    first = reader.get("/groups/delta", params={"$select": "displayName,members"}).json()
    assert "@odata.nextLink" in first
    # Change the group being split (the first one in the log) before reading on.
    split_id = first["value"][-1]["id"]
    writer.patch(f"/groups/{split_id}", json={"description": "changed mid-round"})
    items = list(first["value"])
    rest, _ = all_pages(reader, reader.get(first["@odata.nextLink"]))
    items += rest
    members: dict[str, set[str]] = {}
    for item in items:
        members.setdefault(item["id"], set()).update(m["id"] for m in item.get("members@delta", []))
    for name, gid in groups.items():
        direct = {
            m["id"]
            for m in reader.get(f"/groups/{gid}/members", params={"$top": "999"}).json()["value"]
        }
        assert members[gid] == direct, name
