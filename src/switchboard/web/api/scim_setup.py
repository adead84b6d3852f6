"""/api/v1/accounts/{account}/directory/scim: take the account's users over SCIM 2.0 (Entra
provisioning or Okta) and manage the bearer tokens its client sends.

Account admins of the account and provider admins change it; viewers read it. A token's secret
is in the answer that creates it and nowhere else.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status

from switchboard.schemas.scim_setup import (
    IssuedScimTokenOut,
    ScimSetupOut,
    ScimSourceIn,
    ScimTokenIn,
)
from switchboard.scim import source, tokens
from switchboard.web.deps import DB, Caller, PathId, ReadAccount, WriteAccount, public_base

router = APIRouter(prefix="/accounts/{account}/directory/scim", tags=["scim"])


def _setup(request: Request, session: DB, actor: Caller, account: ReadAccount) -> ScimSetupOut:
    found = source.read_setup(session, actor, account)
    return ScimSetupOut.of(found, source.endpoint_url(public_base(request), account))


@router.get("")
def get_scim(request: Request, account: ReadAccount, session: DB, actor: Caller) -> ScimSetupOut:
    """Whether the account takes its users over SCIM, its settings, the endpoint URL to give
    the client and the latest tokens (never their secrets). ``connected`` false: choose SCIM
    with PUT."""
    return _setup(request, session, actor, account)


@router.put("")
def put_scim(
    request: Request, body: ScimSourceIn, account: WriteAccount, session: DB, actor: Caller
) -> ScimSetupOut:
    """Make SCIM the account's directory source, or change its settings. 409
    ``other_source_connected`` while the account is connected to Entra ID over Microsoft
    Graph: disconnect that first. Then create a token with POST .../scim/tokens."""
    if source.get_source(session, account) is None:
        source.connect(session, actor, account, body.client, body.settings())
    else:
        source.connect(session, actor, account, body.client)  # a changed client only
        source.update(session, actor, account, body.settings())
    return _setup(request, session, actor, account)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def delete_scim(account: WriteAccount, session: DB, actor: Caller) -> Response:
    """Stop taking users over SCIM: every token is revoked, what the client pushed is
    forgotten, and the users it made stay as ordinary portal users."""
    source.disconnect(session, actor, account)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def issue_token(
    request: Request,
    account: WriteAccount,
    session: DB,
    actor: Caller,
    body: ScimTokenIn | None = None,
) -> IssuedScimTokenOut:
    """Create a token (the client's Secret Token or Bearer token), shown in this answer only.
    The tokens that work now keep working for ``overlap_hours`` (default 24; 0 stops them at
    once), so the client can be updated without a gap."""
    overlap = timedelta(hours=(body or ScimTokenIn()).overlap_hours)
    issued = tokens.issue(session, actor, account, overlap=overlap)
    return IssuedScimTokenOut(
        token=issued.token,
        url=source.endpoint_url(public_base(request), account),
        id=issued.record.id,
        prefix=issued.record.prefix,
    )


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: PathId, account: WriteAccount, session: DB, actor: Caller) -> Response:
    """Revoke one token at once; the client's next request with it gets 401."""
    tokens.revoke(session, actor, account, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
