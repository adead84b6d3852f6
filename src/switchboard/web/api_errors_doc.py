"""The error statuses every API route can answer, documented in the OpenAPI document.

Routes declare only their success; the statuses every route shares come from the same few
facts for all of them: a token is needed (401), a client certificate or a role can be missing
(403), input is validated (422), named objects may not exist (404), writes can conflict (409)
and a body can be unreadable (400). Each is documented with the one error envelope.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. validation_failed")
    message: str = Field(description="What is wrong and how to fix it")
    field: str | None = Field(description="The input field the error is about, if any")


class ErrorOut(BaseModel):
    error: ErrorDetail


_MEANING = {
    400: "The request body cannot be read",
    401: "No API token, or an unknown, expired or revoked one",
    403: "The token's role may not do this, or a required client certificate is missing",
    404: "The account or object does not exist, or is not visible to the token",
    409: "The change conflicts with the current state (the message says which)",
    422: "An input is invalid; the message names the field and the rule",
}
_WRITES = {"post", "put", "patch", "delete"}
_SCHEMA_REF = {"$ref": "#/components/schemas/Error"}


def statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an API operation can answer."""
    found = [401, 403, 422]
    if "{" in path or method in _WRITES:
        found.append(404)
    if method in _WRITES:
        found.append(409)
    if "requestBody" in operation:
        found.append(400)
    return sorted(found)


def document(app: FastAPI, prefix: str = "/api/") -> None:
    """Generate the OpenAPI document with the shared error statuses on every API operation.

    FastAPI's own 422 entry (its validation-error schema) is replaced by the envelope the API
    actually sends; an entry a route declares itself is kept.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = generate()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        described = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(described.pop("$defs", {}))
        schemas["Error"] = {**described, "title": "Error"}
        for path, item in doc.get("paths", {}).items():
            if not path.startswith(prefix):
                continue
            for method, operation in item.items():
                responses = operation.setdefault("responses", {})
                for status in statuses(path, method, operation):
                    entry = responses.get(str(status))
                    if entry is None or status == 422:
                        responses[str(status)] = {
                            "description": _MEANING[status],
                            "content": {"application/json": {"schema": _SCHEMA_REF}},
                        }
        return doc

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
