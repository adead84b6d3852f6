"""JSON batching: ``POST /$batch`` with up to 20 requests, answered one status per request."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from switchboard.emulator.messages import GraphRequest, GraphResponse, error_body, normalise_query

MAX_BATCH = 20
Handler = Callable[[GraphRequest], Awaitable[GraphResponse]]


async def run_batch(req: GraphRequest, handle: Handler) -> GraphResponse:
    """Run up to 20 requests in order; a failed dependency answers 424; each one is throttled
    on its own by ``handle``."""
    rid = req.request_id
    crid = req.headers.get("client-request-id")

    def fail(message: str) -> GraphResponse:
        return GraphResponse(400, error_body("BadRequest", message, rid, crid))

    body = req.body
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        return fail('Invalid batch payload format: give {"requests": [...]}.')
    items = body["requests"]
    if not items:
        return fail("Invalid batch payload format: requests is empty.")
    if len(items) > MAX_BATCH:
        return fail(f"Limit of {MAX_BATCH} requests per batch exceeded ({len(items)} given).")
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str | int):
            return fail("Invalid batch payload format: every request needs an id.")
        if str(item["id"]) in seen:
            return fail(f"Invalid batch payload format: duplicate request id '{item['id']}'.")
        seen.add(str(item["id"]))
        if not isinstance(item.get("method"), str) or not isinstance(item.get("url"), str):
            return fail(f"Request '{item['id']}': method and url are required.")
        if urlsplit(item["url"]).scheme:
            return fail(f"Request '{item['id']}': url must be relative, like /users/{{id}}.")
        deps = item.get("dependsOn", [])
        if not isinstance(deps, list) or any(str(x) not in seen - {str(item["id"])} for x in deps):
            return fail(f"Request '{item['id']}': dependsOn must list ids of earlier requests.")
    statuses: dict[str, int] = {}
    responses = []
    for item in items:
        iid = str(item["id"])
        inner_rid = str(uuid.uuid4())
        failed = [str(x) for x in item.get("dependsOn", []) if statuses.get(str(x), 500) >= 400]
        if failed:
            statuses[iid] = 424
            responses.append(
                {
                    "id": iid,
                    "status": 424,
                    "headers": {"Content-Type": "application/json"},
                    "body": error_body(
                        "FailedDependency",
                        f"The request depends on failed request(s) {failed}.",
                        inner_rid,
                        crid,
                    ),
                }
            )
            continue
        inner = _inner_request(req, item, inner_rid)
        if isinstance(inner, GraphResponse):
            resp = inner
        else:
            if inner.path.strip("/") == "$batch":
                resp = GraphResponse(
                    400,
                    error_body("BadRequest", "Nested $batch is not allowed.", inner_rid, crid),
                )
            else:
                resp = await handle(inner)
        statuses[iid] = resp.status
        headers = {
            k: v
            for k, v in resp.headers.items()
            if k.lower()
            in (
                "retry-after",
                "location",
                "preference-applied",
                "x-ms-resource-unit",
                "x-ms-throttle-limit-percentage",
            )
        }
        if resp.body is not None:
            headers["Content-Type"] = (
                "text/plain" if isinstance(resp.body, str) else "application/json"
            )
        entry: dict[str, Any] = {"id": iid, "status": resp.status, "headers": headers}
        if resp.body is not None:
            entry["body"] = resp.body
        responses.append(entry)
    return GraphResponse(200, {"responses": responses})


def _inner_request(
    outer: GraphRequest, item: dict[str, Any], inner_rid: str
) -> GraphRequest | GraphResponse:
    url = item["url"]
    parts = urlsplit(url if url.startswith("/") else "/" + url)
    path = parts.path
    if path.startswith("/v1.0/"):
        path = path[len("/v1.0") :]
    headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    body = item.get("body")
    if body is not None and "content-type" not in headers:
        return GraphResponse(
            400,
            error_body(
                "BadRequest",
                "Content-Type header must be specified for a request with a body.",
                inner_rid,
                outer.headers.get("client-request-id"),
            ),
        )
    return GraphRequest(
        method=item["method"].upper(),
        path=path.lstrip("/"),
        query=normalise_query(parse_qsl(parts.query, keep_blank_values=True)),
        headers={
            **{k: v for k, v in outer.headers.items() if k == "client-request-id"},
            **headers,
        },
        body=body,
        base_url=outer.base_url,
        caller=outer.caller,
        request_id=inner_rid,
    )
