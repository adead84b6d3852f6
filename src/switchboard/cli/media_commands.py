"""``switchboard media``: list voicemails and recordings, and run the retention purge."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from switchboard.cli.common import JsonOption, cli_actor, dumps, emit, unit_of_work
from switchboard.portal import accounts as accounts_service
from switchboard.portal import media as media_service
from switchboard.schemas.media_out import MediaOut

media = typer.Typer(help="Voicemails and call recordings.", no_args_is_help=True)

PURGE_COLUMNS = ["account", "plan", "cutoff", "media", "bytes", "files_missing"]
LIST_COLUMNS = ["id", "kind", "owner", "caller", "recorded", "secs", "bytes", "expires"]


def _short(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"


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
    table = [
        {
            "account": r.slug,
            "plan": r.retention_plan,
            "cutoff": _short(r.cutoff),
            "media": r.media_count,
            "bytes": r.bytes,
            "files_missing": r.files_missing,
        }
        for r in reports
    ]
    emit(table, False, PURGE_COLUMNS, f"{title}, times in UTC")
    typer.echo(f"{verb} {total} media, {size} bytes")


@media.command("list")
def media_list(
    account: str,
    kind: Annotated[str | None, typer.Option(help="voicemail or recording")] = None,
    former_users: Annotated[
        bool, typer.Option("--former-users", help="Only media of deleted users")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many items")] = 100,
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
        items = [MediaOut.of(m, acct) for m in page.items]
    title = f"Media of {account} ({len(items)} of {page.total}), times in UTC"
    if as_json:
        emit([dumps(m) for m in items], True, LIST_COLUMNS, title)
        return
    rows = [
        {
            "id": m.id,
            "kind": m.kind,
            "owner": m.owner_name + ("" if m.user_id is not None else " (deleted)"),
            "caller": m.caller,
            "recorded": _short(m.recorded_at),
            "secs": m.duration_seconds,
            "bytes": m.size_bytes,
            "expires": _short(m.expires_at),
        }
        for m in items
    ]
    emit(rows, False, LIST_COLUMNS, title)
