"""Graph v1.0 request handling: throttling, routing and errors (the request checks are in
graph_checks.py, list pages and their OData options in graph_lists.py).

Transport-free: a request in, a response out, so the HTTP server and $batch share one path.
"""

from __future__ import annotations

from typing import Any

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
    Kind,
    bad_request,
)
from switchboard.emulator.faults import Faults
from switchboard.emulator.graph_checks import (
    READ_ANY,
    READ_GROUPS,
    READ_USERS,
    WRITE_ADMIN_PHONES,
    WRITE_GROUPS,
    WRITE_MEMBERS,
    WRITE_PHONES,
    WRITE_USERS,
    json_body,
    method_not_allowed,
    need,
    no_list_options,
    require_eventual,
    segment_error,
)
from switchboard.emulator.graph_lists import (
    GROUP_TYPE,
    USER_TYPE,
    list_page,
    live_kind,
    member_page,
    project,
)
from switchboard.emulator.messages import GraphRequest, GraphResponse, error_body
from switchboard.emulator.odata import parse_select
from switchboard.emulator.throttle import Throttle


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

    async def _route(self, req: GraphRequest) -> GraphResponse:
        seg = [s for s in req.path.split("/") if s]
        m = req.method
        if not seg:
            raise segment_error("")
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
            need(req, READ_ANY)
            return GraphResponse(200, {"value": [self._organization()]})
        raise segment_error(head)

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
                need(req, READ_USERS)
                return list_page(
                    self.codec,
                    req,
                    "users",
                    d.active_users(),
                    "users",
                    positional=d.active_users_from,
                )
            if m == "POST":
                need(req, WRITE_USERS)
                user = d.create_user(json_body(req))
                body = project(user, USER_DEFAULT_PROPS)
                body["@odata.context"] = f"{req.base_url}/v1.0/$metadata#users/$entity"
                return GraphResponse(201, body)
            raise method_not_allowed(m)
        second = seg[1]
        if second == "$count" and len(seg) == 2 and m == "GET":
            need(req, READ_USERS)
            require_eventual(req, "$count")
            return GraphResponse(200, str(d.active_count()))
        if second in ("delta", "delta()") and len(seg) == 2 and m == "GET":
            need(req, READ_USERS)
            return self._delta(req, "users")
        user = d.get_user(second)
        if len(seg) == 2:
            if m == "GET":
                need(req, READ_USERS)
                no_list_options(req)
                select = parse_select(req.query.get("$select"), USER_PROPS, "users")
                body = project(user, select or USER_DEFAULT_PROPS)
                body["@odata.context"] = f"{req.base_url}/v1.0/$metadata#users/$entity"
                return GraphResponse(200, body)
            if m == "PATCH":
                patch = json_body(req)
                phone_only = bool(patch) and set(patch) <= PHONE_FIELDS
                need(req, WRITE_PHONES if phone_only else WRITE_USERS)
                d.update_user(
                    user.id,
                    patch,
                    may_write_admin_phones=req.caller.has_any(WRITE_ADMIN_PHONES),
                )
                return GraphResponse(204)
            if m == "DELETE":
                need(req, WRITE_USERS)
                d.delete_user(user.id)
                return GraphResponse(204)
            raise method_not_allowed(m)
        action = seg[2]
        if action == "checkMemberGroups" and m == "POST" and len(seg) == 3:
            need(req, READ_GROUPS)
            body = json_body(req)
            ids = body.get("groupIds")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise bad_request("groupIds: give a list of group ids.")
            if len(ids) > 20:
                raise bad_request("groupIds: at most 20 group ids per request.")
            mine = d.transitive_groups_of(user.id)
            return GraphResponse(200, {"value": [i for i in ids if i in mine]})
        if action == "getMemberGroups" and m == "POST" and len(seg) == 3:
            need(req, READ_GROUPS)
            return GraphResponse(200, {"value": sorted(d.transitive_groups_of(user.id))})
        if action in ("memberOf", "transitiveMemberOf") and m == "GET":
            need(req, READ_GROUPS)
            ids = (
                set(d.member_of.get(user.id))
                if action == "memberOf"
                else d.transitive_groups_of(user.id)
            )
            groups = (d.groups[g] for g in sorted(ids) if g in d.groups)
            return list_page(
                self.codec, req, "groups", groups, f"users/{user.id}/{action}", GROUP_TYPE
            )
        raise segment_error(action)

    # ------------------------------------------------------------------ groups
    def _groups(self, req: GraphRequest, seg: list[str], m: str) -> GraphResponse:
        d = self.directory
        if len(seg) == 1:
            if m == "GET":
                need(req, READ_GROUPS)
                return list_page(self.codec, req, "groups", iter(d.groups.values()), "groups")
            if m == "POST":
                need(req, WRITE_GROUPS)
                group = d.create_group(json_body(req))
                body = project(group, GROUP_DEFAULT_PROPS)
                body["@odata.context"] = f"{req.base_url}/v1.0/$metadata#groups/$entity"
                return GraphResponse(201, body)
            raise method_not_allowed(m)
        if seg[1] in ("delta", "delta()") and len(seg) == 2 and m == "GET":
            need(req, READ_GROUPS)
            return self._delta(req, "groups")
        group = d.get_group(seg[1])
        if len(seg) == 2:
            if m == "GET":
                need(req, READ_GROUPS)
                select = parse_select(req.query.get("$select"), GROUP_PROPS, "groups")
                body = project(group, select or GROUP_DEFAULT_PROPS)
                body["@odata.context"] = f"{req.base_url}/v1.0/$metadata#groups/$entity"
                return GraphResponse(200, body)
            if m == "PATCH":
                need(req, WRITE_GROUPS)
                d.update_group(group.id, json_body(req))
                return GraphResponse(204)
            if m == "DELETE":
                need(req, WRITE_GROUPS)
                d.delete_group(group.id)
                return GraphResponse(204)
            raise method_not_allowed(m)
        rel = seg[2]
        if rel not in ("members", "transitiveMembers"):
            raise segment_error(rel)
        rest = seg[3:]
        if rel == "members" and rest == ["$ref"] and m == "POST":
            need(req, WRITE_MEMBERS)
            ref = json_body(req).get("@odata.id")
            if not isinstance(ref, str) or "/" not in ref:
                raise bad_request(
                    "@odata.id: give the member's URL, such as "
                    "https://graph.microsoft.com/v1.0/directoryObjects/{id}."
                )
            d.add_member(group.id, ref.rstrip("/").rsplit("/", 1)[-1])
            return GraphResponse(204)
        if rel == "members" and len(rest) == 2 and rest[1] == "$ref" and m == "DELETE":
            need(req, WRITE_MEMBERS)
            d.remove_member(group.id, rest[0])
            return GraphResponse(204)
        if m != "GET":
            raise method_not_allowed(m)
        need(req, READ_GROUPS)
        counting = bool(rest) and rest[-1] == "$count"
        if counting:
            require_eventual(req, "$count")
            rest = rest[:-1]
        cast: str | None = None
        if rest:
            if len(rest) != 1 or rest[0] not in ("microsoft.graph.user", "microsoft.graph.group"):
                raise segment_error(rest[0])
            cast = rest[0]
        ids = list(group.members) if rel == "members" else d.transitive_member_ids(group.id)
        if counting:
            wanted = {"microsoft.graph.user": "user", "microsoft.graph.group": "group"}
            kinds = (live_kind(d, i) for i in ids)
            return GraphResponse(
                200, str(sum(1 for k in kinds if k and (cast is None or wanted[cast] == k)))
            )
        path = f"groups/{group.id}/{rel}" + (f"/{cast}" if cast else "")
        return member_page(self.codec, d, req, ids, cast, path)

    # ------------------------------------------------------------------ deleted items
    def _deleted_items(self, req: GraphRequest, seg: list[str], m: str) -> GraphResponse:
        d = self.directory
        if seg == ["microsoft.graph.user"] and m == "GET":
            need(req, READ_USERS)
            return list_page(
                self.codec,
                req,
                "users",
                d.deleted_users(),
                "directory/deletedItems/microsoft.graph.user",
                extra_props=("deletedDateTime",),
            )
        if not seg:
            raise segment_error("deletedItems")
        user = d.deleted_user(seg[0])
        if len(seg) == 1 and m == "GET":
            need(req, READ_USERS)
            body = project(user, (*USER_DEFAULT_PROPS, "deletedDateTime"), USER_TYPE)
            return GraphResponse(200, body)
        if len(seg) == 1 and m == "DELETE":
            need(req, WRITE_USERS)
            d.purge_user(user.id)
            return GraphResponse(204)
        if seg[1:] == ["restore"] and m == "POST":
            need(req, WRITE_USERS)
            restored = d.restore_user(user.id)
            return GraphResponse(200, project(restored, USER_DEFAULT_PROPS, USER_TYPE))
        raise segment_error(seg[-1])

    # ------------------------------------------------------------------ subscriptions
    async def _subscriptions(self, req: GraphRequest, seg: list[str], m: str) -> GraphResponse:
        n = self.notifier
        tid = self.directory.tenant_id
        app = req.caller.client_id
        if not seg:
            if m == "POST":
                body = json_body(req)
                resource = str(body.get("resource", "")).strip("/")
                need(req, READ_USERS if resource.startswith("users") else READ_GROUPS)
                sub = await n.create(app, body)
                out = sub.to_graph(tid)
                out["@odata.context"] = f"{req.base_url}/v1.0/$metadata#subscriptions/$entity"
                return GraphResponse(201, out)
            if m == "GET":
                subs = [s.to_graph(tid) for s in n.live() if s.app_id == app]
                return GraphResponse(200, {"value": subs})
            raise method_not_allowed(m)
        sub_id = seg[0]
        if len(seg) == 1:
            if m == "GET":
                return GraphResponse(200, n.get(sub_id, app).to_graph(tid))
            if m == "PATCH":
                return GraphResponse(200, n.renew(sub_id, app, json_body(req)).to_graph(tid))
            if m == "DELETE":
                n.delete(sub_id, app)
                return GraphResponse(204)
            raise method_not_allowed(m)
        if seg[1:] == ["reauthorize"] and m == "POST":
            n.reauthorize(sub_id, app)
            return GraphResponse(204)
        raise segment_error(seg[-1])

    # ------------------------------------------------------------------ delta
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
