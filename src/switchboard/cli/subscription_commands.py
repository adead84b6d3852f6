"""`switchboard directory subscriptions ACCOUNT [--ensure] [--json]`."""

from __future__ import annotations

from typing import Annotated

import typer

from switchboard.cli.common import JsonOption, cli_actor, console, container, emit, fail
from switchboard.cli.directory_commands import directory
from switchboard.portal.accounts import get_account
from switchboard.portal.clock_context import now
from switchboard.portal.errors import PortalError
from switchboard.sync import subscription_upkeep

COLUMNS = ["resource", "subscription_id", "state", "expires_at", "created_at", "renewed_at"]


@directory.command("subscriptions")
def directory_subscriptions(
    account: str,
    ensure: Annotated[
        bool,
        typer.Option(
            "--ensure",
            help="Create missing and renew expiring subscriptions now (jit mode), or remove"
            " them (other modes), instead of waiting for the worker",
        ),
    ] = False,
    as_json: bool = JsonOption,
) -> None:
    """List ACCOUNT's Graph change-notification subscriptions (just-in-time sync)."""
    actor = cli_actor()
    with container() as c:
        try:
            with c.unit_of_work() as s:
                acct = get_account(s, actor, account, write=ensure)
                account_id = acct.id
            if ensure:
                report = subscription_upkeep.maintain(c, account_id)
                for problem in report.errors:
                    console.print(f"[yellow]warning:[/] {problem}", highlight=False)
            with c.unit_of_work() as s:
                acct = get_account(s, actor, account)
                stamp = now(s)
                rows = [
                    subscription_upkeep.describe(r, stamp)
                    for r in subscription_upkeep.list_subscriptions(s, actor, acct)
                ]
        except PortalError as exc:
            raise fail(exc.message, 2 if exc.status == 422 else 1) from exc
    emit(rows, as_json, COLUMNS, f"Change-notification subscriptions of {account}")
    if not rows and not as_json:
        console.print(
            "No subscriptions. They exist for accounts in jit mode once the worker (or"
            f" `switchboard directory subscriptions {account} --ensure`) created them;"
            " SWITCHBOARD_PUBLIC_URL must give the portal's https address."
        )
