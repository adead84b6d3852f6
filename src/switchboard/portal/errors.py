"""Domain errors: each carries a stable code, a message an admin can act on, and the field."""

from __future__ import annotations


class PortalError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class ValidationFailed(PortalError):
    status = 422
    code = "validation_failed"


class NotFound(PortalError):
    status = 404
    code = "not_found"


class Conflict(PortalError):
    status = 409
    code = "conflict"


class Forbidden(PortalError):
    status = 403
    code = "forbidden"


class Unauthorized(PortalError):
    status = 401
    code = "unauthorized"
