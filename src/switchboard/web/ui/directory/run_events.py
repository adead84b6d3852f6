"""A running run's phase and counts as server-sent events, for the run page's live progress.

``GET /accounts/{slug}/directory/runs/{number}/events`` answers ``text/event-stream``: a
``progress`` event each time the run's phase or counts change, a comment now and then so
proxies keep the connection, and a ``finished`` event once the run has ended, after which the
stream closes. It polls the run's row with one small query in a short transaction of its own
(no connection is held between polls), stops when the client goes away, and lives at most
``LIFETIME_SECONDS``: the browser's EventSource then reconnects, signed in again by its cookie.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from switchboard.bootstrap import Container
from switchboard.db.models import SyncRun
from switchboard.portal.accounts import get_account
from switchboard.portal.validation import MAX_ID
from switchboard.sync import runs
from switchboard.sync.progress import COUNTS, phase_words
from switchboard.sync.runs import RunStatus
from switchboard.web.deps import container
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer

router = APIRouter(route_class=UiRoute, include_in_schema=False)

POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0
LIFETIME_SECONDS = 600.0
# How long the browser waits before it reconnects a stream that ended early.
RETRY_MS = 2000


@dataclass(frozen=True)
class Snapshot:
    """What the page shows of the run: its status, phase and counts."""

    status: str
    phase: str | None
    phase_words: str
    read: int
    planned: int
    applied: int
    errors: int

    @property
    def finished(self) -> bool:
        return self.status != RunStatus.RUNNING.value

    def event(self) -> str:
        name = "finished" if self.finished else "progress"
        return f"event: {name}\ndata: {json.dumps(asdict(self), separators=(',', ':'))}\n\n"


def snapshot(status: str, phase: str | None, progress: dict[str, int] | None) -> Snapshot:
    counts = {key: int((progress or {}).get(key, 0)) for key in COUNTS}
    if status != RunStatus.RUNNING.value:
        phase = "finished"
    return Snapshot(status, phase, phase_words(phase), **counts)


def load(c: Container, run_id: int) -> Snapshot | None:
    """The run's row now, in one short transaction; None once the run is gone."""
    with c.unit_of_work() as session:
        row = session.execute(
            select(SyncRun.status, SyncRun.phase, SyncRun.progress).where(SyncRun.id == run_id)
        ).one_or_none()
    return None if row is None else snapshot(row.status, row.phase, row.progress)


async def event_stream(
    poll: Callable[[], Awaitable[Snapshot | None]],
    gone: Callable[[], Awaitable[bool]],
    *,
    interval: float = POLL_SECONDS,
    heartbeat: float = HEARTBEAT_SECONDS,
    lifetime: float = LIFETIME_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[str]:
    """The events of one stream: ``poll`` reads the run, ``gone`` says the client left."""
    yield f"retry: {RETRY_MS}\n\n"
    began = beat = clock()
    last: Snapshot | None = None
    while not await gone():
        current = await poll()
        if current is None:  # pruned or its account deleted: nothing more will come
            yield "event: gone\ndata: {}\n\n"
            return
        if current != last:
            yield current.event()
            last = current
            beat = clock()
        if current.finished:
            return
        now = clock()
        if now - began >= lifetime:
            return
        if now - beat >= heartbeat:
            yield ": still running\n\n"
            beat = now
        await anyio.sleep(interval)


@router.get("/accounts/{slug}/directory/runs/{number}/events")
async def run_events(request: Request, slug: str, number: int, viewer: CurrentViewer) -> Response:
    c = container(request)

    def find() -> int:
        # The page's own checks: the viewer's account only (another's is "not found").
        with c.unit_of_work() as session:
            account = get_account(session, viewer.actor, slug)
            return runs.get_run(
                session, viewer.actor, account, number if 1 <= number <= MAX_ID else 0
            ).id

    run_id = await run_in_threadpool(find)

    async def poll() -> Snapshot | None:
        return await run_in_threadpool(load, c, run_id)

    return StreamingResponse(
        event_stream(poll, request.is_disconnected),
        media_type="text/event-stream",
        # No buffering by a proxy in between: each event must reach the page when sent.
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
