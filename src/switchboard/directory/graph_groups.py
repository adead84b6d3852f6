"""The tenant's groups for the group picker, over Graph: search by name, counts, ids to names.

Search uses ``$search`` on displayName (word prefixes, as the Entra admin center does), which
needs ``ConsistencyLevel: eventual``; where the service refuses it, a ``startswith`` filter on
the name is the fallback. Each group shown costs two small ``$count`` requests (users in it,
transitively, and groups directly inside it), run a few at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from switchboard.directory.client import GraphClient, RetryPolicy
from switchboard.directory.errors import GraphBadRequest, GraphError
from switchboard.directory.models import DirectoryGroup, GroupMatches

# An admin waits on these: a few quick retries, then the failure is shown.
INTERACTIVE_RETRY = RetryPolicy(max_attempts=3, base_delay=0.3, max_delay=5.0, max_total_wait=8.0)
SELECT = "id,displayName,description,securityEnabled,mailEnabled"
EVENTUAL = {"ConsistencyLevel": "eventual"}
# Graph allows at most 15 values in one "in (...)" clause.
ID_FILTER_LIMIT = 15
MAX_TOP = 50


def _odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def search_term(text: str) -> str:
    """The text as one $search term: quotes and backslashes would end or escape the clause,
    and Graph's word matching ignores punctuation anyway."""
    return " ".join(text.replace('"', " ").replace("\\", " ").split())


def _group(obj: Mapping[str, Any]) -> DirectoryGroup:
    def flag(name: str) -> bool | None:
        value = obj.get(name)
        return value if isinstance(value, bool) else None

    description = obj.get("description")
    return DirectoryGroup(
        id=str(obj["id"]),
        name=str(obj.get("displayName") or obj["id"]),
        description=str(description) if description else None,
        security_enabled=flag("securityEnabled"),
        mail_enabled=flag("mailEnabled"),
    )


class GraphGroups:
    """GroupLookup over one GraphClient (give it an interactive one: see INTERACTIVE_RETRY)."""

    def __init__(self, client: GraphClient, *, workers: int = 4) -> None:
        self.client = client
        self.workers = max(1, workers)

    def search_groups(self, text: str, *, top: int = 25) -> GroupMatches:
        top = min(max(top, 1), MAX_TOP)
        term = search_term(text)
        params = {"$select": SELECT, "$top": str(top), "$count": "true"}
        if not term:
            page = self._page({**params, "$orderby": "displayName"})
        else:
            try:
                page = self._page({**params, "$search": f'"displayName:{term}"'})
            except GraphBadRequest:
                # $search is not offered everywhere (some clouds, some tenants): name prefix.
                starts = f"startswith(displayName,{_odata_string(text.strip())})"
                page = self._page({**params, "$filter": starts})
        found = sorted(
            (_group(o) for o in page.get("value") or () if o.get("id")),
            key=lambda g: (g.name.casefold(), g.id),
        )
        total = page.get("@odata.count")
        return GroupMatches(
            groups=self._with_counts(found), total=total if isinstance(total, int) else None
        )

    def groups_by_id(self, ids: Sequence[str]) -> dict[str, DirectoryGroup]:
        wanted = list(dict.fromkeys(i for i in ids if i))
        found: dict[str, DirectoryGroup] = {}
        for start in range(0, len(wanted), ID_FILTER_LIMIT):
            chunk = wanted[start : start + ID_FILTER_LIMIT]
            clause = f"id in ({','.join(_odata_string(i) for i in chunk)})"
            for obj in self.client.items("/groups", {"$select": SELECT, "$filter": clause}):
                group = _group(obj)
                found[group.id.lower()] = group
        return {i: found[i.lower()] for i in wanted if i.lower() in found}

    def _page(self, params: Mapping[str, str]) -> dict[str, Any]:
        pages = self.client.pages("/groups", params, headers=EVENTUAL)
        try:
            return next(pages)  # one page: the picker shows the first matches only
        finally:
            pages.close()

    def _with_counts(self, groups: list[DirectoryGroup]) -> list[DirectoryGroup]:
        if not groups:
            return groups
        with ThreadPoolExecutor(
            max_workers=min(self.workers, len(groups)), thread_name_prefix="graph-groups"
        ) as pool:
            return list(pool.map(self._counted, groups))

    def _counted(self, group: DirectoryGroup) -> DirectoryGroup:
        path = f"/groups/{quote(group.id, safe='')}"
        return DirectoryGroup(
            id=group.id,
            name=group.name,
            description=group.description,
            security_enabled=group.security_enabled,
            mail_enabled=group.mail_enabled,
            members=self._count(f"{path}/transitiveMembers/microsoft.graph.user/$count"),
            nested_groups=self._count(f"{path}/members/microsoft.graph.group/$count"),
        )

    def _count(self, path: str) -> int | None:
        """A count, or None when Graph would not give it (the group still shows)."""
        try:
            text = self.client.request("GET", path, headers=EVENTUAL).text.strip()
            return int(text)
        except (GraphError, ValueError):
            return None
