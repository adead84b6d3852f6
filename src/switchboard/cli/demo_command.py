"""`switchboard demo`: a sample account connected to a local Entra tenant, synced, then served.

Steps: the sample account (locations, numbers, licenses, a few local users, an admin login);
the Entra ID emulator with a sample tenant; the account connected with the certificate
Switchboard generates, which the demo uploads to the tenant's app (the customer's step); the
first reconcile with a progress bar; the outcome table; the portal. Every step finds what an
earlier run made and reuses it, so the demo can run again and again.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy import func, select

from switchboard.bootstrap import is_embedded
from switchboard.cli.common import console, container, fail
from switchboard.cli.run_display import print_summary, progress_bar, summary_dict
from switchboard.config import Settings
from switchboard.connection.registration import READ_PERMISSIONS
from switchboard.db.migrate import upgrade
from switchboard.db.models import Account, User
from switchboard.demo import emulator_process, port_check, sample_account, tenant_connection
from switchboard.directory.errors import GraphError
from switchboard.portal.errors import PortalError
from switchboard.sync.engine import RunSummary, SyncEngine

EMULATOR_FOLDER = "demo-emulator"


def _cli_name() -> str:
    """How to call this installation's CLI from another terminal in the same folder."""
    exe = Path(sys.executable).parent / "switchboard"
    if not exe.exists() or shutil.which("switchboard") == str(exe):
        return "switchboard"
    try:
        relative = os.path.relpath(exe)
    except ValueError:  # another drive
        return str(exe)
    return str(exe) if relative.startswith("..") else relative


def _user_counts() -> dict[str, int]:
    with container() as c, c.unit_of_work() as session:
        account_id = session.scalars(
            select(Account.id).where(Account.slug == sample_account.SLUG)
        ).one()
        rows = session.execute(
            select(User.source, func.count())
            .where(User.account_id == account_id)
            .group_by(User.source)
        )
        by_source = {source: int(n) for source, n in rows}
    return {"total": sum(by_source.values()), "from_directory": by_source.get("directory", 0)}


