"""Graph list pages: projection, $select, $filter, $search, $orderby, $count and $top, and
the skiptoken that carries a page's position in the nextLink.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote

from switchboard.emulator.delta import TokenCodec
from switchboard.emulator.directory import Directory
from switchboard.emulator.directory_objects import (
    GROUP_DEFAULT_PROPS,
    GROUP_PROPS,
    USER_DEFAULT_PROPS,
    USER_PROPS,
    DirectoryError,
    Group,
    Kind,
    User,
    bad_request,
    empty_extension_attributes,
)
from switchboard.emulator.messages import GraphRequest, GraphResponse
from switchboard.emulator.odata import parse_filter, parse_search, parse_select, parse_top

USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"


def project(
    obj: User | Group, select: Iterable[str], odata_type: str | None = None
) -> dict[str, Any]:
    get = obj.get
    out: dict[str, Any] = {"@odata.type": odata_type} if odata_type else {}
    for name in select:
        value = get(name)
        if value is None:
            if name == "onPremisesExtensionAttributes":
                value = empty_extension_attributes()
            elif name in ("businessPhones", "groupTypes"):
                value = []
        out[name] = value
    out["id"] = obj.id
    return out


def list_page(
    codec: TokenCodec,
    req: GraphRequest,
    kind: Kind,
    objects: Iterator[User] | Iterator[Group] | Iterator[User | Group],
    path: str,
    odata_type: str | None = None,
    typed: dict[str, str] | None = None,
    extra_props: tuple[str, ...] = (),
    positional: Callable[[int], Iterator[tuple[int, Any]]] | None = None,
) -> GraphResponse:
    """One page of a list. With ``positional``, the skiptoken holds a position in the
    source, so each page costs O(page) rather than O(offset) (100k-user tenants)."""
    q = req.query
    unsupported = [k for k in q if k in ("$expand", "$skip", "$deltatoken")]
    if unsupported:
        raise bad_request(f"The query option '{unsupported[0]}' is not supported here.")
    allowed = USER_PROPS if kind == "users" else GROUP_PROPS
    if typed is not None:
        allowed = USER_PROPS | GROUP_PROPS  # directoryObjects: users and groups mixed
    select = parse_select(q.get("$select"), allowed, kind)
    names = select or (
        *(USER_DEFAULT_PROPS if kind == "users" else GROUP_DEFAULT_PROPS),
        *extra_props,
    )
    top = parse_top(q.get("$top"))
    count = q.get("$count", "").lower()
    if count not in ("", "true", "false"):
        raise bad_request("$count: give true or false.")
    eventual = req.headers.get("consistencylevel", "").lower() == "eventual"
    if count == "true" and not eventual:
        raise bad_request(
            "$count is not currently supported without the header ConsistencyLevel: eventual."
        )
    preds = []
    if "$filter" in q:
        spec = parse_filter(q["$filter"], kind)
        if spec.advanced and not (eventual and count == "true"):
            raise DirectoryError(
                400,
                "Request_UnsupportedQuery",
                "Unsupported or invalid query filter clause specified: this is an advanced "
                "query; send ConsistencyLevel: eventual and $count=true.",
            )
        preds.append(spec.predicate)
    if "$search" in q:
        if not eventual:
            raise bad_request(
                "Request with $search query parameter only works through MSGraph with a "
                "special request header: 'ConsistencyLevel: eventual'"
            )
        preds.append(parse_search(q["$search"]))
    matched: Iterator[Any] = objects
    if preds:
        matched = (o for o in objects if all(p(o) for p in preds))
    if "$orderby" in q:
        key, _, direction = q["$orderby"].partition(" ")
        if key not in ("displayName", "userPrincipalName") or direction.lower() not in (
            "",
            "asc",
            "desc",
        ):
            raise DirectoryError(
                400,
                "Request_UnsupportedQuery",
                "$orderby: only displayName or userPrincipalName, asc or desc.",
            )
        matched = iter(
            sorted(
                matched,
                key=lambda o: (o.get(key) or "").casefold(),
                reverse=direction.lower() == "desc",
            )
        )
    offset = position = 0
    fingerprint = hashlib.sha256(
        (path + json.dumps(sorted((k, v) for k, v in q.items() if k != "$skiptoken"))).encode()
    ).hexdigest()[:16]
    if "$skiptoken" in q:
        state = codec.decode(q["$skiptoken"])
        if state.get("q") != fingerprint:
            raise bad_request("$skiptoken was issued for another query; follow the nextLink.")
        offset = int(state.get("o", 0))
        position = int(state.get("p", 0))
    body: dict[str, Any] = {
        "@odata.context": f"{req.base_url}/v1.0/$metadata#{kind}"
        + (f"({','.join(select)})" if select else "")
    }
    if count == "true":
        everything = list(matched)
        body["@odata.count"] = len(everything)
        matched = iter(everything)
    next_state: dict[str, Any]
    if positional is not None and "$orderby" not in q and count != "true":
        located = positional(position)
        if preds:
            located = ((i, o) for i, o in located if all(p(o) for p in preds))
        found = list(itertools.islice(located, top + 1))
        more = len(found) > top
        page = [o for _i, o in found[:top]]
        next_state = {"q": fingerprint, "p": found[-1][0]} if more else {}
    else:
        window = list(itertools.islice(matched, offset, offset + top + 1))
        more = len(window) > top
        page = window[:top]
        next_state = {"q": fingerprint, "o": offset + top}
    if typed is not None:
        group_names = [n for n in names if n in GROUP_PROPS] if select else GROUP_DEFAULT_PROPS
        body["value"] = [
            project(o, group_names if typed[o.id] == GROUP_TYPE else names, typed[o.id])
            for o in page
        ]
    else:
        body["value"] = [project(o, names, odata_type) for o in page]
    if more:
        token = codec.encode(next_state)
        params = "&".join(
            f"{k}={quote(v, safe=',()$=')}" for k, v in q.items() if k != "$skiptoken"
        )
        sep = "&" if params else ""
        body["@odata.nextLink"] = f"{req.base_url}/v1.0/{path}?{params}{sep}$skiptoken={token}"
    return GraphResponse(200, body)


def live_kind(directory: Directory, object_id: str) -> str | None:
    """The kind of a live directory object ("user" or "group"); None if deleted or unknown."""
    user = directory.users.get(object_id)
    if user is not None:
        return "user" if user.deleted_at is None else None
    return "group" if object_id in directory.groups else None


def member_page(
    codec: TokenCodec,
    directory: Directory,
    req: GraphRequest,
    ids: list[str],
    cast: str | None,
    path: str,
) -> GraphResponse:
    """A page of a group's (transitive) members, users and groups mixed unless cast."""
    d = directory
    objects: list[tuple[User | Group, str]] = []
    for oid in ids:
        user = d.users.get(oid)
        if user is not None and user.deleted_at is None:
            if cast in (None, "microsoft.graph.user"):
                objects.append((user, USER_TYPE))
        elif oid in d.groups and cast in (None, "microsoft.graph.group"):
            objects.append((d.groups[oid], GROUP_TYPE))
    kind: Kind = "groups" if cast == "microsoft.graph.group" else "users"
    return list_page(
        codec,
        req,
        kind,
        (o for o, _t in objects),
        path,
        typed={o.id: t for o, t in objects},
    )
