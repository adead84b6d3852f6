"""DirectorySource over Microsoft Graph: scope enumeration, lookups, delta rounds, write-back.

A full read of a large tenant overlaps requests: synced groups are read side by side, and a
tenant-wide read splits /users by the first character of the userPrincipalName, one chain of
pages per partition, instead of walking one page at a time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from switchboard.directory.auth import GraphCredentials, TokenCache
from switchboard.directory.client import GraphClient, RetryPolicy
from switchboard.directory.connections import GraphConnections
from switchboard.directory.errors import GraphError, GraphNotFound, TransientGraphError
from switchboard.directory.graph_groups import INTERACTIVE_RETRY, GraphGroups
from switchboard.directory.graph_wire import BatchRequest
from switchboard.directory.models import DirectoryUser, GroupDeltaRound, UserDeltaRound
from switchboard.packed import PackedTable, id_key

# Characters a userPrincipalName may start with in Entra ID (letters and digits, and
# ' - _ ! # ^ ~; a period may not lead). startswith() ignores case. A count check after the
# partitioned read catches anything else and falls back to a plain walk.
UPN_INITIALS = (
    *"abcdefghijklmnopqrstuvwxyz",
    *"0123456789",
    *"'-_!#^~",
)
CHECK_MEMBER_GROUPS_LIMIT = 20
# Below this many pages a plain walk is as quick as partitions and spends fewer requests.
PARTITION_FROM_PAGES = 4
# A first page slower than this means requests spend their time waiting: overlap them.
PARTITION_MIN_PAGE_SECONDS = 0.15


def _select(select: Sequence[str]) -> str:
    names = list(dict.fromkeys(["id", *select]))
    return ",".join(names)


def _user(obj: Mapping[str, Any]) -> DirectoryUser:
    """The user without its nulls: a property that is null reads as absent (``get`` gives None
    either way), and the 15 null extension attributes Graph sends with every user are most of
    its size. A 100,000-user read holds every user until it is planned."""
    props: dict[str, Any] = {}
    for key, value in obj.items():
        if value is None or key == "@odata.type":
            continue
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if v is not None}
            if not value:
                continue
        props[key] = value
    return DirectoryUser(id=str(obj["id"]), properties=props)


def _odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class GraphDirectory:
    """The DirectorySource the sync engine uses, over one GraphClient."""

    def __init__(
        self,
        client: GraphClient,
        *,
        workers: int = 8,
        partitioned: bool | None = None,
        page_size: int = 999,
    ) -> None:
        if workers < 1:
            raise ValueError("workers: give at least 1")
        if not 1 <= page_size <= 999:
            raise ValueError("page_size: give 1 to 999 (Graph's $top limit)")
        self.client = client
        self.page_size = str(page_size)
        self.workers = workers
        # None: decide per read from how long the first page took (see _all_users).
        self.partitioned = partitioned

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> GraphDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ enumeration
    def users_in_scope(
        self, group_ids: Sequence[str], select: Sequence[str]
    ) -> Iterator[DirectoryUser]:
        params = {"$select": _select(select), "$top": self.page_size}
        if not group_ids:
            yield from self._all_users(params)
            return
        chains = [
            (f"/groups/{quote(gid, safe='')}/transitiveMembers/microsoft.graph.user", params)
            for gid in dict.fromkeys(group_ids)
        ]
        seen = PackedTable(words=2)  # a million ids in 35 MB, not 115
        for page in self._fan_in(chains):
            for obj in page:
                uid = str(obj.get("id"))
                if seen.add(id_key(uid))[1]:
                    yield _user(obj)

    def _all_users(self, params: dict[str, str]) -> Iterator[DirectoryUser]:
        """Every user: a plain page walk, or partitions read side by side when that pays.

        Partitions pay when waiting dominates: many pages, each slow to arrive (network
        latency, or the service's own time per page, which it spends in parallel for parallel
        requests). So the first page is read plainly and timed; if the tenant spans several
        pages and that page took long, the rest is read by UPN partitions.
        """
        allowed = self.partitioned is not False and self.workers > 1
        total = self._user_count() if allowed else None
        started = self.client.clock()
        walk = self.client.pages("/users", params)
        first = next(walk)
        first_seconds = self.client.clock() - started
        first_users = first.get("value") or ()
        for obj in first_users:
            yield _user(obj)
        many_pages = total is not None and total > PARTITION_FROM_PAGES * int(self.page_size)
        slow = self.partitioned is True or first_seconds >= PARTITION_MIN_PAGE_SECONDS
        if not ("@odata.nextLink" in first and many_pages and slow and total is not None):
            # A plain walk lists each user once (the plan ignores a replay all the same).
            for body in walk:
                for obj in body.get("value") or ():
                    yield _user(obj)
            return
        walk.close()
        seen = PackedTable(words=2)  # a million ids in 35 MB, where a set of them takes 115
        for obj in first_users:
            seen.add(id_key(str(obj["id"])))
        filters = [f"startswith(userPrincipalName,{_odata_string(c)})" for c in UPN_INITIALS]
        chains = [("/users", {**params, "$filter": f}) for f in filters]
        for page in self._fan_in(chains):
            for obj in page:
                if seen.add(id_key(str(obj["id"])))[1]:
                    yield _user(obj)
        if seen.size >= total:
            return
        # Some UPN escaped the partitions: walk the whole list and yield the rest.
        for body in self.client.pages("/users", params):
            for obj in body.get("value") or ():
                if seen.add(id_key(str(obj["id"])))[1]:
                    yield _user(obj)

    def _user_count(self) -> int | None:
        try:
            resp = self.client.request(
                "GET", "/users/$count", headers={"ConsistencyLevel": "eventual"}
            )
            return int(resp.text.strip())
        except (GraphError, ValueError):
            return None

    def _fan_in(
        self, chains: Sequence[tuple[str, Mapping[str, str]]]
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of several paged reads, each chain followed in a worker, as they arrive.

        The queue is bounded so a slow consumer holds back the readers (memory stays flat); if
        the consumer stops early, the workers notice and finish their current request only.
        """
        inbox: queue.Queue[tuple[str, int, Any]] = queue.Queue(maxsize=self.workers * 2)
        stop = threading.Event()

        def put(item: tuple[str, int, Any]) -> None:
            while not stop.is_set():
                try:
                    inbox.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue

        def run(index: int, path: str, params: Mapping[str, str]) -> None:
            try:
                for page in self.client.pages(path, params):
                    if stop.is_set():
                        return
                    put(("page", index, page.get("value") or []))
            except GraphNotFound as exc:
                put(("error", index, _group_not_found(path, exc)))
            except BaseException as exc:  # handed to the consumer, raised there
                put(("error", index, exc))
            finally:
                put(("done", index, None))

        pool = ThreadPoolExecutor(
            max_workers=min(self.workers, len(chains)) or 1, thread_name_prefix="graph-read"
        )
        try:
            for i, (path, params) in enumerate(chains):
                pool.submit(run, i, path, params)
            remaining = len(chains)
            while remaining:
                kind, _index, payload = inbox.get()
                if kind == "done":
                    remaining -= 1
                elif kind == "error":
                    raise payload
                else:
                    yield payload
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ lookups
    def get_user(self, id_or_upn: str, select: Sequence[str]) -> DirectoryUser | None:
        key = id_or_upn.strip()
        if not key:
            return None
        try:
            body = self.client.get(f"/users/{quote(key, safe='@')}", {"$select": _select(select)})
        except GraphNotFound:
            return None
        return _user(body) if body.get("id") else None

    def get_users(self, ids: Iterable[str], select: Sequence[str]) -> dict[str, DirectoryUser]:
        wanted = list(dict.fromkeys(ids))
        sel = quote(_select(select), safe=",")
        requests = [
            BatchRequest(str(i), "GET", f"/users/{quote(uid, safe='')}?$select={sel}")
            for i, uid in enumerate(wanted)
        ]
        found: dict[str, DirectoryUser] = {}
        for result in self.client.batch(requests, workers=self.workers):
            if result.status == 404:
                continue
            error = result.error(f"GET /users/{wanted[int(result.id)]}")
            if error is not None:
                raise error
            user = _user(result.body)
            found[user.id] = user
        return found

    def member_of(self, user_ids: Iterable[str], group_ids: Sequence[str]) -> dict[str, set[str]]:
        users = list(dict.fromkeys(user_ids))
        groups = list(dict.fromkeys(group_ids))
        out: dict[str, set[str]] = {u: set() for u in users}
        if not users or not groups:
            return out
        group_chunks = [
            groups[i : i + CHECK_MEMBER_GROUPS_LIMIT]
            for i in range(0, len(groups), CHECK_MEMBER_GROUPS_LIMIT)
        ]
        requests: list[BatchRequest] = []
        owners: list[str] = []
        for uid in users:
            for chunk in group_chunks:
                requests.append(
                    BatchRequest(
                        str(len(requests)),
                        "POST",
                        f"/users/{quote(uid, safe='')}/checkMemberGroups",
                        body={"groupIds": chunk},
                    )
                )
                owners.append(uid)
        for result in self.client.batch(requests, workers=self.workers):
            uid = owners[int(result.id)]
            if result.status == 404:
                continue  # the user is gone: a member of nothing
            error = result.error(f"POST /users/{uid}/checkMemberGroups")
            if error is not None:
                raise error
            body = result.body if isinstance(result.body, Mapping) else {}
            out[uid].update(str(g) for g in body.get("value") or ())
        return out

    # ------------------------------------------------------------------ delta
    def users_delta(self, delta_link: str | None, select: Sequence[str]) -> UserDeltaRound:
        round_ = UserDeltaRound()
        pages = (
            self.client.pages(delta_link, delta=True)
            if delta_link
            else self.client.pages("/users/delta", {"$select": _select(select)}, delta=True)
        )
        for page in pages:
            for obj in page.get("value") or ():
                round_.add({k: v for k, v in obj.items() if k != "@odata.type"})
            round_.delta_link = _delta_link(page, "users")
        return round_

    def groups_delta(self, delta_link: str | None) -> GroupDeltaRound:
        round_ = GroupDeltaRound()
        pages = (
            self.client.pages(delta_link, delta=True)
            if delta_link
            else self.client.pages("/groups/delta", {"$select": "members"}, delta=True)
        )
        for page in pages:
            for obj in page.get("value") or ():
                round_.add(obj)
            round_.delta_link = _delta_link(page, "groups")
        return round_

    def latest_delta_links(self, select: Sequence[str]) -> tuple[str, str]:
        users = self.client.get(
            "/users/delta", {"$select": _select(select), "$deltatoken": "latest"}
        )
        groups = self.client.get("/groups/delta", {"$select": "members", "$deltatoken": "latest"})
        return _delta_link(users, "users", final=True), _delta_link(groups, "groups", final=True)

    # ------------------------------------------------------------------ group picker
    def group_lookup(self) -> GraphGroups:
        """Group search and names for an admin waiting on a page: quick retries only."""
        return GraphGroups(self.client.interactive(INTERACTIVE_RETRY), workers=min(self.workers, 4))

    # ------------------------------------------------------------------ write-back
    def update_user(self, user_id: str, properties: Mapping[str, Any]) -> None:
        if not properties:
            return
        self.client.patch(f"/users/{quote(user_id, safe='')}", dict(properties))


