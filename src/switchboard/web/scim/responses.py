"""SCIM responses: ``application/scim+json`` bodies, and SCIM Error bodies for every refusal
under /scim/ (RFC 7644 3.12), whoever raised it."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from switchboard.scim.errors import ScimError
from switchboard.scim.filter_attributes import Resource
from switchboard.scim.listing import list_query, project

MEDIA_TYPE = "application/scim+json"
PREFIX = "/scim/"


class ScimResponse(Response):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def is_scim(request: Request) -> bool:
    return request.url.path.startswith(PREFIX)


def error_response(request: Request, exc: ScimError) -> Response:
    # The request log reads the refusal's words from the request state.
    request.state.scim_error = exc.detail
    return ScimResponse(exc.body(), status_code=exc.status, headers=exc.headers or None)


def error(request: Request, status: int, detail: str, scim_type: str | None = None) -> Response:
    return error_response(request, ScimError(status, detail, scim_type=scim_type))


def resource_response(
    request: Request,
    status: int,
    resource: dict[str, Any],
    kind: Resource,
    *,
    created: bool = False,
) -> Response:
    """A resource with its ETag (and Location when created), showing the attributes the
    request's ``attributes`` / ``excludedAttributes`` ask for."""
    headers = {"ETag": resource["meta"]["version"]}
    if created:
        headers["Location"] = resource["meta"]["location"]
    shown = list_query(dict(request.query_params), kind)
    body = project(resource, shown.attributes, shown.excluded)
    return ScimResponse(body, status_code=status, headers=headers)
