"""/api/v1/accounts"""

from __future__ import annotations

from fastapi import APIRouter, status

from switchboard.portal import accounts as service
from switchboard.portal.schemas import AccountIn, AccountPatch
from switchboard.schemas.portal_out import AccountOut
from switchboard.web.deps import DB, Caller, ReadAccount

router = APIRouter(prefix="/accounts", tags=["accounts"])


@router.get("")
def list_accounts(session: DB, actor: Caller) -> list[AccountOut]:
    return [AccountOut.of(a) for a in service.list_accounts(session, actor)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_account(body: AccountIn, session: DB, actor: Caller) -> AccountOut:
    return AccountOut.of(service.create_account(session, actor, body))


@router.get("/{account}")
def get_account(account: ReadAccount) -> AccountOut:
    return AccountOut.of(account)


@router.patch("/{account}")
def update_account(account: str, body: AccountPatch, session: DB, actor: Caller) -> AccountOut:
    return AccountOut.of(service.update_account(session, actor, account, body))


@router.post("/{account}/terminate")
def terminate_account(account: str, session: DB, actor: Caller) -> AccountOut:
    """Delete every user of the account and close it; media stays until retention expires it."""
    return AccountOut.of(service.terminate_account(session, actor, account))
