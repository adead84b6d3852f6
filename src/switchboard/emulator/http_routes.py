"""The emulator's HTTP surface: OIDC discovery and token endpoint, Graph under /v1.0, control.

Starlette directly (no FastAPI layer): the Graph surface is one catch-all route handed to the
transport-free Graph handler, and the 20,000 users/s target leaves little room for per-route
validation machinery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from switchboard.emulator.control import control_routes
from switchboard.emulator.messages import GraphRequest, error_body, normalise_query
from switchboard.emulator.state import Emulator
from switchboard.emulator.tokens import AccessDenied, TokenError

GRAPH_CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"


class GraphJSON(JSONResponse):
    media_type = GRAPH_CONTENT_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class InjectedReset(Exception):
    """Raised after a partial response so the server drops the connection (fault 'reset')."""


class ResetResponse(Response):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"value":[', "more_body": True})
        raise InjectedReset("connection reset injected by the emulator's fault settings")


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def build_app(
    emu: Emulator,
    on_ready: Callable[[], None] | None = None,
    on_stopped: Callable[[], None] | None = None,
) -> Starlette:
    """The routes of one emulator; ``on_ready`` runs once it serves, ``on_stopped`` once its
    background tasks ended and its state was saved."""

    async def faults(request: Request, *, graph: bool) -> Response | None:
        f = emu.faults
        if f.latency_ms:
            await asyncio.sleep(f.latency_ms / 1000)
        kind = f.pick_error("graph" if graph else "token")
        if kind is None:
            return None
        rid = str(uuid.uuid4())
        if kind == "reset":
            return ResetResponse()
        if kind == "timeout":
            await asyncio.sleep(f.timeout_seconds)
            return GraphJSON(error_body("GatewayTimeout", "The request timed out.", rid, None), 504)
        status = 429 if kind == "429" else 503
        code = "TooManyRequests" if status == 429 else "ServiceUnavailable"
        body = (
            error_body(code, "Injected fault.", rid, None)
            if graph
            else {"error": "temporarily_unavailable", "error_description": f"AADSTS90033: {code}"}
        )
        return GraphJSON(
            body, status, headers={"Retry-After": f"{f.retry_after_seconds:g}", "request-id": rid}
        )

    def tenant_ok(tenant: str) -> bool:
        return tenant.lower() in emu.tokens.tenant_names()

    def aadsts(err: TokenError) -> JSONResponse:
        trace = str(uuid.uuid4())
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return JSONResponse(
            {
                "error": err.error,
                "error_description": f"{err.description}\r\nTrace ID: {trace}\r\nCorrelation "
                f"ID: {trace}\r\nTimestamp: {now}",
                "error_codes": [err.code],
                "timestamp": now,
                "trace_id": trace,
                "correlation_id": trace,
                "error_uri": f"https://login.microsoftonline.com/error?code={err.code}",
            },
            err.status,
        )

    def unknown_tenant(tenant: str) -> JSONResponse:
        return aadsts(
            TokenError(
                400,
                "invalid_tenant",
                90002,
                f"AADSTS90002: Tenant '{tenant}' not found. Use the tenant id "
                f"{emu.directory.tenant_id} or {emu.directory.domain}.",
            )
        )

    async def openid_configuration(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not tenant_ok(tenant):
            return unknown_tenant(tenant)
        b = base_url(request)
        tid = emu.directory.tenant_id
        return JSONResponse(
            {
                "token_endpoint": f"{b}/{tenant}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{b}/{tenant}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{b}/{tid}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{b}/oidc/userinfo",
                "authorization_endpoint": f"{b}/{tenant}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{b}/{tenant}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{b}/{tenant}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "roles"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": request.url.netloc,
                "rbac_url": "https://pas.windows.net",
            }
        )

    async def jwks(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not tenant_ok(tenant):
            return unknown_tenant(tenant)
        return JSONResponse(emu.tokens.jwks())

    async def token(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not tenant_ok(tenant):
            return unknown_tenant(tenant)
        injected = await faults(request, graph=False)
        if injected is not None:
            return injected
        form = {k: str(v) for k, v in (await request.form()).items()}
        b = base_url(request)
        endpoints = {f"{b}/{t}/oauth2/v2.0/token".lower() for t in emu.tokens.tenant_names()}
        try:
            issued = emu.tokens.issue(form, endpoints, b)
        except TokenError as err:
            return aadsts(err)
        return JSONResponse(issued, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def graph(request: Request) -> Response:
        rid = str(uuid.uuid4())
        crid = request.headers.get("client-request-id")
        try:
            caller = emu.tokens.verify_access_token(
                request.headers.get("authorization"), base_url(request)
            )
        except AccessDenied as exc:
            return GraphJSON(
                error_body("InvalidAuthenticationToken", str(exc), rid, crid),
                401,
                headers={"request-id": rid, "WWW-Authenticate": 'Bearer realm=""'},
            )
        injected = await faults(request, graph=True)
        if injected is not None:
            return injected
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return GraphJSON(
                    error_body(
                        "Request_BadRequest", "Unable to read JSON request payload.", rid, crid
                    ),
                    400,
                )
        req = GraphRequest(
            method=request.method,
            path=request.path_params["path"],
            query=normalise_query(request.query_params.multi_items()),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            base_url=base_url(request),
            caller=caller,
            request_id=rid,
        )
        resp = await emu.graph.handle(req)
        if resp.body is None:
            return Response(status_code=resp.status, headers=resp.headers)
        if isinstance(resp.body, str):
            return PlainTextResponse(resp.body, resp.status, headers=resp.headers)
        return GraphJSON(resp.body, resp.status, headers=resp.headers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        tasks = [
            asyncio.create_task(emu.notifier.run()),
            asyncio.create_task(emu.persist_loop()),
        ]
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            emu.stop_churn()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            emu.save()
            # Here, not after uvicorn returns: uvicorn re-raises SIGTERM once shut down.
            if on_stopped is not None:
                on_stopped()

    methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    routes = [
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
        Route("/{tenant}/discovery/v2.0/keys", jwks),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
        Route("/v1.0/{path:path}", graph, methods=methods),
        *control_routes(emu),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
