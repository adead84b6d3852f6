"""``switchboard media``: list voicemails and recordings, and run the retention purge."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from switchboard.cli.common import JsonOption, cli_actor, dumps, emit, unit_of_work
from switchboard.portal import accounts as accounts_service
from switchboard.portal import media as media_service
from switchboard.web.api.media_schemas import MediaOut

media = typer.Typer(help="Voicemails and call recordings.", no_args_is_help=True)

PURGE_COLUMNS = ["account", "retention_plan", "cutoff", "media", "bytes", "files_missing"]
LIST_COLUMNS = [
    "id",
    "kind",
    "owner_name",
    "user_id",
    "caller",
    "recorded_at",
    "duration_seconds",
    "size_bytes",
    "expires_at",
]


@media.command("purge")
def media_purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would go; delete nothing")
    ] = False,
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account (slug)")
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Delete media older than each account's retention plan (6m, 1y, 2y, 3y): files and rows."""
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account) if account else None
        reports = media_service.purge(s, actor, dry_run=dry_run, account=acct)
        rows = [
            {
                "account": r.slug,
                "retention_plan": r.retention_plan,
                "cutoff": r.cutoff.isoformat(),
                "media": r.media_count,
                "bytes": r.bytes,
                "files_missing": r.files_missing,
            }
            for r in reports
        ]
    total = sum(r.media_count for r in reports)
    size = sum(r.bytes for r in reports)
    if as_json:
        sys.stdout.write(
            json.dumps({"dry_run": dry_run, "accounts": rows, "media": total, "bytes": size}) + "\n"
        )
        return
    verb = "would delete" if dry_run else "deleted"
    title = f"Retention purge{' (dry run)' if dry_run else ''}"
    emit(rows, False, PURGE_COLUMNS, title)
    typer.echo(f"{verb} {total} media, {size} bytes")


@media.command("list")
def media_list(
    account: str,
    kind: Annotated[str | None, typer.Option(help="voicemail or recording")] = None,
    former_users: Annotated[
        bool, typer.Option("--former-users", help="Only media of deleted users")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    as_json: bool = JsonOption,
) -> None:
    """List an account's media, newest first."""
    if kind is not None and kind not in ("voicemail", "recording"):
        raise typer.BadParameter("must be voicemail or recording", param_hint="--kind")
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account)
        page = media_service.list_media(
            s,
            actor,
            acct,
            kind="voicemail" if kind == "voicemail" else "recording" if kind else None,
            former_users=former_users,
            limit=limit,
        )
        rows = [dumps(MediaOut.of(m, acct)) for m in page.items]
    emit(rows, as_json, LIST_COLUMNS, f"Media of {account} ({len(rows)} of {page.total})")
