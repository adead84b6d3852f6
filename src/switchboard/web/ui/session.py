"""Who is looking at the UI: the session cookie, the signed-in admin and the CSRF check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from switchboard.bootstrap import Container
from switchboard.db.models import Account, UiSession
from switchboard.portal.actors import Actor, Role
from switchboard.portal.errors import Forbidden
from switchboard.portal.principals import actor_for
from switchboard.portal.ui_sessions import csrf_matches, resolve_session
from switchboard.web.deps import container
from switchboard.web.ui.routing import LoginRequired, PasswordChangeRequired

# The pages an admin signed in with an initial password may use before choosing their own.
PASSWORD_CHANGE_PATHS = frozenset({"/me", "/me/password", "/logout"})
COOKIE = "sb_session"
# Over HTTPS the __Host- prefix makes the browser refuse the cookie unless it is Secure,
# host-only and Path=/, so a sibling subdomain cannot plant or shadow it.
SECURE_COOKIE = "__Host-sb_session"


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request) -> str:
    return SECURE_COOKIE if is_https(request) else COOKIE


@dataclass(frozen=True)
class Viewer:
    """The signed-in admin, detached from the database session that loaded it."""

    actor: Actor
    email: str
    record: UiSession
    home_slug: str | None  # the one account of an account role
    must_change_password: bool = False  # signed in with a password another admin chose

    @property
    def csrf_token(self) -> str:
        return self.record.csrf_token

    @property
    def role(self) -> Role:
        return self.actor.role

    @property
    def is_provider(self) -> bool:
        return self.actor.role is Role.PROVIDER_ADMIN

    def can_write(self, account: Account) -> bool:
        return account.status != "terminated" and self.actor.can_write(account.id)


def current_viewer(request: Request) -> Viewer:
    cookie = request.cookies.get(cookie_name(request))
    found: Container = container(request)
    viewer: Viewer | None = None
    if cookie:
        with found.unit_of_work() as session:
            record = resolve_session(session, cookie)
            if record is not None:
                principal = record.principal
                home = session.get(Account, principal.account_id) if principal.account_id else None
                viewer = Viewer(
                    actor=actor_for(principal),
                    email=principal.email,
                    record=record,
                    home_slug=home.slug if home else None,
                    must_change_password=principal.must_change_password,
                )
    if viewer is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise LoginRequired(request.url.path + query if request.method == "GET" else "/")
    request.state.viewer = viewer
    if viewer.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired()
    return viewer


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]


class Submitted:
    """A posted form: what the admin typed, kept to fill the form again after an error."""

    def __init__(self, data: FormData) -> None:
        self._data = data

    def text(self, name: str) -> str:
        value = self._data.get(name)
        return value.strip() if isinstance(value, str) else ""

    def raw(self, name: str) -> str:
        """Exactly as typed (passwords may start or end with a space)."""
        value = self._data.get(name)
        return value if isinstance(value, str) else ""

    def optional(self, name: str) -> str | None:
        return self.text(name) or None

    def many(self, name: str) -> list[str]:
        return [v.strip() for v in self._data.getlist(name) if isinstance(v, str) and v.strip()]

    def values(self) -> dict[str, str]:
        # Only the first value of each field, never the CSRF token or a password.
        return {key: self.text(key) for key in self._data if key not in ("csrf_token", "password")}


async def submitted_form(request: Request) -> Submitted:
    return Submitted(await request.form())


def posted_by(viewer: CurrentViewer, form: Annotated[Submitted, Depends(submitted_form)]) -> Viewer:
    """The viewer of a POST whose form carries this session's CSRF token (else 403)."""
    if not csrf_matches(viewer.record, form.optional("csrf_token")):
        raise Forbidden(
            "the form's security token is missing or out of date; reload the page and try again",
            code="csrf_failed",
        )
    return viewer


PostingViewer = Annotated[Viewer, Depends(posted_by)]
Form = Annotated[Submitted, Depends(submitted_form)]
