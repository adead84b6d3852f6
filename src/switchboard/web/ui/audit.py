"""An account's audit log: who changed what and when, newest first, filterable and paged."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from switchboard.portal import audit, audit_view
from switchboard.portal.validation import MAX_ID
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.forms import FormError
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)

PAGE_SIZE = 50
OBJECT_TYPES = ("account", "location", "license", "number", "user", "principal", "token", "media")
_ACTION_RE = re.compile(r"^[a-z_.]{0,64}$")


def _filter_error(action: str, object_type: str) -> FormError | None:
    if not _ACTION_RE.match(action):
        return FormError(
            "action: use lower-case letters, dots and underscores, e.g. user. or user.created",
            "action",
        )
    if object_type and object_type not in OBJECT_TYPES:
        return FormError(f"type: choose one of {', '.join(OBJECT_TYPES)}", "type")
    return None


@router.get("/accounts/{slug}/audit")
def audit_log(
    request: Request,
    slug: str,
    viewer: CurrentViewer,
    action: Annotated[str, Query(max_length=200)] = "",
    object_type: Annotated[str, Query(alias="type", max_length=200)] = "",
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    action, object_type = action.strip(), object_type.strip()
    error = _filter_error(action, object_type)
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "audit")
        events = []
        if error is None:
            # One more than a page tells whether an older page exists.
            events = audit.list_events(
                session,
                viewer.actor,
                context["account"].id,
                limit=PAGE_SIZE + 1,
                before_id=before_id,
                action_prefix=action or None,
                object_type=object_type or None,
            )
        older = events[PAGE_SIZE - 1].id if len(events) > PAGE_SIZE else None
        filters = {k: v for k, v in (("action", action), ("type", object_type)) if v}
        context.update(
            events=audit_view.describe(
                session, viewer.actor, context["account"], events[:PAGE_SIZE]
            ),
            older=older,
            paged=before_id is not None,
            filters=filters,
            values={"action": action, "type": object_type},
            object_types=OBJECT_TYPES,
            error=error,
        )
        return render(request, "account/audit.html", context, status_code=422 if error else 200)
