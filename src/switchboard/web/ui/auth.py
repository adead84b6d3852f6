"""Signing in and out of the admin UI, and the landing redirect."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from switchboard.portal import sign_in_throttle
from switchboard.portal.errors import Unauthorized
from switchboard.portal.principals import authenticate_password
from switchboard.portal.ui_sessions import close_session, open_session
from switchboard.web.deps import container
from switchboard.web.ui.routing import UiRoute, safe_next
from switchboard.web.ui.session import (
    CurrentViewer,
    PostingViewer,
    Submitted,
    cookie_name,
    is_https,
    submitted_form,
)
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)

# Before there is a session, the login form is protected by a double-submit token: a random
# value in a short-lived cookie that must come back in the form (stops login CSRF).
LOGIN_COOKIE = "sb_login"
LOGIN_FAILED = "Email or password is incorrect."


@router.get("/")
def home(viewer: CurrentViewer) -> Response:
    target = f"/accounts/{viewer.home_slug}" if viewer.home_slug else "/accounts"
    return RedirectResponse(target, status_code=303)


def _login_page(
    request: Request,
    next_path: str,
    *,
    email: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {"login_token": token, "next": next_path, "email": email, "error": error},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=1800,
        path="/login",
        httponly=True,
        secure=is_https(request),
        samesite="lax",
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return _login_page(request, safe_next(next))


@router.post("/login")
def login(request: Request, form: Annotated[Submitted, Depends(submitted_form)]) -> Response:
    next_path = safe_next(form.text("next"))
    email = form.text("email")
    expected = request.cookies.get(LOGIN_COOKIE, "")
    sent = form.text("login_token")
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        return _login_page(
            request,
            next_path,
            email=email,
            error="The sign-in form expired; please sign in again.",
            status=400,
        )
    found = container(request)
    password = form.raw("password")
    attempt = sign_in_throttle.Attempt.of(email, request.client.host if request.client else None)
    try:
        # Checked before the password, in its own unit of work: a locked-out email is refused
        # whether or not the password is right, and whether or not the email exists.
        with found.unit_of_work() as session:
            sign_in_throttle.check(session, attempt)
        with found.unit_of_work() as session:
            principal = authenticate_password(session, email, password)
            opened = open_session(session, principal, hours=found.settings.session_hours)
            sign_in_throttle.record_success(session, attempt)
    except sign_in_throttle.Throttled as exc:
        response = _login_page(request, next_path, email=email, error=exc.message, status=429)
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
    except Unauthorized:
        # The failed unit of work rolled back; the failure is kept in one of its own.
        with found.unit_of_work() as session:
            sign_in_throttle.record_failure(session, attempt)
        return _login_page(request, next_path, email=email, error=LOGIN_FAILED, status=401)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        cookie_name(request),
        opened.cookie,
        max_age=found.settings.session_hours * 3600,
        path="/",
        httponly=True,
        secure=is_https(request),
        samesite="lax",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, _viewer: PostingViewer) -> Response:
    cookie = request.cookies.get(cookie_name(request), "")
    with container(request).unit_of_work() as session:
        close_session(session, cookie)
    response = RedirectResponse("/login?done=signed-out", status_code=303)
    response.delete_cookie(cookie_name(request), path="/", secure=is_https(request), httponly=True)
    return response
