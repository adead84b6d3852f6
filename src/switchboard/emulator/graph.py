"""Graph v1.0 request handling: routing, permissions, OData options, paging and errors.

Transport-free: a request in, a response out, so the HTTP server and $batch share one path.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote

from switchboard.emulator.batch import run_batch
from switchboard.emulator.change_notifications import Notifier
from switchboard.emulator.delta import DeltaEngine, DeltaRequest, DeltaTokenExpired, TokenCodec
from switchboard.emulator.directory import Directory
from switchboard.emulator.directory_objects import (
    GROUP_DEFAULT_PROPS,
    GROUP_PROPS,
    PHONE_FIELDS,
    USER_DEFAULT_PROPS,
    USER_PROPS,
    DirectoryError,
    Group,
    Kind,
    User,
    bad_request,
    empty_extension_attributes,
)
from switchboard.emulator.faults import Faults
from switchboard.emulator.messages import GraphRequest, GraphResponse, error_body
from switchboard.emulator.odata import parse_filter, parse_search, parse_select, parse_top
from switchboard.emulator.throttle import Throttle

READ_USERS = frozenset(
    {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
WRITE_USERS = frozenset({"User.ReadWrite.All", "Directory.ReadWrite.All"})
WRITE_PHONES = WRITE_USERS | {"User-Phone.ReadWrite.All"}
# Phone fields of admin-role users need more than User.ReadWrite.All.
WRITE_ADMIN_PHONES = frozenset({"Directory.ReadWrite.All"})
READ_GROUPS = frozenset(
    {
        "Group.Read.All",
        "Group.ReadWrite.All",
        "GroupMember.Read.All",
        "GroupMember.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    }
)
WRITE_GROUPS = frozenset({"Group.ReadWrite.All", "Directory.ReadWrite.All"})
WRITE_MEMBERS = WRITE_GROUPS | {"GroupMember.ReadWrite.All"}
READ_ANY = READ_USERS | READ_GROUPS
USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"


def forbidden() -> DirectoryError:
    return DirectoryError(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


def _segment_error(segment: str) -> DirectoryError:
    return DirectoryError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def project(
    obj: User | Group, select: Iterable[str], odata_type: str | None = None
) -> dict[str, Any]:
    props = obj.props
    out: dict[str, Any] = {"@odata.type": odata_type} if odata_type else {}
    for name in select:
        value = props.get(name)
        if value is None:
            if name == "onPremisesExtensionAttributes":
                value = empty_extension_attributes()
            elif name in ("businessPhones", "groupTypes"):
                value = []
        out[name] = value
    out["id"] = obj.id
    return out


class Graph:
    def __init__(
        self,
        directory: Directory,
        notifier: Notifier,
        throttle: Throttle,
        faults: Faults,
        secret: bytes,
    ) -> None:
        self.directory = directory
        self.notifier = notifier
        self.throttle = throttle
        self.faults = faults
        self.codec = TokenCodec(secret)
        self.delta = DeltaEngine(directory, self.codec)

    # ------------------------------------------------------------------ entry
    async def handle(self, req: GraphRequest) -> GraphResponse:
        rid = req.request_id
        crid = req.headers.get("client-request-id")
        base_headers = {"request-id": rid, "client-request-id": crid or rid}
        if req.method == "POST" and req.path.strip("/") == "$batch":
            resp = await run_batch(req, self.handle)
            resp.headers.update(base_headers)
            return resp
        verdict = self.throttle.charge(
            req.caller.client_id, req.method, req.path, req.query, len(self.directory.users)
        )
        base_headers.update(verdict.headers)
        if not verdict.allowed:
            retry = f"{verdict.retry_after:g}"
            return GraphResponse(
                429,
                error_body("TooManyRequests", "Too many requests.", rid, crid),
                {**base_headers, "Retry-After": retry},
            )
        try:
            self.directory.expire_deleted()
            self.delta.replays = self.faults.delta_replays
            self.delta.empty_pages = self.faults.delta_empty_pages
            resp = await self._route(req)
        except DirectoryError as exc:
            resp = GraphResponse(exc.status, error_body(exc.code, exc.message, rid, crid))
        except DeltaTokenExpired as exc:
            message = (
                "The delta token has expired (older than 7 days); run a full sync and start a "
                "new delta round without a token."
            )
            resp = GraphResponse(
                self.faults.delta_expired_status,
                error_body("syncStateNotFound", message, rid, crid),
            )
            if self.faults.delta_expired_status == 410:
                # Where to start a new round, with the $select the old chain used.
                restart = f"{req.base_url}/v1.0/{exc.kind}/delta"
                if exc.select:
                    restart += f"?$select={','.join(exc.select)}"
                resp.headers["Location"] = restart
        resp.headers.update(base_headers)
        return resp

    def _need(self, req: GraphRequest, roles: frozenset[str]) -> None:
        if not req.caller.has_any(roles):
            raise forbidden()

    async def _route(self, req: GraphRequest) -> GraphResponse:
        seg = [s for s in req.path.split("/") if s]
        m = req.method
        if not seg:
            raise _segment_error("")
        head = seg[0]
        if head == "users":
            return self._users(req, seg, m)
        if head == "groups":
            return self._groups(req, seg, m)
        if head == "directory" and len(seg) >= 2 and seg[1] == "deletedItems":
            return self._deleted_items(req, seg[2:], m)
        if head == "subscriptions":
            return await self._subscriptions(req, seg[1:], m)
        if head == "organization" and m == "GET" and len(seg) == 1:
            self._need(req, READ_ANY)
            return GraphResponse(200, {"value": [self._organization()]})
        raise _segment_error(head)

    def _organization(self) -> dict[str, Any]:
        d = self.directory
        return {
            "id": d.tenant_id,
            "displayName": "Fabrikam (emulated)",
            "verifiedDomains": [
                {"name": d.domain, "isDefault": True, "isInitial": False, "type": "Managed"},
                {
                    "name": d.verified_domains()[1],
                    "isDefault": False,
                    "isInitial": True,
                    "type": "Managed",
                },
            ],
        }

    # ------------------------------------------------------------------ users
    def _users(self, req: GraphRequest, seg: list[str], m: str) -> GraphResponse:
        d = self.directory
        if len(seg) == 1:
            if m == "GET":
                self._need(req, READ_USERS)
                return self._list(
                    req, "users", d.active_users(), "users", positional=d.active_users_from
                )
            if m == "POST":
                self._need(req, WRITE_USERS)
                user = d.create_user(self._json_body(req))
                body = project(user, USER_DEFAULT_PROPS)
                body["@odata.context"] = f"{req.base_url}/v1.0/$metadata#users/$entity"
                return GraphResponse(201, body)
            raise self._method(m)
        second = seg[1]
        if second == "$count" and len(seg) == 2 and m == "GET":
            self._need(req, READ_USERS)
            self._require_eventual(req, "$count")
            return GraphResponse(200, str(d.active_count()))
        if second in ("delta", "delta()") and len(seg) == 2 and m == "GET":
            self._need(req, READ_USERS)
            return self._delta(req, "users")
        user = d.get_user(second)
        if len(seg) == 2:
            if m == "GET":
                self._need(req, READ_USERS)
                self._no_list_options(req)
                select = parse_select(req.query.get("$select"), USER_PROPS, "users")
                body = project(user, select or USER_DEFAULT_PROPS)
                body["@odata.context"] = f"{req.base_url}/v1.0/$metadata#users/$entity"
                return GraphResponse(200, body)
            if m == "PATCH":
                patch = self._json_body(req)
                phone_only = bool(patch) and set(patch) <= PHONE_FIELDS
                self._need(req, WRITE_PHONES if phone_only else WRITE_USERS)
                d.update_user(
                    user.id,
                    patch,
                    may_write_admin_phones=req.caller.has_any(WRITE_ADMIN_PHONES),
                )
                return GraphResponse(204)
            if m == "DELETE":
                self._need(req, WRITE_USERS)
                d.delete_user(user.id)
                return GraphResponse(204)
            raise self._method(m)
        action = seg[2]
        if action == "checkMemberGroups" and m == "POST" and len(seg) == 3:
            self._need(req, READ_GROUPS)
            body = self._json_body(req)
            ids = body.get("groupIds")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise bad_request("groupIds: give a list of group ids.")
            if len(ids) > 20:
                raise bad_request("groupIds: at most 20 group ids per request.")
            mine = d.transitive_groups_of(user.id)
            return GraphResponse(200, {"value": [i for i in ids if i in mine]})
        if action == "getMemberGroups" and m == "POST" and len(seg) == 3:
            self._need(req, READ_GROUPS)
            return GraphResponse(200, {"value": sorted(d.transitive_groups_of(user.id))})
        if action in ("memberOf", "transitiveMemberOf") and m == "GET":
            self._need(req, READ_GROUPS)
            ids = (
                d.member_of.get(user.id, set())
                if action == "memberOf"
                else d.transitive_groups_of(user.id)
            )
            groups = (d.groups[g] for g in sorted(ids) if g in d.groups)
            return self._list(req, "groups", groups, f"users/{user.id}/{action}", GROUP_TYPE)
        raise _segment_error(action)

    # ------------------------------------------------------------------ groups
    def _groups(self, req: GraphRequest, seg: list[str], m: str) -> GraphResponse:
        d = self.directory
        if len(seg) == 1:
            if m == "GET":
                self._need(req, READ_GROUPS)
                return self._list(req, "groups", iter(d.groups.values()), "groups")
            if m == "POST":
                self._need(req, WRITE_GROUPS)
                group = d.create_group(self._json_body(req))
                body = project(group, GROUP_DEFAULT_PROPS)
                body["@odata.context"] = f"{req.base_url}/v1.0/$metadata#groups/$entity"
                return GraphResponse(201, body)
            raise self._method(m)
        if seg[1] in ("delta", "delta()") and len(seg) == 2 and m == "GET":
            self._need(req, READ_GROUPS)
            return self._delta(req, "groups")
        group = d.get_group(seg[1])
        if len(seg) == 2:
            if m == "GET":
                self._need(req, READ_GROUPS)
                select = parse_select(req.query.get("$select"), GROUP_PROPS, "groups")
                body = project(group, select or GROUP_DEFAULT_PROPS)
                body["@odata.context"] = f"{req.base_url}/v1.0/$metadata#groups/$entity"
                return GraphResponse(200, body)
            if m == "PATCH":
                self._need(req, WRITE_GROUPS)
                d.update_group(group.id, self._json_body(req))
                return GraphResponse(204)
            if m == "DELETE":
                self._need(req, WRITE_GROUPS)
                d.delete_group(group.id)
                return GraphResponse(204)
            raise self._method(m)
        rel = seg[2]
        if rel not in ("members", "transitiveMembers"):
            raise _segment_error(rel)
        rest = seg[3:]
        if rel == "members" and rest == ["$ref"] and m == "POST":
            self._need(req, WRITE_MEMBERS)
            ref = self._json_body(req).get("@odata.id")
            if not isinstance(ref, str) or "/" not in ref:
                raise bad_request(
                    "@odata.id: give the member's URL, such as "
                    "https://graph.microsoft.com/v1.0/directoryObjects/{id}."
                )
            d.add_member(group.id, ref.rstrip("/").rsplit("/", 1)[-1])
            return GraphResponse(204)
        if rel == "members" and len(rest) == 2 and rest[1] == "$ref" and m == "DELETE":
            self._need(req, WRITE_MEMBERS)
            d.remove_member(group.id, rest[0])
            return GraphResponse(204)
        if m != "GET":
            raise self._method(m)
        self._need(req, READ_GROUPS)
        counting = bool(rest) and rest[-1] == "$count"
        if counting:
            self._require_eventual(req, "$count")
            rest = rest[:-1]
        cast: str | None = None
        if rest:
            if len(rest) != 1 or rest[0] not in ("microsoft.graph.user", "microsoft.graph.group"):
                raise _segment_error(rest[0])
            cast = rest[0]
        ids = list(group.members) if rel == "members" else d.transitive_member_ids(group.id)
        if counting:
            wanted = {"microsoft.graph.user": "user", "microsoft.graph.group": "group"}
            kinds = (self._kind_of(i) for i in ids)
            return GraphResponse(
                200, str(sum(1 for k in kinds if k and (cast is None or wanted[cast] == k)))
            )
        path = f"groups/{group.id}/{rel}" + (f"/{cast}" if cast else "")
        return self._member_list(req, ids, cast, path)

    def _kind_of(self, object_id: str) -> str | None:
        user = self.directory.users.get(object_id)
        if user is not None:
            return "user" if user.deleted_at is None else None
        return "group" if object_id in self.directory.groups else None

    def _member_list(
        self, req: GraphRequest, ids: list[str], cast: str | None, path: str
    ) -> GraphResponse:
        d = self.directory
        objects: list[tuple[User | Group, str]] = []
        for oid in ids:
            user = d.users.get(oid)
            if user is not None and user.deleted_at is None:
                if cast in (None, "microsoft.graph.user"):
                    objects.append((user, USER_TYPE))
            elif oid in d.groups and cast in (None, "microsoft.graph.group"):
                objects.append((d.groups[oid], GROUP_TYPE))
        kind: Kind = "groups" if cast == "microsoft.graph.group" else "users"
        return self._list(
            req, kind, (o for o, _t in objects), path, typed={o.id: t for o, t in objects}
        )

    # ------------------------------------------------------------------ deleted items
    def _deleted_items(self, req: GraphRequest, seg: list[str], m: str) -> GraphResponse:
        d = self.directory
        if seg == ["microsoft.graph.user"] and m == "GET":
            self._need(req, READ_USERS)
            return self._list(
                req,
                "users",
                d.deleted_users(),
                "directory/deletedItems/microsoft.graph.user",
                extra_props=("deletedDateTime",),
            )
        if not seg:
            raise _segment_error("deletedItems")
        user = d.deleted_user(seg[0])
        if len(seg) == 1 and m == "GET":
            self._need(req, READ_USERS)
            body = project(user, (*USER_DEFAULT_PROPS, "deletedDateTime"), USER_TYPE)
            return GraphResponse(200, body)
        if len(seg) == 1 and m == "DELETE":
            self._need(req, WRITE_USERS)
            d.purge_user(user.id)
            return GraphResponse(204)
        if seg[1:] == ["restore"] and m == "POST":
            self._need(req, WRITE_USERS)
            restored = d.restore_user(user.id)
            return GraphResponse(200, project(restored, USER_DEFAULT_PROPS, USER_TYPE))
        raise _segment_error(seg[-1])

    # ------------------------------------------------------------------ subscriptions
    async def _subscriptions(self, req: GraphRequest, seg: list[str], m: str) -> GraphResponse:
        n = self.notifier
        tid = self.directory.tenant_id
        app = req.caller.client_id
        if not seg:
            if m == "POST":
                body = self._json_body(req)
                resource = str(body.get("resource", "")).strip("/")
                self._need(req, READ_USERS if resource.startswith("users") else READ_GROUPS)
                sub = await n.create(app, body)
                out = sub.to_graph(tid)
                out["@odata.context"] = f"{req.base_url}/v1.0/$metadata#subscriptions/$entity"
                return GraphResponse(201, out)
            if m == "GET":
                subs = [s.to_graph(tid) for s in n.live() if s.app_id == app]
                return GraphResponse(200, {"value": subs})
            raise self._method(m)
        sub_id = seg[0]
        if len(seg) == 1:
            if m == "GET":
                return GraphResponse(200, n.get(sub_id, app).to_graph(tid))
            if m == "PATCH":
                return GraphResponse(200, n.renew(sub_id, app, self._json_body(req)).to_graph(tid))
            if m == "DELETE":
                n.delete(sub_id, app)
                return GraphResponse(204)
            raise self._method(m)
        if seg[1:] == ["reauthorize"] and m == "POST":
            n.reauthorize(sub_id, app)
            return GraphResponse(204)
        raise _segment_error(seg[-1])

    # ------------------------------------------------------------------ lists and delta
    def _list(
        self,
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
            matched = (o for o in objects if all(p(o.props) for p in preds))
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
                    key=lambda o: (o.props.get(key) or "").casefold(),
                    reverse=direction.lower() == "desc",
                )
            )
        offset = position = 0
        fingerprint = hashlib.sha256(
            (path + json.dumps(sorted((k, v) for k, v in q.items() if k != "$skiptoken"))).encode()
        ).hexdigest()[:16]
        if "$skiptoken" in q:
            state = self.codec.decode(q["$skiptoken"])
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
                located = ((i, o) for i, o in located if all(p(o.props) for p in preds))
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
            token = self.codec.encode(next_state)
            params = "&".join(
                f"{k}={quote(v, safe=',()$=')}" for k, v in q.items() if k != "$skiptoken"
            )
            sep = "&" if params else ""
            body["@odata.nextLink"] = f"{req.base_url}/v1.0/{path}?{params}{sep}$skiptoken={token}"
        return GraphResponse(200, body)

    def _delta(self, req: GraphRequest, kind: Kind) -> GraphResponse:
        q = req.query
        known = {"$select", "$filter", "$skiptoken", "$deltatoken"}
        others = [k for k in q if k.startswith("$") and k not in known]
        prefer = req.headers.get("prefer", "").lower()
        minimal = "return=minimal" in prefer
        page = self.delta.page(
            DeltaRequest(
                kind=kind,
                select=q.get("$select"),
                filter=q.get("$filter"),
                skiptoken=q.get("$skiptoken"),
                deltatoken=q.get("$deltatoken"),
                other_options=others,
                minimal=minimal,
            ),
            req.base_url,
        )
        headers = {"Preference-Applied": "return=minimal"} if minimal else {}
        return GraphResponse(200, page.body, headers)

    # ------------------------------------------------------------------ helpers
    def _json_body(self, req: GraphRequest) -> dict[str, Any]:
        if not isinstance(req.body, dict):
            raise bad_request("The request body must be a JSON object.")
        return req.body

    def _require_eventual(self, req: GraphRequest, what: str) -> None:
        if req.headers.get("consistencylevel", "").lower() != "eventual":
            raise bad_request(f"{what} requires the header ConsistencyLevel: eventual.")

    def _no_list_options(self, req: GraphRequest) -> None:
        for option in ("$top", "$filter", "$search", "$skiptoken"):
            if option in req.query:
                raise bad_request(f"The query option '{option}' is not allowed on a single object.")

    def _method(self, method: str) -> DirectoryError:
        return DirectoryError(
            405, "Request_BadRequest", f"The method {method} is not allowed here."
        )
