"""Graph failures as a small taxonomy that drives control flow (not messages to parse)."""

from __future__ import annotations


class GraphError(Exception):
    """A Graph or token endpoint failure. ``code`` is Graph's error code; log ``request_id``."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id


class TransientGraphError(GraphError):
    """Throttling, 5xx, timeouts or resets that outlasted the retries: try again later."""


class GraphNotFound(GraphError):
    """The object does not exist (or no longer)."""


class GraphForbidden(GraphError):
    """Authorization_RequestDenied and friends: a permission or a protected object."""


class GraphBadRequest(GraphError):
    """The request was refused as invalid; record it for that object and go on."""


class GraphAuthError(GraphError):
    """No token (bad certificate, unknown app, wrong tenant): stop the run, tell the admin."""


class DeltaTokenExpired(GraphError):
    """The saved delta link is no longer valid: run a full reconcile and start a new chain."""