def _delta_link(page: Mapping[str, Any], kind: str, *, final: bool | None = None) -> str:
    link = page.get("@odata.deltaLink")
    if isinstance(link, str) and link:
        return link
    if final or "@odata.nextLink" not in page:
        raise TransientGraphError(
            f"{kind}/delta ended without a deltaLink; the round is incomplete, try again",
            code="missingDeltaLink",
        )
    return ""


def _group_not_found(path: str, exc: GraphNotFound) -> GraphNotFound:
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "groups":
        return GraphNotFound(
            f"synced group {parts[1]} is not found in the tenant: remove it from the synced "
            f"groups, or restore it in Entra ID",
            status=exc.status,
            code=exc.code,
            request_id=exc.request_id,
        )
    return exc


def connect(
    creds: GraphCredentials,
    tokens: TokenCache,
    *,
    background: bool = True,
    workers: int = 8,
    retry: RetryPolicy | None = None,
    connections: GraphConnections | None = None,
) -> GraphDirectory:
    """A GraphDirectory for a registration: its provider from ``tokens``, and the process's
    shared connections when given (else a new pool of its own).

    Close it (or use it as a context manager) when the run is over.
    """
    verify = creds.ssl_context()
    client = GraphClient(
        creds.graph_url,
        tokens.provider(creds),
        verify=verify,
        background=background,
        retry=retry,
        max_connections=max(workers * 2, 4),
        http=connections.client(verify) if connections is not None else None,
    )
    return GraphDirectory(client, workers=workers)
