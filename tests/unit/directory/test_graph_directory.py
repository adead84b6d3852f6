"""GraphDirectory over a small fake Graph at the transport edge."""

from __future__ import annotations

import json
import threading
from collections.abc import Generator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from switchboard.directory.auth import StaticToken
from switchboard.directory.client import GraphClient, RetryPolicy
from switchboard.directory.errors import GraphForbidden, GraphNotFound
from switchboard.directory.graph_directory import GraphDirectory

GRAPH = "https://graph.example.test"
ROOT = f"{GRAPH}/v1.0"


class FakeUsers:
    """/users with $top paging, startswith(userPrincipalName,'x') and $count."""

    def __init__(self, upns: list[str], page: int = 3) -> None:
        self.users = [{"id": f"id-{i}", "userPrincipalName": u} for i, u in enumerate(upns)]
        self.page = page
        self.lock = threading.Lock()
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = urlsplit(str(request.url))
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self.lock:
            self.paths.append(url.path + ("?f" if "$filter" in q else ""))
        if url.path == "/v1.0/users/$count":
            assert request.headers["consistencylevel"] == "eventual"
            return httpx.Response(200, text=str(len(self.users)))
        assert url.path == "/v1.0/users"
        users = self.users
        if "$filter" in q:
            literal = q["$filter"].split(",", 1)[1].removesuffix(")")
            prefix = literal[1:-1].replace("''", "'")
            users = [u for u in users if u["userPrincipalName"].lower().startswith(prefix)]
        offset = int(q.get("$skiptoken", "0"))
        body: dict[str, Any] = {"value": users[offset : offset + self.page]}
        if offset + self.page < len(users):
            rest = "&".join(f"{k}={v}" for k, v in q.items() if k != "$skiptoken")
            body["@odata.nextLink"] = f"{ROOT}/users?{rest}&$skiptoken={offset + self.page}"
        return httpx.Response(200, json=body)


def directory(handler: Any, clock: Any = None, **kw: Any) -> GraphDirectory:
    client = GraphClient(
        GRAPH,
        StaticToken("t"),
        transport=httpx.MockTransport(handler),
        sleep=lambda s: None,
        retry=RetryPolicy(max_attempts=2),
        **({"clock": clock} if clock else {}),
    )
    return GraphDirectory(client, **kw)


def test_small_tenant_is_a_count_and_one_page() -> None:
    fake = FakeUsers(["a@x", "b@x"], page=5)
    users = list(directory(fake).users_in_scope([], ["userPrincipalName"]))
    assert {u.id for u in users} == {"id-0", "id-1"}
    assert fake.paths == ["/v1.0/users/$count", "/v1.0/users"]


def test_partitioned_read_yields_everyone_once() -> None:
    upns = [f"{c}{i}@x" for c in "abcz09_" for i in range(5)]
    fake = FakeUsers(upns, page=3)
    users = list(
        directory(fake, workers=4, page_size=3, partitioned=True).users_in_scope(
            [], ["userPrincipalName"]
        )
    )
    assert sorted(u.id for u in users) == sorted(u["id"] for u in fake.users)
    assert fake.paths.count("/v1.0/users?f") > 10  # partition chains, read side by side
    assert fake.paths[0] == "/v1.0/users/$count"
    assert fake.paths.count("/v1.0/users") == 1  # the first page; partitions covered the rest


def test_upn_outside_the_partitions_triggers_a_full_walk() -> None:
    upns = [f"a{i}@x" for i in range(8)] + ["élise@x", "b@x", ".odd@x"]
    fake = FakeUsers(upns, page=2)
    users = list(
        directory(fake, workers=3, page_size=2, partitioned=True).users_in_scope(
            [], ["userPrincipalName"]
        )
    )
    assert sorted(u.user_principal_name for u in users) == sorted(upns)
    assert len(users) == len(upns)
    assert "/v1.0/users?f" in fake.paths and "/v1.0/users" in fake.paths


@pytest.mark.parametrize(("page_seconds", "partitions"), [(0.01, False), (0.5, True)])
def test_auto_mode_partitions_when_the_first_page_was_slow(
    page_seconds: float, partitions: bool
) -> None:
    ticks = iter(i * page_seconds for i in range(10_000))
    fake = FakeUsers([f"{c}{i}@x" for c in "abc" for i in range(6)], page=3)
    d = directory(fake, clock=lambda: next(ticks), workers=3, page_size=3)
    assert len(list(d.users_in_scope([], ["id"]))) == 18
    assert ("/v1.0/users?f" in fake.paths) is partitions


def test_sequential_mode_walks_next_links() -> None:
    fake = FakeUsers([f"u{i}@x" for i in range(7)], page=2)
    users = list(directory(fake, partitioned=False).users_in_scope([], ["id"]))
    assert len(users) == 7 and "/v1.0/users?f" not in fake.paths


