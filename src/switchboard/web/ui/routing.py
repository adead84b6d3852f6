"""The UI's route class: redirects to the login page, HTML error pages and security headers."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from switchboard.portal.errors import PortalError
from switchboard.web.ui.templating import render

# Only our own script files run (no inline script, no eval), nothing frames the pages and forms
# only post back to us. Every page works without script; scripts only add live updates.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    """No valid UI session: the browser goes to the login page and comes back after."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PasswordChangeRequired(Exception):
    """Signed in with a password another admin chose: every page but the change-password page
    (and signing out) sends the admin there until they choose their own."""


def safe_next(value: str | None) -> str:
    """A local path to return to after login; anything else (other hosts, schemes) becomes /."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ch in value for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in value):
        return "/"
    return value


def login_url(next_path: str) -> str:
    target = safe_next(next_path)
    return "/login" if target == "/" else f"/login?{urlencode({'next': target})}"


class UiRoute(APIRoute):
    """Turns domain errors into HTML pages instead of the API's JSON envelope.

    Handlers open their own unit of work, so a failed change is rolled back before the error
    reaches this wrapper and the page that explains it is rendered.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            response: Response
            try:
                response = await original(request)
            except LoginRequired as exc:
                response = RedirectResponse(login_url(exc.next_path), status_code=303)
            except PasswordChangeRequired:
                response = RedirectResponse("/me?first=1", status_code=303)
            except PortalError as exc:
                response = render(
                    request,
                    "error.html",
                    {"status": exc.status, "message": exc.message, "code": exc.code},
                    status_code=exc.status,
                )
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handler
