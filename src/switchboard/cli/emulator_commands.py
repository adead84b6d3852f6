"""``switchboard emulator ...``: run and steer the local Entra ID + Graph emulator.

The emulator package is imported inside each command, so the product's CLI start-up (and the
product itself) never loads it unless an emulator command runs.
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Annotated, Any

import typer

from switchboard.cli.common import console, fail
from switchboard.cli.help_names import ReadableHelpGroup

app = typer.Typer(
    cls=ReadableHelpGroup,
    help="A local Entra ID token endpoint and Microsoft Graph v1.0 server (demos, tests).",
    no_args_is_help=True,
)

StateDir = Annotated[
    Path,
    typer.Option("--state-dir", help="The emulator's folder (state, CA, apps, control key)"),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _control(state_dir: Path, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call the running emulator's control surface (URL, key and CA from the state folder)."""
    import httpx

    server_file = state_dir / "server.json"
    if not server_file.exists():
        raise fail(
            f"no emulator is running for {state_dir}; start one with "
            f"`switchboard emulator serve --state-dir {state_dir}`"
        )
    url = json.loads(server_file.read_text())["url"]
    key = (state_dir / "control.key").read_text().strip()
    ctx = ssl.create_default_context(cafile=str(state_dir / "ca.pem"))
    try:
        resp = httpx.request(
            method,
            f"{url}/_emulator{path}",
            json=body,
            headers={"X-Emulator-Key": key},
            verify=ctx,
            timeout=600,
        )
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach the emulator at {url} ({exc}); is it still running?") from exc
    if resp.status_code >= 400:
        try:
            message = resp.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = resp.text
        raise fail(message, 2 if resp.status_code == 422 else 1)
    return resp.json() if resp.content else None


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(show_header=False)
    for k, v in data.items() if isinstance(data, dict) else enumerate(data):
        table.add_row(str(k), json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v)
    console.print(table)


