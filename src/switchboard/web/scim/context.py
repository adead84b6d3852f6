"""What every SCIM route starts with: the account its token opens, the account's SCIM source,
the request body read as JSON, and the endpoint's base URL.

The request log (``web.scim.request_log``) reads ``scim_account_id``, ``scim_subject`` and
``scim_change`` from the request state that these set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from switchboard.db.models import Account, ScimSource
from switchboard.scim import tokens, write_locks
from switchboard.scim.errors import ScimError, invalid_syntax, invalid_value


@dataclass(frozen=True)
class ScimContext:
    session: Session
    account: Account
    source: ScimSource
    base_url: str  # https://host/scim/v2/<account>

    def location(self, kind: str, resource_id: str) -> str:
        return f"{self.base_url}/{kind}/{resource_id}"


def open_account(request: Request, session: Session, account: str) -> ScimContext:
    if request.method != "GET" and not request.url.path.endswith("/.search"):
        write_locks.lock_before_writing(session)
    found, source = tokens.authenticate(session, account, request.headers.get("authorization", ""))
    if source is None:
        raise ScimError(
            404,
            f"account '{account}' does not take users over SCIM; an admin chooses Entra"
            " provisioning (SCIM) or Okta (SCIM) on its Directory tab",
        )
    request.state.scim_account_id = found.id
    base = str(request.base_url).rstrip("/")
    return ScimContext(session, found, source, f"{base}/scim/v2/{found.slug}")


def note(request: Request, subject: str | None, change: str | None) -> None:
    """What the request log shows of this request."""
    request.state.scim_subject = subject
    request.state.scim_change = change


async def json_body(request: Request) -> Any:
    """The body as JSON (a SCIM client may send application/scim+json or application/json)."""
    raw = await request.body()
    if not raw.strip():
        raise invalid_syntax("the request needs a JSON body")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise invalid_syntax(f"the body is not valid JSON{where}") from None


def search_parameters(body: Any) -> dict[str, Any]:
    """A POST .search body (a SearchRequest): the list parameters it carries."""
    if not isinstance(body, dict):
        raise invalid_value("a search request must be a JSON object (a SearchRequest)")
    return body
