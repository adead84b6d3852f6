"""Require a verified TLS client certificate for the API (/api/...) and the SCIM endpoint
(/scim/...), when the server is started with mutual TLS.

Only /api/, /scim/ and the API's description (/openapi.json) are gated: the admin UI, /healthz and
webhook endpoints are called by browsers and outside services without client certificates and
protect themselves by other means. The check fails closed: if the server did not record a
certificate (for instance the app runs under a plain uvicorn), an /api/ request is refused
rather than let through.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from switchboard.scim.errors import ScimError
from switchboard.tls.server import PEER_CERT_STATE_KEY, ClientIdentity, identity
from switchboard.web.errors import envelope
from switchboard.web.scim.responses import ScimResponse

log = logging.getLogger("switchboard.web.mtls")

# request.state.client_certificate: the ClientIdentity of a verified client certificate, or None.
IDENTITY_STATE_KEY = "client_certificate"
GATED_PREFIXES = ("/api", "/scim")

REFUSAL = (
    "this API requires a TLS client certificate signed by the server's client CA; "
    "issue one with `switchboard certs issue-client DIR NAME` and present it, "
    "e.g. curl --cert NAME.crt --key NAME.key --cacert ca.crt"
)


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path


# The API's description is part of the API: gated like /api/docs, which renders it.
GATED_PATHS = ("/openapi.json",)


def _gated(path: str) -> bool:
    return path in GATED_PATHS or any(
        path == prefix or path.startswith(prefix + "/") for prefix in GATED_PREFIXES
    )


class ClientCertificateMiddleware:
    def __init__(self, app: ASGIApp, *, required: bool) -> None:
        self.app = app
        self.required = required

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        peer = state.get(PEER_CERT_STATE_KEY)
        who: ClientIdentity | None = identity(peer) if peer else None
        state[IDENTITY_STATE_KEY] = who
        if self.required and who is None and _gated(_route_path(scope)):
            log.warning(
                "refused %s %s from %s: no client certificate",
                scope.get("method", "WEBSOCKET"),
                scope.get("path"),
                (scope.get("client") or ("?",))[0],
            )
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": REFUSAL[:120]})
                return
            response = (
                ScimResponse(ScimError(403, REFUSAL).body(), status_code=403)
                if _route_path(scope).startswith("/scim")
                else envelope(403, "client_certificate_required", REFUSAL)
            )
            await response(scope, receive, send)
            return
        if who is not None:
            log.debug("client certificate CN=%s serial=%s", who.common_name, who.serial)
        await self.app(scope, receive, send)