@app.command("serve")
def serve(
    state_dir: StateDir,
    port: Annotated[int, typer.Option(min=0, max=65535, help="HTTPS port (0: any free)")] = 8443,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    tenant_id: Annotated[str | None, typer.Option(help="Tenant GUID (new state only)")] = None,
    users: Annotated[int, typer.Option(min=0, max=1_000_000, help="Seed users")] = 200,
    groups: Annotated[int, typer.Option(min=0, max=10_000, help="Seed groups")] = 10,
    seed: Annotated[int, typer.Option(min=0, help="Seed for the generated data")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    notification_ca: Annotated[
        Path | None,
        typer.Option(
            help="Also trust this CA (PEM) for HTTPS notification endpoints",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Serve HTTPS with a certificate from the emulator's own CA (DIR/ca.pem).

    A new state folder is seeded with --users/--groups/--seed; an existing one is loaded as is.
    """
    from switchboard.emulator.server import serve as run
    from switchboard.emulator.state import SeedOptions

    try:
        run(
            state_dir,
            host=host,
            port=port,
            tenant_id=tenant_id,
            seed=SeedOptions(users=users, groups=groups, seed=seed),
            log_level=log_level,
            notification_ca=notification_ca,
        )
    except ValueError as exc:
        raise fail(str(exc), 2) from exc


@app.command("add-app")
def add_app(
    state_dir: StateDir,
    client_id: Annotated[str, typer.Option(help="Application (client) id, a GUID")],
    certificate: Annotated[
        Path, typer.Option(help="The app's certificate (PEM)", exists=True, dir_okay=False)
    ],
    roles: Annotated[
        str, typer.Option(help="Granted application permissions, comma separated")
    ] = "User.Read.All,GroupMember.Read.All",
    display_name: Annotated[str | None, typer.Option(help="A name for the app")] = None,
) -> None:
    """Register an app (or add a certificate / set roles); works while the server runs."""
    from switchboard.emulator.apps import AppError, AppRegistry, parse_roles

    try:
        registered = AppRegistry(state_dir).register(
            client_id,
            certificate_pem=certificate.read_text(),
            roles=parse_roles(roles),
            display_name=display_name,
        )
    except AppError as exc:
        raise fail(str(exc), 2) from exc
    from switchboard.connection.app_certificates import info

    typer.echo(f"registered {registered.client_id} with roles {', '.join(registered.roles)}")
    # The SHA-1 thumbprint in upper-case hex, exactly as the portal and the Entra admin center
    # show it; the x5t (the same hash, base64url) is what a signed assertion names.
    typer.echo(
        "certificate thumbprints: "
        + ", ".join(info(c.pem).thumbprint_sha1 for c in registered.certificates)
    )
    typer.echo("certificate x5t: " + ", ".join(c.x5t for c in registered.certificates))


@app.command("new-cert")
def new_cert(
    out_dir: Annotated[Path, typer.Option(help="Folder for app-key.pem and app-cert.pem")],
    name: Annotated[str, typer.Option(help="Certificate common name")] = "switchboard-app",
) -> None:
    """Create an app certificate and key, as one would upload to an Entra app registration."""
    from switchboard.emulator.keys_and_certificates import self_signed_certificate

    out_dir.mkdir(parents=True, exist_ok=True)
    key, cert = self_signed_certificate(name)
    key_path = out_dir / "app-key.pem"
    key_path.touch(mode=0o600)
    key_path.write_bytes(key)
    (out_dir / "app-cert.pem").write_bytes(cert)
    typer.echo(f"wrote {key_path} and {out_dir / 'app-cert.pem'}")


@app.command("status")
def status(state_dir: StateDir, as_json: JsonFlag = False) -> None:
    """The running emulator's tenant, counts, clock, faults and subscriptions."""
    _print(_control(state_dir, "GET", "/status"), as_json)


@app.command("reset")
def reset(
    state_dir: StateDir,
    users: Annotated[int, typer.Option(min=0, max=1_000_000, help="Users to seed")] = 200,
    groups: Annotated[int, typer.Option(min=0, max=10_000, help="Groups to seed")] = 10,
    seed: Annotated[int, typer.Option(min=0, help="The same seed, the same tenant")] = 1,
    as_json: JsonFlag = False,
) -> None:
    """Replace the directory with freshly seeded data (apps stay registered)."""
    data = _control(state_dir, "POST", "/reset", {"users": users, "groups": groups, "seed": seed})
    _print(data["seeded"], as_json)


@app.command("faults")
def faults(
    state_dir: StateDir,
    latency_ms: Annotated[int | None, typer.Option(help="Added latency per request")] = None,
    error_rate: Annotated[float | None, typer.Option(help="Share of requests failing, 0-1")] = None,
    error_kinds: Annotated[
        str | None, typer.Option(help="Comma list of 429,503,reset,timeout")
    ] = None,
    error_targets: Annotated[
        str | None, typer.Option(help="Comma list of graph,token: where errors are injected")
    ] = None,
    error_budget: Annotated[
        int | None, typer.Option(min=-1, help="Inject only this many more errors (-1: no limit)")
    ] = None,
    retry_after: Annotated[
        float | None, typer.Option(help="Retry-After seconds on 429/503")
    ] = None,
    timeout_seconds: Annotated[
        float | None, typer.Option(help="Stall for 'timeout' faults")
    ] = None,
    notification_delay_ms: Annotated[
        int | None, typer.Option(help="Delay each change notification this long")
    ] = None,
    notification_drop_rate: Annotated[float | None, typer.Option(help="0-1")] = None,
    notification_duplicate_rate: Annotated[float | None, typer.Option(help="0-1")] = None,
    delta_replays: Annotated[
        bool | None,
        typer.Option(
            "--delta-replays/--no-delta-replays",
            help="Delta rounds replay changes already delivered",
        ),
    ] = None,
    delta_empty_pages: Annotated[
        bool | None,
        typer.Option(
            "--delta-empty-pages/--no-delta-empty-pages",
            help="Delta rounds include pages without changes",
        ),
    ] = None,
    delta_expired_status: Annotated[int | None, typer.Option(help="400 or 410")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show or change the injected faults (only the options given change)."""
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "latency_ms": latency_ms,
            "error_rate": error_rate,
            "error_kinds": error_kinds.split(",") if error_kinds else None,
            "error_targets": error_targets.split(",") if error_targets else None,
            "retry_after_seconds": retry_after,
            "timeout_seconds": timeout_seconds,
            "notification_delay_ms": notification_delay_ms,
            "notification_drop_rate": notification_drop_rate,
            "notification_duplicate_rate": notification_duplicate_rate,
            "delta_replays": delta_replays,
            "delta_empty_pages": delta_empty_pages,
            "delta_expired_status": delta_expired_status,
        }.items()
        if v is not None
    }
    if error_budget is not None:  # -1 lifts the limit (null in the control API)
        changes["error_budget"] = None if error_budget < 0 else error_budget
    data = _control(state_dir, "PATCH" if changes else "GET", "/faults", changes or None)
    _print(data, as_json)


@app.command("throttle")
def throttle(
    state_dir: StateDir,
    enabled: Annotated[
        bool | None,
        typer.Option(
            "--enabled/--disabled", help="Throttle as Graph does (429 with Retry-After), or not"
        ),
    ] = None,
    read_limit: Annotated[
        int | None, typer.Option(help="Resource units per 10 s (0: Graph's)")
    ] = None,
    write_limit: Annotated[int | None, typer.Option(help="Writes per 150 s (0: Graph's)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Switch throttling or set fixed limits (Graph's limits by tenant size otherwise)."""
    body: dict[str, Any] = {}
    if enabled is not None:
        body["enabled"] = enabled
    if read_limit is not None:
        body["read_limit"] = read_limit or None
    if write_limit is not None:
        body["write_limit"] = write_limit or None
    _print(_control(state_dir, "PATCH", "/throttle", body), as_json)


@app.command("advance-clock")
def advance_clock(
    state_dir: StateDir,
    days: Annotated[float, typer.Option(min=0, help="Days to move the clock forward")] = 0.0,
    seconds: Annotated[float, typer.Option(min=0, help="Seconds to move it forward")] = 0.0,
) -> None:
    """Move the directory clock forward (delta token expiry, deleted-item retention)."""
    data = _control(state_dir, "POST", "/clock/advance", {"days": days, "seconds": seconds})
    typer.echo(f"emulator clock now {data['clock']}")


@app.command("churn")
def churn(
    state_dir: StateDir,
    count: Annotated[int | None, typer.Option(min=1, help="Make N changes now")] = None,
    rate: Annotated[
        float | None, typer.Option(help="Changes per second, in the background")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Seconds to churn (default: until stopped)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="The same seed, the same changes")] = None,
    stop: Annotated[bool, typer.Option("--stop", help="Stop background churn")] = False,
) -> None:
    """Realistic creates, updates, disables, deletes, restores and group moves."""
    if stop:
        _control(state_dir, "DELETE", "/churn")
        typer.echo("churn stopped")
        return
    if (count is None) == (rate is None):
        raise fail("give either --count N (now) or --rate R (background)", 2)
    body: dict[str, Any] = {"seed": seed} if seed is not None else {}
    if count is not None:
        data = _control(state_dir, "POST", "/churn", {**body, "count": count})
        typer.echo(", ".join(f"{k}: {v}" for k, v in sorted(data["changes"].items())))
    else:
        _control(state_dir, "POST", "/churn", {**body, "rate": rate, "duration": duration})
        typer.echo(f"churning at {rate}/s" + (f" for {duration}s" if duration else ""))


@app.command("bench")
def bench(
    users: Annotated[int, typer.Option(min=1, max=1_000_000, help="Users to create")] = 100_000,
    groups: Annotated[int, typer.Option(min=1, max=10_000, help="Groups to spread them in")] = 200,
    seed: Annotated[int, typer.Option(min=0, help="The same seed, the same tenant")] = 1,
    churn: Annotated[
        int,
        typer.Option(min=0, max=1_000_000, help="Changes to make, then read in one delta round"),
    ] = 10_000,
    as_json: JsonFlag = False,
) -> None:
    """Seed a large tenant in a temporary folder, read it back over HTTPS, churn it and read
    the changes; the emulator runs in its own process, whose peak RSS is reported."""
    from rich.table import Table

    from switchboard.emulator.bench import run_bench

    rows = run_bench(users, groups, seed, churn=churn)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "step": r.step,
                        "objects": r.objects,
                        "seconds": r.seconds,
                        "requests": r.requests,
                        "per_second": r.rate,
                        "peak_rss_mb": r.peak_rss_mb,
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table(title=f"Entra ID emulator benchmark: {users:,} users in {groups} groups")
    for column in ("step", "objects", "requests", "seconds", "objects/s", "peak RSS MB"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for r in rows:
        table.add_row(
            r.step,
            f"{r.objects:,}",
            str(r.requests or "-"),
            f"{r.seconds:.2f}",
            f"{r.rate:,.0f}",
            f"{r.peak_rss_mb:,.0f}",
        )
    console.print(table)
    if rows:
        console.print(
            f"seed + save: {rows[0].seconds:.1f} s; emulator peak RSS: "
            f"{max(r.peak_rss_mb for r in rows):,.0f} MB"
        )
