"""The HTTPS server: OIDC discovery and token endpoint, Graph under /v1.0, control surface.

Starlette directly (no FastAPI layer): the Graph surface is one catch-all route handed to the
transport-free Graph handler, and the 20,000 users/s target leaves little room for per-route
validation machinery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from switchboard.emulator.control import control_routes
from switchboard.emulator.keys_and_certificates import ensure_server_identity
from switchboard.emulator.messages import GraphRequest, error_body, normalise_query
from switchboard.emulator.state import Emulator, SeedOptions
from switchboard.emulator.tokens import AccessDenied, TokenError

log = logging.getLogger("switchboard.emulator.server")
GRAPH_CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"
SERVER_FILE = "server.json"
T = TypeVar("T")


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


def build_app(emu: Emulator, on_ready: Callable[[], None] | None = None) -> Starlette:
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
            (emu.state_dir / SERVER_FILE).unlink(missing_ok=True)

    methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    routes = [
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
        Route("/{tenant}/discovery/v2.0/keys", jwks),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
        Route("/v1.0/{path:path}", graph, methods=methods),
        *control_routes(emu),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it every response waits ~40 ms on Nagle plus delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(
    emu: Emulator, host: str, log_level: str, on_ready: Callable[[], None] | None = None
) -> uvicorn.Config:
    identity = ensure_server_identity(emu.state_dir, [host])
    return uvicorn.Config(
        build_app(emu, on_ready),
        ssl_certfile=str(identity.cert_path),
        ssl_keyfile=str(identity.key_path),
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )


def write_server_file(emu: Emulator, url: str) -> None:
    path = emu.state_dir / SERVER_FILE
    path.write_text(
        json.dumps({"url": url, "pid": os.getpid(), "tenant_id": emu.directory.tenant_id})
    )


def serve(
    state_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8443,
    tenant_id: str | None = None,
    seed: SeedOptions | None = None,
    log_level: str = "info",
    notification_ca: Path | None = None,
) -> None:
    (state_dir / SERVER_FILE).unlink(missing_ok=True)  # left by a killed server
    emu = Emulator(state_dir, tenant_id=tenant_id, seed=seed)
    if notification_ca is not None:
        emu.trust_notification_ca(notification_ca)
    sock = _bind(host, port)
    url = f"https://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}"

    def ready() -> None:
        # Written once the server accepts requests; the CLI finds the server through it.
        write_server_file(emu, url)
        log.warning(
            "Entra ID emulator for tenant %s at %s (CA: %s)",
            emu.directory.tenant_id,
            url,
            state_dir / "ca.pem",
        )

    config = _config(emu, host, log_level, ready)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        emu.store.close()
        (state_dir / SERVER_FILE).unlink(missing_ok=True)


class RunningEmulator:
    """An emulator served from a background thread (tests, demos, benchmarks)."""

    def __init__(
        self,
        emu: Emulator,
        url: str,
        server: uvicorn.Server,
        thread: threading.Thread,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.emulator = emu
        self.url = url
        self.server = server
        self.thread = thread
        self.server_loop = loop

    @property
    def ca_path(self) -> Path:
        return self.emulator.state_dir / "ca.pem"

    @property
    def tenant_id(self) -> str:
        return self.emulator.directory.tenant_id

    @property
    def authority(self) -> str:
        return f"{self.url}/{self.tenant_id}"

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on the server's event loop (the directory is loop-owned) and return."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.server_loop).result(timeout=60)


@contextlib.contextmanager
def running(
    state_dir: Path,
    *,
    seed: SeedOptions | None = None,
    tenant_id: str | None = None,
    host: str = "127.0.0.1",
) -> Iterator[RunningEmulator]:
    emu = Emulator(state_dir, tenant_id=tenant_id, seed=seed)
    config = _config(emu, host, "warning")
    sock = _bind(host, 0)
    url = f"https://{host}:{sock.getsockname()[1]}"
    server = uvicorn.Server(config)
    loop_box: dict[str, asyncio.AbstractEventLoop] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        loop_box["loop"] = loop
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.serve(sockets=[sock]))
        # Let closed connections finish closing before the loop goes away.
        loop.run_until_complete(asyncio.sleep(0.05))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=run, name="entra-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start; see the log above")
            time.sleep(0.02)
        handle = RunningEmulator(emu, url, server, thread, loop_box["loop"])
        write_server_file(emu, url)
        yield handle
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
        emu.store.close()
        (state_dir / SERVER_FILE).unlink(missing_ok=True)
