"""/metrics: the Prometheus text exposition of the process's metrics and the database's figures.

The app's registry holds prometheus-client's default registry (the event counters of
``switchboard.metrics``, which every part of the process updates, and the process figures)
and this app's DatabaseCollector. A registry per app rather than registering the collector
in the default one: an app built again in the same process (tests, a reload) neither clashes
with a collector already registered nor scrapes a container that is gone.

With SWITCHBOARD_METRICS_TOKEN set, a scrape needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from switchboard.bootstrap import Container
from switchboard.jobs.database_metrics import DatabaseCollector
from switchboard.web.errors import envelope

NO_CREDENTIALS = (
    "/metrics needs the header 'Authorization: Bearer <token>' with the token set in"
    " SWITCHBOARD_METRICS_TOKEN (in Prometheus: the scrape job's authorization credentials)"
)
WRONG_CREDENTIALS = (
    "the bearer token does not match SWITCHBOARD_METRICS_TOKEN; give the scrape job the"
    " token the portal was started with"
)


def registry_for(container: Container) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(REGISTRY)
    registry.register(DatabaseCollector(container))
    return registry


def _refusal(request: Request, token: str | None) -> Response | None:
    if not token:
        return None
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    headers = {"WWW-Authenticate": 'Bearer realm="metrics"'}
    if scheme.lower() != "bearer" or not given.strip():
        return envelope(401, "metrics_token_required", NO_CREDENTIALS, headers=headers)
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return envelope(401, "metrics_token_wrong", WRONG_CREDENTIALS, headers=headers)
    return None


def install(app: FastAPI, container: Container) -> None:
    registry = registry_for(container)
    token = container.settings.metrics_token

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        refused = _refusal(request, token)
        if refused is not None:
            return refused
        return Response(
            generate_latest(registry),
            media_type=CONTENT_TYPE_LATEST,
            headers={"Cache-Control": "no-store"},
        )
