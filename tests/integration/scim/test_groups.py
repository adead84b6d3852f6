"""SCIM Groups: CRUD, Entra's and Okta's group sequences, members of this account only, ETags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.models import Account, ScimGroupMember, ScimUser
from tests.scim_support import ScimClient, entra_user, scim_account

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _user(scim: ScimClient, name: str) -> str:
    created = scim.post("/Users", entra_user(f"{name}@example.com", given=name.title()))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _group(scim: ScimClient, name: str, **extra: Any) -> dict[str, Any]:
    created = scim.post("/Groups", {"schemas": [GROUP], "displayName": name, **extra})
    assert created.status_code == 201, created.text
    return dict(created.json())


def _member_ids(scim: ScimClient, group_id: str) -> list[str]:
    got = scim.get(f"/Groups/{group_id}")
    assert got.status_code == 200, got.text
    return sorted(m["value"] for m in got.json().get("members", []))


def _member_rows(container: Container) -> int:
    with container.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(ScimGroupMember)) or 0


def test_create_read_replace_delete(scim: ScimClient, clock: FixedClock) -> None:
    ada, bob = _user(scim, "ada"), _user(scim, "bob")
    created = scim.post(
        "/Groups",
        {
            "schemas": [GROUP],
            "displayName": "Sales",
            "externalId": "g-1",
            "members": [{"value": ada}],
        },
    )
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith("application/scim+json")
    group = created.json()
    assert created.headers["Location"] == group["meta"]["location"]
    assert group["meta"]["location"].endswith(f"/scim/v2/acme/Groups/{group['id']}")
    assert group["displayName"] == "Sales" and group["externalId"] == "g-1"
    assert group["members"] == [
        {
            "value": ada,
            "type": "User",
            "$ref": f"http://testserver/scim/v2/acme/Users/{ada}",
        }
    ]
    assert group["meta"]["version"] == 'W/"1"' == created.headers["ETag"]
    assert group["meta"]["created"] == group["meta"]["lastModified"] == "2026-01-15T09:00:00Z"

    clock.advance(timedelta(minutes=5))
    replaced = scim.put(
        f"/Groups/{group['id']}",
        {"schemas": [GROUP], "displayName": "Sales EMEA", "members": [{"value": bob}]},
    )
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["displayName"] == "Sales EMEA" and "externalId" not in body
    assert [m["value"] for m in body["members"]] == [bob]
    assert body["meta"]["version"] == 'W/"2"' == replaced.headers["ETag"]
    assert body["meta"]["lastModified"] == "2026-01-15T09:05:00Z"
    assert body["meta"]["created"] == "2026-01-15T09:00:00Z"

    # A PUT that does not name members renames without emptying the group.
    renamed = scim.put(f"/Groups/{group['id']}", {"displayName": "Sales"})
    assert renamed.status_code == 200, renamed.text
    assert [m["value"] for m in renamed.json()["members"]] == [bob]

    # Nothing changed: the version stays.
    same = scim.put(f"/Groups/{group['id']}", {"displayName": "Sales", "members": [{"value": bob}]})
    assert same.json()["meta"]["version"] == renamed.json()["meta"]["version"] == 'W/"3"'

    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    missing = scim.get(f"/Groups/{group['id']}")
    assert missing.status_code == 404
    assert missing.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_display_names_need_not_be_unique(scim: ScimClient) -> None:
    first, second = _group(scim, "Support"), _group(scim, "support")
    assert first["id"] != second["id"]
    found = scim.get("/Groups", filter='displayName eq "SUPPORT"')
    assert found.json()["totalResults"] == 2


def test_entra_group_sequence(scim: ScimClient, container: Container) -> None:
    ada, bob = _user(scim, "ada"), _user(scim, "bob")
    # Lookup before create: nothing yet.
    lookup = scim.get(
        "/Groups",
        filter='externalId eq "8f0c1a52-5a4e-4d0e-9f2b-1b7a6c1e2d3f"',
        excludedAttributes="members",
    )
    assert lookup.status_code == 200, lookup.text
    assert lookup.json()["totalResults"] == 0 and lookup.json()["Resources"] == []
    created = scim.post(
        "/Groups",
        {
            "externalId": "8f0c1a52-5a4e-4d0e-9f2b-1b7a6c1e2d3f",
            "displayName": "Phones - Chicago",
            "meta": {"resourceType": "Group"},
            "schemas": [GROUP],
        },
    )
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    assert "members" not in created.json()

    added = scim.patch(
        f"/Groups/{group_id}",
        {"op": "Add", "path": "members", "value": [{"value": ada}, {"value": bob}]},
    )
    assert added.status_code == 204, added.text
    assert added.headers["ETag"] == 'W/"2"'
    # Adding a member twice is no change.
    again = scim.patch(
        f"/Groups/{group_id}", {"op": "Add", "path": "members", "value": [{"value": ada}]}
    )
    assert again.headers["ETag"] == 'W/"2"'

    read = scim.get(f"/Groups/{group_id}", excludedAttributes="members")
    assert read.status_code == 200, read.text
    assert "members" not in read.json()
    assert read.json()["displayName"] == "Phones - Chicago"
    assert _member_ids(scim, group_id) == sorted([ada, bob])

    removed = scim.patch(
        f"/Groups/{group_id}", {"op": "Remove", "path": "members", "value": [{"value": ada}]}
    )
    assert removed.status_code == 204, removed.text
    assert _member_ids(scim, group_id) == [bob]

    renamed = scim.patch(
        f"/Groups/{group_id}", {"op": "Replace", "path": "displayName", "value": "Phones - HQ"}
    )
    assert renamed.status_code == 204
    assert scim.get(f"/Groups/{group_id}").json()["displayName"] == "Phones - HQ"

    assert scim.delete(f"/Groups/{group_id}").status_code == 204
    assert scim.get(f"/Groups/{group_id}").status_code == 404
    assert _member_rows(container) == 0


def test_okta_group_push(scim: ScimClient) -> None:
    ada, bob, cy = _user(scim, "ada"), _user(scim, "bob"), _user(scim, "cy")
    group = _group(scim, "Engineering")
    pushed = scim.put(
        f"/Groups/{group['id']}",
        {
            "schemas": [GROUP],
            "id": group["id"],
            "displayName": "Engineering",
            "members": [
                {"value": ada, "display": "ada@example.com"},
                {"value": bob, "display": "bob@example.com"},
            ],
        },
    )
    assert pushed.status_code == 200, pushed.text
    assert sorted(m["value"] for m in pushed.json()["members"]) == sorted([ada, bob])

    replaced = scim.patch(
        f"/Groups/{group['id']}",
        {"op": "replace", "path": "members", "value": [{"value": bob}, {"value": cy}]},
    )
    assert replaced.status_code == 204, replaced.text
    assert _member_ids(scim, group["id"]) == sorted([bob, cy])

    # Okta renames with a replace that has no path, its value carrying id and displayName.
    renamed = scim.patch(
        f"/Groups/{group['id']}",
        {"op": "replace", "value": {"id": group["id"], "displayName": "Engineering (all)"}},
    )
    assert renamed.status_code == 204, renamed.text
    removed = scim.patch(
        f"/Groups/{group['id']}", {"op": "remove", "path": f'members[value eq "{cy}"]'}
    )
    assert removed.status_code == 204, removed.text
    got = scim.get(f"/Groups/{group['id']}").json()
    assert got["displayName"] == "Engineering (all)"
    assert [m["value"] for m in got["members"]] == [bob]

    # An empty list empties the group.
    emptied = scim.patch(
        f"/Groups/{group['id']}", {"op": "replace", "path": "members", "value": []}
    )
    assert emptied.status_code == 204
    assert _member_ids(scim, group["id"]) == []


def test_patch_with_attributes_answers_the_group(scim: ScimClient) -> None:
    ada = _user(scim, "ada")
    group = _group(scim, "Ops")
    answered = scim.http.patch(
        f"{scim.base}/Groups/{group['id']}?excludedAttributes=members",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "add", "value": {"members": [{"value": ada}], "externalId": "ops-1"}}
            ],
        },
        headers=scim.headers(),
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["externalId"] == "ops-1" and "members" not in answered.json()
    assert _member_ids(scim, group["id"]) == [ada]


@pytest.mark.parametrize("where", ["post", "put", "patch"])
def test_unknown_member_is_refused(scim: ScimClient, container: Container, where: str) -> None:
    ada = _user(scim, "ada")
    group = _group(scim, "Ops", members=[{"value": ada}])
    members = [{"value": ada}, {"value": "no-such-user"}]
    if where == "post":
        answer = scim.post("/Groups", {"displayName": "Other", "members": members})
    elif where == "put":
        answer = scim.put(f"/Groups/{group['id']}", {"displayName": "Ops", "members": members})
    else:
        answer = scim.patch(
            f"/Groups/{group['id']}", {"op": "Add", "path": "members", "value": members}
        )
    assert answer.status_code == 400, answer.text
    assert answer.json()["scimType"] == "invalidValue"
    assert "no-such-user" in answer.json()["detail"]
    # Nothing of the refused request is kept.
    assert _member_ids(scim, group["id"]) == [ada]
    assert scim.get("/Groups").json()["totalResults"] == 1
    assert _member_rows(container) == 1


def test_member_of_another_account_is_refused(
    scim: ScimClient, container: Container, app_client: TestClient
) -> None:
    other = ScimClient(app_client, "globex", scim_account(container, "globex", area="646"))
    theirs = _user(other, "zed")
    group = _group(scim, "Ops")
    answer = scim.patch(
        f"/Groups/{group['id']}", {"op": "Add", "path": "members", "value": [{"value": theirs}]}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"] == f"members: this account has no user with id {theirs}"
    assert "globex" not in answer.text and "zed" not in answer.text
    # The same words as for an id no account has.
    unknown = scim.patch(
        f"/Groups/{group['id']}", {"op": "Add", "path": "members", "value": [{"value": "x"}]}
    )
    assert unknown.json()["detail"] == "members: this account has no user with id x"
    # Nor can one account read, change or delete another's group.
    assert other.get(f"/Groups/{group['id']}").status_code == 404
    assert (
        other.patch(f"/Groups/{group['id']}", {"op": "Remove", "path": "members"}).status_code
        == 404
    )
    assert other.delete(f"/Groups/{group['id']}").status_code == 404
    assert other.get("/Groups").json()["totalResults"] == 0


def test_if_match(scim: ScimClient) -> None:
    group = _group(scim, "Ops")
    path = f"/Groups/{group['id']}"
    body = {"displayName": "Ops 2"}
    assert scim.put(path, body, **{"If-Match": 'W/"1"'}).status_code == 200
    stale = scim.put(path, body, **{"If-Match": 'W/"1"'})
    assert stale.status_code == 412, stale.text
    assert "read it again" in stale.json()["detail"]
    op = {"op": "Replace", "path": "displayName", "value": "Ops 3"}
    assert scim.patch(path, op, **{"If-Match": 'W/"1"'}).status_code == 412
    assert scim.patch(path, op, **{"If-Match": 'W/"2"'}).status_code == 204
    assert scim.delete(path, **{"If-Match": 'W/"2"'}).status_code == 412
    assert scim.get(path).headers["ETag"] == 'W/"3"'
    assert scim.delete(path, **{"If-Match": 'W/"3"'}).status_code == 204


def test_deleting_a_user_moves_its_groups_on(scim: ScimClient) -> None:
    ada, bob = _user(scim, "ada"), _user(scim, "bob")
    group = _group(scim, "Ops", members=[{"value": ada}, {"value": bob}])
    assert scim.delete(f"/Users/{ada}").status_code == 204
    got = scim.get(f"/Groups/{group['id']}")
    assert [m["value"] for m in got.json()["members"]] == [bob]
    assert got.headers["ETag"] == 'W/"2"'


def test_list_paging_and_filters(scim: ScimClient, clock: FixedClock) -> None:
    ada = _user(scim, "ada")
    for n in range(5):
        clock.advance(timedelta(seconds=1))  # pages in the order the groups were made
        _group(scim, f"Team {n}", externalId=f"ext-{n}", members=[{"value": ada}])
    page = scim.get("/Groups", startIndex="2", count="2").json()
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [g["displayName"] for g in page["Resources"]] == ["Team 1", "Team 2"]
    assert page["Resources"][0]["members"][0]["value"] == ada
    lean = scim.get("/Groups", excludedAttributes="members", count="1").json()
    assert "members" not in lean["Resources"][0]
    counted = scim.get("/Groups", count="0").json()
    assert counted["totalResults"] == 5 and counted["Resources"] == []
    by_ext = scim.get("/Groups", filter='externalId eq "ext-3"').json()
    assert [g["displayName"] for g in by_ext["Resources"]] == ["Team 3"]
    assert scim.get("/Groups", filter='externalId eq "EXT-3"').json()["totalResults"] == 0
    by_name = scim.get("/Groups", filter='displayname EQ "team 4"').json()
    assert [g["externalId"] for g in by_name["Resources"]] == ["ext-4"]
    # Entra's membership check: the group, if that user is a member.
    team = by_name["Resources"][0]["id"]
    bob = _user(scim, "bob")
    for who, total in ((ada, 1), (bob, 0)):
        check = scim.get(
            "/Groups",
            filter=f'id eq "{team}" and members[value eq "{who}"]',
            excludedAttributes="members",
        )
        assert check.status_code == 200, check.text
        assert check.json()["totalResults"] == total
    assert scim.get("/Groups", filter='displayName co "Team"').json()["totalResults"] == 5
    either = scim.get("/Groups", filter=f'id eq "{team}" or id eq "y"').json()
    assert either["totalResults"] == 1
    bad = scim.get("/Groups", filter="displayName co")
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"
    assert scim.get("/Groups", count="many").json()["scimType"] == "invalidValue"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"members": []}, "displayName is required"),
        ({"displayName": "  "}, "displayName must not be empty"),
        ({"displayName": "x" * 255}, "displayName is longer than 254 characters"),
        ({"displayName": "Ops", "members": "ada"}, "members must be a list"),
        ({"displayName": "Ops", "members": [{"display": "ada"}]}, "each member needs a value"),
        (
            {"displayName": "Ops", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]},
            "is not one this endpoint serves for groups",
        ),
        ([], "must be a JSON object"),
    ],
)
def test_bad_bodies(scim: ScimClient, body: Any, words: str) -> None:
    answer = scim.post("/Groups", body)
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["detail"]


def test_patch_cannot_remove_display_name(scim: ScimClient) -> None:
    group = _group(scim, "Ops")
    answer = scim.patch(f"/Groups/{group['id']}", {"op": "Remove", "path": "displayName"})
    assert answer.status_code == 400
    assert answer.json()["detail"] == "displayName is required"
    assert scim.get(f"/Groups/{group['id']}").json()["displayName"] == "Ops"


def _directory_users(container: Container, count: int) -> list[str]:
    """SCIM user rows made directly: a large group's members without a portal user each."""
    stamp = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    with container.unit_of_work() as session:
        account_id = session.scalar(select(Account.id).where(Account.slug == "acme"))
        assert account_id is not None
        ids = [f"bulk-{n:05d}" for n in range(count)]
        session.add_all(
            ScimUser(
                id=i,
                account_id=account_id,
                user_name=f"{i}@example.com",
                user_name_key=f"{i}@example.com",
                active=True,
                created_at=stamp,
                updated_at=stamp,
                version=1,
            )
            for i in ids
        )
    return ids


def test_large_group_changes_without_reading_its_members(
    scim: ScimClient, container: Container
) -> None:
    ids = _directory_users(container, 1201)
    group = _group(scim, "Everyone")
    pushed = scim.put(
        f"/Groups/{group['id']}",
        {"displayName": "Everyone", "members": [{"value": i} for i in ids[:1200]]},
    )
    assert pushed.status_code == 200, pushed.text
    assert len(pushed.json()["members"]) == 1200

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(container.engine, "before_cursor_execute", record)
    try:
        added = scim.patch(
            f"/Groups/{group['id']}",
            {"op": "Add", "path": "members", "value": [{"value": ids[-1]}]},
        )
    finally:
        event.remove(container.engine, "before_cursor_execute", record)
    assert added.status_code == 204, added.text
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert not [s for s in reads if "scim_group_members" in s], reads

    removed = scim.patch(
        f"/Groups/{group['id']}",
        {"op": "Remove", "path": "members", "value": [{"value": i} for i in ids[:700]]},
    )
    assert removed.status_code == 204, removed.text
    assert removed.headers["ETag"] == 'W/"4"'
    assert _member_ids(scim, group["id"]) == ids[700:]
    assert _member_rows(container) == 501
