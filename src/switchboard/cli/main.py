"""``switchboard``: serve the portal, manage its data, bootstrap operators."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from switchboard.cli import (
    cert_commands,
    demo_command,
    directory_commands,
    emulator_commands,
    media_commands,
    portal_commands,
    scim_commands,
    worker_commands,
)
from switchboard.cli.common import cli_actor, container, fail, unit_of_work
from switchboard.cli.help_names import ReadableHelpGroup
from switchboard.db.migrate import upgrade
from switchboard.portal import accounts as accounts_service
from switchboard.portal import api_tokens, principals
from switchboard.portal.actors import Role

app = typer.Typer(
    cls=ReadableHelpGroup,
    help="Switchboard: cloud voice admin portal synced with Entra ID.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db = typer.Typer(help="Database schema.", no_args_is_help=True)
admin = typer.Typer(help="Operators and customer admins.", no_args_is_help=True)
app.add_typer(db, name="db")
app.add_typer(admin, name="admin")
app.add_typer(portal_commands.accounts, name="accounts")
app.add_typer(portal_commands.locations, name="locations")
app.add_typer(portal_commands.licenses, name="licenses")
app.add_typer(portal_commands.numbers, name="numbers")
app.add_typer(portal_commands.users, name="users")
app.add_typer(media_commands.media, name="media")
app.add_typer(cert_commands.app, name="certs")
app.add_typer(directory_commands.directory, name="directory")
# Registers subscriptions, groups, and test, reconcile, delta, sync-user, runs, run, approve and
# reject on `directory`.
import switchboard.cli.connection_commands  # noqa: E402 - registers on `directory`
import switchboard.cli.group_commands  # noqa: E402 - registers on `directory`, made above
import switchboard.cli.preview_command  # noqa: E402 - registers preview on `directory`
import switchboard.cli.subscription_commands  # noqa: E402 - registers on `directory`, made above
import switchboard.cli.sync_commands  # noqa: E402, F401 - imported for those registrations

app.add_typer(scim_commands.scim, name="scim")
app.add_typer(emulator_commands.app, name="emulator")
app.add_typer(worker_commands.schedule, name="schedule")
app.command("worker")(worker_commands.worker)


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (SQLite or PostgreSQL, per SWITCHBOARD_DATABASE_URL).

    On PostgreSQL this also creates the job queue's schema (``procrastinate``) if missing.
    """
    with container(migrated=False) as c:
        upgrade(c.engine)
        where = c.engine.url.render_as_string(hide_password=True)
        if not c.is_sqlite():
            from switchboard.jobs.queue import QUEUE_SCHEMA, ensure_queue_schema

            if ensure_queue_schema(c.engine):
                typer.echo(f"created the job queue schema {QUEUE_SCHEMA}")
    typer.echo(f"database at {where} is up to date")


@admin.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="The admin's email (their login)")],
    role: Annotated[Role, typer.Option(help="provider_admin, account_admin or account_viewer")],
    account: Annotated[str | None, typer.Option(help="Account slug, for account roles")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read a UI login password from stdin")
    ] = False,
    keep_password: Annotated[
        bool,
        typer.Option(
            "--keep-password",
            help="The password is the admin's own: no change asked at first sign-in",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"token": ...}')] = False,
) -> None:
    """Create an admin and print a one-time API token (only its hash is stored).

    A password given with --password-stdin is an initial one: the admin chooses their own at
    first sign-in to the UI, unless --keep-password says it is already theirs.
    """
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account) if account else None
        principal = principals.create_principal(
            s,
            actor,
            email=email,
            role=role,
            account=acct,
            password=password,
            initial_password=password is not None and not keep_password,
        )
        issued = api_tokens.issue_token(s, actor, principal, name="bootstrap")
    if as_json:
        typer.echo(
            json.dumps(
                {"token": issued.token, "email": email, "role": role.value, "account": account}
            )
        )
    else:
        typer.echo(f"created {role.value} {email}")
        typer.echo(f"API token (shown once, keep it safe): {issued.token}")


@admin.command("set-password")
def admin_set_password(
    email: Annotated[str, typer.Option(help="The admin's email (their login)")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from stdin")
    ] = False,
) -> None:
    """Set an admin's UI login password (prompted, or from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with unit_of_work() as s:
        principal = principals.find_principal(s, email)
        principals.set_password(s, cli_actor(), principal, password)
    typer.echo(f"password set for {email}")


TlsPath = Annotated[
    Path | None,
    typer.Option(exists=True, dir_okay=False, readable=True, help="PEM file (see `certs`)"),
]


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port to listen on")] = 8000,
    tls_cert: TlsPath = None,
    tls_key: TlsPath = None,
    client_ca: TlsPath = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Trust X-Forwarded-Proto/For from these proxy IPs (comma-separated), so a"
            " TLS-terminating proxy's requests count as HTTPS (secure cookies)"
        ),
    ] = None,
    scheduler: Annotated[
        bool,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="SQLite: run the sync scheduler in this process (schedules, safety net,"
            " just-in-time subscriptions, write-back retries). --no-scheduler leaves that to"
            " `switchboard worker`",
        ),
    ] = True,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker",
            help="PostgreSQL: also run a queue worker in this process (otherwise the work is"
            " left to `switchboard worker` processes)",
        ),
    ] = False,
) -> None:
    """Serve the API and the admin UI (an embedded SQLite database is upgraded first).

    On SQLite the sync scheduler runs in the same process, so one command does everything.
    On PostgreSQL the scheduled work is done by `switchboard worker` processes, or by this
    one with --worker.

    With --tls-cert, --tls-key and --client-ca: HTTPS, and /api/ requires a client
    certificate signed by the client CA (mutual TLS). Without them: plain HTTP, for local use.
    """
    from switchboard.bootstrap import is_embedded
    from switchboard.config import Settings
    from switchboard.jobs.background import BackgroundChoiceError, choose
    from switchboard.tls.server import TlsConfigError, TlsFiles
    from switchboard.web.server import run

    given = {"--tls-cert": tls_cert, "--tls-key": tls_key, "--client-ca": client_ca}
    missing = [name for name, value in given.items() if value is None]
    if len(missing) not in (0, len(given)):
        raise fail(
            "--tls-cert, --tls-key and --client-ca go together (HTTPS with mutual TLS); "
            f"missing: {', '.join(missing)}. Omit all three to serve plain HTTP.",
            2,
        )
    tls = None
    if tls_cert and tls_key and client_ca:
        tls = TlsFiles(cert=tls_cert, key=tls_key, client_ca=client_ca)
    settings = Settings()
    try:
        work = choose(
            embedded=is_embedded(settings.database_url), scheduler=scheduler, worker=worker
        )
    except BackgroundChoiceError as exc:
        raise fail(str(exc), 2) from exc
    typer.echo(
        {
            "scheduler": "sync scheduler: in this process (SQLite)",
            "worker": "queue worker: in this process (PostgreSQL)",
            None: "background work: left to `switchboard worker` processes",
        }[work]
    )
    try:
        run(
            host=host,
            port=port,
            tls=tls,
            forwarded_allow_ips=forwarded_allow_ips,
            settings=settings,
            background_work=work,
        )
    except TlsConfigError as exc:
        raise fail(str(exc), 2) from exc


app.command("demo")(demo_command.demo)


def main() -> None:
    app()


__all__ = ["app", "fail", "main"]
