"""Jinja2 templates of the admin UI (autoescaped) and the one render helper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request, Response
from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

# After a redirect, a fixed code in the URL picks the confirmation shown; free text is never
# echoed from the query string.
NOTICES = {
    "account-created": "Account created.",
    "location-created": "Location created.",
    "user-created": "User created.",
    "user-saved": "User saved.",
    "user-deleted": "User deleted.",
    "numbers-added": "Numbers added to the inventory.",
    "number-available": "Number marked available.",
    "license-created": "License created.",
    "license-saved": "Seats updated.",
    "signed-out": "You are signed out.",
}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=_env)


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    notice = NOTICES.get(request.query_params.get("done", ""))
    base: dict[str, Any] = {
        "viewer": getattr(request.state, "viewer", None),
        "notice": notice,
        "path": request.url.path,
    }
    base.update(context)
    return templates.TemplateResponse(request, name, base, status_code=status_code)
