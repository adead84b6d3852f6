"""The ASGI application: REST API, admin UI and health endpoints over one container."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from switchboard import __version__
from switchboard.bootstrap import Container
from switchboard.web import api_errors_doc, errors, ui, webhooks
from switchboard.web.api import (
    accounts,
    audit,
    directory,
    directory_sync,
    licenses,
    locations,
    media,
    numbers,
    sync_status,
    tokens,
    users,
)
from switchboard.web.client_cert import ClientCertificateMiddleware


def create_app(container: Container, *, require_client_cert: bool = False) -> FastAPI:
    """The app; ``require_client_cert`` gates /api/ on a verified TLS client certificate."""
    app = FastAPI(
        title="Switchboard",
        version=__version__,
        description="Cloud voice admin portal with users provisioned from Microsoft Entra ID.",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.container = container
    errors.install(app)
    app.add_middleware(ClientCertificateMiddleware, required=require_client_cert)

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
        directory_sync,
        sync_status,
    ):
        api.include_router(module.router)
    app.include_router(api)
    api_errors_doc.document(app)
    ui.install(app)
    webhooks.install(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
