"""The ASGI application: REST API, admin UI, health and metrics endpoints over one container."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from switchboard import __version__
from switchboard.bootstrap import Container
from switchboard.web import api_errors_doc, errors, health, metrics_route, scim, ui, webhooks
from switchboard.web.api import (
    accounts,
    audit,
    directory,
    directory_preview,
    directory_sync,
    licenses,
    locations,
    media,
    numbers,
    scim_requests,
    scim_setup,
    sync_status,
    tokens,
    users,
)
from switchboard.web.client_cert import ClientCertificateMiddleware
from switchboard.web.http_metrics import HttpMetricsMiddleware
from switchboard.web.scim import request_log as scim_request_log


def create_app(
    container: Container,
    *,
    require_client_cert: bool = False,
    scim_clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """The app; ``require_client_cert`` gates /api/ and /scim/ on a verified TLS client
    certificate;
    ``scim_clock`` (monotonic seconds) drives the SCIM rate limit."""
    app = FastAPI(
        title="Switchboard",
        version=__version__,
        description="Cloud voice admin portal with users provisioned from Microsoft Entra ID.",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.container = container
    errors.install(app)
    # SCIM's rate and body limits and its request log (only paths under /scim/v2/), inside
    # the certificate check: a client without a certificate takes nothing from the limit.
    scim_request_log.install(app, container, clock=scim_clock)
    app.add_middleware(ClientCertificateMiddleware, required=require_client_cert)
    # Outermost: refusals of the certificate check are counted too.
    app.add_middleware(HttpMetricsMiddleware, routes=lambda: app.routes)

    api = APIRouter(prefix="/api/v1")
    for module in (
        accounts,
        locations,
        licenses,
        numbers,
        users,
        audit,
        tokens,
        media,
        directory,
        directory_preview,
        directory_sync,
        scim_setup,
        sync_status,
        scim_requests,
    ):
        api.include_router(module.router)
    app.include_router(api)
    api_errors_doc.document(app)
    scim.install(app, container)
    ui.install(app)
    webhooks.install(app)
    health.install(app, container)
    metrics_route.install(app, container)
    return app
