"""The server-rendered admin UI: HTML pages over the same service functions as the API."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from switchboard.web.ui import (
    accounts,
    admins,
    audit,
    auth,
    fleet,
    licenses,
    locations,
    numbers,
    operators,
    profile,
    settings,
    users,
)
from switchboard.web.ui.directory import (
    connection_edit_pages,
    connection_pages,
    group_pages,
    mapping_pages,
    offered_users_pages,
    run_events,
    scim_log_pages,
    scim_pages,
    sync_pages,
)
from switchboard.web.ui.templating import TEMPLATES_DIR

STATIC_DIR = TEMPLATES_DIR.parent / "static"
ROUTERS = tuple(
    m.router
    for m in (
        auth,
        accounts,
        locations,
        # Before users: /users/from-directory must not be taken for /users/{user_id}.
        offered_users_pages,
        users,
        numbers,
        licenses,
        connection_pages,
        connection_edit_pages,
        group_pages,
        mapping_pages,
        scim_pages,
        sync_pages,
        run_events,
        scim_log_pages,
        audit,
        settings,
        admins,
        operators,
        fleet,
        profile,
    )
)


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
