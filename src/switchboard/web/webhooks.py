"""Microsoft Graph webhooks: /webhooks/graph (change notifications) and
/webhooks/graph/lifecycle (lifecycle events).

Outside /api/, so no client certificate is asked for: Graph cannot present one. Each item is
authenticated by its subscription's clientState secret instead (see
sync/notification_intake.py); anything unknown or mismatched is ignored. The answer goes out
at once (Graph wants one within 3 seconds) and the work runs after it: change notifications
only mark their account for a coalesced delta round.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import APIRouter, BackgroundTasks, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from switchboard.bootstrap import Container
from switchboard.sync import subscription_upkeep
from switchboard.sync.notification_intake import (
    NotificationCoalescer,
    Verified,
    coalescer_for,
    parse_notifications,
    verify,
)
from switchboard.web.errors import envelope

log = logging.getLogger("switchboard.web.webhooks")

# Graph's notification batches are small; refuse anything far larger before parsing it.
MAX_BODY_BYTES = 1_000_000
MAX_TOKEN_CHARS = 2048

router = APIRouter(include_in_schema=False)


def _validation_answer(request: Request) -> Response | None:
    """The subscription handshake: echo the decoded token as text/plain, nothing else."""
    token = request.query_params.get("validationToken")
    if token is None:
        return None
    if len(token) > MAX_TOKEN_CHARS:
        return envelope(400, "validation_token_too_long", "validationToken is too long")
    return PlainTextResponse(token, headers={"X-Content-Type-Options": "nosniff"})


async def _read(request: Request) -> tuple[Any, Response | None]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None, envelope(413, "too_large", "the notification body is too large")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            return None, envelope(413, "too_large", "the notification body is too large")
    try:
        return json.loads(raw or b"null"), None
    except ValueError:
        return None, envelope(
            400, "invalid_json", 'the body must be JSON: {"value": [notification, ...]}'
        )


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _coalescer(request: Request) -> NotificationCoalescer:
    coalescer: NotificationCoalescer = request.app.state.notification_coalescer
    return coalescer


def _verified(container: Container, body: Any) -> Verified:
    items = parse_notifications(body)
    with container.unit_of_work() as session:
        return verify(session, items)


@router.api_route("/webhooks/graph", methods=["GET", "POST"])
async def graph_notifications(request: Request, background: BackgroundTasks) -> Response:
    arrived = time.monotonic()  # the start of notification-to-commit
    answer = _validation_answer(request)
    if answer is not None:
        return answer
    if request.method != "POST":
        return envelope(405, "method_not_allowed", "POST change notifications here")
    body, refused = await _read(request)
    if refused is not None:
        return refused
    verified = await run_in_threadpool(_verified, _container(request), body)
    coalescer = _coalescer(request)
    # A lifecycle event posted to the notification URL: still a hint to sync.
    accounts = verified.accounts | {account_id for account_id, _s, _e in verified.lifecycle}
    for account_id in sorted(accounts):
        background.add_task(coalescer.notify, account_id, arrived)
    return Response(status_code=202)


@router.api_route("/webhooks/graph/lifecycle", methods=["GET", "POST"])
async def graph_lifecycle(request: Request, background: BackgroundTasks) -> Response:
    arrived = time.monotonic()
    answer = _validation_answer(request)
    if answer is not None:
        return answer
    if request.method != "POST":
        return envelope(405, "method_not_allowed", "POST lifecycle notifications here")
    body, refused = await _read(request)
    if refused is not None:
        return refused
    container = _container(request)
    verified = await run_in_threadpool(_verified, container, body)
    coalescer = _coalescer(request)
    for account_id in sorted(verified.accounts):
        background.add_task(coalescer.notify, account_id, arrived)
    for account_id, subscription_id, event in verified.lifecycle:
        kind = event.casefold()
        if kind == "reauthorizationrequired":
            background.add_task(subscription_upkeep.reauthorize, container, subscription_id)
        elif kind == "subscriptionremoved":
            background.add_task(subscription_upkeep.recreate, container, subscription_id)
            background.add_task(coalescer.notify, account_id, arrived)
        elif kind == "missed":
            background.add_task(coalescer.notify, account_id, arrived)
        else:
            log.info("ignored lifecycle event %r for subscription %s", event, subscription_id)
    return Response(status_code=202)


def install(app: FastAPI) -> None:
    container: Container = app.state.container
    app.state.notification_coalescer = coalescer_for(container)
    app.include_router(router)
