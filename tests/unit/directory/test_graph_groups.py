"""GraphGroups (the group picker's reads) over a small fake Graph at the transport edge."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from switchboard.directory.auth import StaticToken
from switchboard.directory.client import GraphClient, RetryPolicy
from switchboard.directory.graph_directory import GraphDirectory
from switchboard.directory.graph_groups import GraphGroups, search_term

GRAPH = "https://graph.example.test"
GROUPS = [
    {"id": f"00000000-0000-4000-8000-{i:012d}", "displayName": name, "description": None}
    for i, name in enumerate(["Sales", "O'Brien team", "Support", *[f"G{n}" for n in range(20)]])
]


class FakeGroups:
    def __init__(self, *, search: bool = True) -> None:
        self.search = search
        self.seen: list[tuple[str, dict[str, str], str | None]] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = urlsplit(str(request.url))
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self.lock:
            self.seen.append((url.path, q, request.headers.get("consistencylevel")))
        if url.path.endswith("/$count"):
            if "Support" in url.path or str(GROUPS[2]["id"]) in url.path:
                return httpx.Response(403, json={"error": {"code": "Authorization_RequestDenied"}})
            return httpx.Response(200, text="7" if "transitiveMembers" in url.path else "1")
        assert url.path == "/v1.0/groups"
        if "$search" in q:
            if not self.search:
                return httpx.Response(400, json={"error": {"code": "Request_BadRequest"}})
            term = q["$search"].strip('"').split(":", 1)[1].lower()
            found = [g for g in GROUPS if str(g["displayName"]).lower().startswith(term)]
            return httpx.Response(200, json={"value": found, "@odata.count": len(found)})
        flt = q.get("$filter", "")
        if flt.startswith("startswith"):
            literal = flt.split(",", 1)[1].removesuffix(")")[1:-1].replace("''", "'").lower()
            found = [g for g in GROUPS if str(g["displayName"]).lower().startswith(literal)]
            return httpx.Response(200, json={"value": found})
        if flt.startswith("id in"):
            ids = [p.strip("' ") for p in flt[len("id in (") : -1].split(",")]
            assert len(ids) <= 15
            return httpx.Response(200, json={"value": [g for g in GROUPS if g["id"] in ids]})
        return httpx.Response(200, json={"value": GROUPS[:2], "@odata.count": len(GROUPS)})


def lookup(fake: Any) -> GraphGroups:
    client = GraphClient(
        GRAPH,
        StaticToken("t"),
        transport=httpx.MockTransport(fake),
        sleep=lambda s: None,
        retry=RetryPolicy(max_attempts=1),
    )
    return GraphDirectory(client).group_lookup()


def test_search_by_name_with_counts() -> None:
    fake = FakeGroups()
    found = lookup(fake).search_groups("sa", top=25)
    assert [g.name for g in found.groups] == ["Sales"]
    assert (found.groups[0].members, found.groups[0].nested_groups, found.total) == (7, 1, 1)
    listed = [(p, q, h) for p, q, h in fake.seen if p == "/v1.0/groups"]
    assert listed[0][1]["$search"] == '"displayName:sa"'
    assert listed[0][1]["$count"] == "true" and listed[0][2] == "eventual"
    counts = {p for p, _q, h in fake.seen if p.endswith("$count") and h == "eventual"}
    assert counts == {
        f"/v1.0/groups/{GROUPS[0]['id']}/transitiveMembers/microsoft.graph.user/$count",
        f"/v1.0/groups/{GROUPS[0]['id']}/members/microsoft.graph.group/$count",
    }


def test_without_search_a_name_prefix_filter_with_quotes_escaped() -> None:
    fake = FakeGroups(search=False)
    found = lookup(fake).search_groups("O'Bri", top=5)
    assert [g.name for g in found.groups] == ["O'Brien team"]
    filters = [q.get("$filter") for p, q, _h in fake.seen if p == "/v1.0/groups"]
    assert "startswith(displayName,'O''Bri')" in filters


def test_a_count_graph_refuses_is_unknown_not_a_failure() -> None:
    found = lookup(FakeGroups()).search_groups("sup", top=5)
    assert [(g.name, g.members, g.nested_groups) for g in found.groups] == [("Support", None, None)]


def test_empty_text_lists_the_first_groups_by_name() -> None:
    fake = FakeGroups()
    found = lookup(fake).search_groups("  ", top=2)
    assert found.total == len(GROUPS) and len(found.groups) == 2
    first = next(q for p, q, _h in fake.seen if p == "/v1.0/groups")
    assert first["$orderby"] == "displayName" and "$search" not in first


def test_names_by_id_in_chunks_of_15_and_missing_ones_left_out() -> None:
    fake = FakeGroups()
    gone = "00000000-0000-4000-8000-999999999999"
    ids = [str(g["id"]) for g in GROUPS] + [gone]
    found = lookup(fake).groups_by_id(ids)
    assert set(found) == {str(g["id"]) for g in GROUPS}
    assert found[str(GROUPS[1]["id"])].name == "O'Brien team"
    assert len([p for p, _q, _h in fake.seen if p == "/v1.0/groups"]) == 2


def test_search_term_drops_what_would_break_the_clause() -> None:
    assert search_term(' sales "east" \\ team ') == "sales east team"