def test_group_read_dedupes_and_names_a_missing_group() -> None:
    members = {
        "g1": [{"id": "u1", "@odata.type": "#microsoft.graph.user"}, {"id": "u2"}],
        "g2": [{"id": "u2"}, {"id": "u3"}],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        gid = request.url.path.split("/")[3]
        if gid not in members:
            return httpx.Response(404, json={"error": {"code": "Request_ResourceNotFound"}})
        return httpx.Response(200, json={"value": members[gid]})

    d = directory(handler)
    users = list(d.users_in_scope(["g1", "g2", "g1"], ["id"]))
    assert sorted(u.id for u in users) == ["u1", "u2", "u3"]
    assert "@odata.type" not in users[0].properties
    with pytest.raises(GraphNotFound, match="synced group gone is not found"):
        list(d.users_in_scope(["g1", "gone"], ["id"]))


def test_stopping_early_releases_the_workers() -> None:
    fake = FakeUsers([f"{c}{i}@x" for c in "abcdefgh" for i in range(30)], page=2)
    d = directory(fake, workers=2, page_size=2, partitioned=True)
    it = d.users_in_scope([], ["id"])
    first = [next(it) for _ in range(5)]
    assert isinstance(it, Generator)
    it.close()  # must not hang on the bounded queue
    assert len(first) == 5
    assert len(fake.paths) < 100


def test_delta_merges_group_members_split_across_pages() -> None:
    pages = {
        "/v1.0/groups/delta": {
            "value": [
                {"id": "g1", "members@delta": [{"id": "u1"}, {"id": "u2"}]},
            ],
            "@odata.nextLink": f"{ROOT}/groups/delta?$skiptoken=p2",
        },
        "p2": {
            "value": [
                {
                    "id": "g1",
                    "members@delta": [
                        {"id": "u3"},
                        {"id": "u1", "@removed": {"reason": "deleted"}},
                    ],
                },
                {"id": "g2", "@removed": {"reason": "changed"}},
            ],
            "@odata.nextLink": f"{ROOT}/groups/delta?$skiptoken=p3",
        },
        "p3": {"value": [], "@odata.deltaLink": f"{ROOT}/groups/delta?$deltatoken=next"},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        q = parse_qs(urlsplit(str(request.url)).query)
        key = q["$skiptoken"][0] if "$skiptoken" in q else request.url.path
        if key == "/v1.0/groups/delta":
            assert q["$select"] == ["members"]
        return httpx.Response(200, json=pages[key])

    round_ = directory(handler).groups_delta(None)
    assert round_.added == {"g1": {"u2", "u3"}}
    assert round_.removed == {"g1": {"u1"}}
    assert round_.deleted_groups == {"g2"}
    assert round_.delta_link.endswith("$deltatoken=next")


def test_users_delta_from_a_saved_link() -> None:
    link = f"{ROOT}/users/delta?$deltatoken=abc"
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(
            200,
            json={
                "value": [
                    {"id": "u1", "givenName": "Ann"},
                    {"id": "u2", "@removed": {"reason": "deleted"}},
                    {"id": "u1", "surname": "Lee"},
                ],
                "@odata.deltaLink": f"{ROOT}/users/delta?$deltatoken=def",
            },
        )

    round_ = directory(handler).users_delta(link, ["givenName"])
    assert seen == [link]
    assert dict(round_.changed["u1"].properties) == {
        "id": "u1",
        "givenName": "Ann",
        "surname": "Lee",
    }
    assert round_.removed["u2"].permanent
    assert round_.delta_link.endswith("def")


def test_member_of_batches_users_and_splits_group_lists() -> None:
    groups = [f"g{i}" for i in range(25)]
    posts: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        posts.append(body)
        out = []
        for r in body["requests"]:
            uid = r["url"].split("/")[2]
            if uid == "gone":
                out.append({"id": r["id"], "status": 404})
                continue
            ids = r["body"]["groupIds"]
            assert len(ids) <= 20 and r["headers"]["Content-Type"] == "application/json"
            out.append(
                {
                    "id": r["id"],
                    "status": 200,
                    "body": {"value": [g for g in ids if g in ("g1", "g22")]},
                }
            )
        return httpx.Response(200, json={"responses": out})

    users = [f"u{i}" for i in range(12)] + ["gone"]
    result = directory(handler, workers=1).member_of(users, groups)
    assert result["u3"] == {"g1", "g22"} and result["gone"] == set()
    assert [len(p["requests"]) for p in posts] == [20, 6]  # 13 users x 2 group chunks


def test_get_users_skips_missing_and_raises_forbidden() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        out = []
        for r in body["requests"]:
            uid = r["url"].split("/")[2].split("?")[0]
            assert "$select=id,givenName" in r["url"]
            status = {"missing": 404, "secret": 403}.get(uid, 200)
            out.append(
                {
                    "id": r["id"],
                    "status": status,
                    "body": {"id": uid}
                    if status == 200
                    else {"error": {"code": "Authorization_RequestDenied"}},
                }
            )
        return httpx.Response(200, json={"responses": out})

    d = directory(handler)
    assert set(d.get_users(["a", "missing", "b", "a"], ["givenName"])) == {"a", "b"}
    with pytest.raises(GraphForbidden):
        d.get_users(["a", "secret"], ["givenName"])


def test_get_user_by_upn_and_missing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.raw_path.startswith(b"/v1.0/users/ann%23EXT%23@x?"):
            return httpx.Response(200, json={"id": "u1", "userPrincipalName": "ann#EXT#@x"})
        return httpx.Response(404, json={"error": {"code": "Request_ResourceNotFound"}})

    d = directory(handler)
    user = d.get_user("ann#EXT#@x", ["userPrincipalName"])
    assert user is not None and user.id == "u1"
    assert d.get_user("nobody@x", ["id"]) is None