def demo(
    host: Annotated[str, typer.Option(help="Interface the portal listens on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The portal's port")] = 8000,
    emulator_port: Annotated[
        int,
        typer.Option(
            min=1,
            max=65535,
            help="The Entra ID emulator's HTTPS port (kept from run to run: the registration"
            " stores the URL)",
        ),
    ] = 8443,
    exit_after_sync: Annotated[
        bool,
        typer.Option(
            "--exit-after-sync",
            "--no-serve",
            help="Stop after the first reconcile instead of serving the portal",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --exit-after-sync: print the run as JSON")
    ] = False,
) -> None:
    """Sample account + Entra ID emulator: connect, reconcile, then serve the portal."""
    if as_json and not exit_after_sync:
        raise fail("--json goes with --exit-after-sync (the JSON is for scripts)", 2)
    settings = Settings()
    state_dir = settings.data_dir / EMULATOR_FOLDER
    _check_ports(host, port, emulator_port, state_dir, serve=not exit_after_sync)
    say = (lambda *_a, **_k: None) if as_json else console.print
    try:
        # The emulator starts in its own process while the sample account is prepared here.
        with emulator_process.tenant(state_dir, port=emulator_port) as starting:
            with container(migrated=False) as c:
                upgrade(c.engine)
                login = sample_account.prepare(c)
                where = c.engine.url.render_as_string(hide_password=True)
            say(
                f"[bold]Switchboard demo[/] — account [cyan]{sample_account.SLUG}[/],"
                " Acme Corporation"
            )
            say(f"  database     {where}")
            tenant = starting.wait()
            say(f"  Entra ID     emulator at {tenant.url}, state in {state_dir}")
            say(f"  tenant       {tenant.tenant_id}")
            with container() as c:
                connection = tenant_connection.connect(c, tenant)
            # Each container closes its token clients' connections when its command step ends.
            _sync_and_serve(
                tenant, connection, login, host, port, state_dir, exit_after_sync, as_json
            )
    except emulator_process.DemoEmulatorError as exc:
        raise fail(str(exc)) from exc
    except PortalError as exc:
        raise fail(exc.message, 2 if exc.status == 422 else 1) from exc
    except GraphError as exc:
        raise fail(f"Entra ID: {exc.message}") from exc


def _check_ports(host: str, port: int, emulator_port: int, state_dir: Path, *, serve: bool) -> None:
    """Stop before any set-up when a port the demo needs is taken, saying which and what to do.

    The emulator's port may be taken by the emulator of this very folder (a demo still running,
    or one started by hand): the demo then uses it, as it always did.
    """
    both = frozenset({port, emulator_port})
    if serve and port == emulator_port:
        raise fail(f"the portal and the emulator cannot share port {port}: choose two", 2)
    if not port_check.is_free(emulator_process.HOST, emulator_port) and not _ours(
        state_dir, emulator_port
    ):
        raise fail(
            port_check.busy_message(
                emulator_process.HOST, emulator_port, "EMULATOR_PORT", "--emulator-port", avoid=both
            )
        )
    if serve and not port_check.is_free(host, port):
        raise fail(port_check.busy_message(host, port, "PORT", "--port", avoid=both))


def _ours(state_dir: Path, emulator_port: int) -> bool:
    """Whether this folder's emulator says it serves on that port (read only, nothing made)."""
    try:
        info = json.loads((state_dir / emulator_process.SERVER_FILE).read_text())
        return int(str(info["url"]).rsplit(":", 1)[1].split("/")[0]) == emulator_port
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return False


def _sync_and_serve(
    tenant: emulator_process.DemoTenant,
    connection: tenant_connection.DemoConnection,
    login: sample_account.DemoLogin,
    host: str,
    port: int,
    state_dir: Path,
    exit_after_sync: bool,
    as_json: bool,
) -> None:
    if not as_json:
        console.print(f"  app          client id {connection.client_id}")
        console.print(
            "  certificate  generated by Switchboard; the demo uploaded it to the app and"
        )
        console.print(f"               granted {', '.join(READ_PERMISSIONS)} (the customer's step)")
        if connection.reconnected:
            console.print("               (connected anew: the tenant or its URL changed)")
        console.print(
            f"  synced       groups {', '.join(connection.groups)}"
            f" (not synced: {', '.join(connection.other_groups) or 'none'})"
        )
        console.print("  locations    rule Headquarters -> HQ; other values match by name")
    summary = _reconcile(as_json)
    counts = _user_counts()
    if as_json:
        _print_json(summary, tenant, connection, counts, login)
    else:
        print_summary(summary, False, account=sample_account.SLUG)
        if summary.counts.get("error"):
            console.print(
                f"why each error: {_cli_name()} directory run acme {summary.number} --errors"
            )
        console.print(
            f"portal users: {counts['total']}, of which {counts['from_directory']} from Entra ID"
        )
    if summary.status == "failed" and exit_after_sync:
        raise typer.Exit(1)
    if not exit_after_sync:
        _serve(host, port, tenant, state_dir, login)


def _reconcile(quiet: bool) -> RunSummary:
    with container() as c:
        engine = SyncEngine(c, c.directory_factory())
        if quiet:
            return engine.reconcile(sample_account.ACTOR, sample_account.SLUG, trigger="manual")
        with progress_bar() as progress:
            return engine.reconcile(
                sample_account.ACTOR, sample_account.SLUG, trigger="manual", progress=progress
            )


def _print_json(
    summary: RunSummary,
    tenant: emulator_process.DemoTenant,
    connection: tenant_connection.DemoConnection,
    counts: dict[str, int],
    login: sample_account.DemoLogin,
) -> None:
    out: dict[str, Any] = {
        **summary_dict(summary),
        "account": sample_account.SLUG,
        "tenant_id": tenant.tenant_id,
        "client_id": connection.client_id,
        "synced_groups": list(connection.groups),
        "reconnected": connection.reconnected,
        "users": counts,
        "login": {"email": login.email, "password": login.password},
        "operator_login": {"email": login.operator_email, "password": login.operator_password},
    }
    sys.stdout.write(json.dumps(out, indent=2) + "\n")


def _serve(
    host: str,
    port: int,
    tenant: emulator_process.DemoTenant,
    state_dir: Path,
    login: sample_account.DemoLogin,
) -> None:
    from switchboard.web.server import run

    cli = _cli_name()
    url = f"http://{host}:{port}/"
    console.print()
    console.print(f"[bold]Portal[/]         {url}")
    console.print(f"  admin        {login.email}  password {login.password}  (account acme)")
    console.print(
        f"  operator     {login.operator_email}  password {login.operator_password}"
        "  (every account)"
    )
    console.print("               passwords are new for every run")
    console.print(f"  API docs     {url}api/docs")
    lifetime = "while this demo runs" if tenant.owned else "started outside this demo"
    console.print(f"[bold]Entra ID[/]       {tenant.url}  ({lifetime})")
    console.print("In another terminal, from this folder, while the demo runs:")
    console.print("  change users in Entra, then sync just the changes, or everything:")
    console.print(f"  {cli} emulator churn --state-dir {state_dir} --count 25")
    console.print(f"  {cli} directory delta acme")
    console.print(f"  {cli} directory reconcile acme")
    settings = demo_settings(host, port)
    if settings.public_url:
        console.print("  or let changes arrive by themselves (just in time):")
        console.print(f"  {cli} directory settings acme --mode jit")
        console.print(f"  {cli} emulator churn --state-dir {state_dir} --count 5")
        console.print(f"  change notifications go to {settings.public_url}/webhooks/graph")
    console.print("The scheduler runs in this process. Ctrl-C stops the portal and the emulator.")
    embedded = is_embedded(settings.database_url)
    run(
        host=host,
        port=port,
        settings=settings,
        background_work="scheduler" if embedded else "worker",
    )


def demo_settings(host: str, port: int) -> Settings:
    """The settings, with SWITCHBOARD_PUBLIC_URL pointing at the demo's own portal unless it is
    set already: the emulator then delivers change notifications to it (plain http is
    accepted for a loopback address; a portal listening on another interface is left as is)."""
    settings = Settings()
    if settings.public_url is not None:
        return settings
    # Listening on every interface: the loopback address reaches it too.
    address = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104
    if ":" in address:
        address = f"[{address}]"
    try:
        return Settings(public_url=f"http://{address}:{port}")
    except ValidationError:  # not a loopback address: Graph would need HTTPS
        return settings
