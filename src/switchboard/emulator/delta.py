"""users/delta and groups/delta: rounds of pages over the directory's change log.

A round starts from a base version (0 for the first round) and walks the per-kind change log in
version order from a cursor, a server-chosen number of items a page. The state travels in an
opaque, HMAC-protected token (remembering $select and the id filter); a deltaLink's base is the
version the round reached. Tokens expire seven days after they were issued (emulator clock).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from switchboard.emulator.compact_storage import ChangeLog, MemberKind
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
)
from switchboard.emulator.odata import parse_filter, parse_select

DELTA_TOKEN_LIFETIME_SECONDS = 7 * 24 * 3600
MAX_ID_FILTERS = 50
REPLAY_OVERLAP = 3
MEMBER_TYPES: dict[MemberKind, str] = {
    "user": "#microsoft.graph.user",
    "group": "#microsoft.graph.group",
}


class DeltaTokenExpired(Exception):
    def __init__(self, kind: Kind, select: list[str] | None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.select = select


class TokenCodec:
    """Opaque tokens: base64url(JSON) + a truncated HMAC so clients cannot forge state."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def encode(self, payload: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(
            b"="
        )
        mac = hmac.new(self.secret, body, hashlib.sha256).digest()[:12]
        return (body + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()

    def decode(self, token: str) -> dict[str, Any]:
        try:
            body, mac = token.encode().split(b".")
            expected = hmac.new(self.secret, body, hashlib.sha256).digest()[:12]
            given = base64.urlsafe_b64decode(mac + b"=" * (-len(mac) % 4))
            if not hmac.compare_digest(expected, given):
                raise ValueError("mac")
            data = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(
                "The token in the request is invalid or was altered; follow @odata.nextLink and "
                "@odata.deltaLink exactly as given."
            ) from exc
        if not isinstance(data, dict):
            raise bad_request("The token in the request is invalid.")
        return data


@dataclass
class DeltaRequest:
    kind: Kind
    select: str | None
    filter: str | None
    skiptoken: str | None
    deltatoken: str | None
    other_options: list[str]
    minimal: bool


@dataclass
class DeltaPage:
    body: dict[str, Any]
    minimal: bool


class DeltaEngine:
    def __init__(self, directory: Directory, codec: TokenCodec) -> None:
        self.directory = directory
        self.codec = codec
        self.page_size = 200
        self.replays = False
        self.empty_pages = False

    def _log(self, kind: Kind) -> ChangeLog:
        return self.directory.user_log if kind == "users" else self.directory.group_log

    def page(self, req: DeltaRequest, base_url: str) -> DeltaPage:
        kind = req.kind
        now = self.directory.clock.timestamp()
        for option in req.other_options:
            raise bad_request(f"The query option '{option}' is not supported on {kind}/delta.")
        if req.skiptoken and req.deltatoken:
            raise bad_request("Give either $skiptoken or $deltatoken, not both.")
        if req.deltatoken == "latest":
            select, ids = self._initial_options(req)
            link = self._link(
                base_url,
                kind,
                "delta",
                {
                    "k": kind,
                    "s": select,
                    "f": ids,
                    "b": self.directory.version,
                    "t": now,
                },
            )
            return DeltaPage(
                {
                    "@odata.context": self._context(base_url, kind, select),
                    "value": [],
                    "@odata.deltaLink": link,
                },
                req.minimal,
            )
        if req.deltatoken or req.skiptoken:
            phase = "delta" if req.deltatoken else "next"
            state = self.codec.decode(req.deltatoken or req.skiptoken or "")
            if state.get("k") != kind or state.get("p", "delta") != phase:
                raise bad_request(f"The token was not issued for {kind}/delta; start a new round.")
            if now - float(state["t"]) > DELTA_TOKEN_LIFETIME_SECONDS:
                raise DeltaTokenExpired(kind, state.get("s"))
            select, ids, base = state["s"], state["f"], int(state["b"])
            if phase == "next" and self.empty_pages and not state.get("e"):
                # An empty page that is not the end: the client must follow the nextLink.
                state["e"] = 1
                link = self._link(base_url, kind, "next", state)
                return DeltaPage(
                    {
                        "@odata.context": self._context(base_url, kind, select),
                        "value": [],
                        "@odata.nextLink": link,
                    },
                    req.minimal,
                )
            if phase == "delta":
                cursor, offset, started = base, 0, now
            else:
                cursor, offset, started = int(state["c"]), int(state["m"]), float(state["t"])
        else:
            select, ids = self._initial_options(req)
            base, cursor, offset, started = 0, 0, 0, now
        return self._walk(kind, base_url, select, ids, base, cursor, offset, started, req.minimal)

    def _initial_options(self, req: DeltaRequest) -> tuple[list[str] | None, list[str] | None]:
        allowed = USER_PROPS if req.kind == "users" else GROUP_PROPS | {"members"}
        select = parse_select(req.select, frozenset(allowed), req.kind)
        ids = None
        if req.filter is not None:
            spec = parse_filter(req.filter, req.kind)
            if spec.ids is None:
                raise DirectoryError(
                    400,
                    "Request_UnsupportedQuery",
                    f"{req.kind}/delta supports $filter only as id eq '...' clauses joined by or.",
                )
            if len(spec.ids) > MAX_ID_FILTERS:
                raise DirectoryError(
                    400,
                    "Request_UnsupportedQuery",
                    f"{req.kind}/delta accepts at most {MAX_ID_FILTERS} id filters; got "
                    f"{len(spec.ids)}.",
                )
            ids = spec.ids
        return select, ids

    def _context(self, base_url: str, kind: Kind, select: list[str] | None) -> str:
        return f"{base_url}/v1.0/$metadata#{kind}" + (f"({','.join(select)})" if select else "")

    def _link(self, base_url: str, kind: Kind, phase: str, state: dict[str, Any]) -> str:
        state["p"] = phase
        token = self.codec.encode(state)
        param = "$deltatoken" if phase == "delta" else "$skiptoken"
        return f"{base_url}/v1.0/{kind}/delta()?{param}={token}"

    def _current_version(self, kind: Kind, oid: str) -> int | None:
        d = self.directory
        if kind == "users":
            user = d.users.get(oid)
            return user.version if user is not None else d.user_tombstones.get(oid)
        group = d.groups.get(oid)
        return group.version if group is not None else d.group_tombstones.get(oid)

    def _walk(
        self,
        kind: Kind,
        base_url: str,
        select: list[str] | None,
        ids: list[str] | None,
        base: int,
        cursor: int,
        offset: int,
        started: float,
        minimal: bool,
    ) -> DeltaPage:
        log = self._log(kind)
        wanted = set(ids) if ids else None
        # Resume inside a group whose members spill over pages, else after the cursor.
        pos = log.first_from(cursor) if offset else log.first_after(cursor)
        items: list[dict[str, Any]] = []
        versions: list[int] = []
        budget = self.page_size
        next_cursor, next_offset = cursor, 0
        end = len(log)
        # The member offset belongs to the group at the cursor; if that group changed since,
        # its entry is superseded and the group comes again, whole, at its new place.
        resume = cursor if offset else None
        while pos < end and budget > 0:
            version, oid = log[pos]
            if self._current_version(kind, oid) != version or (wanted and oid not in wanted):
                pos += 1
                next_cursor = version
                continue
            if kind == "users":
                items.append(self._user_item(oid, select, base, minimal))
                budget -= 1
                done = True
            else:
                start = offset if version == resume else 0
                item, taken, done = self._group_item(oid, select, base, minimal, start, budget)
                items.append(item)
                budget -= 1 + taken
                offset = 0 if done else start + taken
            versions.append(version)
            next_cursor = version
            if not done:
                next_offset = offset
                break
            pos += 1
        more = pos < end
        state: dict[str, Any] = {"k": kind, "s": select, "f": ids, "b": base, "t": started}
        body: dict[str, Any] = {"@odata.context": self._context(base_url, kind, select)}
        body["value"] = items
        if more or next_offset:
            if self.replays and not next_offset and len(versions) > REPLAY_OVERLAP + 1:
                # Step back a few entries: the next page repeats them, as Graph may.
                next_cursor = versions[-(REPLAY_OVERLAP + 1)]
            state.update({"c": next_cursor, "m": next_offset})
            body["@odata.nextLink"] = self._link(base_url, kind, "next", state)
        else:
            reached = self.directory.version
            if self.replays and len(versions) > REPLAY_OVERLAP:
                reached = versions[-(REPLAY_OVERLAP + 1)]
            state.update({"b": reached, "t": self.directory.clock.timestamp()})
            body["@odata.deltaLink"] = self._link(base_url, kind, "delta", state)
        return DeltaPage(body, minimal)

    # ------------------------------------------------------------------ items
    def _user_item(
        self, oid: str, select: list[str] | None, base: int, minimal: bool
    ) -> dict[str, Any]:
        user = self.directory.users.get(oid)
        if user is None:
            return {"id": oid, "@removed": {"reason": "deleted"}}
        if user.deleted_at is not None:
            return {"id": oid, "@removed": {"reason": "changed"}}
        return _delta_props(user, select or USER_DEFAULT_PROPS, base, minimal)

    def _group_item(
        self,
        oid: str,
        select: list[str] | None,
        base: int,
        minimal: bool,
        offset: int,
        budget: int,
    ) -> tuple[dict[str, Any], int, bool]:
        group = self.directory.groups.get(oid)
        if group is None:
            return {"id": oid, "@removed": {"reason": "deleted"}}, 0, True
        names = select or (*GROUP_DEFAULT_PROPS, "members")
        item = _delta_props(group, [n for n in names if n != "members"], base, minimal)
        if "members" not in names:
            return item, 0, True
        changes = _member_changes(group, base)
        room = max(budget - 1, 1)
        chunk = changes[offset : offset + room]
        item["members@delta"] = [
            {"@odata.type": MEMBER_TYPES[k], "id": mid}
            if added
            else {"@odata.type": MEMBER_TYPES[k], "id": mid, "@removed": {"reason": "deleted"}}
            for mid, k, added in chunk
        ]
        done = offset + len(chunk) >= len(changes)
        return item, len(chunk), done


def _member_changes(group: Group, base: int) -> list[tuple[str, MemberKind, bool]]:
    if base == 0:
        return [(mid, k, True) for mid, k in group.members.items()]
    net: dict[str, tuple[MemberKind, bool]] = {}
    for _v, mid, k, added in group.member_log.since(base):
        net[mid] = (k, added)
    return [(mid, k, added) for mid, (k, added) in net.items()]


def _delta_props(obj: User | Group, names: Any, base: int, minimal: bool) -> dict[str, Any]:
    """Selected properties: never-set ones absent; cleared ones null; minimal = changed only."""
    get = obj.get
    changed_since = obj.prop_version
    created = obj.created
    out: dict[str, Any] = {"id": obj.id}
    for name in names:
        if name == "id":
            continue
        changed_after_create = changed_since(name) > base
        if minimal and base and not changed_after_create and created <= base:
            continue
        value = get(name)
        if value is None or value == []:
            if changed_after_create and base:
                out[name] = value
            elif name == "businessPhones":
                out[name] = []
            continue
        out[name] = value
    return out
