"""The SCIM Error (RFC 7644 3.12) every refusal becomes: a status, a scimType where the RFC
names one, and a detail in words an admin can act on (never exception text)."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        *,
        scim_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": [ERROR_SCHEMA],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, scim_type="invalidValue")


def invalid_syntax(detail: str) -> ScimError:
    return ScimError(400, detail, scim_type="invalidSyntax")


def invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, scim_type="invalidFilter")


def invalid_path(detail: str) -> ScimError:
    return ScimError(400, detail, scim_type="invalidPath")


def no_target(detail: str) -> ScimError:
    return ScimError(400, detail, scim_type="noTarget")


def uniqueness(detail: str) -> ScimError:
    return ScimError(409, detail, scim_type="uniqueness")


def mutability(detail: str) -> ScimError:
    return ScimError(400, detail, scim_type="mutability")


def not_found(detail: str) -> ScimError:
    return ScimError(404, detail)


def precondition_failed(detail: str) -> ScimError:
    return ScimError(412, detail)
