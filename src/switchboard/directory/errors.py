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
    """Throttling, 5xx, timeouts or resets: retried by the client; raised once they outlast
    the retries. ``retry_after``: the wait the service asked for, in seconds, when it said."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id)
        self.retry_after = retry_after


class GraphThrottled(TransientGraphError):
    """The service asked to wait longer than the client waits in one request (its cap).

    Not a failure: the run stops cleanly and is started again after ``wait_seconds``.
    """

    def __init__(
        self,
        message: str,
        *,
        wait_seconds: float,
        status: int | None = None,
        code: str = "",
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            message, status=status, code=code, request_id=request_id, retry_after=wait_seconds
        )
        self.wait_seconds = wait_seconds


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
